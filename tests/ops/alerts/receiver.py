"""A real HTTP receiver for alert tests: records every POST; can answer errors on demand."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Receiver:
    port: int
    got: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (path, body)
    fail_next: int = 0  # answer 503 to this many requests
    status: int = 200
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def wait_for(self, n: int, timeout_s: float = 10.0) -> list[tuple[str, dict[str, Any]]]:
        async with asyncio.timeout(timeout_s):
            while len(self.got) < n:
                self.arrived.clear()
                await self.arrived.wait()
        return self.got


@contextlib.asynccontextmanager
async def receiving(port: int) -> AsyncIterator[Receiver]:
    rec = Receiver(port)

    async def handle(request: web.Request) -> web.Response:
        if rec.fail_next > 0:
            rec.fail_next -= 1
            return web.Response(status=503)
        rec.got.append((request.path, await request.json()))
        rec.arrived.set()
        return web.json_response({"ok": True}, status=rec.status)

    app = web.Application()
    app.router.add_post("/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield rec
    finally:
        await runner.cleanup()
