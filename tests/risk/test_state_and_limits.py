"""Trading-state table, limit evaluation, persistence."""

from __future__ import annotations

import itertools
from decimal import Decimal
from pathlib import Path

import pytest

from engine.messages import TradingState
from risk.config import RiskConfig
from risk.limits import InstView, LimitInputs, Severity, evaluate
from risk.persist import HaltRecord, PersistedState, load_state, save_state
from risk.state import TRANSITIONS, ScopeState, StateEvent

D = Decimal


@pytest.mark.parametrize(("state", "event"), list(itertools.product(TradingState, StateEvent)))
def test_every_state_event_pair_has_a_row(state: TradingState, event: StateEvent) -> None:
    assert (state, event) in TRANSITIONS
    st = ScopeState("inst", "X", state)
    st.fire(event, "why")
    assert st.state == TRANSITIONS[(state, event)]


def test_halt_latches_until_resume_and_reasons_are_kept() -> None:
    st = ScopeState("account", "*")
    ch = st.fire(StateEvent.BREACH, "stale")
    assert ch is not None
    assert (ch.old, ch.new, ch.reason) == ("ACTIVE", "REDUCING", "stale")
    again = st.fire(StateEvent.BREACH, "book RESYNCING")
    assert again is not None
    assert again.reason == "book RESYNCING"
    assert st.fire(StateEvent.HALT, "operator") is not None
    assert st.fire(StateEvent.CLEAR, "") is None
    assert st.state == TradingState.HALTED
    assert st.fire(StateEvent.RESUME, "resumed").new == TradingState.ACTIVE  # type: ignore[union-attr]


def _inst(**kw: object) -> InstView:
    base: dict[str, object] = {
        "inst": "BTC-USDT-SWAP",
        "position_base": D(0),
        "price_usd": D(40000),
        "open_buy_base": D(0),
        "open_sell_base": D(0),
        "md_age_ms": 10,
    }
    base.update(kw)
    return InstView(**base)  # type: ignore[arg-type]


def test_limits_each_breach() -> None:
    cfg = RiskConfig(
        loss_limit_usd=D(100),
        strategy_loss_limit_usd=D(50),
        max_position_base={"BTC-USDT-SWAP": D(1)},
        max_position_usd=D(30000),
        max_worst_case_exposure_usd=D(60000),
        max_order_rate_per_s=5,
        md_stale_ms=1000,
    )
    ok = LimitInputs(
        account_ready=True,
        private_ok=True,
        pnl_usd=D(10),
        peak_pnl_usd=D(50),
        insts=[_inst(position_base=D("0.5"))],
        order_rates={"mm": 5},
    )
    assert evaluate(ok, cfg) == []
    bad = LimitInputs(
        account_ready=False,
        private_ok=False,
        private_reason="private stream down",
        pnl_usd=D(-60),
        peak_pnl_usd=D(40),
        strategy_pnl={"mm": (D(-60), D(0))},
        insts=[
            _inst(position_base=D("1.4"), open_buy_base=D("0.2"), open_sell_base=D(0)),
            _inst(
                inst="ETH-USDT-SWAP",
                md_age_ms=None,
                book_resyncing=True,
                price_usd=D(2000),
                position_base=D(10),
                open_buy_base=D(25),
            ),
        ],
        order_rates={"mm": 6},
    )
    got = {(b.scope, b.key, b.severity, b.reason.split(" ")[0]) for b in evaluate(bad, cfg)}
    assert got == {
        ("account", "*", Severity.REDUCE, "no"),
        ("account", "*", Severity.REDUCE, "private"),
        ("account", "*", Severity.HALT, "loss"),
        ("strategy", "mm", Severity.HALT, "strategy"),
        ("strategy", "mm", Severity.REDUCE, "order"),
        ("inst", "BTC-USDT-SWAP", Severity.REDUCE, "position"),  # base and USD
        ("inst", "BTC-USDT-SWAP", Severity.REDUCE, "worst-case"),
        ("inst", "ETH-USDT-SWAP", Severity.REDUCE, "no"),
        ("inst", "ETH-USDT-SWAP", Severity.REDUCE, "book"),
        ("inst", "ETH-USDT-SWAP", Severity.REDUCE, "worst-case"),  # 35 ETH × 2000
    }


def test_state_file_round_trip_and_corrupt_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "risk.state"
    assert load_state(path) is None
    save_state(
        path, PersistedState(peak_pnl_usd=D("12.5"), halts=[HaltRecord("account", "*", "kill", 1)])
    )
    st = load_state(path)
    assert st is not None
    assert st.peak_pnl_usd == D("12.5")
    assert st.halts[0].reason == "kill"
    assert not (tmp_path / "sub" / "risk.state.tmp").exists()
    path.write_text("{not json")
    with pytest.raises(ValueError, match="unreadable"):
        load_state(path)
