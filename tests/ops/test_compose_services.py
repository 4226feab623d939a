"""Every docker-compose service command, run for real outside docker.

No docker engine here: each service's ``command`` from ``docker-compose.yml`` is started as its
own process (``okxmm <command…>``, cwd = the repo as in the image's /app), all at once in file
order as ``docker compose up`` would (``depends_on`` orders starts, it does not wait for
readiness). Environment overrides stand in for the compose network: service names → 127.0.0.1,
free ports, a temp dir for /app/var. The engine must come up and quote on both instruments,
then every service must stop cleanly on SIGTERM (what ``docker compose down`` sends), leaving no
order at the exchange.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from engine.config import DEMO_CREDENTIALS, BusConfig
from engine.orders.clordid import decode

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

ROOT = Path(__file__).resolve().parents[2]


def _services() -> dict[str, dict[str, Any]]:
    """The okxmm services (the monitoring profile's Prometheus and Grafana are images)."""
    doc = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return {n: s for n, s in doc["services"].items() if "profiles" not in s}


def _free_block(n: int, start: int = 21000) -> int:
    """A base port with ``n`` consecutive free ports after it."""
    for base in range(start, 60000, 97):
        socks = []
        try:
            for p in range(base, base + n):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", p))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free port block")


def _env(
    tmp: Path, ex_port: int, port_base: int, metrics_base: int, ipc_dir: str
) -> dict[str, str]:
    cfg = yaml.safe_load((ROOT / "deploy" / "okxmm.docker.yaml").read_text())
    hosts = dict.fromkeys(cfg["bus"]["hosts"], "127.0.0.1")
    base = f"127.0.0.1:{ex_port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OKX_API_", "OKXMM_"))}
    env.update(
        {
            "PYTHONPATH": str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
            "OKXMM_VENUE__REST_URL": f"http://{base}",
            "OKXMM_VENUE__WS_PUBLIC_URL": f"ws://{base}/ws/v5/public",
            "OKXMM_VENUE__WS_PRIVATE_URL": f"ws://{base}/ws/v5/private",
            "OKXMM_VENUE__WS_BUSINESS_URL": f"ws://{base}/ws/v5/business",
            "OKXMM_EXCHANGE__HOST": "127.0.0.1",
            "OKXMM_EXCHANGE__PORT": str(ex_port),
            "OKXMM_BUS__BIND_HOST": "127.0.0.1",
            "OKXMM_BUS__PORT_BASE": str(port_base),
            "OKXMM_BUS__HOSTS": json.dumps(hosts),
            "OKXMM_BUS__IPC_DIR": ipc_dir,
            "OKXMM_METRICS__HOST": "127.0.0.1",
            "OKXMM_METRICS__PORT_BASE": str(metrics_base),
            "OKXMM_LOG_DIR": str(tmp / "var" / "log"),
            "OKXMM_VAR_DIR": str(tmp / "var"),
        }
    )
    return env


def _okxmm() -> list[str]:
    script = Path(sys.executable).with_name("okxmm")
    return [str(script)] if script.exists() else [sys.executable, "-m", "ops.cli"]


async def test_every_compose_service_command_runs_outside_docker(
    tmp_path: Path, free_port: int, bus_config: BusConfig
) -> None:
    services = _services()
    bus_base = _free_block(20)
    metrics_base = _free_block(20, start=bus_base + 20)
    env = _env(tmp_path, free_port, bus_base, metrics_base, bus_config.ipc_dir)
    procs: dict[str, subprocess.Popen[bytes]] = {}
    outs = []
    client = httpx.AsyncClient()
    key = DEMO_CREDENTIALS.api_key.get_secret_value()
    try:
        for name, svc in services.items():  # file order respects depends_on
            out = (tmp_path / f"{name}.out").open("wb")
            outs.append(out)
            procs[name] = subprocess.Popen(
                [*_okxmm(), *svc["command"]],
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

        async def live_orders() -> list[dict[str, Any]]:
            try:
                r = await client.get(f"http://127.0.0.1:{free_port}/admin/orders?apiKey={key}")
            except httpx.TransportError:
                return []  # not listening yet
            orders: list[dict[str, Any]] = r.json()["orders"]
            return orders

        deadline = time.monotonic() + 90
        quoting: set[str] = set()
        while quoting != {"BTC-USDT-SWAP", "ETH-USDT-SWAP"}:
            for name, p in procs.items():
                assert p.poll() is None, (
                    f"{name} exited {p.returncode}: "
                    + (tmp_path / f"{name}.out").read_text()[-2000:]
                )
            assert time.monotonic() < deadline, f"not quoting on both instruments: {quoting}"
            quoting = {o["instId"] for o in await live_orders() if decode(o["clOrdId"])}
            await asyncio.sleep(0.2)

        # what docker runs to tell each service healthy passes here too, and each actor
        # service serves its metrics at the port deploy/prometheus.yml scrapes
        for name, svc in services.items():
            argv = svc["healthcheck"]["test"][1:]
            assert argv[0] == "okxmm"
            health = await asyncio.to_thread(
                subprocess.run,
                [*_okxmm(), *argv[1:]],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
            assert health.returncode == 0, (name, health.stdout, health.stderr)
            assert "ping: ok" in health.stdout, (name, health.stdout)
        prom = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text())
        docker_base = yaml.safe_load((ROOT / "deploy" / "okxmm.docker.yaml").read_text())[
            "metrics"
        ].get("port_base", 9400)
        for entry in prom["scrape_configs"][0]["static_configs"]:
            (target,) = entry["targets"]
            offset = int(target.rpartition(":")[2]) - docker_base
            r = await client.get(f"http://127.0.0.1:{metrics_base + offset}/metrics")
            assert r.status_code == 200, target
            assert f'process_resident_memory_bytes{{actor="{entry["labels"]["actor"]}"}}' in r.text

        # docker compose down: SIGTERM to every service; the workers and router first so the
        # router is still connected to the exchange when it cancels everything
        order = [n for n in services if n not in ("router", "exchange")]
        for name in ["mm-btc", "skew-eth", "router"]:
            procs[name].send_signal(signal.SIGTERM)
            code = await asyncio.to_thread(procs[name].wait, 30)
            assert code == 0, (name, (tmp_path / f"{name}.out").read_text()[-2000:])
        assert [o for o in await live_orders() if decode(o["clOrdId"])] == []
        for name in [*order, "exchange"]:
            if procs[name].poll() is None:
                procs[name].send_signal(signal.SIGTERM)
            code = await asyncio.to_thread(procs[name].wait, 30)
            assert code == 0, (name, (tmp_path / f"{name}.out").read_text()[-2000:])
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.wait(10)
        for out in outs:
            out.close()
        await client.aclose()
