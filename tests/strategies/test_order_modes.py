"""tdMode / posSide / ccy from the account's mode: the original's tables (sample-mm-behaviour.md
§3.5-A/B, §3.4) for every account mode × instrument type × trading_mode, and the worker core
using them (it does not quote before it knows the account config)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from loguru import logger

from engine.clock import FakeClock
from engine.messages import (
    AccountConfig,
    AccountUpdate,
    BookState,
    BookTop,
    InstrumentInfo,
    NewOrder,
    Position,
    Side,
    StrategyLimits,
    Welcome,
)
from strategies.diff import Actions, AmendOp, CancelOp, PlaceOp
from strategies.order_modes import AccountModeError, order_mode, pos_side
from strategies.params import StrategyParams
from strategies.registry import make_strategy
from strategies.worker_core import WorkerCore

D = Decimal
BAD = "bogus"  # an invalid trading_mode: the original's "m invalid" rows

# (acctLv, venue instType, trading_mode) → (trades as, tdMode); None: cannot trade
TABLE: dict[tuple[int, str, str], tuple[str, str] | None] = {
    # spot mode (1): SPOT or OPTION only, always cash
    **{(1, "SPOT", m): ("SPOT", "cash") for m in ("cash", "cross", "isolated", BAD)},
    **{(1, "OPTION", m): ("OPTION", "cash") for m in ("cash", "cross", "isolated", BAD)},
    **{(1, t, m): None for t in ("SWAP", "FUTURES") for m in ("cash", "cross", "isolated", BAD)},
    # single-currency margin (2): a spot pair is SPOT for cash, MARGIN otherwise
    (2, "SPOT", "cash"): ("SPOT", "cash"),
    (2, "SPOT", "cross"): ("MARGIN", "cross"),
    (2, "SPOT", "isolated"): ("MARGIN", "isolated"),
    (2, "SPOT", BAD): ("MARGIN", "cross"),
    **{
        (2, t, m): (t, td)
        for t in ("SWAP", "FUTURES", "OPTION")
        for m, td in (
            ("cash", "cross"),
            ("cross", "cross"),
            ("isolated", "isolated"),
            (BAD, "cross"),
        )
    },
    # multi-currency (3) and portfolio margin (4): MARGIN only for isolated
    **{
        (lv, "SPOT", m): v
        for lv in (3, 4)
        for m, v in (
            ("cash", ("SPOT", "cross")),
            ("cross", ("SPOT", "cross")),
            ("isolated", ("MARGIN", "isolated")),
            (BAD, ("SPOT", "cross")),
        )
    },
    **{
        (lv, t, m): (t, td)
        for lv in (3, 4)
        for t in ("SWAP", "FUTURES", "OPTION")
        for m, td in (
            ("cash", "cross"),
            ("cross", "cross"),
            ("isolated", "isolated"),
            (BAD, "cross"),
        )
    },
}


def test_the_table_covers_every_account_mode_instrument_type_and_trading_mode() -> None:
    modes = ("cash", "cross", "isolated", BAD)
    types = ("SPOT", "SWAP", "FUTURES", "OPTION")
    assert set(TABLE) == {(lv, t, m) for lv in (1, 2, 3, 4) for t in types for m in modes}


@pytest.mark.parametrize(("key", "want"), sorted(TABLE.items(), key=str))
def test_td_mode_table(key: tuple[int, str, str], want: tuple[str, str] | None) -> None:
    acct_lv, inst_type, m = key
    if want is None:
        with pytest.raises(AccountModeError):
            order_mode(acct_lv, inst_type, m)
        return
    mode = order_mode(acct_lv, inst_type, m, base_ccy="BTC", quote_ccy="USDT")
    assert (mode.trade_type, mode.td_mode) == want
    # ccy: MARGIN only, the base currency for buys and the quote currency for sells
    margin = want[0] == "MARGIN"
    assert mode.ccy(Side.BUY) == ("BTC" if margin else "")
    assert mode.ccy(Side.SELL) == ("USDT" if margin else "")


def test_an_unknown_account_level_is_refused() -> None:
    with pytest.raises(AccountModeError):
        order_mode(5, "SWAP", "cross")


def test_pos_side_net_mode_and_non_derivatives() -> None:
    for t in ("SWAP", "FUTURES"):
        assert pos_side("net_mode", t, Side.BUY, D(1)) == "net"
        assert pos_side("net_mode", t, Side.SELL, D(1), long_closable=D(5)) == "net"
    for t in ("SPOT", "MARGIN", "OPTION"):
        for pm in ("net_mode", "long_short_mode"):
            assert pos_side(pm, t, Side.BUY, D(1), short_closable=D(5)) == ""


def test_pos_side_long_short_mode_closes_a_leg_only_when_it_can_take_the_order() -> None:
    ls = "long_short_mode"
    assert pos_side(ls, "SWAP", Side.BUY, D(2)) == "long"
    assert pos_side(ls, "SWAP", Side.SELL, D(2)) == "short"
    assert pos_side(ls, "SWAP", Side.BUY, D(2), short_closable=D(2)) == "short"
    assert pos_side(ls, "SWAP", Side.BUY, D(2), short_closable=D("1.9")) == "long"
    assert pos_side(ls, "SWAP", Side.BUY, D(2), long_closable=D(9)) == "long"
    assert pos_side(ls, "FUTURES", Side.SELL, D(1), long_closable=D(3)) == "long"
    assert pos_side(ls, "SWAP", Side.SELL, D(1), short_closable=D(3)) == "short"


# ------------------------------------------------------------------------------ worker core
PARAMS = StrategyParams(
    step_pct=0.001,
    num_orders_per_side=3,
    single_size_as_multiple_of_lot_size=2,
    max_net_buy=20,
    max_net_sell=20,
    min_requote_interval_ms=0,
    orderbook_max_delay_sec=5,
)
LIMITS = StrategyLimits(D(100), D(10**9), 50, 500)


class Core:
    def __init__(self, inst: str, inst_type: str, params: StrategyParams = PARAMS) -> None:
        self.clock = FakeClock()
        self.inst = inst
        self.core = WorkerCore(
            "mm", inst, make_strategy("sample_mm"), params, clock=self.clock, epoch=7, log=logger
        )
        info = InstrumentInfo(
            inst,
            inst_type,
            D("0.1"),
            D(1),
            D(1),
            "live",
            ct_val=D("0.01") if inst_type == "SWAP" else None,
            base_ccy="BTC",
            quote_ccy="USDT",
        )
        self.msg(info)
        self.msg(AccountUpdate(D(100000), 0, [], snapshot=True))
        top = BookTop(inst, BookState.VALID, 1, 0, [(D(30000), D(5))], [(D("30000.5"), D(5))])
        self.msg(top)
        assert self.core.on_hello_answer(Welcome("mm", 7, "00a", LIMITS))

    def msg(self, m: object) -> None:
        self.core.ctx.on_message(m, self.clock.now_ns(), self.clock.monotonic_ns())  # type: ignore[arg-type]

    def places(self) -> list[NewOrder]:
        cmds = self.core.step({})
        for i, c in enumerate(cmds):
            self.core.sent(c, i + 1)
        return [c.msg for c in cmds if isinstance(c.msg, NewOrder)]


def test_no_quotes_until_the_account_config_is_known() -> None:
    w = Core("BTC-USDT-SWAP", "SWAP")
    assert w.places() == []
    assert "account config unknown" in w.core.reason
    w.msg(AccountConfig(acct_lv=2, pos_mode="net_mode"))
    got = w.places()
    assert len(got) == 6
    assert {(o.td_mode, o.pos_side, o.ccy) for o in got} == {("cross", "net", "")}


def test_spot_mode_account_does_not_quote_a_swap() -> None:
    w = Core("BTC-USDT-SWAP", "SWAP")
    w.msg(AccountConfig(acct_lv=1, pos_mode="net_mode"))
    assert w.places() == []
    assert "cannot trade" in w.core.reason


def test_margin_orders_carry_their_ccy() -> None:
    w = Core("BTC-USDT", "SPOT")
    w.msg(AccountConfig(acct_lv=2, pos_mode="net_mode"))
    got = w.places()
    assert {(o.side, o.td_mode, o.pos_side, o.ccy) for o in got} == {
        (Side.BUY, "cross", "", "BTC"),
        (Side.SELL, "cross", "", "USDT"),
    }
    cash = Core("BTC-USDT", "SPOT", PARAMS.model_copy(update={"trading_mode": "cash"}))
    cash.msg(AccountConfig(acct_lv=2, pos_mode="net_mode"))
    assert {(o.td_mode, o.ccy) for o in cash.places()} == {("cash", "")}


def test_long_short_mode_buys_close_the_short_leg_while_it_lasts() -> None:
    w = Core("BTC-USDT-SWAP", "SWAP")
    w.msg(AccountConfig(acct_lv=2, pos_mode="long_short_mode"))
    # a short leg of 3: the first bid (2) closes it, the rest would exceed it and open long
    w.msg(Position("BTC-USDT-SWAP", "SWAP", "cross", "short", D(3), D(30000), 0))
    got = w.places()
    bids = sorted((o for o in got if o.side is Side.BUY), key=lambda o: o.px or 0, reverse=True)
    asks = [o for o in got if o.side is Side.SELL]
    assert [o.pos_side for o in bids] == ["short", "long", "long"]
    assert {o.sz for o in bids} == {D(2)}
    assert {o.pos_side for o in asks} == {"short"}  # no long leg: every ask opens short
    assert {o.td_mode for o in got} == {"cross"}


def test_an_amend_growing_a_close_beyond_its_leg_becomes_cancel_and_place() -> None:
    """OKX would refuse it (51112) at every decision; a fresh place opens instead."""
    w = Core("BTC-USDT-SWAP", "SWAP")
    w.msg(AccountConfig(acct_lv=2, pos_mode="long_short_mode"))
    w.msg(Position("BTC-USDT-SWAP", "SWAP", "cross", "short", D(3), D(30000), 0))
    close = next(o for o in w.places() if o.pos_side == "short")
    assert close.sz == D(2)  # the leg (3) can close 1 more
    fits = Actions(amends=(AmendOp(close.cl_ord_id, D("29990.0"), D(3)),))
    assert w.core.trade_as.closes_fit(fits) == fits
    grows = Actions(amends=(AmendOp(close.cl_ord_id, D("29990.0"), D(4)),))
    assert w.core.trade_as.closes_fit(grows) == Actions(
        cancels=(CancelOp(close.cl_ord_id),), places=(PlaceOp(Side.BUY, D("29990.0"), D(4)),)
    )
