"""A whole okxmm — ``okxmm up``, every actor a real process — against a local exchange we run
ourselves, for the soak benchmark and the chaos suite.

:func:`running_system` starts the exchange and ``okxmm up`` with N strategy workers spread over
the swaps, with churn-heavy params (quotes at the touch, requoted on every tick) so orders are
placed, amended, filled and replaced all the time. :class:`System` reads every actor's ctl
status, its pid and RSS, the size of a heartbeat and of the router journal, and checks that the
venue, router, private-gw, risk and workers agree (:meth:`System.agreement`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import yaml
import zmq
import zmq.asyncio

from engine import topics
from engine.bus.ctl import ctl_call
from engine.bus.subscriber import Subscriber
from engine.clock import SystemClock
from engine.config import BusConfig
from engine.messages import CtlRequest, PubHeartbeat, RiskSnapshot
from ops.exchange.testing import RunningExchange, running_exchange

__all__ = ["Agreement", "System", "free_port", "replace_section", "running_system", "until"]

REPO = Path(__file__).resolve().parents[1]
SWAPS = ("BTC-USDT-SWAP", "ETH-USDT-SWAP")
STRATEGIES = ("sample_mm", "inventory_skew", "volatility")
ACCOUNT = ("sys-key-7d1c", "sys-SECRET-4e9a0b", "sys-PASS-71c2")
# Quotes one step from mid, requoted on every tick: the most orders per second the strategies
# make, so a leak per order shows within minutes.
CHURN_PARAMS: dict[str, Any] = {
    "step_pct": 0.00001,
    "num_orders_per_side": 2,
    "single_size_as_multiple_of_lot_size": 1,
    "max_net_buy": 20,
    "max_net_sell": 20,
    "requote_threshold_ticks": 0,
    "min_requote_interval_ms": 50,
    "min_spread_pct": 0.00002,
    "max_spread_pct": 0.001,
}
# A busier background market than the default: more takers, more fills, more new orders.
CHURN_MARKET: dict[str, Any] = {"taker_rate_per_s": 12.0, "volatility_bps": 2.0}
CLOCK = SystemClock()
T = TypeVar("T")


async def until(
    what: str, probe: Callable[[], Awaitable[T | None]], timeout_s: float, every_s: float = 0.1
) -> T:
    """Poll ``probe`` every ``every_s`` until it returns something not None; AssertionError
    naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        got = await probe()
        if got is not None:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        await asyncio.sleep(every_s)


def clean_env() -> dict[str, str]:
    """The environment for a child ``okxmm``: no inherited OKX_API_/OKXMM_ settings, the repo
    on the import path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OKX_API_", "OKXMM_"))}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def replace_section(path: Path, heading: str, section: str) -> None:
    """Replace the ``## heading`` section of a markdown file (append it when missing)."""
    text = path.read_text() if path.exists() else "# Reliability\n"
    start = text.find(f"## {heading}")
    if start < 0:
        text = text.rstrip() + "\n\n" + section
    else:
        nxt = text.find("\n## ", start + 1)
        rest = text[nxt + 1 :] if nxt >= 0 else ""
        text = text[:start] + section.rstrip() + "\n" + ("\n" + rest if rest else "")
    path.write_text(text)


