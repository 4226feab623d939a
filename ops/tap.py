"""``okxmm tap``: print decoded bus messages live (one line each, JSON-ish)."""

from __future__ import annotations

import asyncio
import sys

import msgspec
import zmq.asyncio

from engine.bus.curve import secure
from engine.bus.subscriber import Subscriber
from engine.clock import SystemClock
from engine.messages import Envelope, PubHeartbeat
from ops.config import OkxmmConfig

__all__ = ["PUBLISHERS", "format_line", "run_tap"]

PUBLISHERS = {"md": "md.pub", "acct": "acct.pub", "ord": "ord.pub", "risk": "risk.pub"}


def format_line(bus: str, topic: str, env: Envelope) -> str:
    """One printable line: bus, topic, then a JSON object with the header and named fields."""
    obj = {
        "src": env.src,
        "epoch": env.epoch,
        "seq": env.seq,
        "ts_ns": env.ts_ns,
        "type": type(env.msg).__name__,
        "msg": msgspec.structs.asdict(env.msg),
    }
    return f"{bus} {topic} {msgspec.json.encode(obj).decode()}"


def run_tap(cfg: OkxmmConfig, prefixes: list[str], buses: list[str], count: int, hb: bool) -> int:
    """Subscribe to the chosen publishers and write each message to stdout."""
    chosen = buses or list(PUBLISHERS)
    unknown = [b for b in chosen if b not in PUBLISHERS]
    if unknown:
        sys.stderr.write(f"unknown bus {unknown}; choose from {list(PUBLISHERS)}\n")
        return 2

    async def main() -> int:
        ctx = zmq.asyncio.Context()
        secured = secure(ctx, cfg.bus)
        clock = SystemClock()
        queue: asyncio.Queue[str] = asyncio.Queue(maxsize=10_000)
        subs = [
            Subscriber(
                ctx,
                cfg.bus.connect_endpoint(PUBLISHERS[b]),
                prefixes=prefixes,
                name=f"tap-{b}",
                clock=clock,
            )
            for b in chosen
        ]

        async def pump(bus: str, sub: Subscriber) -> None:
            await sub.start()
            while True:
                d = await sub.recv(None)
                if d is None or (isinstance(d.env.msg, PubHeartbeat) and not hb):
                    continue
                line = format_line(bus, d.topic, d.env)
                if queue.full():
                    continue  # a slow terminal must not stall the taps: drop, it's a viewer
                queue.put_nowait(line)

        tasks = [asyncio.create_task(pump(b, s)) for b, s in zip(chosen, subs, strict=True)]
        seen = 0
        try:
            while count == 0 or seen < count:
                line = await queue.get()
                sys.stdout.write(line + "\n")
                sys.stdout.flush()
                seen += 1
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for s in subs:
                await s.close()
            secured.close()
            ctx.destroy(linger=0)
        return 0

    try:
        return asyncio.run(main())
    except KeyboardInterrupt:
        return 0
