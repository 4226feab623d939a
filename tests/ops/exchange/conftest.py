"""An in-process exchange server (real aiohttp on a free port, market stepped by hand)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from engine.clock import Clock, SystemClock
from ops.exchange.config import AccountSpec, ExchangeConfig
from ops.exchange.server import serve
from ops.exchange.venue import Venue

ACCOUNT = ("lk", "ls", "lp")
OTHER = ("ok2", "os2", "op2")


@dataclass
class Server:
    venue: Venue
    base: str
    ws: str
    http: httpx.AsyncClient

    async def admin(self, path: str, body: Any = None) -> Any:
        r = await (self.http.get(path) if body is None else self.http.post(path, json=body))
        r.raise_for_status()
        return r.json()


@pytest.fixture
def exchange_overrides() -> dict[str, Any]:
    return {}


@pytest.fixture
def exchange_clock() -> Clock:
    return SystemClock()


@pytest.fixture
async def server(
    free_port: int, exchange_overrides: dict[str, Any], exchange_clock: Clock
) -> AsyncIterator[Server]:
    # these tests speak the early-2026 wire (snapshots, CRC-32, instId on WS) unless they ask
    # for another profile; today's venue has its own tests (test_profile.py)
    cfg = ExchangeConfig(
        port=free_port, realtime=False, **{"profile": "legacy", **exchange_overrides}
    )
    accts = [AccountSpec(api_key=k, secret=s, passphrase=p) for k, s, p in (ACCOUNT, OTHER)]
    venue = Venue(cfg, exchange_clock, accts)
    stop, ready = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(
        serve(venue, host="127.0.0.1", port=free_port, ssl_cert=None, stop=stop, ready=ready)
    )
    base = f"http://127.0.0.1:{free_port}"
    await asyncio.wait_for(ready.wait(), 10)
    async with httpx.AsyncClient(base_url=base, timeout=5.0) as http:
        try:
            yield Server(venue, base, f"ws://127.0.0.1:{free_port}/ws/v5", http)
        finally:
            stop.set()
            await task
