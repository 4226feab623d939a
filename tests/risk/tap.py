"""A test's view of ``risk.pub``: a real Clone subscriber that keeps what it has not matched yet,
so the order in which two topics arrive never matters to a test."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import zmq.asyncio

from engine import topics
from engine.bus.subscriber import Subscriber
from engine.clock import SystemClock
from engine.config import BusConfig
from engine.messages import AnyMsg, PubHeartbeat

__all__ = ["RiskTap"]


class RiskTap:
    """``risk|`` and ``riskstate|`` messages, awaited by predicate."""

    def __init__(self, ctx: zmq.asyncio.Context, bus: BusConfig) -> None:
        self.sub = Subscriber(
            ctx,
            bus.connect_endpoint("risk.pub"),
            snap_endpoint=bus.connect_endpoint("risk.snap"),
            prefixes=[topics.RISK, "riskstate|"],
            name="test.risk",
            clock=SystemClock(),
            snapshot_timeout_s=0.5,
        )
        self.seen: list[AnyMsg] = []

    async def start(self) -> RiskTap:
        await self.sub.start()
        return self

    async def expect(
        self, pred: Callable[[AnyMsg], bool], what: str, timeout_s: float = 10.0
    ) -> AnyMsg:
        """The first message (kept from before, or arriving within ``timeout_s``) matching."""
        for m in self.seen:
            if pred(m):
                self.seen.remove(m)
                return m
        try:
            async with asyncio.timeout(timeout_s):
                while True:
                    d = await self.sub.recv(0.05)  # short: lets the Clone snapshot retry run
                    if d is None or isinstance(d.env.msg, PubHeartbeat):
                        continue
                    if pred(d.env.msg):
                        return d.env.msg
                    self.seen.append(d.env.msg)
        except TimeoutError:
            raise AssertionError(f"risk.pub never showed: {what}") from None

    async def close(self) -> None:
        await self.sub.close()
