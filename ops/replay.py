"""``okxmm replay``: publish a recorded journal back on the bus, byte for byte.

It binds the publishers' endpoints itself, so run it with the recorded publishers stopped (the
usual case: a backtest or a deterministic test of a strategy or risk against recorded data).
``speed`` 1.0 keeps the recorded pacing, 2.0 is twice as fast, 0 is as fast as possible.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import zmq
import zmq.asyncio

from engine.bus.sockets import configure_pub, send_nowait
from engine.config import OkxmmConfig
from ops.journal_file import read_journal
from ops.tap import PUBLISHERS

__all__ = ["replay_journal", "run_replay"]


async def replay_journal(
    ctx: zmq.asyncio.Context,
    cfg: OkxmmConfig,
    journal: str | Path,
    speed: float,
    ready: asyncio.Event | None = None,
    start_after: asyncio.Event | None = None,
) -> int:
    """Publish every record; returns how many were sent. ``ready`` is set once bound."""
    socks: dict[str, zmq.asyncio.Socket] = {}
    for bus, endpoint in PUBLISHERS.items():
        sock = ctx.socket(zmq.PUB)
        configure_pub(sock)
        sock.bind(cfg.bus.bind_endpoint(endpoint))
        socks[bus] = sock
    if ready is not None:
        ready.set()
    if start_after is not None:
        await start_after.wait()
    loop = asyncio.get_running_loop()
    sent = 0
    first_ns: int | None = None
    start = loop.time()
    try:
        for rec in read_journal(journal):
            if first_ns is None:
                first_ns = rec.recv_ns
            if speed > 0:
                due = start + (rec.recv_ns - first_ns) / 1e9 / speed
                delay = due - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            target = socks.get(rec.bus)
            if target is not None:
                send_nowait(target, [rec.topic, rec.body])
                sent += 1
    finally:
        for sock in socks.values():
            sock.close(linger=0)
    return sent


def run_replay(cfg: OkxmmConfig, journal: str, speed: float) -> int:
    """CLI entry: replay and exit."""

    async def main() -> int:
        ctx = zmq.asyncio.Context()
        try:
            await replay_journal(ctx, cfg, journal, speed)
        finally:
            ctx.destroy(linger=0)
        return 0

    return asyncio.run(main())
