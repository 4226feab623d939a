"""L2 order book of one instrument, as OKX ``books`` maintains it (okx-v5.md §9.2, §9.3). Pure.

Invariants:
* Prices are compared numerically as ``Decimal`` (exact), never as float; the price and size
  *strings* are kept exactly as received, because the checksum hashes them verbatim.
* Bids are kept best (highest) first, asks best (lowest) first; a level with size ``"0"`` is
  deleted, a known price is replaced, a new price is inserted.
* ``checksum()`` is OKX's CRC-32 over the best 25 levels per side, interleaved
  ``bid:sz:ask:sz:...`` (a side that runs out is skipped), as a signed 32-bit int. An empty book
  hashes to 0. The check string is cached and rebuilt only when a top-25 level changed.

Sequencing (seqId/prevSeqId) is not this module's job: see ``gateway.book_sync``.
"""

from __future__ import annotations

import zlib
from bisect import bisect_left
from decimal import Decimal

from engine.messages import Level

__all__ = ["CHECKSUM_DEPTH", "L2Book", "check_string_of", "checksum_of", "signed_crc32"]

CHECKSUM_DEPTH = 25
_MAX_DECIMAL_CACHE = 8192


def signed_crc32(text: str) -> int:
    """``zlib.crc32`` of the ASCII text as a signed 32-bit integer (OKX's convention)."""
    c = zlib.crc32(text.encode())
    return c - 0x1_0000_0000 if c >= 0x8000_0000 else c


def check_string_of(bid_parts: list[str], ask_parts: list[str]) -> str:
    """The string OKX hashes: ``"px:sz"`` parts interleaved bid, ask, bid, ask..."""
    nb, na = len(bid_parts), len(ask_parts)
    if nb == na:
        parts = [p for pair in zip(bid_parts, ask_parts, strict=True) for p in pair]
    else:
        parts = []
        for i in range(max(nb, na)):
            if i < nb:
                parts.append(bid_parts[i])
            if i < na:
                parts.append(ask_parts[i])
    return ":".join(parts)


def checksum_of(bid_parts: list[str], ask_parts: list[str]) -> int:
    """Checksum over ``"px:sz"`` parts, best first, at most 25 per side (empty book: 0)."""
    text = check_string_of(bid_parts, ask_parts)
    return signed_crc32(text) if text else 0


class _Side:
    """One side: sorted keys (best first) + key → ``"px:sz"``. Bid keys are negated prices."""

    __slots__ = ("keys", "levels", "negate", "top_dirty")

    def __init__(self, negate: bool) -> None:
        self.negate = negate
        self.keys: list[Decimal] = []
        self.levels: dict[Decimal, str] = {}
        self.top_dirty = True

    def load(self, levels: list[list[str]]) -> None:
        neg = self.negate
        self.levels = {
            (-Decimal(lv[0]) if neg else Decimal(lv[0])): f"{lv[0]}:{lv[1]}"
            for lv in levels
            if lv[1] != "0"
        }
        self.keys = sorted(self.levels)
        self.top_dirty = True

    def apply(self, levels: list[list[str]]) -> None:
        keys, book, neg = self.keys, self.levels, self.negate
        for lv in levels:
            px, sz = lv[0], lv[1]
            k = -Decimal(px) if neg else Decimal(px)
            if sz == "0":
                if book.pop(k, None) is not None:
                    i = bisect_left(keys, k)
                    del keys[i]
                    if i < CHECKSUM_DEPTH:
                        self.top_dirty = True
            elif k in book:
                book[k] = f"{px}:{sz}"
                if not self.top_dirty and bisect_left(keys, k) < CHECKSUM_DEPTH:
                    self.top_dirty = True
            else:
                book[k] = f"{px}:{sz}"
                i = bisect_left(keys, k)
                keys.insert(i, k)
                if i < CHECKSUM_DEPTH:
                    self.top_dirty = True

    def top_parts(self, n: int) -> list[str]:
        book = self.levels
        return [book[k] for k in self.keys[:n]]


class L2Book:
    """Full-depth book of one instrument with exact strings, checksum and top-N extraction."""

    __slots__ = ("_asks", "_bids", "_cached_checksum", "_dec", "inst")

    def __init__(self, inst: str) -> None:
        self.inst = inst
        self._bids = _Side(negate=True)
        self._asks = _Side(negate=False)
        self._cached_checksum = 0
        self._dec: dict[str, Decimal] = {}

    def clear(self) -> None:
        self._bids = _Side(negate=True)
        self._asks = _Side(negate=False)

    def load_snapshot(self, bids: list[list[str]], asks: list[list[str]]) -> None:
        """Replace the whole book (levels ``[px, sz, ...]``)."""
        self._bids.load(bids)
        self._asks.load(asks)

    def apply(self, bids: list[list[str]], asks: list[list[str]]) -> None:
        """Apply an incremental update's changed levels."""
        if bids:
            self._bids.apply(bids)
        if asks:
            self._asks.apply(asks)

    def checksum(self) -> int:
        """OKX checksum of the current book (cached until a top-25 level changes)."""
        b, a = self._bids, self._asks
        if b.top_dirty or a.top_dirty:
            self._cached_checksum = checksum_of(
                b.top_parts(CHECKSUM_DEPTH), a.top_parts(CHECKSUM_DEPTH)
            )
            b.top_dirty = a.top_dirty = False
        return self._cached_checksum

    def check_string(self) -> str:
        return check_string_of(
            self._bids.top_parts(CHECKSUM_DEPTH), self._asks.top_parts(CHECKSUM_DEPTH)
        )

    def __len__(self) -> int:
        return len(self._bids.keys) + len(self._asks.keys)

    def depth(self) -> tuple[int, int]:
        return len(self._bids.keys), len(self._asks.keys)

    def top_strings(self, n: int) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """Best ``n`` levels per side as the exact ``(px, sz)`` strings received."""

        def split(parts: list[str]) -> list[tuple[str, str]]:
            out = []
            for p in parts:
                px, _, sz = p.partition(":")
                out.append((px, sz))
            return out

        return split(self._bids.top_parts(n)), split(self._asks.top_parts(n))

    def top(self, n: int) -> tuple[list[Level], list[Level]]:
        """Best ``n`` levels per side as exact ``Decimal`` ``(px, sz)`` pairs."""
        dec = self._dec
        if len(dec) > _MAX_DECIMAL_CACHE:
            dec.clear()

        def conv(parts: list[str]) -> list[Level]:
            out: list[Level] = []
            for p in parts:
                px, _, sz = p.partition(":")
                dpx = dec.get(px)
                if dpx is None:
                    dpx = dec[px] = Decimal(px)
                dsz = dec.get(sz)
                if dsz is None:
                    dsz = dec[sz] = Decimal(sz)
                out.append((dpx, dsz))
            return out

        return conv(self._bids.top_parts(n)), conv(self._asks.top_parts(n))

    def best(self) -> tuple[Decimal | None, Decimal | None]:
        """(best bid, best ask) prices."""
        b, a = self._bids.keys, self._asks.keys
        return (-b[0] if b else None), (a[0] if a else None)
