"""Actors on two hosts over the CURVE bus, the hosts being network namespaces made here.

Host A (ns A, 10.77.0.1) runs ``okxmm up`` with no workers: the exchange, md-feed, private-gw,
router and risk, binding every bus socket as a CURVE server with an allowlist. Host B (ns B,
10.77.0.2) runs ``okxmm strategy run`` workers that dial A. Asserted, in one engine run:
1. an allowlisted worker on B quotes on A's exchange;
2. a worker whose key is not on the allowlist gets nothing, and A logs the refused public key;
3. kill -9 of the remote worker: its orders are gone within 250 ms;
4. the A<->B link cut: both remote workers (still running) are fenced and their orders
   cancelled; the link restored: they join again and quote.
"""

from __future__ import annotations

import asyncio
import functools
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import yaml
import zmq.auth

from bench.system import clean_env, until
from engine.bus.curve import generate_keypair
from engine.orders.clordid import decode
from ops.exchange.testing import DEMO_ACCOUNT, RunningExchange
from tests.ops.netns import Hosts, cannot_make_namespaces

_until = functools.partial(until, every_s=0.005)  # this module's poll period

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

REPO = Path(__file__).resolve().parents[2]
INST, INST2 = "BTC-USDT-SWAP", "ETH-USDT-SWAP"
EXCHANGE_PORT = 8900  # inside ns A: nothing else listens there
KILL_LIMIT_MS = 250.0
CUT_LIMIT_MS = 1500.0  # measured ~150 ms; the margin is for a loaded machine
T = TypeVar("T")


@pytest.fixture
def hosts() -> Iterator[Hosts]:
    why = cannot_make_namespaces()
    if why is not None:
        pytest.skip(f"multi-host test needs network namespaces: {why}")
    h = Hosts.create()
    try:
        yield h
    finally:
        h.close()


def _owners(orders: list[dict[str, Any]]) -> set[tuple[str, int]]:
    """The (short_id, epoch) owners of the live engine orders."""
    out = set()
    for o in orders:
        parts = decode(o.get("clOrdId", ""))
        if parts is not None:
            out.add((parts.short_id, parts.epoch))
    return out


def _grep(log_dir: Path, *texts: str) -> bool:
    for path in log_dir.rglob("*"):
        if path.is_file():
            data = path.read_text(errors="replace")
            if all(t in data for t in texts):
                return True
    return False


def _write(path: Path, cfg: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(cfg))
    return path


def _configs(tmp: Path, hosts: Hosts, keys: Path) -> tuple[Path, Path, Path, Path]:
    curve_a = {
        "server_public": str(keys / "server.key"),
        "server_secret": str(keys / "server.key_secret"),
        "allow": [str(keys / "w1.key"), str(keys / "w2.key")],
    }
    a = _write(
        tmp / "host-a.yaml",
        {
            "venue": {"kind": "local"},
            "exchange": {"host": "0.0.0.0", "port": EXCHANGE_PORT},  # noqa: S104 — ns A only
            "bus": {
                "transport": "tcp",
                "bind_host": "0.0.0.0",  # noqa: S104 — CURVE on every socket
                "ipc_dir": str(tmp / "ipc-a"),
                "security": "curve",
                "curve": curve_a,
            },
            "instruments": [INST, INST2],
            "strategies": [],
            "supervisor": {"start_exchange": True, "backoff_initial_s": 0.2},
            "log_dir": str(tmp / "logs-a"),
            "var_dir": str(tmp / "var-a"),
        },
    )

    def worker(name: str, key: str) -> Path:
        return _write(
            tmp / f"host-b-{name}.yaml",
            {
                "venue": {"kind": "local"},
                "bus": {
                    "transport": "tcp",
                    "host": hosts.a_addr,
                    "ipc_dir": str(tmp / f"ipc-b-{name}"),
                    "security": "curve",
                    "curve": {
                        "server_public": str(keys / "server.key"),
                        "client_secret": str(keys / f"{key}.key_secret"),
                    },
                },
                "instruments": [INST, INST2],
                "strategies": [],
                "log_dir": str(tmp / f"logs-b-{name}"),
                "var_dir": str(tmp / f"var-b-{name}"),
            },
        )

    return a, worker("w1", "w1"), worker("w2", "w2"), worker("bad", "stranger")


