"""Token buckets per OKX rate-limit bucket (okx-v5.md §5). Pure: the caller supplies ``now_ns``.

A bucket holds ``capacity`` tokens and refills ``capacity`` per ``window_s``. ``reserve`` either
takes ``n`` tokens and returns 0, or takes nothing and returns how many ns to wait before
``n`` tokens will be there. Buckets keyed per instrument (trade limits) are created on first use.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["LIMITS", "BucketSpec", "RateLimiter", "TokenBucket"]

_NS = 1_000_000_000


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


class TokenBucket:
    """One bucket; starts full."""

    __slots__ = ("_capacity", "_last_ns", "_ns_per_token", "_tokens")

    def __init__(self, spec: BucketSpec, now_ns: int) -> None:
        self._capacity = float(spec.capacity)
        self._ns_per_token = spec.window_s * _NS / spec.capacity
        self._tokens = self._capacity
        self._last_ns = now_ns

    def _refill(self, now_ns: int) -> None:
        if now_ns > self._last_ns:
            self._tokens = min(
                self._capacity, self._tokens + (now_ns - self._last_ns) / self._ns_per_token
            )
            self._last_ns = now_ns

    def available(self, now_ns: int) -> float:
        self._refill(now_ns)
        return self._tokens

    def reserve(self, now_ns: int, n: int = 1) -> int:
        """Take ``n`` tokens (0 returned) or return the ns to wait; more than capacity waits for
        a full bucket and then takes it (never blocks forever)."""
        self._refill(now_ns)
        need = min(float(n), self._capacity)
        if self._tokens >= need:
            self._tokens -= need
            return 0
        return max(1, math.ceil((need - self._tokens) * self._ns_per_token))


class RateLimiter:
    """Every OKX bucket of one account/IP, keyed by ``(bucket, key)`` (key: instId or "")."""

    def __init__(self, limits: dict[str, BucketSpec] | None = None) -> None:
        self._limits = LIMITS if limits is None else limits
        self._buckets: dict[tuple[str, str], TokenBucket] = {}

    def reserve(self, bucket: str, key: str, now_ns: int, n: int = 1) -> int:
        """As :meth:`TokenBucket.reserve`; unknown buckets are unlimited."""
        spec = self._limits.get(bucket)
        if spec is None:
            return 0
        b = self._buckets.get((bucket, key))
        if b is None:
            b = self._buckets[(bucket, key)] = TokenBucket(spec, now_ns)
        return b.reserve(now_ns, n)
