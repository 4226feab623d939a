"""Prometheus metrics end to end.

1. One actor (risk, alerts) as a real process with metrics on a port the system chooses: ``ctl
   status`` tells the port, and a scrape with httpx parses into its series (no Prometheus needed).
2. ``okxmm up`` with metrics on and a real Prometheus server (Debian's ``prometheus``) scraping
   the config ``okxmm config prometheus`` prints: every target is up and the queries a dashboard
   makes answer — orders acknowledged for each worker, book state per instrument, RSS per actor,
   every query of the shipped Grafana dashboard; a worker killed shows as a cancel on death and
   a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import yaml
import zmq.asyncio
from prometheus_client.parser import text_string_to_metric_families

from bench.system import clean_env, until
from engine.config import BusConfig
from ops.config import load_config
from ops.monitoring import prometheus_config, scrape_targets
from tests.conftest import _free_port
from tests.gateway.harness import ctl

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

REPO = Path(__file__).resolve().parents[2]
PROMETHEUS = shutil.which("prometheus")
T = TypeVar("T")
STABLE = ("supervisor", "exchange", "md-feed", "private-gw", "router", "risk")  # okxmm up's


def _okxmm() -> list[str]:
    script = Path(sys.executable).with_name("okxmm")
    return [str(script)] if script.exists() else [sys.executable, "-m", "ops.cli"]


@contextlib.asynccontextmanager
async def _process(argv: list[str], out: Path) -> AsyncIterator[asyncio.subprocess.Process]:
    """A child process, SIGTERMed (then killed) on the way out."""
    with out.open("wb") as f:
        proc = await asyncio.create_subprocess_exec(
            *argv, cwd=REPO, env=clean_env(), stdin=subprocess.DEVNULL, stdout=f, stderr=f
        )
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 60)
            except TimeoutError:
                proc.kill()
                await proc.wait()


async def _scrape_one(tmp_path: Path, bus: BusConfig, actor: str, extra: dict[str, Any]) -> Any:
    """Run ``okxmm actor <actor>`` with metrics on a chosen port; its parsed exposition."""
    cfg = tmp_path / "okxmm.yaml"
    data = {
        "bus": {"transport": "ipc", "ipc_dir": bus.ipc_dir},
        "log_dir": str(tmp_path / "log"),
        "var_dir": str(tmp_path / "var"),
        "metrics": {"enabled": True, "port": 0},
        **extra,
    }
    cfg.write_text(yaml.safe_dump(data))
    ctx = zmq.asyncio.Context()
    try:
        async with _process([*_okxmm(), "actor", actor, "--config", str(cfg)], tmp_path / "out"):

            async def port() -> int | None:
                with contextlib.suppress(TimeoutError):
                    reply = await ctl(ctx, bus.connect_endpoint(f"ctl.{actor}"), "status")
                    return int(reply.status["metrics_port"])
                return None

            p = await until(f"{actor}'s ctl status", port, 30)
            async with httpx.AsyncClient() as client:
                text = (await client.get(f"http://127.0.0.1:{p}/metrics")).text
    finally:
        ctx.destroy(linger=0)
    return [s for fam in text_string_to_metric_families(text) for s in fam.samples]


async def test_risk_exposition_on_a_chosen_port(tmp_path: Path, bus_config: BusConfig) -> None:
    extra = {"risk": {"state_path": str(tmp_path / "risk.state")}}
    samples = await _scrape_one(tmp_path, bus_config, "risk", extra)
    by_name = {s.name: s for s in samples}
    assert by_name["process_resident_memory_bytes"].labels == {"actor": "risk"}
    assert by_name["process_resident_memory_bytes"].value > 10_000_000
    states = {
        (s.labels["scope"], s.labels["state"]): s.value
        for s in samples
        if s.name == "okxmm_risk_state"
    }
    # nothing heard yet: the account is REDUCING, and exactly one state of the three is set
    assert states[("account", "REDUCING")] == 1
    assert states[("account", "ACTIVE")] + states[("account", "HALTED")] == 0
    assert {s.labels["bus"] for s in samples if s.name == "okxmm_bus_gaps_total"} >= {"md", "ord"}


async def test_alerts_exposition_per_sink(tmp_path: Path, bus_config: BusConfig) -> None:
    sink = {"name": "hook", "kind": "json", "url": f"http://127.0.0.1:{_free_port()}/x"}
    samples = await _scrape_one(tmp_path, bus_config, "alerts", {"alerts": {"sinks": [sink]}})
    sent = [s for s in samples if s.name == "okxmm_alerts_sent_total"]
    assert [(s.labels, s.value) for s in sent] == [({"actor": "alerts", "sink": "hook"}, 0)]
    (dedup,) = [s for s in samples if s.name == "okxmm_alerts_deduplicated_total"]
    assert dedup.value == 0
    subs = {s.labels["bus"] for s in samples if s.name == "okxmm_bus_delivered_total"}
    assert subs == {"risk", "ord", "md", "acct"}  # what the alerts actor watches


def _free_ports(n: int) -> list[int]:
    """``n`` distinct free ports (all held while choosing: one port is never handed out twice)."""
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(n)]
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in socks]


def _write_config(tmp_path: Path, bus: BusConfig, ports: list[int]) -> Path:
    """The shipped config, with its ports and dirs moved aside and metrics on."""
    data: dict[str, Any] = yaml.safe_load((REPO / "config" / "okxmm.yaml").read_text())
    data.update(
        exchange={"port": ports.pop(), "cert_path": str(tmp_path / "cert.pem")},
        bus={"transport": "ipc", "ipc_dir": bus.ipc_dir},
        log_dir=str(tmp_path / "log"),
        var_dir=str(tmp_path / "var"),
    )
    names = [*STABLE, *(s["name"] for s in data["strategies"])]
    # a free port each: the port_base scheme's ten-odd neighbours might not all be free
    data["metrics"] = {"enabled": True, "ports": {n: ports.pop() for n in names}}
    path = tmp_path / "okxmm.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


async def test_prometheus_scrapes_every_actor_of_okxmm_up(
    tmp_path: Path, bus_config: BusConfig
) -> None:
    if PROMETHEUS is None:
        if os.environ.get("CI"):
            pytest.fail("prometheus is not installed (.ci/run installs Debian's package)")
        pytest.skip("no prometheus binary here (apt-get install prometheus)")
    ports = _free_ports(len(STABLE) + 10)  # exchange, Prometheus and every actor's metrics
    prom = f"http://127.0.0.1:{ports.pop()}"
    cfg_path = _write_config(tmp_path, bus_config, ports)
    cfg = load_config(cfg_path)
    targets = scrape_targets(cfg)
    assert set(targets) == set(STABLE) | {s.name for s in cfg.strategies}
    prom_yml = tmp_path / "prometheus.yml"
    prom_yml.write_text(yaml.safe_dump(prometheus_config(cfg, interval_s=1)))
    prom_argv = [
        PROMETHEUS,
        f"--config.file={prom_yml}",
        f"--storage.tsdb.path={tmp_path / 'tsdb'}",
        f"--web.listen-address={prom.removeprefix('http://')}",
    ]
    up_argv = [*_okxmm(), "up", "--config", str(cfg_path), "--no-status"]
    async with (
        _process(up_argv, tmp_path / "up.out") as up,
        _process(prom_argv, tmp_path / "prometheus.out") as server,
        httpx.AsyncClient(base_url=prom, timeout=5) as client,
    ):

        async def get(path: str, **params: str) -> Any:
            assert up.returncode is None, (tmp_path / "up.out").read_text()[-3000:]
            assert server.returncode is None, (tmp_path / "prometheus.out").read_text()[-3000:]
            try:
                r = await client.get(path, params=params)
            except httpx.TransportError:
                return None  # not listening yet
            body = r.json()
            assert body["status"] == "success", body
            return body["data"]

        async def all_up() -> list[dict[str, Any]] | None:
            data = await get("/api/v1/targets")
            active = data["activeTargets"] if data else []
            healthy = [t for t in active if t["health"] == "up"]
            return active if len(healthy) == len(targets) else None

        active = await until("every target up", all_up, 90)
        assert {t["labels"]["actor"] for t in active} == set(targets)

        async def query(q: str, want: int) -> list[dict[str, Any]] | None:
            data = await get("/api/v1/query", query=q)
            result = data["result"] if data else []
            return result if len(result) >= want else None

        workers = {s.name for s in cfg.strategies}
        acked = await until(
            "orders acked by each worker", lambda: query("okxmm_strategy_acks_total > 0", 2), 90
        )
        assert {r["metric"]["actor"] for r in acked} == workers
        assert {r["metric"]["inst"] for r in acked} == set(cfg.instruments)
        books = await until(
            "every book VALID", lambda: query('okxmm_book_state{state="VALID"} == 1', 2), 60
        )
        assert {r["metric"]["inst"] for r in books} == set(cfg.instruments)
        rss = await until(
            "RSS of every actor", lambda: query("process_resident_memory_bytes", len(targets)), 30
        )
        assert {r["metric"]["actor"] for r in rss} == set(targets)
        assert all(float(r["value"][1]) > 10_000_000 for r in rss)
        placed = await until(
            "places acknowledged by OKX code 0",
            lambda: query('okxmm_orders_answered_total{op="place",outcome="ok",code="0"} > 0', 1),
            30,
        )
        assert placed[0]["metric"]["actor"] == "router"
        p99 = await until(
            "tick-to-order p99 of each worker",
            lambda: query(
                "histogram_quantile(0.99, sum by (actor, le) (okxmm_tick_to_order_seconds_bucket))"
                " > 0",
                2,
            ),
            30,
        )
        assert {r["metric"]["actor"] for r in p99} == workers
        risk = await until(
            "account risk state", lambda: query('okxmm_risk_state{scope="account"} == 1', 1), 30
        )
        assert risk[0]["metric"]["state"] in ("ACTIVE", "REDUCING")
        gaps = await until("bus subscriptions", lambda: query("okxmm_bus_gaps_total", 4), 30)
        # one name per publisher whatever the subscriber, so a panel can sum over actors
        assert {r["metric"]["bus"] for r in gaps} == {"md", "acct", "ord", "risk"}
        assert {r["metric"]["actor"] for r in gaps} >= {"router", "risk", *workers}

        # a worker killed: the supervisor's cancel on its death and its restart are counted
        ctx = zmq.asyncio.Context()
        try:
            reply = await ctl(ctx, cfg.bus.connect_endpoint("ctl.supervisor"), "children")
        finally:
            ctx.destroy(linger=0)
        pid = int(str(reply.status["mm-btc"]).split("pid=")[1].split()[0])
        os.kill(pid, signal.SIGKILL)
        await until(
            "the cancel on mm-btc's death",
            lambda: query('okxmm_cancels_on_death_total{result="ok"} > 0', 1),
            30,
        )
        await until(
            "mm-btc's restart",
            lambda: query('okxmm_child_restarts_total{child="mm-btc"} > 0', 1),
            30,
        )

        # every query of the shipped Grafana dashboard answers with series from this system
        # (refusals only exist once something was refused)
        dashboard = json.loads((REPO / "deploy/grafana/dashboards/okxmm.json").read_text())
        exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
        may_be_empty = ("okxmm_strategy_rejects_total",)
        for expr in exprs:
            if any(m in expr for m in may_be_empty):
                assert await get("/api/v1/query", query=expr) is not None, expr
                continue
            await until(f"dashboard query {expr}", lambda e=expr: query(e, 1), 30)


def test_config_prometheus_prints_a_scrape_config_of_every_target(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from ops.cli import app

    cfg = tmp_path / "okxmm.yaml"
    cfg.write_text(yaml.safe_dump({"metrics": {"enabled": True, "port_base": 9600}}))
    res = CliRunner().invoke(app, ["config", "prometheus", "--config", str(cfg)])
    assert res.exit_code == 0, res.output
    (job,) = yaml.safe_load(res.output)["scrape_configs"]
    got = {c["labels"]["actor"]: c["targets"] for c in job["static_configs"]}
    assert got == {
        "supervisor": ["127.0.0.1:9600"],
        "exchange": ["127.0.0.1:9601"],
        "md-feed": ["127.0.0.1:9602"],
        "private-gw": ["127.0.0.1:9603"],
        "router": ["127.0.0.1:9604"],
        "risk": ["127.0.0.1:9605"],
        "mm-btc": ["127.0.0.1:9610"],  # the default config's workers, by their place
        "skew-eth": ["127.0.0.1:9611"],
    }