def rss_kb(pid: int) -> int:
    """Resident set size of ``pid`` in KiB (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


@dataclass
class Agreement:
    """What each party says; ``problems`` is empty when they all agree with the venue."""

    venue_orders: int
    router_orders: int
    private_gw_orders: int
    worker_orders: int
    venue_pos: dict[str, Decimal]
    risk_net: dict[str, Decimal]
    worker_net: dict[str, Decimal]  # worker → the position it quotes against
    venue_fills: int
    risk_fills: int
    problems: list[str] = field(default_factory=list)


def worker_specs(n: int) -> list[dict[str, str]]:
    """``n`` workers round-robin over the swaps and strategies: w01, w02, …"""
    return [
        {
            "name": f"w{i + 1:02d}",
            "strategy": STRATEGIES[i % len(STRATEGIES)],
            "inst": SWAPS[i % len(SWAPS)],
        }
        for i in range(n)
    ]


class System:
    """A running ``okxmm up`` and its exchange, seen from outside (ctl, /proc, admin API)."""

    def __init__(
        self, root: Path, ex: RunningExchange, bus: BusConfig, workers: list[dict[str, str]]
    ) -> None:
        self.root = root
        self.ex = ex
        self.bus = bus
        self.workers = [w["name"] for w in workers]
        self.inst_of = {w["name"]: w["inst"] for w in workers}
        self.ctx = zmq.asyncio.Context()
        self.up: subprocess.Popen[bytes] | None = None
        self.log_dir = root / "logs"
        self.var_dir = root / "var"
        self.stopped: set[str] = set()  # SIGSTOPped children, continued on close

    # ------------------------------------------------------------------------------- ctl
    async def ctl(
        self,
        actor: str,
        cmd: str = "status",
        timeout_s: float = 10.0,
        args: dict[str, str] | None = None,
        attempt_s: float = 0.5,
    ) -> Any:
        """One ctl request to ``actor``, retried until it answers within ``timeout_s``
        (each attempt waits ``attempt_s``)."""
        endpoint = self.bus.connect_endpoint(self.bus.ctl_name(actor))
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                return await ctl_call(
                    self.ctx,
                    endpoint,
                    CtlRequest(cmd=cmd, args=args or {}),
                    clock=CLOCK,
                    timeout_s=attempt_s,
                )
            except TimeoutError:
                if time.monotonic() > deadline:
                    raise

    async def status(self, actor: str) -> dict[str, Any]:
        reply = await self.ctl(actor)
        return dict(reply.status)

    async def children(self) -> dict[str, str]:
        reply = await self.ctl("supervisor", "children")
        return {k: str(v) for k, v in reply.status.items()}

    async def pids(self) -> dict[str, int]:
        """Every running child's pid, from the supervisor's status."""
        out: dict[str, int] = {}
        for name, st in (await self.children()).items():
            if st.startswith("running") and "pid=" in st:
                out[name] = int(st.split("pid=")[1].split()[0].rstrip(","))
        return out

    def signal(self, pid: int, sig: signal.Signals) -> None:
        os.kill(pid, sig)

    # ---------------------------------------------------------------------------- gauges
    def journal_bytes(self) -> int:
        path = self.var_dir / "router.journal"
        return path.stat().st_size if path.exists() else 0

    async def heartbeat_bytes(self, family: str = "ord", timeout_s: float = 5.0) -> int:
        """Size of the next ``hb|`` frame on ``<family>.pub`` (what every subscriber decodes)."""
        sock = self.ctx.socket(zmq.SUB)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.SUBSCRIBE, topics.HEARTBEAT.encode())
        sock.connect(self.bus.connect_endpoint(f"{family}.pub"))
        try:
            async with asyncio.timeout(timeout_s):
                frames = await sock.recv_multipart()
            return sum(len(f) for f in frames)
        finally:
            sock.close()

    # ------------------------------------------------------------------------ agreement
    async def venue_positions(self) -> dict[str, Decimal]:
        rows = (await self.ex.admin(f"/admin/positions?apiKey={ACCOUNT[0]}"))["positions"]
        out: dict[str, Decimal] = {}
        for p in rows:
            # a long/short-mode short leg is a positive pos with posSide short
            sign = -1 if p.get("posSide") == "short" else 1
            out[p["instId"]] = out.get(p["instId"], Decimal(0)) + sign * Decimal(str(p["pos"]))
        return out

    async def risk_snapshot(self, timeout_s: float = 10.0) -> RiskSnapshot:
        sub = Subscriber(
            self.ctx,
            self.bus.connect_endpoint("risk.pub"),
            snap_endpoint=self.bus.connect_endpoint("risk.snap"),
            prefixes=[topics.RISK],
            name="system.risk",
            clock=CLOCK,
            snapshot_timeout_s=0.5,
        )
        await sub.start()
        try:
            async with asyncio.timeout(timeout_s):
                while True:
                    d = await sub.recv(0.05)
                    if d is not None and isinstance(d.env.msg, RiskSnapshot):
                        return d.env.msg
                    if d is not None and not isinstance(d.env.msg, PubHeartbeat):
                        continue
        finally:
            await sub.close()

    async def agreement(self) -> Agreement:
        """One reading of every party, taken with quoting paused (so orders are not moving)."""
        venue_orders = len(await self.ex.live_orders(ACCOUNT[0]))
        router = await self.status("router")
        pgw = await self.status("private-gw")
        workers = {w: await self.status(w) for w in self.workers}
        totals = await self.ex.admin(f"/admin/fill-totals?apiKey={ACCOUNT[0]}")
        venue_pos = await self.venue_positions()
        snap = await self.risk_snapshot()
        risk = await self.status("risk")
        # a worker's inventory is the account's position on its instrument (the venue's, as
        # the strategies read it), so each one must show its instrument's venue position
        worker_net = {w: Decimal(st["net_position"]) for w, st in workers.items()}
        a = Agreement(
            venue_orders=venue_orders,
            router_orders=int(router["open_orders"]),
            private_gw_orders=int(pgw["open_orders"]),
            worker_orders=sum(int(st["open_orders"]) for st in workers.values()),
            venue_pos={k: v for k, v in venue_pos.items() if v},
            risk_net={k: v for k, v in snap.net_filled_qty.items() if v},
            worker_net=worker_net,
            venue_fills=sum(int(t["fills"]) for t in totals.values()),
            risk_fills=int(risk["fills_booked"]),
        )
        for name, n in (
            ("router", a.router_orders),
            ("private-gw", a.private_gw_orders),
            ("workers", a.worker_orders),
        ):
            if n != a.venue_orders:
                a.problems.append(f"{name} {n} open orders, venue {a.venue_orders}")
        if a.risk_net != a.venue_pos:
            a.problems.append(f"risk net {a.risk_net}, venue {a.venue_pos}")
        for w, net in a.worker_net.items():
            want = a.venue_pos.get(self.inst_of[w], Decimal(0))
            if net != want:
                a.problems.append(f"{w} position {net}, venue {want}")
        if a.risk_fills != a.venue_fills:
            a.problems.append(f"risk booked {a.risk_fills} fills, venue {a.venue_fills}")
        return a

    async def pause_all(self) -> None:
        for w in self.workers:
            await self.ctl(w, "pause")

    async def resume_all(self) -> None:
        for w in self.workers:
            await self.ctl(w, "resume")

    async def converged(self, timeout_s: float) -> tuple[Agreement, float]:
        """Pause quoting and wait until every party agrees; (agreement, seconds it took).

        Raises AssertionError naming what still disagrees after ``timeout_s``."""
        t0 = time.monotonic()
        await self.pause_all()
        last: list[Agreement] = []

        async def probe() -> Agreement | None:
            try:
                a = await self.agreement()
            except (TimeoutError, KeyError) as exc:
                last[:] = []
                print(f"agreement not readable yet: {exc!r}", file=sys.stderr)
                return None
            last[:] = [a]
            return None if a.problems else a

        try:
            a = await until("venue, router, private-gw, risk and workers agree", probe, timeout_s)
        except AssertionError:
            detail = "; ".join(last[0].problems) if last else "no reading"
            raise AssertionError(f"no agreement after {timeout_s} s: {detail}") from None
        return a, time.monotonic() - t0

    async def quoting(self, timeout_s: float) -> float:
        """Resume every worker and wait until each has orders at the venue; seconds taken."""
        t0 = time.monotonic()
        await self.resume_all()

        async def probe() -> bool | None:
            for w in self.workers:
                st = await self.status(w)
                if int(st.get("open_orders", 0)) == 0:
                    return None
            return True

        await until("every worker quoting", probe, timeout_s)
        return time.monotonic() - t0

    async def close(self) -> int | None:
        """SIGTERM ``okxmm up`` and wait for it; its exit code (None if it had to be killed)."""
        for pid in list(self.stopped):
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGCONT)
        code: int | None = None
        up = self.up
        if up is not None and up.poll() is None:
            up.send_signal(signal.SIGTERM)
            try:
                code = await asyncio.to_thread(up.wait, 90)
            except subprocess.TimeoutExpired:
                up.kill()
                await asyncio.to_thread(up.wait, 10)
        elif up is not None:
            code = up.returncode
        self.ctx.destroy(linger=0)
        return code


def _okxmm() -> list[str]:
    script = Path(sys.executable).with_name("okxmm")
    return [str(script)] if script.exists() else [sys.executable, "-m", "ops.cli"]


@contextlib.asynccontextmanager
async def running_system(
    root: Path,
    *,
    port: int,
    bus: BusConfig,
    workers: int,
    router: dict[str, Any] | None = None,
    exchange: dict[str, Any] | None = None,
    ready_timeout_s: float = 120.0,
) -> AsyncIterator[System]:
    """The exchange and ``okxmm up`` with ``workers`` churning workers, every one quoting;
    ``exchange`` adds to the exchange's config (e.g. ``{"profile": "legacy"}``)."""
    specs = worker_specs(workers)
    exchange_cfg = {"market": CHURN_MARKET, **(exchange or {})}
    await asyncio.to_thread(root.mkdir, parents=True, exist_ok=True)
    async with running_exchange(root, port=port, accounts=[ACCOUNT], config=exchange_cfg) as ex:
        system = System(root, ex, bus, specs)
        system.up = await asyncio.to_thread(_start_up, system, specs, port, router)
        try:

            async def all_quoting() -> bool | None:
                if system.up is not None and system.up.poll() is not None:
                    raise RuntimeError(f"okxmm up exited {system.up.returncode}")
                return True if await _every_worker_quoting(system) else None

            await until("every worker quoting", all_quoting, ready_timeout_s)
            yield system
        finally:
            await system.close()


