"""The okxmm exception tree.

::

    OkxmmError
    ├── LocalProtocolError    our bug: we broke a contract (illegal FSM transition, ...)
    ├── RemoteProtocolError   a peer or the venue broke the contract (bad frame, unexpected reply)
    ├── VenueError(code, msg) the venue answered with an OKX error code
    │   ├── AuthError         50101–50114, 60004–60032: credentials, signature, timestamp
    │   ├── RateLimitError    50011, 50013, 50061
    │   ├── VenueUnavailableError  50001, 50004, 50026, HTTP 5xx, timeouts: result unknown
    │   └── OrderRejectedError     per-item sCode on place/amend/cancel
    ├── ConfigError           bad configuration; carries every problem with its path
    └── StartError            cannot start: an endpoint in use, another instance running
        └── BindError         a bus endpoint or port cannot be bound

Library exceptions are mapped to these at the edge. Gaps and staleness are events, not exceptions.
"""

from __future__ import annotations

__all__ = [
    "AuthError",
    "BindError",
    "ConfigError",
    "IllegalTransitionError",
    "LocalProtocolError",
    "OkxmmError",
    "OrderRejectedError",
    "RateLimitError",
    "RemoteProtocolError",
    "StartError",
    "VenueError",
    "VenueUnavailableError",
]


class OkxmmError(Exception):
    """Base of every error okxmm raises on purpose."""


class LocalProtocolError(OkxmmError):
    """We broke a contract: a bug on our side."""


class IllegalTransitionError(LocalProtocolError):
    """A state machine was given an event its table has no row for."""

    def __init__(self, machine: str, state: str, event: str) -> None:
        super().__init__(f"{machine}: no transition from {state} on {event}")
        self.machine = machine
        self.state = state
        self.event = event


class RemoteProtocolError(OkxmmError):
    """A peer or the venue broke the contract."""


class VenueError(OkxmmError):
    """The venue answered with an OKX error code."""

    def __init__(self, code: str, msg: str, http_status: int = 200) -> None:
        super().__init__(f"OKX {code}: {msg}")
        self.code = code
        self.msg = msg
        self.http_status = http_status


class AuthError(VenueError):
    """Credentials, signature or timestamp refused (50101–50114, 600xx)."""


class RateLimitError(VenueError):
    """Rate limit reached (50011, 50013, 50061)."""


class VenueUnavailableError(VenueError):
    """Service unavailable, timed out or failed: the outcome of a write is unknown."""


class OrderRejectedError(VenueError):
    """A single order operation failed with a per-item sCode."""


class ConfigError(OkxmmError):
    """Configuration is invalid; ``problems`` lists ``(path, message)`` pairs."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        text = "; ".join(f"{path}: {msg}" for path, msg in problems)
        super().__init__(f"invalid configuration: {text}")
        self.problems = problems


class StartError(OkxmmError):
    """A process cannot start (its message is the one line an operator needs)."""


class BindError(StartError):
    """An endpoint cannot be bound: another process holds it, most often another okxmm."""

    def __init__(self, endpoint: str, reason: str) -> None:
        hint = " (is another okxmm running?)" if "in use" in reason else ""
        super().__init__(f"cannot bind {endpoint}: {reason}{hint}")
        self.endpoint = endpoint
