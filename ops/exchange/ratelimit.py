"""Sliding-window rate limits per OKX rule (okx-v5.md §5). Pure: callers pass ``now_ms``.

A rule is (limit, window); a key is whatever the rule is scoped by (user + instrument, IP…).
``hit(rule, key, n, now_ms)`` consumes ``n`` units or refuses the whole request.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

__all__ = ["RULES", "RateLimiter", "Rule"]


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    limit: int
    window_ms: int


RULES: dict[str, Rule] = {
    r.name: r
    for r in (
        Rule("order", 60, 2000),
        Rule("cancel-order", 60, 2000),
        Rule("amend-order", 60, 2000),
        Rule("batch-orders", 300, 2000),
        Rule("cancel-batch-orders", 300, 2000),
        Rule("amend-batch-orders", 300, 2000),
        Rule("sub-account-orders", 1000, 2000),
        Rule("cancel-all-after", 1, 1000),
        Rule("get-order", 60, 2000),
        Rule("orders-pending", 60, 2000),
        Rule("fills", 60, 2000),
        Rule("balance", 10, 2000),
        Rule("positions", 10, 2000),
        Rule("config", 5, 2000),
        Rule("set-position-mode", 5, 2000),  # OKX docs: 5 requests per 2 s
        Rule("instruments", 20, 2000),
        Rule("books", 40, 2000),
        Rule("ticker", 20, 2000),
        Rule("mark-price", 10, 2000),
        Rule("price-limit", 20, 2000),
        Rule("time", 10, 2000),
        Rule("discount-rate", 2, 2000),
        Rule("position-tiers", 10, 2000),
        Rule("risk-state", 10, 2000),
        Rule("status", 1, 5000),
    )
}


class RateLimiter:
    """Sliding windows keyed by (rule, scope key)."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self._windows: dict[tuple[str, str], deque[tuple[int, int]]] = {}
        self._used: dict[tuple[str, str], int] = {}

    def hit(self, rule: Rule, key: str, n: int, now_ms: int) -> bool:
        """Consume ``n`` units; False (nothing consumed) when that would exceed the limit."""
        if not self.enabled:
            return True
        k = (rule.name, key)
        win = self._windows.get(k)
        if win is None:
            win = self._windows[k] = deque()
            self._used[k] = 0
        used = self._used[k]
        horizon = now_ms - rule.window_ms
        while win and win[0][0] <= horizon:
            used -= win.popleft()[1]
        if used + n > rule.limit:
            self._used[k] = used
            return False
        win.append((now_ms, n))
        self._used[k] = used + n
        return True

    def reset(self) -> None:
        self._windows.clear()
        self._used.clear()
