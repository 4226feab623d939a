"""The worker's own state (what ``StrategyStatus.state`` reports): one transition table.

Each decision ends in one outcome (:class:`WorkerTrigger`); ``TRANSITIONS`` says which state it
leads to from which state. A pair with no row is a bug in the decision step: the machine logs it,
counts it and still moves to the outcome's state (the outcome is what the decision did, so the
report must say so). STOPPED is terminal: nothing leaves it, and the core decides no more.

* STARTING: waiting for the router's Welcome; no decision has run yet.
* QUOTING / HALTED: the strategy decided (HALTED: it asked to quote nothing).
* PULLED: health said no (stale or invalid book, silent publisher, risk); quotes pulled.
* PAUSED: ctl pause; orders cancelled, nothing decided until resume.
* ERROR_BACKOFF: ``decide`` raised; orders cancelled, no decision until the back-off ends.
* BACKING_OFF: the router refused too many commands in a row; quotes pulled, no decision until
  the (exponential, capped) back-off ends; the reason says why and for how long.
* STOPPED: too many errors in a row (or the process is stopping).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

__all__ = ["TRANSITIONS", "WorkerMachine", "WorkerState", "WorkerTrigger"]


class WorkerState(StrEnum):
    """The worker's state; the values are the strings the status has always carried."""

    STARTING = "starting"
    QUOTING = "quoting"
    HALTED = "halted"
    PULLED = "pulled"
    PAUSED = "paused"
    ERROR_BACKOFF = "error-backoff"
    BACKING_OFF = "backing-off"
    STOPPED = "stopped"


class WorkerTrigger(StrEnum):
    """The outcome of one decision step (or a lifecycle event)."""

    QUOTE = "QUOTE"  # decide returned quotes
    HALT = "HALT"  # decide returned a halt
    PULL = "PULL"  # health not ok
    PAUSE = "PAUSE"  # a decision while paused
    ERROR = "ERROR"  # decide raised
    BACKOFF = "BACKOFF"  # a decision inside the error back-off
    REFUSED = "REFUSED"  # a decision inside the refusal back-off
    STOP = "STOP"  # fatal error or shutdown


W = WorkerState
T = WorkerTrigger

_DECIDED = {T.QUOTE: W.QUOTING, T.HALT: W.HALTED, T.PULL: W.PULLED, T.PAUSE: W.PAUSED}
_LIVE = (W.STARTING, W.QUOTING, W.HALTED, W.PULLED, W.PAUSED, W.ERROR_BACKOFF, W.BACKING_OFF)

TRANSITIONS: dict[tuple[WorkerState, WorkerTrigger], WorkerState] = {
    **{(s, t): new for s in _LIVE for t, new in _DECIDED.items()},
    # decide runs only when not paused, out of back-off and healthy: from any live state but
    # PAUSED-without-resume it may raise (a resume leaves PAUSED on the next decision)
    **{(s, T.ERROR): W.ERROR_BACKOFF for s in _LIVE},
    # the back-off is only entered by an error: a back-off outcome from anywhere else is a bug
    (W.ERROR_BACKOFF, T.BACKOFF): W.ERROR_BACKOFF,
    # the router's refusals may trip the back-off in any live state (replies of commands sent
    # before a pause, or just after a resume, still arrive)
    **{(s, T.REFUSED): W.BACKING_OFF for s in _LIVE},
    **{(s, T.STOP): W.STOPPED for s in _LIVE},
    (W.STOPPED, T.STOP): W.STOPPED,  # a second stop request is harmless
}


class WorkerMachine:
    """The current state, moved only through ``TRANSITIONS``; illegal pairs logged and counted."""

    def __init__(self, log: Any) -> None:
        self.state = W.STARTING
        self.illegal = 0
        self._log = log

    def apply(self, trigger: WorkerTrigger) -> WorkerState:
        new = TRANSITIONS.get((self.state, trigger))
        if new is None:
            self.illegal += 1
            new = W.STOPPED if trigger is T.STOP else _fallback(trigger)
            self._log.warning(
                "illegal worker state transition", state=self.state.value, trigger=trigger.value
            )
            if self.state is W.STOPPED:
                return self.state  # terminal: nothing leaves it
        self.state = new
        return new


def _fallback(trigger: WorkerTrigger) -> WorkerState:
    """The state an outcome stands for, used when its pair has no row."""
    if trigger in _DECIDED:
        return _DECIDED[trigger]
    if trigger is T.REFUSED:
        return W.BACKING_OFF
    return W.ERROR_BACKOFF
