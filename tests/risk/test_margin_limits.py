"""Risk obeys the margin actor: REDUCING at its ``reduce``, HALTED (latched) at its ``halt``,
REDUCING while it is silent; the reason says margin."""

from __future__ import annotations

from decimal import Decimal

from engine.messages import MarginState, TradingState
from risk.config import RiskConfig
from risk.core import RiskCore
from risk.limits import LimitInputs, Severity, evaluate

D = Decimal


def _state(status: str, action: str, ratio: str) -> MarginState:
    z = D(0)
    reason = f"margin ratio {D(ratio) * 100} % {status}"
    return MarginState(3, status, D(ratio), None, z, z, z, z, z, reason=reason, action=action)


def test_limits_map_the_margin_verdict() -> None:
    base = {"account_ready": True, "private_ok": True}
    assert evaluate(LimitInputs(**base), RiskConfig()) == []  # type: ignore[arg-type]
    (r,) = evaluate(
        LimitInputs(**base, margin_action="reduce", margin_reason="ratio 180 %"),  # type: ignore[arg-type]
        RiskConfig(),
    )
    assert (r.scope, r.key, r.severity, r.reason) == (
        "account",
        "*",
        Severity.REDUCE,
        "margin: ratio 180 %",
    )
    (h,) = evaluate(LimitInputs(**base, margin_action="halt"), RiskConfig())  # type: ignore[arg-type]
    assert h.severity is Severity.HALT
    (s,) = evaluate(LimitInputs(**base, margin_silent=True), RiskConfig())  # type: ignore[arg-type]
    assert (s.severity, s.reason) == (Severity.REDUCE, "margin monitor silent")


def test_core_goes_reducing_then_halted_on_margin_states() -> None:
    c = RiskCore(RiskConfig(), [], [])
    acct = ("account", "*")
    c.on_message("margin", _state("danger", "reduce", "1.8"), 1, False)
    c.evaluate(1, 1)
    st = c.states[acct]
    assert st.state is TradingState.REDUCING
    assert "margin: margin ratio 180" in st.reason
    c.on_message("margin", _state("danger", "halt", "1.3"), 2, False)
    c.evaluate(2, 2)
    assert c.states[acct].state is TradingState.HALTED
    assert c.states[acct].reason.startswith("margin: margin ratio 130")
    c.on_message("margin", _state("healthy", "", "9"), 3, False)
    c.evaluate(3, 3)
    assert c.states[acct].state is TradingState.HALTED  # a halt latches until resumed
