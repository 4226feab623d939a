"""Trading state of one scope: ACTIVE / REDUCING / HALTED, table-driven.

Rules:
- HALTED is latched: a kill switch or a loss limit puts a scope there and only ``RESUME`` (the
  operator: ``okxmm resume``) leaves it. The router then cancels everything and accepts only
  cancels.
- REDUCING follows live conditions (position or exposure over a limit, order rate, stale or
  resyncing market data, missing private stream): ``BREACH`` enters it, ``CLEAR`` leaves it as
  soon as no condition holds. The router accepts only position-reducing orders.
- Nothing else assigns a state; every change is returned with its reason for the log.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from engine.errors import IllegalTransitionError
from engine.messages import TradingState

__all__ = ["TRANSITIONS", "ScopeState", "StateChange", "StateEvent"]

A, R, H = TradingState.ACTIVE, TradingState.REDUCING, TradingState.HALTED


class StateEvent(StrEnum):
    HALT = "HALT"  # kill switch or loss limit
    RESUME = "RESUME"  # operator clears the halt
    BREACH = "BREACH"  # some reducing condition holds
    CLEAR = "CLEAR"  # no reducing condition holds


E = StateEvent
TRANSITIONS: dict[tuple[TradingState, StateEvent], TradingState] = {
    (A, E.HALT): H,
    (A, E.RESUME): A,
    (A, E.BREACH): R,
    (A, E.CLEAR): A,
    (R, E.HALT): H,
    (R, E.RESUME): R,  # resume does not clear a live breach
    (R, E.BREACH): R,
    (R, E.CLEAR): A,
    (H, E.HALT): H,
    (H, E.RESUME): A,  # the next evaluation sends BREACH if a condition still holds
    (H, E.BREACH): H,  # latched: conditions clearing never un-halt
    (H, E.CLEAR): H,
}


@dataclass(frozen=True, slots=True)
class StateChange:
    scope: str
    key: str
    old: TradingState
    new: TradingState
    reason: str


class ScopeState:
    """The state of one (scope, key) and the reason it is in it."""

    def __init__(self, scope: str, key: str, state: TradingState = A, reason: str = "") -> None:
        self.scope = scope
        self.key = key
        self.state = state
        self.reason = reason

    def fire(self, event: StateEvent, reason: str) -> StateChange | None:
        """Apply ``event``; returns the change when the state (or, in it, the reason) moved."""
        try:
            new = TRANSITIONS[(self.state, event)]
        except KeyError:
            raise IllegalTransitionError("risk-state", str(self.state), str(event)) from None
        old, old_reason = self.state, self.reason
        if new != old:
            self.state, self.reason = new, reason
            return StateChange(self.scope, self.key, old, new, reason)
        if new == R and event == E.BREACH and reason != old_reason:
            self.reason = reason  # same state, a different condition: publish the new reason
            return StateChange(self.scope, self.key, old, new, reason)
        if new == A:
            self.reason = ""
        return None
