"""Scale curve: how latency, cancel-on-death, CPU and memory grow with the number of workers.

For N = 1, 4, 16, 32 strategy workers (round-robin over two swaps and the three strategies)
against one md-feed and one router, on the churning market of the soak: per N, the workers'
tick → order latency (a book received → its orders sent, each worker's ``tick_to_order``; p50
the median of the workers' p50s, p99 their worst p99), kill -9 of one worker → its last order
gone at the venue (p99 of 5 trials, a different worker each time), router and md-feed CPU %
over a 10 s window, the largest RSS of an actor and of a worker, and the venue's rate-limit
refusals the router met (``50011``/``50061``/``51513`` acks in its journal). The N = 1 row is the
reference. Goals (issue 19): p99 tick → order at N = 16 ≤ 2× N = 1; cancel-on-death p99 <
100 ms at N = 32; RSS < 80 MB per actor; no rate-limit refusal at any N.

Prints a markdown section; ``python -m bench`` collects it into docs/perf.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.stats import pct, table
from bench.system import ACCOUNT, System, free_port, rss_kb, running_system, until
from engine.config import BusConfig
from engine.orders.clordid import decode

_RATE_CODES = {"50011", "50061", "51513"}
_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Row:
    n: int
    t2o_p50_us: float
    t2o_p99_us: float
    cod_p99_ms: float
    router_cpu: float
    feed_cpu: float
    rss_actor_mb: float
    rss_worker_mb: float
    refusals: int


def _cpu_s(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime + stime


async def _cancel_on_death_ms(system: System, name: str) -> float:
    pid = (await system.pids())[name]
    sid = str((await system.status(name)).get("short_id", ""))
    t0 = time.monotonic()
    os.kill(pid, signal.SIGKILL)

    deadline = t0 + 10.0
    while True:  # polled every 5 ms: the figure is to within one admin round trip + 5 ms
        live = await system.ex.live_orders(ACCOUNT[0])
        mine = [o for o in live if (p := decode(o.get("clOrdId", ""))) and p.short_id == sid]
        if not mine:
            break
        if time.monotonic() > deadline:
            raise AssertionError(f"{name}'s orders still live 10 s after kill -9")
        await asyncio.sleep(0.005)
    ms = (time.monotonic() - t0) * 1000

    async def back() -> bool | None:
        now = (await system.pids()).get(name)
        if now is None or now == pid:
            return None
        st = await system.status(name)
        return True if int(st.get("open_orders", 0)) > 0 else None

    await until(f"{name} quoting again", back, 60.0)
    return ms


def _refusals(system: System) -> int:
    path = system.var_dir / "router.journal"
    n = 0
    with path.open() as f:
        for line in f:
            if '"ack"' in line:
                rec = json.loads(line)
                n += rec.get("k") == "ack" and rec.get("code") in _RATE_CODES
    return n


async def _one(root: Path, n: int, window_s: float) -> Row:
    bus = BusConfig(transport="ipc", ipc_dir=tempfile.mkdtemp(prefix="okxmm-sc-"))
    async with running_system(
        root, port=free_port(), bus=bus, workers=n, ready_timeout_s=60 + 6 * n
    ) as system:
        pids = await system.pids()
        cpu0 = {k: _cpu_s(pids[k]) for k in ("router", "md-feed")}
        t0 = time.monotonic()
        await asyncio.sleep(window_s)  # the measurement window of the churn, not a sync
        span = time.monotonic() - t0
        cpu = {k: (_cpu_s(pids[k]) - cpu0[k]) / span * 100 for k in cpu0}
        p50s, p99s = [], []
        for w in system.workers:
            st = await system.status(w)
            p50s.append(float(st.get("tick_to_order_p50_us", 0)))
            p99s.append(float(st.get("tick_to_order_p99_us", 0)))
        rss = {k: rss_kb(p) / 1024 for k, p in (await system.pids()).items()}
        actors = [v for k, v in rss.items() if k not in system.workers]
        workers = [v for k, v in rss.items() if k in system.workers]
        deaths = sorted(
            [await _cancel_on_death_ms(system, system.workers[i % n]) for i in range(5)]
        )
        return Row(
            n,
            statistics.median(p50s),
            max(p99s),
            pct(deaths, 99),
            cpu["router"],
            cpu["md-feed"],
            max(actors),
            max(workers),
            _refusals(system),
        )


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--n", type=int, action="append", help="worker counts (default 1 4 16 32)")
    args = ap.parse_args()
    ns = args.n or ([1, 4] if args.quick else [1, 4, 16, 32])
    window = 5.0 if args.quick else 10.0
    with tempfile.TemporaryDirectory(prefix="okxmm-scale-") as d:
        rows = [asyncio.run(_one(Path(d) / f"n{n}", n, window)) for n in ns]
    ref = rows[0]
    print("## scale\n")
    print(
        "N strategy workers on two swaps, one md-feed, one router, churning market. tick → order:"
        " a book received → its orders sent (each worker's own window; p50 = median of the"
        " workers' p50s, p99 = worst p99). Cancel-on-death: kill -9 → the venue holds none of"
        " its orders, p99 of 5. Ratios against the N = 1 row of the same run.\n"
    )
    out = [
        [
            str(r.n),
            f"{r.t2o_p50_us:,.0f}",
            f"{r.t2o_p99_us:,.0f} ({r.t2o_p99_us / max(ref.t2o_p99_us, 1):.1f}x)",
            f"{r.cod_p99_ms:.0f}",
            f"{r.router_cpu:.0f}",
            f"{r.feed_cpu:.0f}",
            f"{r.rss_actor_mb:.0f}",
            f"{r.rss_worker_mb:.0f}",
            str(r.refusals),
        ]
        for r in rows
    ]
    header = ["N", "t2o p50 (µs)", "t2o p99 (µs)", "cancel-on-death p99 (ms)", "router CPU %",
              "md-feed CPU %", "max actor RSS (MB)", "max worker RSS (MB)", "rate-limit refusals"]  # fmt: skip
    print(table(header, out))
    by_n = {r.n: r for r in rows}
    goals = []
    if 16 in by_n:
        ok = by_n[16].t2o_p99_us <= 2 * ref.t2o_p99_us
        goals.append(f"p99 t2o at N=16 ≤ 2× N=1: {'meets' if ok else 'misses'}")
    if 32 in by_n:
        ok = by_n[32].cod_p99_ms < 100
        goals.append(f"cancel-on-death p99 < 100 ms at N=32: {'meets' if ok else 'misses'}")
    rss_ok = all(r.rss_actor_mb < 80 and r.rss_worker_mb < 80 for r in rows)
    goals.append(f"RSS < 80 MB per actor: {'meets' if rss_ok else 'misses'}")
    refusals_ok = all(r.refusals == 0 for r in rows)
    goals.append(f"no rate-limit refusal: {'meets' if refusals_ok else 'misses'}")
    print("Goals: " + "; ".join(goals) + ".\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