def _start(hosts: Hosts, ns: str, argv: list[str], out: Path) -> subprocess.Popen[bytes]:
    with out.open("ab") as log:
        return subprocess.Popen(
            [*hosts.exec_prefix(ns), sys.executable, "-m", "ops.cli", *argv],
            cwd=REPO,
            env=clean_env(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def _worker(
    hosts: Hosts, cfg: Path, name: str, out: Path, *, eth: bool = False
) -> subprocess.Popen[bytes]:
    strategy, inst, params = (
        ("inventory_skew", INST2, "demo_eth") if eth else ("sample_mm", INST, "demo_btc")
    )
    argv = ["strategy", "run", "--config", str(cfg), "--name", name, "--strategy", strategy]
    argv += ["--inst", inst, "--params", f"strategies/examples/{params}.yaml"]
    return _start(hosts, hosts.b, argv, out)


def _stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGKILL, wait_s: float = 15) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(wait_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


async def test_workers_on_another_host_quote_are_refused_fenced_and_rejoin(
    tmp_path: Path, hosts: Hosts
) -> None:
    keys = tmp_path / "keys"
    for name in ("server", "w1", "w2", "stranger"):
        generate_keypair(keys, name)
    stranger_public, _ = zmq.auth.load_certificate(keys / "stranger.key")
    cfg_a, cfg_w1, cfg_w2, cfg_bad = _configs(tmp_path, hosts, keys)
    logs_a = tmp_path / "logs-a"
    up = _start(hosts, hosts.a, ["up", "--config", str(cfg_a), "--no-status"], tmp_path / "up.out")
    procs: list[subprocess.Popen[bytes]] = []
    async with httpx.AsyncClient(timeout=5.0) as client:
        ex = RunningExchange(
            hosts.observer_addr, EXCHANGE_PORT, False, None, [DEMO_ACCOUNT], tmp_path, client
        )

        async def owners() -> set[tuple[str, int]]:
            try:
                return _owners(await ex.live_orders())
            except httpx.HTTPError:
                return set()  # the exchange not up yet

        async def quoting(not_by: set[tuple[str, int]]) -> tuple[str, int] | None:
            now = await owners() - not_by
            return next(iter(now)) if len(now) == 1 else None

        async def both_quoting(not_by: set[tuple[str, int]]) -> set[tuple[str, int]] | None:
            now = await owners() - not_by
            return now if len(now) == 2 else None

        try:
            # 1. a worker on host B quotes on host A's exchange, over CURVE
            w1 = _worker(hosts, cfg_w1, "w1", tmp_path / "w1.out")
            procs.append(w1)
            owner = await _until("the remote worker quoting", lambda: quoting(set()), 60)

            # 2. a key not on the allowlist: refused, the public key logged on host A
            bad = _worker(hosts, cfg_bad, "w-bad", tmp_path / "w-bad.out")
            procs.append(bad)

            async def refused_logged() -> bool | None:
                hit = _grep(logs_a, "bus client refused", stranger_public.decode())
                return True if hit else None

            await _until("host A logging the refused key", refused_logged, 15)

            async def bad_side_logged() -> bool | None:
                return True if _grep(tmp_path / "logs-b-bad", "bus handshake refused") else None

            await _until(
                "the refused worker logging the refusal", bad_side_logged, 10, every_s=0.005
            )
            assert await owners() == {owner}, "only the allowlisted worker has orders"
            assert bad.poll() is None or bad.returncode != 0
            _stop(bad)

            # 3. kill -9 of the remote worker: its orders cancelled within 250 ms
            t0 = time.monotonic_ns()
            w1.send_signal(signal.SIGKILL)

            async def gone(o: tuple[str, int]) -> bool | None:
                return True if o not in await owners() else None

            await _until(
                "the killed worker's orders cancelled", lambda: gone(owner), 5, every_s=0.005
            )
            kill_ms = (time.monotonic_ns() - t0) / 1e6
            assert kill_ms <= KILL_LIMIT_MS, kill_ms
            w1.wait(5)

            # 4. the link cut: the running remote workers are fenced, their orders cancelled
            w1 = _worker(hosts, cfg_w1, "w1", tmp_path / "w1.out")
            w2 = _worker(hosts, cfg_w2, "w2", tmp_path / "w2.out", eth=True)
            procs += [w1, w2]
            before = await _until(
                "both remote workers quoting", lambda: both_quoting({owner}), 60, every_s=0.005
            )
            hosts.link(up=False)
            t0 = time.monotonic_ns()

            async def all_gone() -> bool | None:
                return True if not await owners() & before else None

            await _until("the cut-off workers' orders cancelled", all_gone, 10)
            cut_ms = (time.monotonic_ns() - t0) / 1e6
            # a silent link is found by heartbeats (ZMTP 300 ms, the router's own deadline)
            assert cut_ms < CUT_LIMIT_MS, cut_ms
            assert w1.poll() is None, "the workers live on, on their side of the cut"
            assert w2.poll() is None
            assert _grep(logs_a, "peer disconnected"), "the router saw the remote workers go"
            # ... and join again (new epochs: the old ones are fenced) once the link is back
            hosts.link(up=True)
            back = await _until(
                "both quoting after the cut", lambda: both_quoting(before), 60, every_s=0.005
            )
            assert {o[0] for o in back} == {o[0] for o in before}, (back, before)
            assert w1.poll() is None
            assert w2.poll() is None
        finally:
            for p in procs:
                _stop(p)
            # SIGTERM: the router cancels everything, then the supervisor stops the rest
            await asyncio.to_thread(_stop, up, signal.SIGTERM, 30)
    assert up.returncode == 0, (tmp_path / "up.out").read_text()[-3000:]
