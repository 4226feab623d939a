"""The pure core fed with bus messages: the worked example end to end, order independence,
limits driving the states, kill switch and persistence across a restart."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.messages import AnyMsg, BookState, OrderState, RiskSnapshot, TradingState
from risk.config import RiskConfig
from risk.core import RiskCore

from .msgs import (
    BTC_SWAP_INFO,
    ETH_SWAP_INFO,
    account,
    book,
    fill,
    mark,
    order_event,
    position,
    ticker,
)

D = Decimal
INSTS = ["BTC-USDT-SWAP", "ETH-USDT-SWAP"]
S = 1_000_000_000  # ns


def core(cfg: RiskConfig | None = None, **kw: object) -> RiskCore:
    return RiskCore(cfg or RiskConfig(), INSTS, ["mm-btc"], **kw)  # type: ignore[arg-type]


def feed(c: RiskCore, msgs: list[AnyMsg], source: str = "acct", mono: int = 0) -> None:
    for m in msgs:
        c.on_message(source, m, mono, False)


INCEPTION: list[AnyMsg] = [
    BTC_SWAP_INFO,
    ETH_SWAP_INFO,
    ticker("BTC-USDT", "40099", "40101", 1),
    mark("BTC-USDT-SWAP", "40100", 1),
    book("BTC-USDT-SWAP", "40099", "40101", 1),
    book("ETH-USDT-SWAP", "1999", "2001", 1),
    account("28070", 1, BTC="0.2", USDT="20000"),
    position("BTC-USDT-SWAP", "50", "40000", "40100", "50", 1),
]
CURRENT: list[AnyMsg] = [
    ticker("BTC-USDT", "40299", "40301", 2),
    mark("BTC-USDT-SWAP", "40300", 2),
    account("28248.9775", 2, BTC="0.2", USDT="19993.9775"),
    position("BTC-USDT-SWAP", "80", "40056.25", "40300", "195", 2),
    order_event("mm-btc", "c1", "BTC-USDT-SWAP", "buy", OrderState.FILLED, "30", "30", "40150"),
    fill("BTC-USDT-SWAP", "t1", "buy", "40150", "30", "-6.0225", 2, cl="c1"),
]


def started(cfg: RiskConfig | None = None) -> tuple[RiskCore, RiskSnapshot]:
    c = core(cfg)
    feed(c, INCEPTION)
    assert c.evaluate(0, 1).snapshot is None  # positions not synced yet: no inception
    c.positions_synced = True
    first = c.evaluate(0, 1).snapshot
    assert first is not None
    assert first.pnl_in_usd_since_running == 0
    return c, first


def test_worked_example_from_bus_messages() -> None:
    c, _ = started()
    feed(c, CURRENT)
    snap = c.evaluate(S, 2).snapshot
    assert snap is not None
    assert snap.pnl_in_usd_since_running == D("38.9775")
    assert snap.asset_value_change_in_usd_since_running == D("178.9775")
    assert snap.exposures_base["BTC-USDT-SWAP"] == D("0.3")
    assert snap.exposures_quote["BTC-USDT-SWAP"] == D(12090)
    assert snap.exposures_base["ETH-USDT-SWAP"] == 0
    assert snap.net_filled_qty == {"BTC-USDT-SWAP": D(30)}
    assert snap.buy_filled_qty == {"BTC-USDT-SWAP": D(30)}
    assert snap.trading_volume == {"BTC-USDT-SWAP": D(30)}
    assert snap.fees_by_ccy == {"USDT": D("-6.0225")}
    # 30 contracts bought at 40150, marked at 40300: 0.3 BTC × 150 = 45 unrealised, − fee.
    assert snap.unrealized_pnl_usd == D(45)
    assert snap.realized_pnl_usd == 0
    assert snap.pnl_by_strategy_usd == {"mm-btc": D("38.9775")}
    assert snap.pnl_by_inst_usd == {"BTC-USDT-SWAP": D("38.9775")}
    assert snap.price_usd["BTC"] == D(40300)
    assert snap.pnl_by_ccy == {"USDT": D("38.9775"), "BTC": D(0)}
    # unchanged input → nothing new to publish
    assert c.evaluate(S, 3).snapshot is None
    sm = c.strategy_measurements()["BTC-USDT-SWAP"]
    assert (sm.trading_instrument, sm.trading_instrument_type) == ("BTC-USDT-SWAP", "SWAP")
    assert (sm.net_filled_qty, sm.buy_filled_qty, sm.sell_filled_qty, sm.trading_volume) == (
        D(30),
        D(30),
        D(0),
        D(30),
    )
    assert sm.pnl_in_usd_since_running == D("38.9775")
    assert sm.asset_value_change_in_usd_since_running == D("178.9775")
    assert sm.trading_instrument_exposure_in_base == D("0.3")
    assert sm.trading_instrument_exposure_in_quote == D(12090)
    assert (sm.exposure_ccy, sm.quote_ccy) == ("BTC", "USDT")


UPDATES: list[AnyMsg] = [
    *CURRENT,
    ticker("BTC-USDT", "40250", "40252", 3),  # newer: wins whatever the order
    mark("BTC-USDT-SWAP", "40260", 3),
    account("28200", 3, USDT="19993.9775"),
    position("BTC-USDT-SWAP", "80", "40056.25", "40260", "163", 3),
    position("ETH-USDT-SWAP", "-10", "2000", "2010", "-1", 3),
    fill("ETH-USDT-SWAP", "t2", "sell", "2000", "10", "-0.1", 3),
    fill("BTC-USDT-SWAP", "t1", "buy", "40150", "30", "-6.0225", 2, cl="c1"),  # duplicate
    order_event("mm-btc", "c1", "BTC-USDT-SWAP", "buy", OrderState.PARTIALLY_FILLED, "30", "10"),
    mark("ETH-USDT-SWAP", "2010", 3),
]


def _numbers(s: RiskSnapshot) -> tuple[object, ...]:
    return (
        s.pnl_in_usd_since_running,
        s.asset_value_change_in_usd_since_running,
        s.exposures_base,
        s.exposures_quote,
        s.net_filled_qty,
        s.trading_volume,
        s.fees_by_ccy,
        s.realized_pnl_usd,
        s.unrealized_pnl_usd,
        s.pnl_by_strategy_usd,
        s.pnl_by_inst_usd,
        s.price_usd,
    )


def _final(order: list[AnyMsg]) -> tuple[object, ...]:
    c, _ = started()
    feed(c, order)
    snap = c.evaluate(S, 9).snapshot
    assert snap is not None
    return _numbers(snap)


REFERENCE = _final(UPDATES)


@settings(max_examples=60, deadline=None)
@given(st.permutations(UPDATES))
def test_pnl_is_unchanged_by_the_order_equivalent_updates_arrive(order: list[AnyMsg]) -> None:
    assert _final(order) == REFERENCE


def test_reference_numbers_are_the_newest_state() -> None:
    pnl = REFERENCE[0]
    # BTC: 0.3 × (40260 − 40150) − 6.0225 = 26.9775; ETH short 10 @2000 marked 2010: −1 − 0.1 fee
    # (the account push at t=3 dropped BTC cash: −0.2 BTC at 40251).
    assert isinstance(pnl, Decimal)
    assert pnl == D("19993.9775") + 163 - 1 - 20000 - D("0.2") * 40251 - 50 * D("0.01") * 260


def test_loss_limit_halts_and_resume_rebases_the_peak() -> None:
    c, _ = started(RiskConfig(loss_limit_usd=D(100)))
    feed(c, [account("28070", 2, BTC="0.2", USDT="19950")])
    rep = c.evaluate(S, 2)
    assert c.state_of("account", "*") == TradingState.ACTIVE
    assert not any(ch.new == TradingState.HALTED for ch in rep.changes)
    feed(c, [account("28070", 3, BTC="0.2", USDT="19899")])
    rep = c.evaluate(2 * S, 3)
    assert c.state_of("account", "*") == TradingState.HALTED
    (halt,) = [ch for ch in rep.changes if ch.new == TradingState.HALTED]
    assert halt.reason.startswith("loss limit: pnl -101.00 USD is 101.00 below peak 0.00")
    # P&L recovering does not un-halt; resume does, with the peak re-based.
    feed(c, [account("28070", 4, BTC="0.2", USDT="20000")])
    c.evaluate(3 * S, 4)
    assert c.state_of("account", "*") == TradingState.HALTED
    feed(c, [account("28070", 5, BTC="0.2", USDT="19899")])
    c.evaluate(4 * S, 5)
    assert c.resume()
    c.evaluate(5 * S, 6)
    assert c.state_of("account", "*") == TradingState.ACTIVE
    assert c.peak_pnl_usd == D(-101)


def test_kill_switch_and_inception_survive_a_restart() -> None:
    c, _ = started()
    feed(c, CURRENT)
    c.evaluate(S, 2)
    assert c.halt("operator: fat finger", 5)[0].new == TradingState.HALTED
    saved = c.persisted()
    again = core(persisted=saved)
    assert again.state_of("account", "*") == TradingState.HALTED
    feed(again, [*INCEPTION[:6], *CURRENT])  # the restarted monitor's Clone sync
    again.positions_synced = True
    snap = again.evaluate(S, 3).snapshot
    assert snap is not None
    assert snap.inception_ts_ms == 1
    assert snap.pnl_in_usd_since_running == D("38.9775")
    assert snap.net_filled_qty == {"BTC-USDT-SWAP": D(30)}
    assert again.state_of("account", "*") == TradingState.HALTED
    again.resume()
    assert again.state_of("account", "*") == TradingState.ACTIVE


def test_bug_prices_never_checked_for_age_is_fixed() -> None:
    """§10.1 #18/#19: the original never checked price age; here stale, resyncing or silent
    market data and a missing private stream put the scope in REDUCING."""
    c, _ = started(RiskConfig(md_stale_ms=1000))
    c.evaluate(0, 1)
    assert c.state_of("inst", "BTC-USDT-SWAP") == TradingState.ACTIVE
    feed(c, [book("ETH-USDT-SWAP", "1999", "2001", 5, BookState.RESYNCING)], "md", 0)
    rep = c.evaluate(S // 2, 2)
    assert c.state_of("inst", "ETH-USDT-SWAP") == TradingState.REDUCING
    assert [ch.reason for ch in rep.changes] == ["book RESYNCING"]
    c.evaluate(2 * S, 3)  # BTC's last market data is 2 s old
    assert c.state_of("inst", "BTC-USDT-SWAP") == TradingState.REDUCING
    assert c.states[("inst", "BTC-USDT-SWAP")].reason == "market data stale for 2000 ms"
    feed(c, [book("BTC-USDT-SWAP", "1", "2", 6), book("ETH-USDT-SWAP", "1", "2", 6)], "md", 2 * S)
    c.evaluate(2 * S, 4)
    assert c.state_of("inst", "BTC-USDT-SWAP") == TradingState.ACTIVE
    assert c.state_of("inst", "ETH-USDT-SWAP") == TradingState.ACTIVE
    c.md_silent = True
    c.evaluate(2 * S, 5)
    assert c.states[("inst", "ETH-USDT-SWAP")].reason == "market data feed silent"
    c.md_silent = False
    c.private_silent = True
    c.evaluate(2 * S, 5)
    assert c.state_of("account", "*") == TradingState.REDUCING
    assert c.states[("account", "*")].reason == "private stream silent"


def test_order_rate_and_worst_case_exposure_limits() -> None:
    cfg = RiskConfig(max_order_rate_per_s=3, max_worst_case_exposure_usd=D(25000))
    c, _ = started(cfg)
    feed(
        c,
        [
            order_event("mm-btc", f"n{i}", "BTC-USDT-SWAP", "buy", OrderState.PENDING, "5")
            for i in range(4)
        ],
        "ord",
        0,
    )
    c.evaluate(0, 2)
    assert c.state_of("strategy", "mm-btc") == TradingState.REDUCING
    # position 0.5 BTC + 4 × 5 contracts (0.2 BTC) open buys = 0.7 BTC × 40100 > 25000
    assert c.state_of("inst", "BTC-USDT-SWAP") == TradingState.REDUCING
    feed(
        c,
        [
            order_event("mm-btc", f"n{i}", "BTC-USDT-SWAP", "buy", OrderState.CANCELED, "5")
            for i in range(4)
        ],
        "ord",
        0,
    )
    c.evaluate(2 * S, 3)
    assert c.state_of("strategy", "mm-btc") == TradingState.ACTIVE
    assert c.state_of("inst", "BTC-USDT-SWAP") == TradingState.ACTIVE  # 0.5 × 40100 = 20050


def test_bug_risk_display_only_and_counters_reset_on_restart_is_fixed() -> None:
    """§10.1 #4: the original's risk numbers gated nothing and its only limit, net_filled_qty,
    restarted at 0 and was blind to the real position. Here the real position drives a limit
    and the counters survive a restart."""
    cfg = RiskConfig(max_position_base={"BTC-USDT-SWAP": D("0.6")})
    c, _ = started(cfg)
    c.evaluate(0, 1)
    assert c.state_of("inst", "BTC-USDT-SWAP") == TradingState.ACTIVE  # 0.5 BTC held
    feed(c, CURRENT)  # now 0.8 BTC
    c.evaluate(S, 2)
    assert c.state_of("inst", "BTC-USDT-SWAP") == TradingState.REDUCING
    assert c.states[("inst", "BTC-USDT-SWAP")].reason == "position 0.80 over 0.6 base"
    again = RiskCore(cfg, INSTS, ["mm-btc"], c.persisted())
    feed(again, [*INCEPTION, *CURRENT])
    again.positions_synced = True
    snap = again.evaluate(S, 3).snapshot
    assert snap is not None
    original_after_restart = D(0)
    assert snap.net_filled_qty["BTC-USDT-SWAP"] == D(30) != original_after_restart


def test_messages_risk_does_not_use_do_not_hide_pending_changes() -> None:
    from engine.messages import Side, Trade

    c, _ = started()
    feed(
        c,
        [
            account("28070", 2, BTC="0.2", USDT="19990"),
            Trade(inst="BTC-USDT-SWAP", trade_id="x", px=D(1), sz=D(1), side=Side.BUY, ts_ms=2),
        ],
    )
    snap = c.evaluate(S, 2).snapshot
    assert snap is not None
    assert snap.pnl_in_usd_since_running == D(-10)


def test_inception_position_closed_since_is_revalued_at_the_close_mark_not_inception() -> None:
    """No mark stream for the instrument: the position push that closes it carries the mark then;
    holding 1 contract (0.01 BTC) from 40000 to a close at 41000 is not trading P&L."""
    c = RiskCore(RiskConfig(), ["BTC-USDT-SWAP"], [])
    feed(
        c,
        [
            BTC_SWAP_INFO,
            account("10000", 1, USDT="10000"),
            position("BTC-USDT-SWAP", "1", "40000", "40000", "0", 1),
        ],
    )
    c.positions_synced = True
    first = c.evaluate(0, 1).snapshot
    assert first is not None
    assert first.pnl_in_usd_since_running == 0
    # closed at 41000: +10 USDT realised; the flat push carries the venue's mark at the close
    flat = position("BTC-USDT-SWAP", "0", "", "41000", "0", 2)
    feed(c, [account("10010", 2, USDT="10010"), flat])
    snap = c.evaluate(S, 2).snapshot
    assert snap is not None
    assert snap.pnl_in_usd_since_running == 0  # the stale inception mark would have said +10


def test_inception_position_closed_without_a_mark_is_revalued_at_the_mid_then() -> None:
    c = RiskCore(RiskConfig(), ["BTC-USDT-SWAP"], [])
    feed(
        c,
        [
            BTC_SWAP_INFO,
            account("10000", 1, USDT="10000"),
            position("BTC-USDT-SWAP", "1", "40000", "40000", "0", 1),
        ],
    )
    c.positions_synced = True
    assert c.evaluate(0, 1).snapshot is not None
    flat = position("BTC-USDT-SWAP", "0", "", "0", "0", 3)
    feed(c, [book("BTC-USDT-SWAP", "40999", "41001", 2)], source="md")
    feed(c, [account("10010", 3, USDT="10010"), flat])
    feed(c, [book("BTC-USDT-SWAP", "0", "0", 4, BookState.RESYNCING)], source="md")  # mid gone
    snap = c.evaluate(S, 3).snapshot
    assert snap is not None
    assert snap.pnl_in_usd_since_running == 0
