"""WebSocket connections and who subscribed to what. No aiohttp here: a ``Conn`` is a queue of
outgoing text frames drained by the server's writer task, so fan-out never awaits."""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["Conn", "Hub", "PrivateSub", "WsKind"]

WsKind = Literal["public", "private", "business"]
_MAX_QUEUE = 50_000


@dataclass(frozen=True, slots=True)
class PrivateSub:
    """One private subscription: channel plus its optional filters."""

    channel: str
    inst_type: str = ""
    inst_id: str = ""
    ccy: str = ""

    def matches(self, inst_type: str, inst_id: str) -> bool:
        if self.inst_id and self.inst_id != inst_id:
            return False
        return self.inst_type in ("", "ANY") or self.inst_type == inst_type


@dataclass(eq=False, slots=True)
class Conn:
    """One WS connection's state as the exchange sees it."""

    kind: WsKind
    conn_id: str
    last_rx_ms: int
    api_key: str | None = None
    public: set[tuple[str, str]] = field(default_factory=set)
    private: list[PrivateSub] = field(default_factory=list)
    out: deque[str] = field(default_factory=deque)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    closing: int = 0  # close code requested (0 = open)
    overflowed: bool = False
    # monotonic ms of this connection's subscribe/unsubscribe/login requests in the last hour
    requests: deque[int] = field(default_factory=deque)

    def push(self, text: str) -> None:
        if self.closing:
            return
        if len(self.out) >= _MAX_QUEUE:
            self.overflowed = True
            self.close(4005)
            return
        self.out.append(text)
        self.wake.set()

    def close(self, code: int) -> None:
        if not self.closing:
            self.closing = code
        self.wake.set()


class Hub:
    """Registry of connections and subscriptions."""

    def __init__(self) -> None:
        self.conns: set[Conn] = set()
        self.public: dict[tuple[str, str], set[Conn]] = {}
        self.private: dict[str, set[Conn]] = {}

    def add(self, c: Conn) -> None:
        self.conns.add(c)

    def remove(self, c: Conn) -> None:
        self.conns.discard(c)
        for key in c.public:
            s = self.public.get(key)
            if s is not None:
                s.discard(c)
        if c.api_key is not None:
            s2 = self.private.get(c.api_key)
            if s2 is not None:
                s2.discard(c)

    def subscribe_public(self, c: Conn, channel: str, inst_id: str) -> bool:
        key = (channel, inst_id)
        if key in c.public:
            return False
        c.public.add(key)
        self.public.setdefault(key, set()).add(c)
        return True

    def unsubscribe_public(self, c: Conn, channel: str, inst_id: str) -> None:
        key = (channel, inst_id)
        c.public.discard(key)
        s = self.public.get(key)
        if s is not None:
            s.discard(c)

    def login(self, c: Conn, api_key: str) -> None:
        c.api_key = api_key
        self.private.setdefault(api_key, set()).add(c)

    def subscribers(self, channel: str, inst_id: str) -> set[Conn]:
        return self.public.get((channel, inst_id)) or set()

    def private_conns(self, api_key: str) -> set[Conn]:
        return self.private.get(api_key) or set()

    def has_order_subs(self, api_key: str) -> bool:
        return any(s.channel == "orders" for c in self.private.get(api_key, ()) for s in c.private)
