"""Every OKX error code okxmm reads, and what it means (okx-v5.md §3, §4). Pure.

Two readings: :func:`venue_error` maps a code to the typed ``engine.errors`` hierarchy (REST and
WS clients raise those), and :func:`outcome` maps a trade item's ``sCode`` to what it means for
the router (``engine.router.events.Outcome``: retry, look up, already gone, ...).
"""

from __future__ import annotations

from engine.errors import (
    AuthError,
    OrderRejectedError,
    RateLimitError,
    VenueError,
    VenueUnavailableError,
)
from engine.router.events import Outcome

__all__ = [
    "KYC_REQUIRED",
    "MISSING_CREDENTIALS",
    "NOT_FOUND",
    "REQUESTS_TOO_FREQUENT",
    "SERVICE_UPGRADE",
    "TIMESTAMP_EXPIRED",
    "failure_outcome",
    "is_auth_code",
    "outcome",
    "venue_error",
]

TIMESTAMP_EXPIRED = "50102"
MISSING_CREDENTIALS = "50103"  # a private endpoint called without an API key
SERVICE_UPGRADE = "64008"  # WS notice: the connection will close soon, reconnect
REQUESTS_TOO_FREQUENT = "60014"  # WS: subscribe/unsubscribe/login over 480 per connection-hour
_RATE_LIMIT = frozenset({"50011", "50013", "50061", "60014"})
_UNAVAILABLE = frozenset({"50001", "50004", "50026"})
_HTTP_SERVER_ERROR = 500

OK = "0"
NOT_FOUND = "51603"  # order does not exist (query, cancel)
_ITEM_RATE_LIMIT = frozenset({"50011", "50013", "50061"})  # per item: refused before processing
_DUPLICATE_CLORDID = "51016"
_GONE = frozenset({"51400", "51401", "51402", NOT_FOUND})  # cancel: filled/canceled/unknown
_ALREADY_CANCELING = "51410"
_AMEND_ON_DONE = "51503"
# more than 3 amends of one order in progress (okx-v5.md §14): back-pressure, retried like a
# rate limit — the router keeps one amend in flight per order, so only another client or a
# venue lag can cause it
_AMENDS_IN_PROGRESS = "51513"
# placing orders needs KYC level 2 (okx-v5.md §14): a fatal configuration error of the account
KYC_REQUIRED = "59113"
_OUTCOMES: dict[str, Outcome] = {
    OK: Outcome.OK,
    _DUPLICATE_CLORDID: Outcome.DUPLICATE,
    _ALREADY_CANCELING: Outcome.ALREADY_CANCELING,
    _AMEND_ON_DONE: Outcome.AMEND_ON_DONE,
    _AMENDS_IN_PROGRESS: Outcome.RATE_LIMITED,
    KYC_REQUIRED: Outcome.ACCOUNT_BLOCKED,
    **dict.fromkeys(_ITEM_RATE_LIMIT, Outcome.RATE_LIMITED),
    **dict.fromkeys(_GONE, Outcome.GONE),
}


def outcome(code: str) -> Outcome:
    """What a trade item's ``sCode`` means for the router (codes do not overlap between
    place, cancel and amend, so one table serves all three)."""
    return _OUTCOMES.get(code, Outcome.REFUSED)


def failure_outcome(err: VenueError) -> Outcome:
    """What a request-level error means: retry later, look it up, or as its code says."""
    if isinstance(err, RateLimitError):
        return Outcome.RATE_LIMITED
    if isinstance(err, VenueUnavailableError):
        return Outcome.UNKNOWN
    return outcome(err.code)


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
