"""``okxmm up`` end to end: the real console script, every actor a real process.

1. With an exchange we run ourselves (so it outlives the engine): both workers quote; a worker
   killed with SIGKILL loses exactly its own orders, the other worker and the feeds carry on,
   the supervisor restarts it and it quotes again under a new epoch; SIGTERM stops everything
   and leaves no order on the exchange; no secret appears in any log.
2. The shipped ``config/okxmm.yaml`` as ``make demo ARGS="--duration N"`` runs it (the
   supervisor starts the exchange too): every child starts, orders are placed, exit code 0.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml
import zmq.asyncio

from bench.system import until
from engine.config import BusConfig
from engine.orders.clordid import decode
from ops.exchange.testing import running_exchange
from tests.gateway.harness import ctl

_until = functools.partial(until, every_s=0.05)  # this module's poll period

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

REPO = Path(__file__).resolve().parents[2]
BTC, ETH = "BTC-USDT-SWAP", "ETH-USDT-SWAP"
# Unusual credentials: if any of these strings reaches a log, redaction failed.
ACCOUNT = ("up-test-key-5f3a", "up-test-SECRET-9c1e77", "up-test-PASS-42b0")

T = TypeVar("T")


def _okxmm() -> list[str]:
    """The installed console script (what ``make demo`` runs)."""
    script = Path(sys.executable).with_name("okxmm")
    return [str(script)] if script.exists() else [sys.executable, "-m", "ops.cli"]


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OKX_API_", "OKXMM_"))}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra or {})
    return env


def _by_inst(orders: list[dict[str, Any]]) -> dict[str, set[tuple[str, int]]]:
    """instId → the (short_id, epoch) owners of its live orders."""
    out: dict[str, set[tuple[str, int]]] = {}
    for o in orders:
        parts = decode(o.get("clOrdId", ""))
        if parts is not None:
            out.setdefault(o["instId"], set()).add((parts.short_id, parts.epoch))
    return out


async def _children(ctx: zmq.asyncio.Context, bus: BusConfig) -> dict[str, str]:
    reply = await ctl(ctx, bus.connect_endpoint("ctl.supervisor"), "children")
    assert reply.ok
    return {k: str(v) for k, v in reply.status.items()}


def _pid(status: str) -> int:
    m = re.search(r"pid=(\d+)", status)
    assert m, status
    return int(m.group(1))


def _started_by_dependency(sup_log: str) -> None:
    """Children start as soon as what they need answers: md-feed, private-gw, router and risk
    together after the exchange, the workers at once (they wait for the router themselves)."""
    started: dict[str, float] = {}
    ready: dict[str, float] = {}
    for line in sup_log.splitlines():
        rec = json.loads(line)["record"]
        child = rec["extra"].get("child")
        when = rec["time"]["timestamp"]
        if rec["message"] == "child started":
            started.setdefault(child, when)
        elif rec["message"] == "child ready":
            ready.setdefault(child, when)
    actors = ("md-feed", "private-gw", "router", "risk")
    assert set(actors) | {"exchange", "mm-btc", "skew-eth"} <= set(ready), ready
    for a in actors:
        assert started[a] >= ready["exchange"]
        assert started[a] < min(ready[b] for b in actors), f"{a} waited for another actor"
    for w in ("mm-btc", "skew-eth"):
        assert started[w] < ready["router"]  # not after it: its start-up overlaps the router's
        assert started[w] < ready[w]


def _no_secrets_in(log_dir: Path, secrets: tuple[str, ...]) -> None:
    files = [p for p in log_dir.rglob("*") if p.is_file()]
    assert files, f"no logs in {log_dir}"
    for path in files:
        text = path.read_text(errors="replace")
        for s in secrets:
            assert s not in text, f"secret leaked into {path}"


async def test_up_kill_one_worker_cancels_only_its_orders(
    tmp_path: Path, free_port: int, bus_config: BusConfig
) -> None:
    async with running_exchange(tmp_path, port=free_port, accounts=[ACCOUNT]) as ex:
        log_dir = tmp_path / "logs"
        cfg = {
            "venue": {"kind": "local"},
            "exchange": {"port": free_port},
            "bus": {"transport": "ipc", "ipc_dir": bus_config.ipc_dir},
            "instruments": [BTC, ETH],
            "strategies": [
                {"name": "mm-btc", "strategy": "sample_mm", "inst": BTC},
                {"name": "skew-eth", "strategy": "inventory_skew", "inst": ETH},
            ],
            "supervisor": {"start_exchange": False, "backoff_initial_s": 0.2},
            "log_dir": str(log_dir),
            "var_dir": str(tmp_path / "var"),
        }
        cfg_path = tmp_path / "okxmm.yaml"
        cfg_path.write_text(yaml.safe_dump(cfg))
        creds = dict(
            zip(("OKX_API_KEY", "OKX_API_SECRET", "OKX_API_PASSPHRASE"), ACCOUNT, strict=True)
        )
        out = (tmp_path / "up.out").open("wb")
        up = subprocess.Popen(
            [*_okxmm(), "up", "--config", str(cfg_path), "--no-status"],
            cwd=REPO,
            env=_env(creds),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        ctx = zmq.asyncio.Context()
        try:

            async def both_quoting() -> dict[str, set[tuple[str, int]]] | None:
                owners = _by_inst(await ex.live_orders(ACCOUNT[0]))
                return owners if owners.get(BTC) and owners.get(ETH) else None

            owners = await _until("both workers quoting", both_quoting, 90)
            assert len(owners[BTC]) == 1, owners
            assert len(owners[ETH]) == 1, owners
            (btc_owner,) = owners[BTC]
            (eth_owner,) = owners[ETH]
            status = await _children(ctx, bus_config)
            assert all(s.startswith("running") for s in status.values()), status
            feed_pid = _pid(status["md-feed"])
            # today's OKX (the exchange's default profile) takes WS orders only by instIdCode
            router = (await ctl(ctx, bus_config.connect_endpoint("ctl.router"), "status")).status
            assert router["ws_sent"] > 0, router

            # kill -9 one worker: only its orders go, and fast
            t0 = time.monotonic()
            os.kill(_pid(status["mm-btc"]), signal.SIGKILL)

            async def btc_gone() -> bool | None:
                live = _by_inst(await ex.live_orders(ACCOUNT[0]))
                return True if btc_owner not in live.get(BTC, set()) else None

            await _until("the killed worker's orders cancelled", btc_gone, 5)
            cancel_s = time.monotonic() - t0
            assert cancel_s < 1.0, cancel_s  # the tight 250 ms bound: test_cancel_on_death
            eth_now = _by_inst(await ex.live_orders(ACCOUNT[0])).get(ETH, set())
            assert eth_now <= {eth_owner}, eth_now  # the bystander: never fenced, same epoch

            # restarted by the supervisor: quotes again under a new epoch
            async def btc_back() -> set[tuple[str, int]] | None:
                live = _by_inst(await ex.live_orders(ACCOUNT[0])).get(BTC, set())
                return live if live and btc_owner not in live else None

            (new_owner,) = await _until("the restarted worker quoting", btc_back, 60)
            assert new_owner[0] == btc_owner[0]
            assert new_owner[1] != btc_owner[1]

            async def eth_quoting() -> bool | None:
                live = _by_inst(await ex.live_orders(ACCOUNT[0])).get(ETH, set())
                return True if live == {eth_owner} else None

            await _until(
                "the bystander quoting under its first epoch", eth_quoting, 30, every_s=0.05
            )
            status = await _children(ctx, bus_config)
            assert "restarts=1" in status["mm-btc"], status
            assert "restarts=0" in status["skew-eth"], status
            assert _pid(status["md-feed"]) == feed_pid, "the feed was restarted"
            assert all(s.startswith("running") for s in status.values()), status
            sup_log = (log_dir / "supervisor.jsonl").read_text()
            assert any(
                "router cancelled exited worker's orders" in line and "mm-btc" in line
                for line in sup_log.splitlines()
            ), "the supervisor's worker-exit CancelAll was not acknowledged"
            router_log = (log_dir / "router.jsonl").read_text()
            assert '"strategy": "skew-eth"' not in "".join(
                line for line in router_log.splitlines() if "strategy fenced" in line
            )

            # clean stop: every order cancelled before the router exits
            up.send_signal(signal.SIGTERM)
            code = await asyncio.to_thread(up.wait, 90)
            assert code == 0, (tmp_path / "up.out").read_text()[-3000:]
            assert await ex.live_orders(ACCOUNT[0]) == []
        finally:
            if up.poll() is None:
                up.kill()
                up.wait(10)
            out.close()
            ctx.destroy(linger=0)
        _no_secrets_in(log_dir, ACCOUNT[1:])
        _no_secrets_in(tmp_path / "var", ACCOUNT[1:])


async def test_make_demo_config_runs_for_a_duration(
    tmp_path: Path, free_port: int, bus_config: BusConfig
) -> None:
    """What ``make demo ARGS="--duration N"`` runs, with ports and dirs moved aside by env."""
    log_dir = tmp_path / "logs"
    env = _env(
        {
            "OKXMM_EXCHANGE__PORT": str(free_port),
            "OKXMM_BUS__TRANSPORT": "ipc",
            "OKXMM_BUS__IPC_DIR": bus_config.ipc_dir,
            "OKXMM_LOG_DIR": str(log_dir),
            "OKXMM_VAR_DIR": str(tmp_path / "var"),
            "OKXMM_EXCHANGE__CERT_PATH": str(tmp_path / "cert.pem"),
        }
    )
    cmd = [*_okxmm(), "up", "--config", "config/okxmm.yaml", "--duration", "25", "--no-status"]
    t0_ns = time.time_ns()
    proc = await asyncio.create_subprocess_exec(
        *cmd,
        cwd=str(REPO),
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        output, _ = await asyncio.wait_for(proc.communicate(), 150)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    text = output.decode(errors="replace")
    assert proc.returncode == 0, text[-3000:]
    sup = (log_dir / "supervisor.jsonl").read_text()
    for child in ("exchange", "md-feed", "private-gw", "router", "risk", "mm-btc", "skew-eth"):
        assert f'"child": "{child}"' in sup, f"{child} never started"
    assert "child not ready" not in sup
    assert "child exited" not in sup  # nothing crashed during the run
    router = (log_dir / "router.jsonl").read_text()
    assert "strategy welcomed" in router
    assert "router stopping: cancelling everything" in router
    lines = (tmp_path / "var" / "router.journal").read_text().splitlines()
    journal = [json.loads(line) for line in lines]
    placed = {r["strategy"] for r in journal if r.get("k") == "order"}
    assert placed == {"mm-btc", "skew-eth"}, placed  # both workers had orders placed
    _started_by_dependency(sup)
    # start-up: the command to the first order the venue acknowledged (issue 19; goal 2 s on an
    # idle 2-core machine, bound generous for a loaded one: it catches a return to serial)
    acked = [
        r["ts_ns"]
        for r in journal
        if r.get("k") == "ack" and r.get("op") == "place" and r.get("code") in ("", "0")
    ]
    assert acked, "no order acknowledged"
    first_ack_s = (min(acked) - t0_ns) / 1e9
    assert first_ack_s < 12, f"first order acknowledged {first_ack_s:.1f} s after okxmm up"
    _no_secrets_in(log_dir, ("okxmm-local-secret", "okxmm-local-pass"))


def _alive(pid: int) -> bool:
    """Running (a zombie whose parent is gone counts as dead: nobody may reap it here)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


async def test_a_killed_supervisor_takes_its_children_with_it(
    tmp_path: Path, free_port: int, bus_config: BusConfig
) -> None:
    """kill -9 of ``okxmm up`` used to leave the whole engine running, orphaned and quoting:
    each child now gets SIGTERM when the supervisor dies, and stops as it would on Ctrl-C —
    the router cancelling every order first."""
    from bench.system import running_system

    async with running_system(tmp_path, port=free_port, bus=bus_config, workers=2) as system:
        pids = await system.pids()
        assert len(pids) >= 6, pids
        assert system.up is not None
        assert await system.ex.live_orders(system.ex.accounts[0][0])
        system.up.kill()
        system.up.wait(10)

        async def all_gone() -> bool | None:
            return True if not any(_alive(p) for p in pids.values()) else None

        await _until("every child of the killed supervisor stopped", all_gone, 30)

        async def no_orders() -> bool | None:
            return True if not await system.ex.live_orders(system.ex.accounts[0][0]) else None

        await _until("no order left at the venue", no_orders, 10)
