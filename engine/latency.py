"""A window of recent latencies for ``ctl status`` (percentiles over the last N samples), and,
given one, the Prometheus histogram of every latency since start (``engine.metrics``)."""

from __future__ import annotations

from collections import deque

from engine.metrics import Histogram

__all__ = ["LatencyWindow"]


class LatencyWindow:
    """The last ``n`` latencies in µs; bounded by ``n`` however long the actor runs."""

    def __init__(self, n: int = 2000, histogram: Histogram | None = None) -> None:
        self._v: deque[float] = deque(maxlen=n)
        self._histogram = histogram

    def add(self, ns: int) -> None:
        self._v.append(ns / 1000)
        if self._histogram is not None:
            self._histogram.observe_ns(ns)

    def __len__(self) -> int:
        return len(self._v)

    def samples_ms(self) -> list[float]:
        """The window's latencies in ms, oldest first (``okxmm latencies`` writes them, the
        backtest draws from them)."""
        return [round(v / 1000, 4) for v in self._v]

    def pct(self, q: float) -> float:
        """The ``q`` quantile (0..1) in µs, 0.0 before the first sample."""
        if not self._v:
            return 0.0
        s = sorted(self._v)
        return round(s[min(len(s) - 1, int(q * len(s)))], 1)
