"""Public market-data state: what the ``books`` channel has published, with seqId chaining and
checksums, plus books5 / bbo-tbt / tickers / mark-price change detection.

Invariant: the published view is exactly the top ``depth`` levels of the book at the last
publish; every update is the diff between two views, so a client that applies the snapshot and
every update holds the view, and the checksum of its best 25 levels equals ``checksum``.
Pure: callers pass ``now_ms`` and fault knobs.
"""

from __future__ import annotations

from dataclasses import dataclass

from ops.exchange.book import OrderBook
from ops.exchange.checksum import book_checksum
from ops.exchange.instruments import Instrument

__all__ = ["BookFeed", "BookMsg", "LevelRow"]

LevelRow = list[str]  # [px, sz, "0", count]


@dataclass(slots=True)
class BookMsg:
    """One books message body (the ``data[0]`` object) and whether it is a snapshot."""

    action: str
    data: dict[str, object]


class BookFeed:
    """Published state of one instrument's books channel."""

    def __init__(self, inst: Instrument, book: OrderBook, *, depth: int = 400, seq0: int = 1000):
        self.inst = inst
        self.book = book
        self.depth = depth
        self.seq = seq0
        self.version = -1
        self.bids: dict[int, tuple[int, int]] = {}
        self.asks: dict[int, tuple[int, int]] = {}
        self._bk: dict[bool, int | None] = {True: None, False: None}
        self._snap: tuple[list[LevelRow], list[LevelRow]] | None = None
        self.checksum = 0
        self.last_msg_ms = 0
        self.ts = 0
        self._row_cache: dict[tuple[int, int, int], LevelRow] = {}

    def _row(self, ticks: int, lots: int, count: int) -> LevelRow:
        key = (ticks, lots, count)
        row = self._row_cache.get(key)
        if row is None:
            row = [self.inst.px_str(ticks), self.inst.sz_str(lots), "0", str(count)]
            if len(self._row_cache) > 50_000:
                self._row_cache.clear()
            self._row_cache[key] = row
        return row

    def _side_diff(self, buy: bool) -> list[LevelRow]:
        """Bring one side of the view to the book's top ``depth``; the changed rows, best first.

        Only touched levels and levels crossing the depth boundary are visited."""
        book = self.book
        keys = book.keys(buy)
        levels = book.side(buy)
        view = self.bids if buy else self.asks
        n = len(keys)
        new_bk: int | None = keys[min(self.depth, n) - 1] if n else None
        old_bk = self._bk[buy]
        out: dict[int, LevelRow] = {}
        sign = -1 if buy else 1

        def refresh(t: int) -> None:
            lvl = levels.get(t)
            if lvl is not None and new_bk is not None and sign * t <= new_bk:
                v = (lvl.lots, len(lvl.orders))
                if view.get(t) != v:
                    view[t] = v
                    out[t] = self._row(t, v[0], v[1])
            elif t in view:
                del view[t]
                out[t] = [self.inst.px_str(t), "0", "0", "0"]

        for t in book.take_touched(buy):
            refresh(t)
        if new_bk != old_bk:
            if new_bk is None:
                for t in list(view):
                    refresh(t)
            else:
                lo = None if old_bk is None else min(old_bk, new_bk)
                hi = new_bk if old_bk is None else max(old_bk, new_bk)
                for k in list(keys.irange(lo, hi, inclusive=(False, True))):
                    refresh(sign * k)
        self._bk[buy] = new_bk
        return [out[t] for t in sorted(out, key=lambda t: sign * t)]

    def publish(
        self,
        now_ms: int,
        *,
        heartbeat_ms: int = 60_000,
        checksum_zero: bool = False,
        skip_seq: bool = False,
        corrupt: bool = False,
        phantom_delete: bool = False,
    ) -> BookMsg | None:
        """The next update if the book changed (or a heartbeat is due), else None.

        ``phantom_delete``: also delete a price level the client never saw, one tick inside the
        spread — on OKX a level that came and went between two pushes is still sent as a
        delete (a third of all deletes in real captures), so a client must ignore the
        deletion of a level it does not have."""
        if self.book.version == self.version:
            if self.version >= 0 and now_ms - self.last_msg_ms >= heartbeat_ms:
                self.last_msg_ms = now_ms
                return BookMsg(
                    "update",
                    {
                        "asks": [],
                        "bids": [],
                        "ts": str(now_ms),
                        "checksum": 0 if checksum_zero else self.checksum,
                        "prevSeqId": self.seq,
                        "seqId": self.seq,
                    },
                )
            return None
        first = self.version < 0
        self.version = self.book.version
        diff_b = self._side_diff(True)
        diff_a = self._side_diff(False)
        if not diff_b and not diff_a and not first:
            return None
        if phantom_delete and self.bids and self.asks:
            inside = max(self.bids) + 1
            px = self.inst.px_str(inside)
            # not a level this very update deletes: OKX lists a price once per update, and a
            # real delete is not a phantom (doubled, it broke a client counting deletes)
            if (
                inside < min(self.asks)
                and inside not in self.bids
                and px not in (r[0] for r in diff_b)
            ):
                diff_b.insert(0, [px, "0", "0", "0"])
        self._snap = None
        self.checksum = book_checksum(
            [(r[0], r[1]) for r in self._top_rows(True, 25)],
            [(r[0], r[1]) for r in self._top_rows(False, 25)],
        )
        prev = self.seq
        self.seq += 2 if skip_seq else 1
        self.last_msg_ms = now_ms
        self.ts = now_ms
        checksum = 0 if checksum_zero else self.checksum
        if corrupt and not checksum_zero:
            checksum = checksum ^ 0x5A5A5A5A if checksum else 1
        return BookMsg(
            "update",
            {
                "asks": diff_a,
                "bids": diff_b,
                "ts": str(now_ms),
                "checksum": checksum,
                "prevSeqId": prev + 1 if skip_seq else prev,
                "seqId": self.seq,
            },
        )

    def _top_rows(self, buy: bool, n: int) -> list[LevelRow]:
        view = self.bids if buy else self.asks
        sign = -1 if buy else 1
        keys = self.book.keys(buy)
        out = []
        # only valid while the book equals the published view (right after publish)
        for k in keys.islice(0, min(n, self.depth)):
            t = sign * k
            v = view[t]
            out.append(self._row(t, v[0], v[1]))
        return out

    def _rows(self) -> tuple[list[LevelRow], list[LevelRow]]:
        if self._snap is None:
            b = sorted(self.bids, reverse=True)
            a = sorted(self.asks)
            self._snap = (
                [self._row(t, *self.bids[t]) for t in b],
                [self._row(t, *self.asks[t]) for t in a],
            )
        return self._snap

    def snapshot(self, *, checksum_zero: bool = False, depth: int | None = None) -> BookMsg:
        """The published view as a snapshot (``prevSeqId`` −1), for new subscribers and REST."""
        n = depth if depth is not None else self.depth
        bid_rows, ask_rows = self._rows()
        return BookMsg(
            "snapshot",
            {
                "asks": ask_rows[:n],
                "bids": bid_rows[:n],
                "ts": str(self.ts),
                "checksum": 0 if checksum_zero else self.checksum,
                "prevSeqId": -1,
                "seqId": self.seq,
            },
        )

    def top(self, n: int) -> tuple[list[LevelRow], list[LevelRow]]:
        """Best ``n`` published levels per side (bids, asks)."""
        if self._snap is not None or n > 50 or self.book.version != self.version:
            b, a = self._rows()
            return b[:n], a[:n]
        return self._top_rows(True, n), self._top_rows(False, n)
