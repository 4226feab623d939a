"""An independent OKX ``books`` client for tests: applies snapshot/update messages exactly as
okx-v5.md §9.2 says, checks the seqId chain and recomputes the checksum (its own code, not the
exchange's)."""

from __future__ import annotations

import zlib
from decimal import Decimal
from typing import Any


class ChainError(AssertionError):
    """The seqId chain broke."""


class ChecksumError(AssertionError):
    """The recomputed checksum differs from the message's."""


class BookChecker:
    def __init__(self) -> None:
        self.bids: dict[Decimal, tuple[str, str]] = {}
        self.asks: dict[Decimal, tuple[str, str]] = {}
        self.seq: int | None = None
        self.messages = 0
        self.checked = 0

    @staticmethod
    def _apply(side: dict[Decimal, tuple[str, str]], levels: list[list[str]]) -> None:
        for px, sz, *_ in levels:
            key = Decimal(px)
            if Decimal(sz) == 0:
                side.pop(key, None)
            else:
                side[key] = (px, sz)

    def sorted_levels(self) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        bids = [self.bids[k] for k in sorted(self.bids, reverse=True)]
        asks = [self.asks[k] for k in sorted(self.asks)]
        return bids, asks

    def checksum(self) -> int:
        bids, asks = self.sorted_levels()
        parts: list[str] = []
        for i in range(25):
            if i < len(bids):
                parts += list(bids[i])
            if i < len(asks):
                parts += list(asks[i])
        c = zlib.crc32(":".join(parts).encode())
        return c - (1 << 32) if c >= (1 << 31) else c

    def on_message(self, msg: dict[str, Any], *, verify_checksum: bool = True) -> None:
        data = msg["data"][0]
        self.messages += 1
        if msg.get("action") == "snapshot":
            self.bids.clear()
            self.asks.clear()
            if data["prevSeqId"] != -1:
                raise ChainError(f"snapshot prevSeqId {data['prevSeqId']}")
        elif self.seq is None or data["prevSeqId"] != self.seq:
            raise ChainError(f"gap: prevSeqId {data['prevSeqId']} after seqId {self.seq}")
        self._apply(self.bids, data["bids"])
        self._apply(self.asks, data["asks"])
        self.seq = data["seqId"]
        if verify_checksum and data["checksum"] != 0:
            mine = self.checksum()
            if mine != data["checksum"]:
                raise ChecksumError(f"seqId {self.seq}: mine {mine} != {data['checksum']}")
            self.checked += 1
