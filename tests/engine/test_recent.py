"""RecentMap: entries go by age and by count, and a soak-like churn levels off."""

from __future__ import annotations

import pytest

from engine.recent import RecentMap

S = 1_000_000_000


def test_entries_expire_by_age_counted_from_their_last_put() -> None:
    m: RecentMap[str, int] = RecentMap(max_age_s=10, max_len=100)
    m.put("a", 1, now_ns=0)
    m.put("b", 2, now_ns=5 * S)
    m.put("a", 3, now_ns=6 * S)  # refreshed: now the newest
    m.put("c", 4, now_ns=15 * S + 1)  # b is older than 10 s, a is not
    assert "b" not in m
    assert m.get("a") == 3
    assert list(m) == ["a", "c"]
    m.expire(now_ns=17 * S)
    assert list(m) == ["c"]


def test_count_bound_drops_the_oldest() -> None:
    m: RecentMap[int, None] = RecentMap(max_age_s=3600, max_len=3)
    for i in range(5):
        m.put(i, None, now_ns=i)
    assert list(m) == [2, 3, 4]
    assert m.pop(3) is None
    assert 3 not in m
    assert len(m) == 2


def test_steady_churn_levels_off_at_rate_times_age() -> None:
    """What the soak needs: size stops growing after max_age_s whatever the uptime."""
    m: RecentMap[int, None] = RecentMap(max_age_s=60, max_len=1_000_000)
    sizes = []
    for second in range(600):  # 10 minutes at 50 keys/s
        for j in range(50):
            m.put(second * 50 + j, None, now_ns=second * S + j)
        sizes.append(len(m))
    assert max(sizes[120:]) <= 61 * 50
    assert sizes[-1] == sizes[300]


def test_bad_bounds_are_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        RecentMap(max_age_s=0, max_len=1)
    with pytest.raises(ValueError, match="positive"):
        RecentMap(max_age_s=1, max_len=0)
