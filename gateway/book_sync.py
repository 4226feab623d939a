"""Book synchronisation for one instrument: OKX ``books`` messages in, bus messages out. Pure.

Rules (okx-v5.md §9.2–§9.4):
* A snapshot (``action:"snapshot"``, ``prevSeqId = -1``) replaces the book.
* An update must chain: ``prevSeqId == last seqId`` (this covers heartbeats ``seqId == prevSeqId``
  and sequence resets ``seqId < prevSeqId``). Anything else is a GAP.
* After a REST bootstrap at ``seqId = S``: updates with ``seqId <= S`` are dropped and the first
  applied one must satisfy ``prevSeqId <= S < seqId``.
* The checksum is verified whenever the venue sends a non-zero one (0 = not provided).
* A ``BookTop`` is published whenever the top-N changed, and otherwise at most every
  ``republish_ms`` (so seqId/ts progress stays visible without flooding the bus).
* Any gap, checksum mismatch, disconnect or stale stream → RESYNCING: the book is cleared and a
  RESYNCING status *and* an empty RESYNCING ``BookTop`` are published (so no retained, late-joiner
  snapshot ever shows an old book as VALID); updates are buffered; the shell resubscribes (OKX
  answers a snapshot). If no snapshot comes — first message an update (no-snapshot mode) or
  ``snapshot_wait_ns`` elapsed — the shell fetches a REST snapshot and passes it back with the
  attempt number it was asked for (stale answers are ignored).

State tables (``gateway.book_sync_fsm``): :data:`TRANSITIONS` (``BookState`` ×
:class:`SyncEvent`; only ``_transition`` assigns the state) and ``PHASE_TRANSITIONS`` (how the
book is being rebuilt; only ``_to`` assigns the phase, illegal pairs logged).
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.messages import BookState, BookStatus, BookTop
from gateway.book import L2Book
from gateway.book_sync_fsm import (
    TRANSITIONS,
    Phase,
    PhaseEvent,
    PhaseMachine,
    SyncEvent,
    next_book_state,
)
from gateway.okx.schemas import BookData

__all__ = ["CHANGED", "NOTHING", "TRANSITIONS", "BookSync", "SyncEvent", "SyncOutput"]

_NS_PER_S = 1_000_000_000


@dataclass(frozen=True, slots=True)
class SyncOutput:
    """What the shell must do: publish ``status`` then ``book`` now (state changes), publish
    :meth:`BookSync.top_message` soon (``book_changed``: a VALID book moved; the shell may
    conflate several into one), resubscribe, fetch a REST snapshot (``fetch_snapshot`` = attempt
    number to hand back to :meth:`BookSync.on_rest_snapshot`)."""

    book: BookTop | None = None
    status: BookStatus | None = None
    resubscribe: bool = False
    fetch_snapshot: int | None = None
    book_changed: bool = False


NOTHING = SyncOutput()
CHANGED = SyncOutput(book_changed=True)
_NOTHING, _CHANGED = NOTHING, CHANGED
_LIVE = Phase.LIVE


class BookSync:
    """One instrument's book and its sync state. Feed it messages and timer ticks."""

    def __init__(
        self,
        inst: str,
        *,
        depth: int = 5,
        now_ns: int = 0,
        snapshot_wait_s: float = 1.0,
        rest_retry_s: float = 3.0,
        stale_after_s: float = 90.0,
        max_buffer: int = 10_000,
        republish_ms: int = 100,
    ) -> None:
        self.inst = inst
        self.depth = depth
        self.book = L2Book(inst, pub_depth=depth)
        self._republish_ns = republish_ms * 1_000_000
        self._last_pub_ns = now_ns
        self._checksum = 0
        self.state = BookState.RESYNCING
        self.reason = "start"
        self.seq_id = -1
        self.ts_ms = 0
        self._phases = PhaseMachine(inst)
        self._phase = self._phases.phase  # read on the hot path; written only by _to
        self._attempt = 0
        self._since_ns = now_ns
        self._last_msg_ns = now_ns
        self._bootstrap_seq: int | None = None
        self._buffer: list[BookData] = []
        self._snapshot_wait_ns = int(snapshot_wait_s * _NS_PER_S)
        self._rest_retry_ns = int(rest_retry_s * _NS_PER_S)
        self._stale_ns = int(stale_after_s * _NS_PER_S)
        self._max_buffer = max_buffer
        # counters
        self.updates = 0
        self.resyncs = 0
        self.gaps = 0
        self.checksum_failures = 0
        self.checksums_verified = 0
        self.rest_bootstraps = 0

    # --------------------------------------------------------------------------- transitions
    def _transition(self, event: SyncEvent) -> BookState:
        self.state = nxt = next_book_state(self.state, event)
        return nxt

    def _to(self, event: PhaseEvent) -> None:
        self._phase = self._phases.apply(event)

    @property
    def illegal_phase_transitions(self) -> int:
        return self._phases.illegal

    def _fail(self, event: SyncEvent, reason: str, now_ns: int) -> SyncOutput:
        was = self.state
        self._transition(event)
        if event is SyncEvent.GAP:
            self.gaps += 1
        elif event is SyncEvent.CHECKSUM_MISMATCH:
            self.checksum_failures += 1
        if was is BookState.VALID:
            self.resyncs += 1
        self.reason = reason
        self.book.clear()
        self.seq_id = -1
        self._buffer.clear()
        self._bootstrap_seq = None
        self._to(PhaseEvent.FAILED)
        self._attempt += 1
        self._since_ns = now_ns
        status = None
        book = None
        if was is BookState.VALID:
            status = BookStatus(self.inst, BookState.RESYNCING, reason)
            book = BookTop(self.inst, BookState.RESYNCING, -1, self.ts_ms, [], [], 0)
        # after a disconnect the connection manager resubscribes by itself
        return SyncOutput(book, status, resubscribe=event is not SyncEvent.DISCONNECTED)

    def _synced(self, now_ns: int, checksum: int) -> SyncOutput:
        was = self.state
        self._transition(SyncEvent.SYNCED)
        self._to(PhaseEvent.SYNCED)
        self._buffer.clear()
        self._since_ns = now_ns
        self.reason = ""
        status = BookStatus(self.inst, BookState.VALID) if was is not BookState.VALID else None
        self._checksum = checksum
        return SyncOutput(self.top_message(now_ns), status)

    def top_message(self, now_ns: int) -> BookTop:
        """The current book as a self-contained ``BookTop`` (empty and RESYNCING unless VALID)."""
        if self.state is not BookState.VALID:
            return BookTop(self.inst, BookState.RESYNCING, -1, self.ts_ms, [], [], 0)
        self._last_pub_ns = now_ns
        bids, asks = self.book.published_top()
        return BookTop(
            self.inst, BookState.VALID, self.seq_id, self.ts_ms, bids, asks, self._checksum
        )

    def _verify(self, d: BookData) -> bool:
        if d.checksum == 0:
            return True
        self.checksums_verified += 1
        return self.book.checksum() == d.checksum

    # -------------------------------------------------------------------------------- inputs
    def on_book(self, action: str, d: BookData, now_ns: int) -> SyncOutput:
        """One WS ``books`` data item (``action`` = ``snapshot`` | ``update``)."""
        self._last_msg_ns = now_ns
        prev = d.prevSeqId
        # The hot path, checked first: a LIVE book and an update that chains. Equivalent to
        # the general path below for such an update (not a snapshot, prevSeqId != -1, phase
        # LIVE, no bootstrap pending, prevSeqId == seqId) but with one test per condition.
        if (
            prev == self.seq_id
            and prev != -1
            and self._phase is _LIVE
            and self._bootstrap_seq is None
            and action != "snapshot"
        ):
            return self._apply(d, now_ns)
        if action == "snapshot" or prev == -1:
            self.book.load_snapshot(d.bids, d.asks)
            self.seq_id, self.ts_ms = d.seqId, int(d.ts)
            self._bootstrap_seq = None
            if not self._verify(d):
                return self._fail(
                    SyncEvent.CHECKSUM_MISMATCH, "checksum mismatch on snapshot", now_ns
                )
            self.updates += 1
            return self._synced(now_ns, d.checksum)
        if self._phase is not _LIVE:
            return self._buffer_update(d, now_ns)
        boot = self._bootstrap_seq
        if boot is not None:
            if d.seqId <= boot:
                return _NOTHING  # already contained in the REST snapshot
            if prev > boot:
                return self._fail(SyncEvent.GAP, f"gap after bootstrap {boot}->{prev}", now_ns)
            self._bootstrap_seq = None
        elif prev != self.seq_id:
            return self._fail(SyncEvent.GAP, f"gap {self.seq_id}->{prev}", now_ns)
        return self._apply(d, now_ns)

    def _apply(self, d: BookData, now_ns: int) -> SyncOutput:
        """Apply a chained update to a LIVE book and verify its checksum."""
        book = self.book
        book.apply(d.bids, d.asks)
        self.seq_id, self.ts_ms = d.seqId, int(d.ts)
        self.updates += 1
        checksum = self._checksum = d.checksum
        if checksum:  # 0 = not provided (2026 deprecation)
            self.checksums_verified += 1
            if book.checksum() != checksum:
                return self._fail(
                    SyncEvent.CHECKSUM_MISMATCH, f"checksum mismatch at {d.seqId}", now_ns
                )
        if book.top_changed or now_ns - self._last_pub_ns >= self._republish_ns:
            return _CHANGED
        return _NOTHING  # conflated: the top-N is unchanged and was published recently

    def _buffer_update(self, d: BookData, now_ns: int) -> SyncOutput:
        if len(self._buffer) >= self._max_buffer:
            self._buffer.clear()  # the REST snapshot will be newer than anything dropped
        self._buffer.append(d)
        if self._phase is Phase.AWAIT_WS:
            # an update before any snapshot: the venue is not sending one (no-snapshot mode)
            return self._request_rest(now_ns)
        return _NOTHING

    def _request_rest(self, now_ns: int) -> SyncOutput:
        self._to(PhaseEvent.REST_REQUESTED)
        self._attempt += 1
        self._since_ns = now_ns
        return SyncOutput(fetch_snapshot=self._attempt)

    def on_rest_snapshot(self, attempt: int, d: BookData, now_ns: int) -> SyncOutput:
        """The REST ``market/books`` answer for ``attempt``; stale answers are ignored."""
        if attempt != self._attempt or self._phase is not Phase.AWAIT_REST:
            return _NOTHING
        self.rest_bootstraps += 1
        self.book.load_snapshot(d.bids, d.asks)
        s = d.seqId
        self.seq_id, self.ts_ms = s, int(d.ts)
        first = True
        last_checksum = 0
        for u in self._buffer:
            if u.seqId <= s:
                continue
            if (first and u.prevSeqId > s) or (not first and u.prevSeqId != self.seq_id):
                self._buffer.clear()
                return self._request_rest(now_ns)  # the buffer does not join the snapshot
            first = False
            self.book.apply(u.bids, u.asks)
            self.seq_id, self.ts_ms = u.seqId, int(u.ts)
            if not self._verify(u):
                return self._fail(
                    SyncEvent.CHECKSUM_MISMATCH, f"checksum mismatch at {u.seqId}", now_ns
                )
            last_checksum = u.checksum
        self._bootstrap_seq = s if first else None
        return self._synced(now_ns, last_checksum)

    def on_connected(self, now_ns: int) -> SyncOutput:
        """A (re)connected WS session subscribed again: start waiting for its snapshot."""
        self._last_msg_ns = now_ns
        if self.state is BookState.RESYNCING:
            self._to(PhaseEvent.RECONNECTED)
            self._buffer.clear()
            self._since_ns = now_ns
        return _NOTHING

    def on_disconnect(self, now_ns: int) -> SyncOutput:
        return self._fail(SyncEvent.DISCONNECTED, "ws disconnected", now_ns)

    def request_resync(self, reason: str, now_ns: int) -> SyncOutput:
        """Force a rebuild (operator command)."""
        return self._fail(SyncEvent.GAP, reason, now_ns)

    def on_timer(self, now_ns: int) -> SyncOutput:
        """Call periodically: staleness while VALID, snapshot/REST timeouts while RESYNCING."""
        if self.state is BookState.VALID:
            if now_ns - self._last_msg_ns > self._stale_ns:
                return self._fail(SyncEvent.STALE, "stale: no book message", now_ns)
            return _NOTHING
        waited = now_ns - self._since_ns
        if self._phase is Phase.AWAIT_WS and waited > self._snapshot_wait_ns:
            return self._request_rest(now_ns)
        if self._phase is Phase.AWAIT_REST and waited > self._rest_retry_ns:
            return self._request_rest(now_ns)
        return _NOTHING
