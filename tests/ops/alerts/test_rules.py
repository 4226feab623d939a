"""Alert rules: transitions fire once, steady states never, and the end of a condition says so."""

from __future__ import annotations

from decimal import Decimal

from engine.messages import (
    BookState,
    BookStatus,
    MarginState,
    RiskState,
    StrategyStatus,
    StreamStatus,
    TradingState,
)
from ops.alerts.rules import AlertRules

S = 1_000_000_000


def _status(state: str, reason: str = "") -> StrategyStatus:
    return StrategyStatus(
        strategy="mm", inst="BTC-USDT-SWAP", state=state, quoting=False, reason=reason
    )


def test_risk_halt_and_reduce_fire_once_and_say_when_over() -> None:
    r = AlertRules()
    assert r.on_message(RiskState("account", "*", TradingState.ACTIVE), 0) == []
    (halt,) = r.on_message(RiskState("account", "*", TradingState.HALTED, "operator halt"), 0)
    assert (halt.severity, halt.key) == ("critical", "risk:account:*")
    assert "operator halt" in halt.text
    assert r.on_message(RiskState("account", "*", TradingState.HALTED, "operator halt"), 0) == []
    (back,) = r.on_message(RiskState("account", "*", TradingState.ACTIVE), 0)
    assert back.resolved
    assert back.severity == "info"
    (red,) = r.on_message(RiskState("inst", "BTC-USDT-SWAP", TradingState.REDUCING, "max pos"), 0)
    assert red.severity == "warning"
    assert "BTC-USDT-SWAP" in red.title


def test_a_loss_limit_halt_is_named() -> None:
    r = AlertRules()
    why = "loss limit: pnl -510 USD is 510 below peak 0 (limit 500)"
    (a,) = r.on_message(RiskState("account", "*", TradingState.HALTED, why), 0)
    assert "loss limit" in a.title


def test_workers_fenced_stopped_or_backing_off_and_back() -> None:
    r = AlertRules()
    assert r.on_message(_status("quoting"), 0) == []
    (f,) = r.on_message(_status("fenced", "heartbeat silence"), 0)
    assert f.severity == "warning"
    assert "fenced" in f.title
    assert r.on_message(_status("fenced", "heartbeat silence"), 0) == []
    (ok,) = r.on_message(_status("quoting"), 0)
    assert ok.resolved
    assert r.on_message(_status("paused"), 0) == []  # an operator's pause is not news


def test_a_book_invalid_longer_than_the_threshold_alerts_once() -> None:
    r = AlertRules(book_invalid_s=10)
    inst = "BTC-USDT-SWAP"
    assert r.on_message(BookStatus(inst, BookState.RESYNCING, "gap"), 0) == []
    assert r.on_timer(9 * S) == []
    (a,) = r.on_timer(11 * S)
    assert a.key == f"book:{inst}"
    assert r.on_timer(20 * S) == []
    (ok,) = r.on_message(BookStatus(inst, BookState.VALID), 21 * S)
    assert ok.resolved
    # a short resync is not news
    r.on_message(BookStatus(inst, BookState.RESYNCING), 30 * S)
    r.on_message(BookStatus(inst, BookState.VALID), 31 * S)
    assert r.on_timer(50 * S) == []


def test_venue_login_refused() -> None:
    r = AlertRules()
    (a,) = r.on_message(StreamStatus("private", False, "login refused 60024"), 0)
    assert a.severity == "critical"
    assert "60024" in a.text
    assert r.on_message(StreamStatus("private", False, "login refused 60024"), 0) == []
    assert r.on_message(StreamStatus("private", False, "reconciling"), 0) == []
    (ok,) = r.on_message(StreamStatus("private", True), 0)
    assert ok.resolved


def test_actor_restarts_and_deaths_from_the_supervisor() -> None:
    r = AlertRules()
    assert r.on_children({"router": ("running", 0), "mm": ("running", 0)}) == []
    (a,) = r.on_children({"router": ("running", 1), "mm": ("running", 0)})
    assert (a.key, a.severity) == ("actor:router", "warning")
    (d,) = r.on_children({"router": ("running", 1), "mm": ("gave up: 5 restarts in 600 s", 5)})
    assert d.severity == "critical"
    assert (
        r.on_children({"router": ("running", 1), "mm": ("gave up: 5 restarts in 600 s", 5)}) == []
    )


def _margin(status: str, ratio: str | None) -> MarginState:
    z = Decimal(0)
    r = None if ratio is None else Decimal(ratio)
    return MarginState(3, status, r, r, z, z, z, z, z)


def test_margin_warning_then_danger_then_healthy() -> None:
    r = AlertRules()
    assert r.on_message(_margin("healthy", None), 0) == []
    (w,) = r.on_message(_margin("warning", "2.5"), 0)
    assert (w.key, w.severity, w.resolved) == ("margin", "warning", False)
    assert "250 %" in w.text
    assert r.on_message(_margin("warning", "2.4"), 0) == []  # steady state: no news
    (d,) = r.on_message(_margin("danger", "1.6"), 0)
    assert d.severity == "critical"
    assert "DANGER" in d.title
    (ok,) = r.on_message(_margin("healthy", "9"), 0)
    assert ok.resolved
    assert "danger" in ok.text
