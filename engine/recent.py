"""A map of recently seen keys, bounded by age and by count.

De-duplication windows (fills by tradeId, repeated order pushes, closed orders) need only the
recent past: a repeat arrives within seconds, a replay after a reconnect within minutes. Sizing
such a window by count alone makes its memory grow for as long as it takes the busiest
account to fill it (hours at a calm rate), which a soak cannot tell from a leak; the age bound
makes it level off after ``max_age_s`` at any rate, the count bound caps a burst.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from typing import Generic, TypeVar

__all__ = ["RecentMap"]

K = TypeVar("K")
V = TypeVar("V")


class RecentMap(Generic[K, V]):
    """Insertion-ordered ``key → value``; an entry goes when it is older than ``max_age_s``
    (counted from its last ``put``) or when more than ``max_len`` are held (oldest first).

    Bounded: ``max_len`` entries. Times are monotonic nanoseconds from the caller's clock
    (engine.clock): a core never reads the time itself, so a test's clock drives the expiry."""

    __slots__ = ("_items", "_max_age_ns", "_max_len")

    def __init__(self, max_age_s: float, max_len: int) -> None:
        if max_age_s <= 0 or max_len <= 0:
            raise ValueError("max_age_s and max_len must be positive")
        self._items: OrderedDict[K, tuple[int, V]] = OrderedDict()
        self._max_age_ns = int(max_age_s * 1e9)
        self._max_len = max_len

    def put(self, key: K, value: V, now_ns: int) -> None:
        """Insert or refresh ``key`` (it becomes the newest) and expire what is too old."""
        self._items[key] = (now_ns, value)
        self._items.move_to_end(key)
        self.expire(now_ns)

    def expire(self, now_ns: int) -> None:
        """Drop what is older than ``max_age_s`` at ``now_ns`` and what exceeds ``max_len``."""
        items = self._items
        while len(items) > self._max_len:
            items.popitem(last=False)
        cutoff = now_ns - self._max_age_ns
        while items:
            first = next(iter(items.values()))
            if first[0] >= cutoff:
                break
            items.popitem(last=False)

    def get(self, key: K) -> V | None:
        hit = self._items.get(key)
        return None if hit is None else hit[1]

    def pop(self, key: K) -> V | None:
        hit = self._items.pop(key, None)
        return None if hit is None else hit[1]

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[K]:
        return iter(self._items)

    def items(self) -> Iterator[tuple[K, V]]:
        for k, (_, v) in self._items.items():
            yield k, v
