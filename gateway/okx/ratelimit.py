"""OKX rate-limit buckets (okx-v5.md §5) as sliding windows. Pure: the caller supplies ``now_ns``.

OKX counts requests (orders, for batch endpoints) in a window: at most ``capacity`` per
``window_s``. A token bucket of the same capacity and refill rate lets through up to twice that in
one window (a full bucket plus a window's refill), which the venue answers with 50011; so each
bucket remembers what it spent and when, and never lets more than ``capacity`` into any window
(plus a little slack for transit jitter between our clock and the venue's). ``reserve`` either
spends ``n`` and returns 0, or spends nothing and returns how many ns to wait until ``n`` fits.
Buckets keyed per instrument (trade limits) are created on first use.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

__all__ = ["LIMITS", "BucketSpec", "OkxTradeLimiter", "RateLimiter", "WindowBucket"]

_NS = 1_000_000_000
_SLACK_NS = 20_000_000  # requests may reach the venue closer together than we sent them


@dataclass(frozen=True, slots=True)
class BucketSpec:
    """``capacity`` requests (or orders, for batch buckets) per ``window_s`` seconds."""

    capacity: int
    window_s: float


# OKX documented limits; names are the bucket names of ``gateway.okx.rest.ENDPOINTS``.
LIMITS: dict[str, BucketSpec] = {
    "order": BucketSpec(60, 2.0),
    "cancel": BucketSpec(60, 2.0),
    "amend": BucketSpec(60, 2.0),
    "batch-orders": BucketSpec(300, 2.0),
    "batch-cancel": BucketSpec(300, 2.0),
    "batch-amend": BucketSpec(300, 2.0),
    "sub-account-orders": BucketSpec(1000, 2.0),  # new + amend across instruments (50061)
    "cancel-all-after": BucketSpec(1, 1.0),
    "get-order": BucketSpec(60, 2.0),
    "orders-pending": BucketSpec(60, 2.0),
    "fills": BucketSpec(60, 2.0),
    "balance": BucketSpec(10, 2.0),
    "positions": BucketSpec(10, 2.0),
    "account-config": BucketSpec(5, 2.0),
    "instruments": BucketSpec(20, 2.0),
    "books": BucketSpec(40, 2.0),
    "ticker": BucketSpec(20, 2.0),
    "mark-price": BucketSpec(10, 2.0),
    "price-limit": BucketSpec(20, 2.0),
    "time": BucketSpec(10, 2.0),
    "system-status": BucketSpec(1, 5.0),
}


class WindowBucket:
    """One bucket: what was spent in the last window, oldest first; starts empty."""

    __slots__ = ("_capacity", "_spent", "_total", "_window_ns")

    def __init__(self, spec: BucketSpec) -> None:
        self._capacity = spec.capacity
        self._window_ns = int(spec.window_s * _NS) + _SLACK_NS
        self._spent: deque[tuple[int, int]] = deque()
        self._total = 0

    def _expire(self, now_ns: int) -> None:
        horizon = now_ns - self._window_ns
        spent = self._spent
        while spent and spent[0][0] <= horizon:
            self._total -= spent.popleft()[1]

    def available(self, now_ns: int) -> int:
        """How many could be spent at ``now_ns``."""
        self._expire(now_ns)
        return self._capacity - self._total

    def reserve(self, now_ns: int, n: int = 1) -> int:
        """Spend ``n`` (0 returned) or return the ns to wait; more than capacity waits for an
        empty window and then spends a whole one (never blocks forever)."""
        self._expire(now_ns)
        need = min(n, self._capacity)
        if self._total + need <= self._capacity:
            self._spent.append((now_ns, need))
            self._total += need
            return 0
        # wait until enough of the oldest spending has left the window
        excess = self._total + need - self._capacity
        for t, k in self._spent:
            excess -= k
            if excess <= 0:
                return max(1, t + self._window_ns - now_ns + 1)
        raise AssertionError("unreachable: need <= capacity")


class RateLimiter:
    """Every OKX bucket of one account/IP, keyed by ``(bucket, key)`` (key: instId or "")."""

    def __init__(self, limits: dict[str, BucketSpec] | None = None) -> None:
        self._limits = LIMITS if limits is None else limits
        self._buckets: dict[tuple[str, str], WindowBucket] = {}

    def reserve(self, bucket: str, key: str, now_ns: int, n: int = 1) -> int:
        """As :meth:`WindowBucket.reserve`; unknown buckets are unlimited."""
        spec = self._limits.get(bucket)
        if spec is None:
            return 0
        b = self._buckets.get((bucket, key))
        if b is None:
            b = self._buckets[(bucket, key)] = WindowBucket(spec)
        return b.reserve(now_ns, n)


# trade operation → (single-order bucket, batch bucket), as OKX counts them
_TRADE_BUCKETS: dict[str, tuple[str, str]] = {
    "place": ("order", "batch-orders"),
    "cancel": ("cancel", "batch-cancel"),
    "amend": ("amend", "batch-amend"),
}


class OkxTradeLimiter:
    """The router's trade limits over OKX buckets (``engine.router.batcher.TradeLimiter``).

    Per instrument, a one-item batch spends the single-order bucket and a larger one the batch
    bucket (as OKX counts it); places and amends also spend the sub-account bucket."""

    def __init__(self, limiter: RateLimiter | None = None) -> None:
        self._limiter = limiter or RateLimiter()

    def reserve_trade(self, op: str, per_inst: dict[str, int], size: int, now_ns: int) -> int:
        single, batch = _TRADE_BUCKETS[op]
        bucket = single if size == 1 else batch
        wait = 0
        for inst, n in per_inst.items():
            wait = max(wait, self._limiter.reserve(bucket, inst, now_ns, n))
        if op != "cancel" and wait == 0:
            wait = self._limiter.reserve("sub-account-orders", "", now_ns, size)
        return wait
