"""Real-process helpers for the router's acceptance tests: router and test-strategy processes."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from engine.config import BusConfig
from engine.orders.clordid import decode
from ops.exchange.testing import RunningExchange

REPO = Path(__file__).resolve().parents[3]
STRATEGY = Path(__file__).with_name("strategy_proc.py")
INST = "BTC-USDT-SWAP"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def write_config(
    tmp: Path, ex: RunningExchange, bus: BusConfig, router: dict[str, Any] | None = None
) -> Path:
    cfg = {
        "venue": {
            "kind": "local",
            "rest_url": ex.rest_url,
            "ws_private_url": ex.ws_private,
            "ws_public_url": ex.ws_public,
        },
        "bus": {"transport": "ipc", "ipc_dir": bus.ipc_dir},
        "instruments": [INST],
        "log_level": "INFO",
        "log_dir": str(tmp / "logs"),
        "router": {
            "journal_path": str(tmp / "router.journal"),
            "cancel_all_after_s": 10,
            **(router or {}),
        },
    }
    path = tmp / "okxmm.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def start_router(cfg_path: Path, tmp: Path) -> subprocess.Popen[bytes]:
    with (tmp / "router.out").open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "ops.router", "--config", str(cfg_path)],
            cwd=REPO,
            env=_env(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )


@dataclass
class StrategyProc:
    proc: asyncio.subprocess.Process
    name: str
    epoch: int
    short_id: str = ""
    acked: list[str] = field(default_factory=list)

    async def line(self, timeout_s: float) -> str:
        assert self.proc.stdout is not None
        async with asyncio.timeout(timeout_s):
            raw = await self.proc.stdout.readline()
        return raw.decode().strip()

    def kill(self, sig: int) -> None:
        os.kill(self.proc.pid, sig)

    async def stop(self) -> None:
        if self.proc.returncode is None:
            for sig in (signal.SIGCONT, signal.SIGKILL):
                try:
                    os.kill(self.proc.pid, sig)
                except ProcessLookupError:
                    break
            await self.proc.wait()


async def start_strategy(
    bus: BusConfig,
    name: str,
    *,
    px: str,
    step: str,
    orders: int = 40,
    mode: str = "heartbeat",
    side: str = "buy",
    allow_rejects: bool = False,
) -> StrategyProc:
    """Start the test strategy and wait until its orders rest (``READY``)."""
    epoch = time.time_ns()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(STRATEGY),
        "--endpoint",
        bus.connect_endpoint("ord.cmd"),
        "--name",
        name,
        "--epoch",
        str(epoch),
        "--orders",
        str(orders),
        "--px",
        px,
        "--step",
        step,
        "--mode",
        mode,
        "--side",
        side,
        *(["--allow-rejects", "--timeout", "20"] if allow_rejects else []),
        cwd=str(REPO),
        env=_env(),
        stdout=asyncio.subprocess.PIPE,
    )
    sp = StrategyProc(proc, name, epoch)
    first = await sp.line(30.0)
    if not first.startswith("READY "):
        await sp.stop()
        raise AssertionError(f"strategy {name} not ready: {first!r}")
    parts = first.split()
    sp.short_id = parts[1]
    sp.acked = parts[2].split(",") if len(parts) > 2 and parts[2] else []
    return sp


def owned_by(orders: list[dict[str, Any]], short_id: str, epoch: int | None = None) -> list[str]:
    out = []
    for o in orders:
        parts = decode(o.get("clOrdId", ""))
        if parts and parts.short_id == short_id and (epoch is None or parts.epoch == epoch):
            out.append(o["clOrdId"])
    return out


async def wait_gone(
    ex: RunningExchange, short_id: str, epoch: int, t0_ns: int, timeout_s: float = 5.0
) -> float:
    """Poll the exchange until no live order of (short_id, epoch) is left; ms since ``t0_ns``."""
    deadline = time.monotonic() + timeout_s
    while True:
        left = owned_by(await ex.live_orders(), short_id, epoch)
        if not left:
            return (time.monotonic_ns() - t0_ns) / 1e6
        if time.monotonic() > deadline:
            raise AssertionError(f"{len(left)} orders still live {timeout_s}s after the kill")


async def best_bid(ex: RunningExchange) -> tuple[float, str]:
    book = await ex.admin(f"/admin/book?instId={INST}&depth=1")
    return float(book["bids"][0][0]), str(book["bids"][0][0])


async def wait_log(path: Path, text: str, timeout_s: float, start: int = 0) -> int:
    """Wait until ``text`` appears in ``path`` after byte ``start``; returns the file size."""
    deadline = time.monotonic() + timeout_s
    while True:
        data = path.read_bytes() if path.exists() else b""
        if text.encode() in data[start:]:
            return len(data)
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} not logged within {timeout_s}s: {data[-1500:]!r}")
        await asyncio.sleep(0.02)


def start_md_feed(cfg_path: Path, tmp: Path) -> subprocess.Popen[bytes]:
    with (tmp / "md-feed.out").open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "gateway.md_feed", "--config", str(cfg_path)],
            cwd=REPO,
            env=_env(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
