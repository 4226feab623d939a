"""Books rebuilt from recorded frames with the live md-feed's own code (``gateway.book_sync``).

Frames go through :class:`~gateway.book_sync.BookSync` in recorded order, seqId checks and
checksums included. When it asks for a REST snapshot (no snapshot on subscribe, or after a gap)
the next recorded ``rest:books:<inst>`` frame answers it, as the live feed's REST call would, or
one recorded up to ``_SPARE_MAX_AGE_NS`` before the ask in the same WS session (a recorder may
have fetched it just before the first push; BookSync accepts it only if the buffered updates
join its seqId, so a stale one cannot bridge anything). A gap is reported (when, where, why,
how long the book stayed invalid), never bridged: until a snapshot heals it the book is
RESYNCING and :meth:`BookReplay.valid` says so.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import msgspec

from engine.messages import BookState
from gateway.book_sync import BookSync
from gateway.okx.schemas import BookData
from gateway.okx.ws_protocol import BooksPush, UnknownFrame, WsParser
from ops.marketdata.rawfile import RawFrame

__all__ = ["BookReplay", "Gap", "InstReport"]

_decode_book = msgspec.convert
_SPARE_MAX_AGE_NS = 5_000_000_000


@dataclass
class Gap:
    inst: str
    recv_ns: int
    reason: str
    healed_ns: int | None = None  # when a snapshot made the book valid again


@dataclass
class InstReport:
    updates: int = 0
    snapshots_used: int = 0
    gaps: list[Gap] = field(default_factory=list)


class BookReplay:
    """Feed recorded frames; read each instrument's book and validity as of the last frame."""

    def __init__(self, insts: Iterable[str] | None = None, depth: int = 25) -> None:
        self._want = set(insts) if insts is not None else None
        self._depth = depth
        self.syncs: dict[str, BookSync] = {}
        self._asked: dict[str, int] = {}  # inst → attempt waiting for a REST snapshot
        # inst → a REST snapshot recorded before any ask (one per inst; dropped on a disconnect)
        self._spare: dict[str, RawFrame] = {}
        self.reports: dict[str, InstReport] = {}
        self._parser = WsParser()
        self.bad_frames = 0
        # what the last frame did, for a consumer mirroring the book (the backtest's venue):
        # the items applied as updates, or True when the book was (re)loaded whole
        self.last_items: list[BookData] = []
        self.last_reloaded = False

    def _sync(self, inst: str, now_ns: int) -> BookSync:
        s = self.syncs.get(inst)
        if s is None:
            s = self.syncs[inst] = BookSync(inst, depth=self._depth, now_ns=now_ns)
            self.reports[inst] = InstReport()
        return s

    def valid(self, inst: str) -> bool:
        s = self.syncs.get(inst)
        return s is not None and s.state is BookState.VALID

    def on_frame(self, f: RawFrame) -> str | None:
        """Apply one frame; the instrument whose book it touched, if any."""
        self.last_items = []
        self.last_reloaded = False
        if f.stream.startswith("rest:books:"):
            return self._on_rest(f.stream.removeprefix("rest:books:"), f)
        if f.stream == "note" and f.text.startswith("disconnected"):
            self._spare.clear()  # a new session: an older snapshot cannot join its pushes
            return None
        if not f.stream.startswith("ws:") or '"books' not in f.text[:80]:
            return None
        ev = self._parser.parse(f.text)  # the live md-feed's parser: the same decode
        if type(ev) is not BooksPush:
            if type(ev) is UnknownFrame:
                self.bad_frames += 1
            return None  # a subscribe ack or an error event: not book data
        inst, items, action = ev.inst, ev.data, ev.action
        if self._want is not None and inst not in self._want:
            return None
        sync = self._sync(inst, f.recv_ns)
        report = self.reports[inst]
        for d in items:
            was_valid = sync.state is BookState.VALID
            out = sync.on_book(action, d, f.recv_ns)
            report.updates += 1
            if sync.state is BookState.VALID:
                if action == "snapshot" or d.prevSeqId == -1 or not was_valid:
                    self.last_reloaded = True
                else:
                    self.last_items.append(d)
            if out.fetch_snapshot is not None:
                self._asked[inst] = out.fetch_snapshot
                spare = self._spare.pop(inst, None)
                if spare is not None and f.recv_ns - spare.recv_ns <= _SPARE_MAX_AGE_NS:
                    self._on_rest(inst, spare, now_ns=f.recv_ns)
            if was_valid and sync.state is not BookState.VALID:
                report.gaps.append(Gap(inst, f.recv_ns, sync.reason))
            self._healed(inst, f.recv_ns)
        return inst

    def _on_rest(self, inst: str, f: RawFrame, now_ns: int | None = None) -> str | None:
        if self._want is not None and inst not in self._want:
            return None
        now = f.recv_ns if now_ns is None else now_ns
        sync = self._sync(inst, now)
        attempt = self._asked.get(inst)
        if attempt is None:
            self._spare[inst] = f  # not asked for (yet): the live feed would not use it now
            return None
        try:
            body = json.loads(f.text)
            d = _decode_book({**body["data"][0], "instId": inst}, BookData)
        except (ValueError, KeyError, IndexError, TypeError, msgspec.ValidationError):
            self.bad_frames += 1
            return None
        out = sync.on_rest_snapshot(attempt, d, now)
        self._asked.pop(inst, None)
        if out.fetch_snapshot is not None:
            self._asked[inst] = out.fetch_snapshot
        if sync.state is BookState.VALID:
            self.reports[inst].snapshots_used += 1
            self.last_reloaded = True
        self._healed(inst, now)
        return inst

    def _healed(self, inst: str, now_ns: int) -> None:
        gaps = self.reports[inst].gaps
        if gaps and gaps[-1].healed_ns is None and self.valid(inst):
            gaps[-1].healed_ns = now_ns

    def run(self, frames: Iterable[RawFrame]) -> Iterator[tuple[RawFrame, str]]:
        """Apply every frame; yields (frame, inst) for each book frame applied."""
        for f in frames:
            inst = self.on_frame(f)
            if inst is not None:
                yield f, inst
