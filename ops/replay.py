"""``okxmm replay``: publish a recorded journal back on the bus, byte for byte.

It binds the publishers' endpoints itself, so run it with the recorded publishers stopped (the
usual case: a backtest or a deterministic test of a strategy or risk against recorded data).
``speed`` 1.0 keeps the recorded pacing, 2.0 is twice as fast, 0 is as fast as possible.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import msgspec
import zmq
import zmq.asyncio

from engine.bus.curve import secure
from engine.bus.sockets import bind, configure_pub, send_nowait
from engine.errors import ConfigError
from ops.config import OkxmmConfig
from ops.journal_file import read_journal
from ops.tap import PUBLISHERS

__all__ = ["check_journal", "replay_journal", "run_replay"]


def check_journal(path: str | Path) -> None:
    """Raise ConfigError unless ``path`` is a readable journal whose first record decodes."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError([(str(p), "no such journal file")])
    try:
        first = next(iter(read_journal(p)), None)
    except OSError as exc:
        raise ConfigError([(str(p), f"cannot read: {exc.strerror}")]) from None
    except msgspec.DecodeError:
        raise ConfigError([(str(p), "not a journal written by `okxmm record`")]) from None
    if first is None:
        raise ConfigError([(str(p), "no complete record: empty, or not a journal")])


async def replay_journal(
    ctx: zmq.asyncio.Context,
    cfg: OkxmmConfig,
    journal: str | Path,
    speed: float,
    wait_for: list[str] | None = None,
    wait_timeout_s: float = 30.0,
) -> int:
    """Publish every record; returns how many were sent.

    ``wait_for`` names buses (``md``, ``acct``, ...) that must have a subscriber before the
    first record goes out: PUB drops everything sent before a subscription arrives, so a
    deterministic replay waits for its audience (XPUB reports subscriptions)."""
    socks: dict[str, zmq.asyncio.Socket] = {}
    for bus, endpoint in PUBLISHERS.items():
        sock = ctx.socket(zmq.XPUB)
        configure_pub(sock)
        bind(sock, cfg.bus.bind_endpoint(endpoint))
        socks[bus] = sock
    try:
        async with asyncio.timeout(wait_timeout_s):
            for bus in wait_for or []:
                while True:
                    frame = await socks[bus].recv()
                    if frame[:1] == b"\x01":  # a subscribe (0x00 would be an unsubscribe)
                        break
    except TimeoutError:
        for sock in socks.values():
            sock.close(linger=0)
        raise
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
        secured = secure(ctx, cfg.bus)
        try:
            await replay_journal(ctx, cfg, journal, speed, wait_for=["md"], wait_timeout_s=3600)
        finally:
            secured.close()
            ctx.destroy(linger=0)
        return 0

    return asyncio.run(main())
