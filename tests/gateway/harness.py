"""Helpers for the gateway's real-process tests: actor configs, processes, bus taps, ctl and an
independent reference book (plain dicts + zlib, none of the gateway's code)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import zlib
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
import zmq.asyncio
from websockets.asyncio.client import connect

from engine.bus.ctl import ctl_call
from engine.bus.subscriber import Delivery, Subscriber
from engine.clock import SystemClock
from engine.config import BusConfig
from engine.messages import CtlRequest
from ops.exchange.testing import RunningExchange

REPO = Path(__file__).resolve().parents[2]


def write_config(
    tmp_path: Path,
    bus: BusConfig,
    ex: RunningExchange,
    *,
    instruments: list[str],
    extra: dict[str, Any] | None = None,
    name: str = "okxmm.yaml",
) -> Path:
    data: dict[str, Any] = {
        "venue": {
            "kind": "local",
            "rest_url": ex.rest_url,
            "ws_public_url": ex.ws_public,
            "ws_private_url": ex.ws_private,
        },
        "bus": {"transport": "ipc", "ipc_dir": bus.ipc_dir},
        "instruments": instruments,
        "log_dir": str(tmp_path / "log"),
        "var_dir": str(tmp_path / "var"),
        "log_level": "INFO",
    }
    data.update(extra or {})
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


@contextlib.asynccontextmanager
async def actor_process(
    module: str, cfg_path: Path, tmp_path: Path, env: dict[str, str] | None = None
) -> AsyncIterator[asyncio.subprocess.Process]:
    """``python -m <module> --config F``; SIGTERM (then kill) on exit."""
    log = tmp_path / f"{module}.{os.getpid()}.out"
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = str(REPO) + os.pathsep + full_env.get("PYTHONPATH", "")
    full_env.update(env or {})
    with log.open("ab") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            module,
            "--config",
            str(cfg_path),
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
            cwd=str(REPO),
            env=full_env,
        )
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(10):
                    await proc.wait()
            except TimeoutError:
                proc.kill()
                await proc.wait()


async def ctl(ctx: zmq.asyncio.Context, endpoint: str, cmd: str, **args: str) -> Any:
    """One ctl request (retrying until the actor answers, 20 s at most)."""
    clock = SystemClock()
    async with asyncio.timeout(20):
        while True:
            try:
                return await ctl_call(
                    ctx, endpoint, CtlRequest(cmd=cmd, args=args), clock=clock, timeout_s=0.5
                )
            except TimeoutError:
                continue


class Tap:
    """A Clone subscriber that records every delivery and lets tests await conditions."""

    def __init__(self, sub: Subscriber) -> None:
        self.sub = sub
        self.deliveries: list[Delivery] = []
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.sub.start()
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            d = await self.sub.recv(0.2)
            if d is not None:
                self.deliveries.append(d)
            self._changed.set()

    async def until(self, pred: Callable[[], bool], timeout_s: float, what: str) -> None:
        try:
            async with asyncio.timeout(timeout_s):
                while not pred():
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            raise AssertionError(f"timed out after {timeout_s}s waiting for: {what}") from None

    def msgs(self, kind: type[Any]) -> list[Any]:
        return [d.env.msg for d in self.deliveries if isinstance(d.env.msg, kind)]

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.sub.close()


def _signed(text: str) -> int:
    c = zlib.crc32(text.encode())
    return c - 2**32 if c >= 2**31 else c


class ReferenceBook:
    """An independent client of the exchange's ``books`` channel. It records the top levels at
    every seqId it could verify (chain intact and, when non-zero, checksum equal)."""

    def __init__(self, url: str, inst: str, depth: int = 5) -> None:
        self.url = url
        self.inst = inst
        self.depth = depth
        self.bids: dict[Decimal, tuple[str, str]] = {}
        self.asks: dict[Decimal, tuple[str, str]] = {}
        self.seq: int | None = None
        self.tops: dict[
            int, tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]
        ] = {}
        self.unverified = 0
        self._task: asyncio.Task[None] | None = None

    def _apply(self, side: dict[Decimal, tuple[str, str]], levels: list[list[str]]) -> None:
        for px, sz, *_ in levels:
            if sz == "0":
                side.pop(Decimal(px), None)
            else:
                side[Decimal(px)] = (px, sz)

    def _check(self, checksum: int) -> bool:
        b = [self.bids[k] for k in sorted(self.bids, reverse=True)[:25]]
        a = [self.asks[k] for k in sorted(self.asks)[:25]]
        parts: list[str] = []
        for i in range(max(len(b), len(a))):
            if i < len(b):
                parts += list(b[i])
            if i < len(a):
                parts += list(a[i])
        return checksum == 0 or _signed(":".join(parts)) == checksum

    def _record(self, seq: int) -> None:
        b = sorted(self.bids, reverse=True)[: self.depth]
        a = sorted(self.asks)[: self.depth]
        self.tops[seq] = (
            [(k, Decimal(self.bids[k][1])) for k in b],
            [(k, Decimal(self.asks[k][1])) for k in a],
        )

    async def _run(self) -> None:
        arg = {"channel": "books", "instId": self.inst}
        while True:
            awaiting = True
            try:
                async with connect(self.url) as ws:
                    await ws.send(json.dumps({"op": "subscribe", "args": [arg]}))
                    async for raw in ws:
                        if raw == "pong":
                            continue
                        msg = json.loads(raw)
                        if msg.get("arg", {}).get("channel") != "books" or "data" not in msg:
                            continue
                        action = msg.get("action", "")
                        if action == "snapshot":
                            awaiting = False
                        for d in msg["data"]:
                            self._on(action, d)
                        if self.seq is None and not awaiting:
                            # lost the chain: take a fresh snapshot by resubscribing
                            awaiting = True
                            await ws.send(json.dumps({"op": "unsubscribe", "args": [arg]}))
                            await ws.send(json.dumps({"op": "subscribe", "args": [arg]}))
            except Exception:  # the reference just reconnects
                self.seq = None
            await asyncio.sleep(0.05)  # reconnect pacing, not synchronisation

    def _on(self, action: str, d: dict[str, Any]) -> None:
        if action == "snapshot":
            self.bids, self.asks = {}, {}
            self._apply(self.bids, d["bids"])
            self._apply(self.asks, d["asks"])
        elif self.seq is not None and d["prevSeqId"] == self.seq:
            self._apply(self.bids, d["bids"])
            self._apply(self.asks, d["asks"])
        else:
            self.seq = None
            return
        if self._check(int(d["checksum"])):
            self.seq = int(d["seqId"])
            self._record(self.seq)
        else:
            self.unverified += 1
            self.seq = None

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
