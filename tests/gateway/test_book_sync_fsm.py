"""Book sync state tables: every BookState pair covered, phase rows, illegal phases logged."""

from __future__ import annotations

import itertools

from engine.messages import BookState
from gateway.book_sync_fsm import (
    PHASE_TRANSITIONS,
    TRANSITIONS,
    Phase,
    PhaseEvent,
    PhaseMachine,
    SyncEvent,
    next_book_state,
)


def test_every_book_state_pair_has_a_row() -> None:
    for state, ev in itertools.product(BookState, SyncEvent):
        assert next_book_state(state, ev) is TRANSITIONS[(state, ev)]
    assert next_book_state(BookState.RESYNCING, SyncEvent.SYNCED) is BookState.VALID


def test_rebuild_path_ws_then_rest_then_live() -> None:
    m = PhaseMachine("BTC-USDT-SWAP")
    assert m.phase is Phase.AWAIT_WS
    assert m.apply(PhaseEvent.REST_REQUESTED) is Phase.AWAIT_REST
    assert m.apply(PhaseEvent.REST_REQUESTED) is Phase.AWAIT_REST  # retry
    assert m.apply(PhaseEvent.RECONNECTED) is Phase.AWAIT_WS
    assert m.apply(PhaseEvent.SYNCED) is Phase.LIVE
    assert m.apply(PhaseEvent.SYNCED) is Phase.LIVE  # unsolicited snapshot
    assert m.apply(PhaseEvent.FAILED) is Phase.AWAIT_WS
    assert m.illegal == 0


def test_a_live_book_asking_for_rest_is_illegal_logged_and_counted() -> None:
    assert (Phase.LIVE, PhaseEvent.REST_REQUESTED) not in PHASE_TRANSITIONS
    assert (Phase.LIVE, PhaseEvent.RECONNECTED) not in PHASE_TRANSITIONS
    m = PhaseMachine("BTC-USDT-SWAP")
    m.apply(PhaseEvent.SYNCED)
    assert m.apply(PhaseEvent.REST_REQUESTED) is Phase.AWAIT_REST  # still moves
    assert m.illegal == 1
