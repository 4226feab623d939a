"""The OKX WS connection's state (``gateway.okx.ws``): one transition table.

IDLE -CONNECT-> CONNECTING [-LOGIN-> LOGGING_IN] -OPENED-> OPEN -LOST-> BACKOFF -CONNECT-> ...;
CLOSE ends it from anywhere (CLOSED is terminal). A connection attempt that fails before it
opens is LOST too. A pair with no row is logged and counted, and the state still moves: the
connection manager's loop is what actually happened, the report must follow it.
"""

from __future__ import annotations

from enum import StrEnum

from loguru import logger

__all__ = ["TRANSITIONS", "WsMachine", "WsState", "WsTrigger"]


class WsState(StrEnum):
    IDLE = "IDLE"
    CONNECTING = "CONNECTING"
    LOGGING_IN = "LOGGING_IN"
    OPEN = "OPEN"
    BACKOFF = "BACKOFF"
    CLOSED = "CLOSED"


class WsTrigger(StrEnum):
    CONNECT = "CONNECT"  # a connection attempt starts
    LOGIN = "LOGIN"  # connected; a private URL logs in first
    OPENED = "OPENED"  # logged in (if needed) and resubscribed: the session is open
    LOST = "LOST"  # the attempt or the session ended; wait out the backoff
    CLOSE = "CLOSE"  # close() was asked for


S, T = WsState, WsTrigger
TRANSITIONS: dict[tuple[WsState, WsTrigger], WsState] = {
    (S.IDLE, T.CONNECT): S.CONNECTING,
    (S.BACKOFF, T.CONNECT): S.CONNECTING,
    (S.CONNECTING, T.LOGIN): S.LOGGING_IN,
    (S.CONNECTING, T.OPENED): S.OPEN,  # public URL: no login
    (S.LOGGING_IN, T.OPENED): S.OPEN,
    (S.CONNECTING, T.LOST): S.BACKOFF,
    (S.LOGGING_IN, T.LOST): S.BACKOFF,
    (S.OPEN, T.LOST): S.BACKOFF,
    **{(s, T.CLOSE): S.CLOSED for s in S},
}

_TARGET = {
    T.CONNECT: S.CONNECTING,
    T.LOGIN: S.LOGGING_IN,
    T.OPENED: S.OPEN,
    T.LOST: S.BACKOFF,
    T.CLOSE: S.CLOSED,
}


class WsMachine:
    """One connection's state, moved only through :data:`TRANSITIONS`."""

    __slots__ = ("illegal", "name", "state")

    def __init__(self, name: str) -> None:
        self.name = name
        self.state = S.IDLE
        self.illegal = 0

    def apply(self, trigger: WsTrigger) -> WsState:
        nxt = TRANSITIONS.get((self.state, trigger))
        if nxt is None:
            self.illegal += 1
            logger.warning(
                "illegal okx ws state transition",
                ws=self.name,
                state=self.state.value,
                trigger=trigger.value,
            )
            nxt = _TARGET[trigger]
        self.state = nxt
        return nxt
