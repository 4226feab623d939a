"""A price-time-priority order book of one instrument.

Levels are keyed by integer ticks; each level keeps its orders in arrival order (a dict keyed
by ordId: O(1) removal, insertion order = time priority) and its total lots. ``version`` grows
on every change so publishers know when to diff.
"""

from __future__ import annotations

from collections.abc import Iterator

from sortedcontainers import SortedList  # type: ignore[import-untyped]

from ops.exchange.orders import Order

__all__ = ["Level", "OrderBook"]


class Level:
    """Orders resting at one price, oldest first."""

    __slots__ = ("lots", "orders", "ticks")

    def __init__(self, ticks: int) -> None:
        self.ticks = ticks
        self.orders: dict[int, Order] = {}
        self.lots = 0


class OrderBook:
    """Bids and asks; best bid = highest ticks, best ask = lowest ticks."""

    def __init__(self) -> None:
        self._bids: dict[int, Level] = {}
        self._asks: dict[int, Level] = {}
        self._bid_keys = SortedList()  # negated ticks: index 0 is the best bid
        self._ask_keys = SortedList()
        self.version = 0
        # levels changed since the feed last looked (ticks), per side
        self.touched_bids: set[int] = set()
        self.touched_asks: set[int] = set()

    def side(self, buy: bool) -> dict[int, Level]:
        return self._bids if buy else self._asks

    def add(self, order: Order) -> None:
        """Rest ``order`` at the back of its price level."""
        buy = order.side == "buy"
        levels = self._bids if buy else self._asks
        lvl = levels.get(order.ticks)
        if lvl is None:
            lvl = levels[order.ticks] = Level(order.ticks)
            (self._bid_keys if buy else self._ask_keys).add(-order.ticks if buy else order.ticks)
        lvl.orders[order.ord_id] = order
        lvl.lots += order.remaining
        self.version += 1
        (self.touched_bids if buy else self.touched_asks).add(order.ticks)

    def remove(self, order: Order) -> None:
        """Take ``order`` out of the book (no-op if absent)."""
        buy = order.side == "buy"
        levels = self._bids if buy else self._asks
        lvl = levels.get(order.ticks)
        if lvl is None or lvl.orders.pop(order.ord_id, None) is None:
            return
        lvl.lots -= order.remaining
        if not lvl.orders:
            del levels[order.ticks]
            (self._bid_keys if buy else self._ask_keys).remove(-order.ticks if buy else order.ticks)
        self.version += 1
        (self.touched_bids if buy else self.touched_asks).add(order.ticks)

    def reduce(self, order: Order, lots: int) -> None:
        """``order`` (resting) lost ``lots`` of its remaining size; caller updates the order."""
        buy = order.side == "buy"
        lvl = (self._bids if buy else self._asks)[order.ticks]
        lvl.lots -= lots
        self.version += 1
        (self.touched_bids if buy else self.touched_asks).add(order.ticks)

    def best_bid(self) -> int | None:
        return -self._bid_keys[0] if self._bid_keys else None

    def best_ask(self) -> int | None:
        return self._ask_keys[0] if self._ask_keys else None

    def best(self, buy: bool) -> int | None:
        return self.best_bid() if buy else self.best_ask()

    def level(self, buy: bool, ticks: int) -> Level | None:
        return (self._bids if buy else self._asks).get(ticks)

    def iter_levels(self, buy: bool) -> Iterator[Level]:
        """Levels of one side, best first (safe against removal of already-visited levels)."""
        levels = self._bids if buy else self._asks
        keys = self._bid_keys if buy else self._ask_keys
        i = 0
        last: int | None = None
        while True:
            if last is not None:
                i = keys.bisect_right(last)
            if i >= len(keys):
                return
            k = keys[i]
            last = k
            yield levels[-k if buy else k]

    def top(self, buy: bool, depth: int) -> list[tuple[int, int, int]]:
        """Best ``depth`` levels of one side as (ticks, lots, order count)."""
        levels = self._bids if buy else self._asks
        keys = self._bid_keys if buy else self._ask_keys
        out = []
        for k in keys.islice(0, depth):
            lvl = levels[-k if buy else k]
            out.append((lvl.ticks, lvl.lots, len(lvl.orders)))
        return out

    def keys(self, buy: bool) -> SortedList:
        """Sorted level keys of one side: ``-ticks`` for bids, ``ticks`` for asks (best first)."""
        return self._bid_keys if buy else self._ask_keys

    def take_touched(self, buy: bool) -> set[int]:
        """Ticks changed on one side since the last call."""
        if buy:
            t, self.touched_bids = self.touched_bids, set()
        else:
            t, self.touched_asks = self.touched_asks, set()
        return t

    def depth(self, buy: bool) -> int:
        return len(self._bid_keys if buy else self._ask_keys)
