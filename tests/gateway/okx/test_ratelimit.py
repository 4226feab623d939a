"""Rate-limit windows with injected time: never more than the venue allows in any window."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.okx.ratelimit import LIMITS, BucketSpec, RateLimiter, WindowBucket

S = 1_000_000_000
MS = 1_000_000


def test_bucket_drains_then_frees_as_the_window_moves() -> None:
    b = WindowBucket(BucketSpec(60, 2.0))
    assert all(b.reserve(0) == 0 for _ in range(60))
    wait = b.reserve(0)
    assert 2 * S < wait <= 2 * S + 50 * MS  # the first spend leaves the window
    # all 60 spent at t=0 leave together: 60 may go again, the 61st waits
    assert all(b.reserve(wait) == 0 for _ in range(60))
    assert b.reserve(wait) > 0


def test_spent_over_time_frees_gradually() -> None:
    b = WindowBucket(BucketSpec(10, 2.0))
    for i in range(10):
        assert b.reserve(i * 100 * MS) == 0
    assert b.available(100 * S) == 10
    c = WindowBucket(BucketSpec(10, 2.0))
    for i in range(10):
        c.reserve(i * 100 * MS)
    wait = c.reserve(S)
    assert S + wait > 2 * S  # the one spent at t=0 must leave first


def test_batch_spends_n_and_oversize_waits_for_an_empty_window() -> None:
    b = WindowBucket(BucketSpec(300, 2.0))
    assert b.reserve(0, 20) == 0
    assert b.available(0) == 280
    big = WindowBucket(BucketSpec(5, 1.0))
    big.reserve(0, 5)
    assert big.reserve(0, 50) > 0  # capped to capacity: waits for an empty window, not forever
    assert big.reserve(2 * S, 50) == 0


@settings(max_examples=200, deadline=None)
@given(
    steps=st.lists(
        st.tuples(st.integers(0, 300 * MS), st.integers(1, 25)), min_size=1, max_size=300
    )
)
def test_no_window_ever_exceeds_capacity(steps: list[tuple[int, int]]) -> None:
    """Whatever the arrival pattern, retrying after the returned wait never overfills a window."""
    spec = BucketSpec(60, 2.0)
    b = WindowBucket(spec)
    now = 0
    sent: list[tuple[int, int]] = []
    for gap, n in steps:
        now += gap
        wait = b.reserve(now, n)
        if wait:
            now += wait
            assert b.reserve(now, n) == 0  # the promised wait is enough
        sent.append((now, min(n, spec.capacity)))
    window = int(spec.window_s * S)
    for t, _ in sent:
        in_window = sum(k for u, k in sent if t <= u < t + window)
        assert in_window <= spec.capacity


def test_limiter_keys_buckets_per_instrument() -> None:
    lim = RateLimiter()
    for _ in range(LIMITS["order"].capacity):
        assert lim.reserve("order", "BTC-USDT-SWAP", 0) == 0
    assert lim.reserve("order", "BTC-USDT-SWAP", 0) > 0
    assert lim.reserve("order", "ETH-USDT-SWAP", 0) == 0
    assert lim.reserve("no-such-bucket", "", 0) == 0
