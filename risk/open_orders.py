"""Open and in-flight orders per instrument, and the order rate per strategy.

Fed by the router's order lifecycle (``OrderEvent``: PENDING/SENT are in flight) and the
venue's order updates (``OrderUpdate``: orders the router did not send count too). An order is
open until a terminal state (FILLED, CANCELED, REJECTED; OKX filled/canceled/mmp_canceled) is
seen from either source; a late non-terminal update of a closed order is ignored.
Remaining size = ``sz − accFillSz`` in order-size units.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from decimal import Decimal

from engine.recent import RecentMap
from risk.inputs import ZERO

__all__ = ["OpenOrder", "OpenOrders", "OrderRate"]

TERMINAL = frozenset(
    {"FILLED", "CANCELED", "REJECTED", "filled", "canceled", "mmp_canceled", "rejected"}
)


@dataclass(frozen=True, slots=True)
class OpenOrder:
    inst: str
    side: str
    remaining: Decimal
    strategy: str = ""


class OpenOrders:
    """Orders that can still fill.

    Bounded: at most ``max_open`` open orders (beyond, the oldest is dropped: an order whose
    terminal state was never seen must not stay forever) and the closed keys of the last
    ``closed_age_s`` (at most ``max_closed``): a late update comes within seconds."""

    def __init__(
        self, max_closed: int = 50_000, max_open: int = 20_000, closed_age_s: float = 300.0
    ) -> None:
        self._open: dict[str, OpenOrder] = {}
        self._closed: RecentMap[str, None] = RecentMap(closed_age_s, max_closed)
        self._max_open = max_open

    def on_order(
        self,
        key: str,
        inst: str,
        side: str,
        state: str,
        sz: Decimal,
        acc_fill_sz: Decimal,
        now_ns: int,
        strategy: str = "",
    ) -> None:
        """One order update at monotonic ``now_ns`` (which ages the closed keys)."""
        if not key:
            return
        if state in TERMINAL:
            self._open.pop(key, None)
            self._closed.put(key, None, now_ns)
            return
        if key in self._closed:
            return
        old = self._open.get(key)
        name = strategy or (old.strategy if old is not None else "")
        self._open[key] = OpenOrder(inst, side, max(sz - acc_fill_sz, ZERO), name)
        if len(self._open) > self._max_open:
            del self._open[next(iter(self._open))]

    def remaining(self, inst: str) -> tuple[Decimal, Decimal]:
        """(Σ remaining buys, Σ remaining sells) of ``inst`` in order-size units."""
        buy = sell = ZERO
        for o in self._open.values():
            if o.inst == inst:
                if o.side == "buy":
                    buy += o.remaining
                else:
                    sell += o.remaining
        return buy, sell

    def __len__(self) -> int:
        return len(self._open)

    def __contains__(self, key: object) -> bool:
        """Seen before (open or closed)."""
        return key in self._open or key in self._closed


class OrderRate:
    """New orders per strategy in a sliding window (times from the caller).

    Bounded: the window's times per strategy (pruned at every ``rate``) and the keys of the
    orders heard of in the last ``remember_s`` (at most ``remember``; every event refreshes
    its order, so only an order silent that long is counted again)."""

    def __init__(
        self, window_ns: int = 1_000_000_000, remember: int = 50_000, remember_s: float = 300.0
    ) -> None:
        self._window_ns = window_ns
        self._times: dict[str, deque[int]] = {}
        self._seen: RecentMap[str, None] = RecentMap(remember_s, remember)

    def on_order(self, strategy: str, key: str, now_ns: int) -> None:
        """Any event of an order; the first one seen of each order counts as a new order."""
        new = key not in self._seen
        self._seen.put(key, None, now_ns)
        if new:
            self.on_new_order(strategy, now_ns)

    def on_new_order(self, strategy: str, now_ns: int) -> None:
        self._times.setdefault(strategy, deque()).append(now_ns)

    def rate(self, strategy: str, now_ns: int) -> int:
        q = self._times.get(strategy)
        if q is None:
            return 0
        while q and now_ns - q[0] > self._window_ns:
            q.popleft()
        return len(q)

    @property
    def strategies(self) -> list[str]:
        return list(self._times)
