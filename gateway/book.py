"""L2 order book of one instrument, as OKX ``books`` maintains it (okx-v5.md §9.2, §9.3). Pure.

Invariants:
* Prices are compared numerically as ``Decimal`` (exact), never as float; the price and size
  *strings* are kept exactly as received, because the checksum hashes them verbatim. Levels are
  found by their price string (OKX spells prices canonically); a second spelling of a known
  price is still recognised as the same level.
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
    n = min(nb, na)
    parts = [""] * (2 * n)
    parts[0::2] = bid_parts[:n]
    parts[1::2] = ask_parts[:n]
    if nb != na:  # a side ran out: the rest of the longer side follows, no padding
        parts.extend(bid_parts[n:] if nb > na else ask_parts[n:])
    return ":".join(parts)


def checksum_of(bid_parts: list[str], ask_parts: list[str]) -> int:
    """Checksum over ``"px:sz"`` parts, best first, at most 25 per side (empty book: 0)."""
    text = check_string_of(bid_parts, ask_parts)
    return signed_crc32(text) if text else 0


class _Side:
    """One side as two parallel lists sorted best first — ``keys`` (exact ``Decimal`` prices,
    negated for bids) and ``parts`` (``"px:sz"`` as received) — plus ``index``: price string →
    key. Top-N and the checksum string are slices of ``parts``; no Decimal is hashed.

    ``top_dirty``: a level among the best 25 changed (checksum string must be rebuilt);
    ``pub_dirty``: a level among the best ``pub_depth`` changed (published top-N changed)."""

    __slots__ = ("index", "keys", "negate", "parts", "pub_depth", "pub_dirty", "top_dirty")

    def __init__(self, negate: bool, pub_depth: int) -> None:
        self.negate = negate
        self.pub_depth = pub_depth
        self.keys: list[Decimal] = []
        self.parts: list[str] = []
        self.index: dict[str, Decimal] = {}
        self.top_dirty = True
        self.pub_dirty = True

    def load(self, levels: list[list[str]]) -> None:
        neg = self.negate
        rows = sorted(
            ((-Decimal(lv[0]) if neg else Decimal(lv[0])), lv[0], f"{lv[0]}:{lv[1]}")
            for lv in levels
            if lv[1] != "0"
        )
        self.keys = [r[0] for r in rows]
        self.parts = [r[2] for r in rows]
        self.index = {r[1]: r[0] for r in rows}
        self.top_dirty = self.pub_dirty = True

    def apply(self, levels: list[list[str]]) -> None:
        keys, parts, index = self.keys, self.parts, self.index
        pub_depth = self.pub_depth
        for lv in levels:
            px, sz = lv[0], lv[1]
            k = index.get(px)
            if sz == "0":
                if k is None:
                    continue  # deleting an unknown level: nothing to do
                del index[px]
                i = bisect_left(keys, k)
                del keys[i]
                del parts[i]
            elif k is not None:
                i = bisect_left(keys, k)
                parts[i] = f"{px}:{sz}"
            else:
                k = -Decimal(px) if self.negate else Decimal(px)
                i = bisect_left(keys, k)
                if i < len(keys) and keys[i] == k:
                    # same price spelled differently ("8477.0"): one level, newest spelling
                    for old_px, old_k in list(index.items()):
                        if old_k == k:
                            del index[old_px]
                    parts[i] = f"{px}:{sz}"
                else:
                    keys.insert(i, k)
                    parts.insert(i, f"{px}:{sz}")
                index[px] = k
            if i < CHECKSUM_DEPTH:
                self.top_dirty = True
                if i < pub_depth:
                    self.pub_dirty = True
            elif i < pub_depth:
                self.pub_dirty = True

    def top_parts(self, n: int) -> list[str]:
        return self.parts[:n]


class L2Book:
    """Full-depth book of one instrument with exact strings, checksum and top-N extraction."""

    __slots__ = ("_asks", "_bids", "_cached_checksum", "_cached_top", "_dec", "inst", "pub_depth")

    def __init__(self, inst: str, pub_depth: int = 5) -> None:
        self.inst = inst
        self.pub_depth = pub_depth
        self._bids = _Side(negate=True, pub_depth=pub_depth)
        self._asks = _Side(negate=False, pub_depth=pub_depth)
        self._cached_checksum = 0
        self._cached_top: tuple[list[Level], list[Level]] = ([], [])
        self._dec: dict[str, Level] = {}  # "px:sz" → exact level

    def clear(self) -> None:
        self._bids = _Side(negate=True, pub_depth=self.pub_depth)
        self._asks = _Side(negate=False, pub_depth=self.pub_depth)

    @property
    def top_changed(self) -> bool:
        """True when the best ``pub_depth`` levels changed since the last :meth:`published_top`."""
        return self._bids.pub_dirty or self._asks.pub_dirty

    def published_top(self) -> tuple[list[Level], list[Level]]:
        """``top(pub_depth)``, rebuilt only when it changed (the lists are shared: don't mutate)."""
        b, a = self._bids, self._asks
        if b.pub_dirty or a.pub_dirty:
            self._cached_top = self.top(self.pub_depth)
            b.pub_dirty = a.pub_dirty = False
        return self._cached_top

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
        cache = self._dec
        if len(cache) > _MAX_DECIMAL_CACHE:
            cache.clear()
        level = self._level
        return (
            [cache.get(p) or level(p) for p in self._bids.parts[:n]],
            [cache.get(p) or level(p) for p in self._asks.parts[:n]],
        )

    def _level(self, part: str) -> Level:
        px, _, sz = part.partition(":")
        lv = self._dec[part] = (Decimal(px), Decimal(sz))
        return lv

    def best(self) -> tuple[Decimal | None, Decimal | None]:
        """(best bid, best ask) prices."""
        b, a = self._bids.keys, self._asks.keys
        return (-b[0] if b else None), (a[0] if a else None)
