"""Bounded market series the strategies estimate from: sampled mids and a trade tape.

The port appended a mid on *every book update* and capped the history at 100, so its lookback
counted book updates and a lookback of 100 or more never produced a volatility (§10.2-7).
``MidSeries`` samples on a time grid (``interval_ns``; 0 keeps the port's per-update behaviour)
and sizes its capacity from the lookback the caller needs. Pure: time comes from the caller.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from decimal import Decimal

from engine.messages import Side

__all__ = ["MidSeries", "TapeTrade", "TradeTape"]


class MidSeries:
    """The last mid of each ``interval_ns`` bucket, newest last, at most ``capacity`` of them."""

    def __init__(self, interval_ns: int, capacity: int) -> None:
        self.interval_ns = interval_ns
        self._mids: deque[tuple[int, Decimal]] = deque(maxlen=max(2, capacity))

    def resize(self, interval_ns: int, capacity: int) -> None:
        """Apply new params; keeps the newest samples that still fit."""
        capacity = max(2, capacity)
        if capacity != self._mids.maxlen:
            self._mids = deque(self._mids, maxlen=capacity)
        self.interval_ns = interval_ns

    def add(self, now_ns: int, mid: Decimal) -> None:
        if self.interval_ns <= 0 or not self._mids:
            self._mids.append((now_ns, mid))
            return
        last_ns, _ = self._mids[-1]
        if now_ns // self.interval_ns == last_ns // self.interval_ns:
            self._mids[-1] = (last_ns, mid)  # same bucket: keep the latest mid
        else:
            self._mids.append((now_ns, mid))

    @property
    def capacity(self) -> int:
        return self._mids.maxlen or 0

    def values(self) -> tuple[Decimal, ...]:
        return tuple(m for _, m in self._mids)

    def samples(self) -> tuple[tuple[int, Decimal], ...]:
        return tuple(self._mids)

    def __len__(self) -> int:
        return len(self._mids)


@dataclass(frozen=True, slots=True)
class TapeTrade:
    """A public trade with the mid seen when it arrived."""

    ts_ns: int
    px: Decimal
    sz: Decimal
    side: Side
    mid: Decimal


class TradeTape:
    """Public trades of the last ``window_ns``."""

    def __init__(self, window_ns: int, max_trades: int = 20_000) -> None:
        self.window_ns = window_ns
        self._trades: deque[TapeTrade] = deque(maxlen=max_trades)
        self.first_ns: int | None = None

    def add(self, trade: TapeTrade) -> None:
        if self.first_ns is None:
            self.first_ns = trade.ts_ns
        self._trades.append(trade)
        self.expire(trade.ts_ns)

    def expire(self, now_ns: int) -> None:
        while self._trades and now_ns - self._trades[0].ts_ns > self.window_ns:
            self._trades.popleft()

    def trades(self) -> tuple[TapeTrade, ...]:
        return tuple(self._trades)

    def __len__(self) -> int:
        return len(self._trades)
