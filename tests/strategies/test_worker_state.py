"""The worker state machine: table rows, illegal pairs logged and counted, STOPPED terminal."""

from __future__ import annotations

from loguru import logger

from strategies.worker_state import TRANSITIONS, WorkerMachine, WorkerState, WorkerTrigger

W = WorkerState
T = WorkerTrigger


def test_values_are_the_status_strings() -> None:
    assert [s.value for s in W] == [
        "starting",
        "quoting",
        "halted",
        "pulled",
        "paused",
        "error-backoff",
        "backing-off",
        "stopped",
    ]


def test_happy_path_through_the_table() -> None:
    m = WorkerMachine(logger)
    for trigger, state in [
        (T.QUOTE, W.QUOTING),
        (T.PULL, W.PULLED),
        (T.ERROR, W.ERROR_BACKOFF),
        (T.BACKOFF, W.ERROR_BACKOFF),
        (T.PAUSE, W.PAUSED),
        (T.HALT, W.HALTED),
        (T.STOP, W.STOPPED),
    ]:
        assert m.apply(trigger) is state
    assert m.illegal == 0


def test_a_back_off_without_an_error_is_illegal_and_counted() -> None:
    m = WorkerMachine(logger)
    m.apply(T.QUOTE)
    assert (W.QUOTING, T.BACKOFF) not in TRANSITIONS
    assert m.apply(T.BACKOFF) is W.ERROR_BACKOFF  # the report says what the step did
    assert m.illegal == 1


def test_stopped_is_terminal() -> None:
    m = WorkerMachine(logger)
    m.apply(T.STOP)
    assert m.apply(T.QUOTE) is W.STOPPED
    assert m.illegal == 1
    assert m.apply(T.STOP) is W.STOPPED
    assert m.illegal == 1


def test_router_refusals_back_off_from_any_live_state_and_a_decision_leaves() -> None:
    m = WorkerMachine(logger)
    for start in (T.QUOTE, T.PULL, T.PAUSE, T.HALT):
        m.apply(start)
        assert m.apply(T.REFUSED) is W.BACKING_OFF
        assert m.apply(T.REFUSED) is W.BACKING_OFF  # decisions inside the back-off
    assert m.apply(T.QUOTE) is W.QUOTING
    assert m.illegal == 0
