"""L2 order book of one instrument, as OKX ``books`` maintains it (okx-v5.md §9.2, §9.3). Pure.

Invariants:
* Prices are ordered exactly, never as float: each level's sort key is :func:`price_key`
  (``px × 10**18`` as an ``int``; an exact ``Decimal`` for unusual spellings). The price and size
  *strings* are kept exactly as received, because the checksum hashes them verbatim. Levels are
  found by their price string (OKX spells prices canonically); a second spelling of a known
  price (``"8477.0"`` for ``"8477"``) is still the same level, for updates and deletes alike.
* Bids are kept best (highest) first, asks best (lowest) first; a level with size ``"0"`` is
  deleted, a known price is replaced, a new price is inserted.
* ``checksum()`` is OKX's CRC-32 over the best 25 levels per side, interleaved
  ``bid:sz:ask:sz:...`` (a side that runs out is skipped), as a signed 32-bit int. An empty book
  hashes to 0. It is cached and recomputed only when a top-25 level changed.
* The published top-N (what ``BookTop`` carries: the exact ``(px, sz)`` strings) is rebuilt only
  when it changed, not per update.

Sequencing (seqId/prevSeqId) is not this module's job: see ``gateway.book_sync``.
"""

from __future__ import annotations

import zlib
from bisect import bisect_left
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context, Decimal

from engine.messages import BookLevel, Level

__all__ = [
    "CHECKSUM_DEPTH",
    "L2Book",
    "check_string_of",
    "checksum_of",
    "price_key",
    "signed_crc32",
]

CHECKSUM_DEPTH = 25
_SCALE = 18  # decimals an int price key holds exactly; OKX tick sizes are far coarser
_PAD = "0" * _SCALE
_EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)  # scaleb must never round
_NONE = 1 << 62  # "no level changed" for the lowest-changed-index bookkeeping

PriceKey = int | Decimal


def price_key(px: str) -> PriceKey:
    """Exact sort key of a price string, ``px × 10**18``.

    Plain decimals with at most 18 decimals (every OKX price) become an ``int``: comparing ints
    is several times cheaper than comparing ``Decimal``s, and bisecting 400 levels does ~9
    comparisons per level touched. Anything else (a sign, an exponent, more decimals) is the
    same value as an exact ``Decimal``; Python compares ``int`` and ``Decimal`` exactly, so one
    side may mix both. Raises ``decimal.InvalidOperation`` for a string that is not a number."""
    ip, _, fp = px.partition(".")
    if ip.isdecimal() and (fp.isdecimal() or not fp) and len(fp) <= _SCALE:
        return int(ip + fp + _PAD[len(fp) :])
    return Decimal(px).scaleb(_SCALE, _EXACT)


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
    """One side as two parallel lists sorted best first — ``keys`` (exact :func:`price_key`,
    negated for bids) and ``parts`` (``"px:sz"`` as received) — plus ``index``: price string →
    key. Top-N and the checksum string are slices of ``parts``.

    ``top_dirty``: a level among the best 25 changed (checksum must be recomputed);
    ``pub_dirty``: a level among the best ``pub_depth`` changed (published top-N changed)."""

    __slots__ = ("index", "keys", "negate", "parts", "pub_depth", "pub_dirty", "top_dirty")

    def __init__(self, negate: bool, pub_depth: int) -> None:
        self.negate = negate
        self.pub_depth = pub_depth
        self.keys: list[PriceKey] = []
        self.parts: list[str] = []
        self.index: dict[str, PriceKey] = {}
        self.top_dirty = True
        self.pub_dirty = True

    def _key(self, px: str) -> PriceKey:
        k = price_key(px)
        if not self.negate:
            return k
        # copy_negate: unary minus would round a long Decimal to the context's 28 digits
        return -k if isinstance(k, int) else k.copy_negate()

    def load(self, levels: list[list[str]]) -> None:
        key = self._key
        rows = sorted((key(lv[0]), lv[0], f"{lv[0]}:{lv[1]}") for lv in levels if lv[1] != "0")
        self.keys = [r[0] for r in rows]
        self.parts = [r[2] for r in rows]
        self.index = {r[1]: r[0] for r in rows}
        self.top_dirty = self.pub_dirty = True

    def apply(self, levels: list[list[str]]) -> None:
        # The hot path: a known price is one dict lookup, one int bisect and one list store.
        keys, parts, index = self.keys, self.parts, self.index
        lo = _NONE  # lowest index changed: decides which caches go stale, once per update
        for lv in levels:
            px = lv[0]
            sz = lv[1]
            k = index.get(px)
            if k is None:
                i = self._unknown(px, sz)
            else:
                i = bisect_left(keys, k)
                if sz == "0":
                    del index[px]
                    del keys[i]
                    del parts[i]
                else:
                    parts[i] = f"{px}:{sz}"
            if i < lo:
                lo = i
        if lo < CHECKSUM_DEPTH:
            self.top_dirty = True
        if lo < self.pub_depth:
            self.pub_dirty = True

    def _unknown(self, px: str, sz: str) -> int:
        """A price string not in the index: a new level, or a known price spelled differently
        (then one level, newest spelling). Returns the index changed (``_NONE``: nothing)."""
        keys, parts, index = self.keys, self.parts, self.index
        k = self._key(px)
        i = bisect_left(keys, k)
        if i < len(keys) and keys[i] == k:
            for old_px in [p for p, old_k in index.items() if old_k == k]:
                del index[old_px]
            if sz == "0":
                del keys[i]
                del parts[i]
            else:
                parts[i] = f"{px}:{sz}"
                index[px] = k
            return i
        if sz == "0":
            return _NONE  # deleting an unknown level: nothing to do
        keys.insert(i, k)
        parts.insert(i, f"{px}:{sz}")
        index[px] = k
        return i


