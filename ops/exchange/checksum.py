"""OKX order-book checksum (okx-v5.md §9.3): CRC-32 of the best 25 levels, signed 32-bit."""

from __future__ import annotations

import zlib
from collections.abc import Sequence

__all__ = ["book_checksum", "check_string", "signed_crc32"]

_DEPTH = 25


def check_string(bids: Sequence[tuple[str, str]], asks: Sequence[tuple[str, str]]) -> str:
    """``bid1px:bid1sz:ask1px:ask1sz:…`` over the best 25 per side, skipping exhausted sides.

    ``bids`` must be best-first (descending), ``asks`` best-first (ascending)."""
    parts: list[str] = []
    nb, na = min(len(bids), _DEPTH), min(len(asks), _DEPTH)
    for i in range(max(nb, na)):
        if i < nb:
            parts.append(bids[i][0])
            parts.append(bids[i][1])
        if i < na:
            parts.append(asks[i][0])
            parts.append(asks[i][1])
    return ":".join(parts)


def signed_crc32(text: str) -> int:
    c = zlib.crc32(text.encode())
    return c - 2**32 if c >= 2**31 else c


def book_checksum(bids: Sequence[tuple[str, str]], asks: Sequence[tuple[str, str]]) -> int:
    """The ``checksum`` field of a books push for this book (0 for an empty book)."""
    if not bids and not asks:
        return 0
    return signed_crc32(check_string(bids, asks))
