"""The two state tables of book synchronisation (``gateway.book_sync``).

* :data:`TRANSITIONS`: the published ``BookState`` (VALID / RESYNCING) × :class:`SyncEvent`.
  Every pair has a row; a missing one raises (it would be a bug in this table).
* :data:`PHASE_TRANSITIONS`: how a book is being rebuilt (:class:`Phase`) × :class:`PhaseEvent`.
  AWAIT_WS waits for the venue's WS snapshot, AWAIT_REST for a REST snapshot the shell fetches,
  LIVE applies chained updates. A pair with no row is logged and counted by
  :class:`PhaseMachine` and the phase still moves: the caller's reason for moving stands, and a
  book left in a phase it did not choose would stop syncing.
"""

from __future__ import annotations

from enum import StrEnum

from loguru import logger

from engine.errors import IllegalTransitionError
from engine.messages import BookState

__all__ = [
    "PHASE_TRANSITIONS",
    "TRANSITIONS",
    "Phase",
    "PhaseEvent",
    "PhaseMachine",
    "SyncEvent",
    "next_book_state",
]


class SyncEvent(StrEnum):
    SYNCED = "SYNCED"  # book rebuilt (snapshot or REST bootstrap) and verified
    GAP = "GAP"
    CHECKSUM_MISMATCH = "CHECKSUM_MISMATCH"
    DISCONNECTED = "DISCONNECTED"
    STALE = "STALE"


_V, _R = BookState.VALID, BookState.RESYNCING
TRANSITIONS: dict[tuple[BookState, SyncEvent], BookState] = {
    (_V, SyncEvent.SYNCED): _V,  # an unsolicited snapshot while VALID just replaces the book
    (_R, SyncEvent.SYNCED): _V,
    (_V, SyncEvent.GAP): _R,
    (_V, SyncEvent.CHECKSUM_MISMATCH): _R,
    (_V, SyncEvent.DISCONNECTED): _R,
    (_V, SyncEvent.STALE): _R,
    # failing again while rebuilding restarts the rebuild
    (_R, SyncEvent.GAP): _R,
    (_R, SyncEvent.CHECKSUM_MISMATCH): _R,
    (_R, SyncEvent.DISCONNECTED): _R,
    (_R, SyncEvent.STALE): _R,
}


def next_book_state(state: BookState, event: SyncEvent) -> BookState:
    nxt = TRANSITIONS.get((state, event))
    if nxt is None:
        raise IllegalTransitionError("book_sync", state, event)
    return nxt


class Phase(StrEnum):
    AWAIT_WS = "AWAIT_WS"  # waiting for the WS snapshot, buffering updates
    AWAIT_REST = "AWAIT_REST"  # REST snapshot requested, buffering updates
    LIVE = "LIVE"


class PhaseEvent(StrEnum):
    FAILED = "FAILED"  # gap, checksum, disconnect, stale, operator resync: start over
    SYNCED = "SYNCED"  # a snapshot (WS or REST) was loaded and verified
    REST_REQUESTED = "REST_REQUESTED"  # no WS snapshot (yet), or a REST answer that did not join
    RECONNECTED = "RECONNECTED"  # a new WS session subscribed while rebuilding


_W, _RE, _L = Phase.AWAIT_WS, Phase.AWAIT_REST, Phase.LIVE
PHASE_TRANSITIONS: dict[tuple[Phase, PhaseEvent], Phase] = {
    **{(p, PhaseEvent.FAILED): _W for p in Phase},
    **{(p, PhaseEvent.SYNCED): _L for p in Phase},  # LIVE: an unsolicited snapshot
    (_W, PhaseEvent.REST_REQUESTED): _RE,
    (_RE, PhaseEvent.REST_REQUESTED): _RE,  # retry after rest_retry_s or a non-joining answer
    # a LIVE book never asks for REST: it fails first (back to AWAIT_WS)
    (_W, PhaseEvent.RECONNECTED): _W,
    (_RE, PhaseEvent.RECONNECTED): _W,  # the new session sends a snapshot: wait for it
}

_FALLBACK = {
    PhaseEvent.FAILED: _W,
    PhaseEvent.SYNCED: _L,
    PhaseEvent.REST_REQUESTED: _RE,
    PhaseEvent.RECONNECTED: _W,
}


class PhaseMachine:
    """One book's rebuild phase, moved only through :data:`PHASE_TRANSITIONS`."""

    __slots__ = ("illegal", "inst", "phase")

    def __init__(self, inst: str) -> None:
        self.inst = inst
        self.phase = Phase.AWAIT_WS
        self.illegal = 0

    def apply(self, event: PhaseEvent) -> Phase:
        nxt = PHASE_TRANSITIONS.get((self.phase, event))
        if nxt is None:
            self.illegal += 1
            logger.warning(
                "illegal book sync phase transition",
                inst=self.inst,
                phase=self.phase.value,
                event=event.value,
            )
            nxt = _FALLBACK[event]
        self.phase = nxt
        return nxt
