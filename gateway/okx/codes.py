"""OKX error codes → the typed ``engine.errors`` hierarchy (okx-v5.md §3, §4). Pure."""

from __future__ import annotations

from engine.errors import (
    AuthError,
    OrderRejectedError,
    RateLimitError,
    VenueError,
    VenueUnavailableError,
)

__all__ = [
    "TIMESTAMP_EXPIRED",
    "is_auth_code",
    "venue_error",
]

TIMESTAMP_EXPIRED = "50102"
_RATE_LIMIT = frozenset({"50011", "50013", "50061", "60014"})
_UNAVAILABLE = frozenset({"50001", "50004", "50026"})
_HTTP_SERVER_ERROR = 500


def is_auth_code(code: str) -> bool:
    """REST 50101–50114 and the WS login/auth family (60004–60011, 60024, 60031, 60032)."""
    if not code.isdigit():
        return False
    n = int(code)
    return 50100 <= n <= 50114 or n in (60004, 60005, 60006, 60007, 60009, 60011, 60024, 60032)


def venue_error(code: str, msg: str, http_status: int = 200, *, item: bool = False) -> VenueError:
    """The typed error for an OKX ``code``; ``item=True`` for a per-item ``sCode`` rejection."""
    if code in _RATE_LIMIT or http_status == 429:
        return RateLimitError(code, msg, http_status)
    if is_auth_code(code):
        return AuthError(code, msg, http_status)
    if code in _UNAVAILABLE or http_status >= _HTTP_SERVER_ERROR:
        return VenueUnavailableError(code, msg, http_status)
    if item:
        return OrderRejectedError(code, msg, http_status)
    return VenueError(code, msg, http_status)