class L2Book:
    """Full-depth book of one instrument with exact strings, checksum and top-N extraction."""

    __slots__ = (
        "_asks",
        "_bids",
        "_buf",
        "_cached_checksum",
        "_cached_top",
        "_levels",
        "inst",
        "pub_depth",
    )

    def __init__(self, inst: str, pub_depth: int = 5) -> None:
        self.inst = inst
        self.pub_depth = pub_depth
        self._bids = _Side(negate=True, pub_depth=pub_depth)
        self._asks = _Side(negate=False, pub_depth=pub_depth)
        self._cached_checksum = 0
        self._cached_top: tuple[list[BookLevel], list[BookLevel]] = ([], [])
        self._buf = [""] * (2 * CHECKSUM_DEPTH)  # interleaved check-string parts, reused
        self._levels: dict[str, BookLevel] = {}  # "px:sz" → level, of the last published top

    def clear(self) -> None:
        self._bids = _Side(negate=True, pub_depth=self.pub_depth)
        self._asks = _Side(negate=False, pub_depth=self.pub_depth)

    @property
    def top_changed(self) -> bool:
        """True when the best ``pub_depth`` levels changed since the last :meth:`published_top`."""
        return self._bids.pub_dirty or self._asks.pub_dirty

    def published_top(self) -> tuple[list[BookLevel], list[BookLevel]]:
        """``top_strings(pub_depth)``, rebuilt only when it changed (the lists are shared: don't
        mutate). Levels unchanged since the previous call are reused."""
        b, a = self._bids, self._asks
        if b.pub_dirty or a.pub_dirty:
            n = self.pub_depth
            prev = self._levels
            cur: dict[str, BookLevel] = {}
            self._cached_top = (
                _to_levels(b.parts[:n], prev, cur),
                _to_levels(a.parts[:n], prev, cur),
            )
            self._levels = cur
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
            bp, ap = b.parts, a.parts
            if len(bp) >= CHECKSUM_DEPTH and len(ap) >= CHECKSUM_DEPTH:
                # the usual deep book: interleave into the reused buffer, no extra lists
                buf = self._buf
                buf[0::2] = bp[:CHECKSUM_DEPTH]
                buf[1::2] = ap[:CHECKSUM_DEPTH]
                c = zlib.crc32(":".join(buf).encode())
                self._cached_checksum = c - 0x1_0000_0000 if c >= 0x8000_0000 else c
            else:
                self._cached_checksum = checksum_of(bp[:CHECKSUM_DEPTH], ap[:CHECKSUM_DEPTH])
            b.top_dirty = a.top_dirty = False
        return self._cached_checksum

    def check_string(self) -> str:
        return check_string_of(self._bids.parts[:CHECKSUM_DEPTH], self._asks.parts[:CHECKSUM_DEPTH])

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

        return split(self._bids.parts[:n]), split(self._asks.parts[:n])

    def top(self, n: int) -> tuple[list[Level], list[Level]]:
        """Best ``n`` levels per side as exact ``Decimal`` ``(px, sz)`` pairs."""
        bids, asks = self.top_strings(n)
        return (
            [(Decimal(px), Decimal(sz)) for px, sz in bids],
            [(Decimal(px), Decimal(sz)) for px, sz in asks],
        )

    def best(self) -> tuple[Decimal | None, Decimal | None]:
        """(best bid, best ask) prices."""
        bids, asks = self.top_strings(1)
        return (Decimal(bids[0][0]) if bids else None), (Decimal(asks[0][0]) if asks else None)


def _to_levels(
    parts: list[str], prev: dict[str, BookLevel], cur: dict[str, BookLevel]
) -> list[BookLevel]:
    """``"px:sz"`` check-string parts → ``(px, sz)`` levels, reusing last time's tuples."""
    out: list[BookLevel] = []
    for p in parts:
        lv = prev.get(p)
        if lv is None:
            px, _, sz = p.partition(":")
            lv = (px, sz)
        cur[p] = lv
        out.append(lv)
    return out
