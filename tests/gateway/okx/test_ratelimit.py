"""Token buckets with injected time."""

from __future__ import annotations

from gateway.okx.ratelimit import LIMITS, BucketSpec, RateLimiter, TokenBucket

S = 1_000_000_000


def test_bucket_drains_then_refills() -> None:
    b = TokenBucket(BucketSpec(60, 2.0), now_ns=0)
    assert all(b.reserve(0) == 0 for _ in range(60))
    wait = b.reserve(0)
    assert 0 < wait <= S * 2 // 60 + 1
    assert b.reserve(wait) == 0  # exactly one token after the wait
    assert b.reserve(wait) > 0


def test_refill_caps_at_capacity() -> None:
    b = TokenBucket(BucketSpec(10, 2.0), now_ns=0)
    for _ in range(10):
        b.reserve(0)
    assert b.available(100 * S) == 10


def test_batch_spends_n_and_oversize_waits_for_full() -> None:
    b = TokenBucket(BucketSpec(300, 2.0), now_ns=0)
    assert b.reserve(0, 20) == 0
    assert 279.9 < b.available(0) < 280.1
    big = TokenBucket(BucketSpec(5, 1.0), now_ns=0)
    big.reserve(0, 5)
    assert big.reserve(0, 50) > 0  # capped to capacity: waits for a full bucket, not forever
    assert big.reserve(S, 50) == 0


def test_limiter_keys_buckets_per_instrument() -> None:
    lim = RateLimiter()
    for _ in range(LIMITS["order"].capacity):
        assert lim.reserve("order", "BTC-USDT-SWAP", 0) == 0
    assert lim.reserve("order", "BTC-USDT-SWAP", 0) > 0
    assert lim.reserve("order", "ETH-USDT-SWAP", 0) == 0
    assert lim.reserve("no-such-bucket", "", 0) == 0
