"""Start-up benchmark: ``okxmm up`` → the first order resting (acknowledged) at the local exchange.

Each run starts the shipped ``config/okxmm.yaml`` (the supervisor starts the exchange, the four
actors and two workers) with ports and directories moved aside, and polls the exchange's admin
API until an order of ours rests there; then stops it. Floor, measured in the same run: three
Python start-ups one after the other (``python -c`` importing what an actor imports), since an
order needs at least the exchange, then the router, then a worker to have started. Goal (issue
19): p50 ≤ 2 s on this 2-core machine.

Prints a markdown section; ``python -m bench`` collects it into docs/perf.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.stats import pct, table
from bench.system import free_port
from engine.config import DEMO_CREDENTIALS

ROOT = Path(__file__).resolve().parent.parent
# what an actor process imports before it can answer (the heaviest of them: the router)
ACTOR_IMPORTS = "import engine.router.actor, gateway.okx.router_venue, ops.config"


def _okxmm() -> list[str]:
    script = Path(sys.executable).with_name("okxmm")
    return [str(script)] if script.exists() else [sys.executable, "-m", "ops.cli"]


def _floor_s() -> float:
    """Three actor-like Python start-ups in a row: the dependency chain's own cost."""
    t0 = time.perf_counter()
    for _ in range(3):
        subprocess.run([sys.executable, "-c", ACTOR_IMPORTS], cwd=ROOT, check=True)
    return time.perf_counter() - t0


async def _first_order_s(tmp: Path, timeout_s: float = 60.0) -> float:
    port = free_port()
    ipc = Path(tempfile.mkdtemp(prefix="okxmm-su-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OKX_API_", "OKXMM_"))}
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "OKXMM_EXCHANGE__PORT": str(port),
            "OKXMM_BUS__TRANSPORT": "ipc",
            "OKXMM_BUS__IPC_DIR": str(ipc),
            "OKXMM_LOG_DIR": str(tmp / "logs"),
            "OKXMM_VAR_DIR": str(tmp / "var"),
            "OKXMM_EXCHANGE__CERT_PATH": str(tmp / "cert.pem"),
        }
    )
    cmd = [*_okxmm(), "up", "--config", "config/okxmm.yaml", "--no-status"]
    with (tmp / "up.out").open("wb") as out:
        t0 = time.perf_counter()
        up = await asyncio.create_subprocess_exec(
            *cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        async with httpx.AsyncClient(timeout=1.0) as client:
            key = DEMO_CREDENTIALS.api_key.get_secret_value()
            url = f"http://127.0.0.1:{port}/admin/orders?apiKey={key}"
            while True:
                if up.returncode is not None:
                    raise RuntimeError(f"okxmm up exited {up.returncode}; see {tmp / 'up.out'}")
                if time.perf_counter() - t0 > timeout_s:
                    raise TimeoutError(f"no order within {timeout_s} s")
                try:
                    r = await client.get(url)
                    if r.status_code == 200 and r.json()["orders"]:
                        return time.perf_counter() - t0
                except httpx.HTTPError:
                    pass  # not listening yet
                await asyncio.sleep(0.01)  # the probe's period (what we measure is coarser)
    finally:
        if up.returncode is None:
            up.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(up.wait(), 30)
        except TimeoutError:
            up.kill()
            await up.wait()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    runs = 2 if args.quick else 5
    floor = _floor_s()
    took: list[float] = []
    with tempfile.TemporaryDirectory(prefix="okxmm-startup-") as d:
        for i in range(runs):
            run_dir = Path(d) / f"run{i}"
            run_dir.mkdir()
            took.append(asyncio.run(_first_order_s(run_dir)))
    took.sort()
    p50 = pct(took, 50)
    verdict = "meets" if p50 <= 2.0 else "misses"
    print("## startup\n")
    print(
        f"`okxmm up` (the shipped config: exchange, four actors, two workers) until the first "
        f"order rests at the local exchange, {runs} runs. Floor: three actor start-ups in a row "
        f"(`python -c '{ACTOR_IMPORTS}'`), the chain an order needs. Goal p50 ≤ 2 s: "
        f"**{verdict}**.\n"
    )
    rows = [
        ["up → first order resting, p50 (s)", f"{p50:.2f}", f"{floor:.2f}", f"{p50 / floor:.2f}x"],
        ["up → first order resting, max (s)", f"{took[-1]:.2f}", f"{floor:.2f}", ""],
    ]
    print(table(["metric", "okxmm", "floor", "ratio"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
