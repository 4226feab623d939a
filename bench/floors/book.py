"""A bare OKX ``books`` book: price-sorted lists + dicts, the CRC32 checksum, and a generator of
checksummed updates (the feed floor's input: no recording needed, same data every run)."""

from __future__ import annotations

import bisect
import random
import zlib
from collections.abc import Sequence
from typing import Any

import msgspec

Level = Sequence[str]  # [px, sz, "0", count] as OKX sends it


class Side:
    """One side: sorted float prices (ascending), price -> (px string, sz string)."""

    def __init__(self, descending: bool) -> None:
        self.descending = descending
        self.keys: list[float] = []
        self.levels: dict[float, tuple[str, str]] = {}

    def set(self, px: str, sz: str) -> None:
        key = float(px)
        if sz == "0" or float(sz) == 0.0:
            if key in self.levels:
                del self.levels[key]
                self.keys.pop(bisect.bisect_left(self.keys, key))
            return
        if key not in self.levels:
            bisect.insort(self.keys, key)
        self.levels[key] = (px, sz)

    def top(self, n: int) -> list[tuple[str, str]]:
        keys = self.keys[-n:][::-1] if self.descending else self.keys[:n]
        return [self.levels[k] for k in keys]


class Book:
    """Bids and asks with OKX's checksum over the top 25 levels of each."""

    def __init__(self) -> None:
        self.bids = Side(descending=True)
        self.asks = Side(descending=False)

    def apply(self, data: dict[str, Any], snapshot: bool = False) -> None:
        if snapshot:
            self.bids, self.asks = Side(descending=True), Side(descending=False)
        for lv in data.get("bids", ()):
            self.bids.set(lv[0], lv[1])
        for lv in data.get("asks", ()):
            self.asks.set(lv[0], lv[1])

    def checksum(self) -> int:
        """OKX's: ``bid px:bid sz:ask px:ask sz:...`` over 25 levels, CRC32 as a signed int."""
        bids, asks = self.bids.top(25), self.asks.top(25)
        parts: list[str] = []
        for i in range(max(len(bids), len(asks))):
            if i < len(bids):
                parts += bids[i]
            if i < len(asks):
                parts += asks[i]
        crc = zlib.crc32(":".join(parts).encode())
        return crc - (1 << 32) if crc >= 1 << 31 else crc


def _msg(action: str, data: dict[str, Any]) -> bytes:
    arg = {"channel": "books", "instId": "BTC-USDT"}
    return msgspec.json.encode({"arg": arg, "action": action, "data": [data]})


def generate(n: int, depth: int = 400, seed: int = 7) -> tuple[bytes, list[bytes]]:
    """A ``depth``-level snapshot and ``n`` updates touching ~5 levels near the top each, every
    one carrying the checksum of the book after it (as OKX's frames do)."""
    rnd = random.Random(seed)
    tick, mid = 0.1, 43000.0
    bid_px = [f"{mid - i * tick:.1f}" for i in range(depth)]
    ask_px = [f"{mid + (i + 1) * tick:.1f}" for i in range(depth)]

    def size() -> str:
        return f"{rnd.uniform(0.001, 5.0):.3f}"

    snap_data: dict[str, Any] = {
        "bids": [[p, size(), "0", "1"] for p in bid_px],
        "asks": [[p, size(), "0", "1"] for p in ask_px],
    }
    book = Book()
    book.apply(snap_data, snapshot=True)
    snap_data.update(ts="1700000000000", seqId=1, prevSeqId=-1, checksum=book.checksum())
    snap = _msg("snapshot", snap_data)
    ups: list[bytes] = []
    for i in range(n):
        data: dict[str, Any] = {"bids": [], "asks": []}
        for _ in range(5):
            side, prices = rnd.choice((("bids", bid_px), ("asks", ask_px)))
            px = prices[rnd.randrange(40)]
            data[side].append([px, "0" if rnd.random() < 0.3 else size(), "0", "1"])
        book.apply(data)
        data.update(ts=str(1700000000000 + i), seqId=i + 2, prevSeqId=i + 1)
        data["checksum"] = book.checksum()
        ups.append(_msg("update", data))
    return snap, ups