def _start_up(
    system: System, specs: list[dict[str, str]], port: int, router: dict[str, Any] | None
) -> subprocess.Popen[bytes]:
    """Write the params and config files and start ``okxmm up`` (blocking: run in a thread)."""
    root, bus = system.root, system.bus
    params = root / "churn.yaml"
    params.write_text(yaml.safe_dump(CHURN_PARAMS))
    cfg: dict[str, Any] = {
        "venue": {"kind": "local"},
        "exchange": {"port": port},
        "bus": {"transport": bus.transport, "ipc_dir": bus.ipc_dir},
        "instruments": list(SWAPS),
        "strategies": [{**s, "params": str(params)} for s in specs],
        "supervisor": {"start_exchange": False, "backoff_initial_s": 0.2},
        "log_dir": str(system.log_dir),
        "var_dir": str(system.var_dir),
    }
    if router:
        cfg["router"] = router
    cfg_path = root / "okxmm.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OKX_API_", "OKXMM_"))}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    names = ("OKX_API_KEY", "OKX_API_SECRET", "OKX_API_PASSPHRASE")
    env.update(zip(names, ACCOUNT, strict=True))
    with (root / "up.out").open("wb") as out:
        return subprocess.Popen(
            [*_okxmm(), "up", "--config", str(cfg_path), "--no-status"],
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def _every_worker_quoting(system: System) -> bool:
    try:
        for w in system.workers:
            if int((await system.status(w)).get("open_orders", 0)) == 0:
                return False
    except TimeoutError:
        return False
    return True
