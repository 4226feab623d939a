"""Soak: ``okxmm up`` with many churning workers for a long time, sampled; fails on any upward trend.

    python -m bench.soak --minutes 120            # make soak (hours are better)
    python -m bench.soak --minutes 3 --workers 10 # the compressed mode CI runs

Every ``--sample-s`` it records each actor's RSS, the size of one heartbeat on ``ord.pub`` /
``md.pub`` / ``acct.pub`` (what every subscriber decodes several times a second), the router
journal's size, the router's ack p99, the worst worker's tick→order p99, and how many strategies
the router has fenced. After a warm-up, the median of the last third of the samples is compared
with the first third's (for the fence count: the fences added within each third; for the
journal, a sawtooth, the late third's peak against the highest before it): a gauge that
grew more than its tolerance fails the run (a leak of one
topic per order — issue 13 item 1 — grows the heartbeat by ~20 KB a minute under this churn).
Results go to ``docs/reliability.md`` (section "Soak") with ``--report``.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.system import System, free_port, replace_section, rss_kb, running_system
from engine.config import BusConfig

__all__ = ["Gauge", "SoakResult", "main", "soak"]

REPORT = Path(__file__).resolve().parents[1] / "docs" / "reliability.md"


@dataclass(frozen=True)
class Gauge:
    """A sampled quantity and how much its late median may exceed its early one."""

    name: str
    unit: str
    rel_tol: float  # allowed relative growth
    abs_tol: float  # plus this much absolute (noise floor)
    # a running count (fences): judged on what it added within each window, not on its total,
    # so one burst mid-run is a step and not a trend, while a count that keeps rising fails
    counter: bool = False
    # a sawtooth (the journal, compacted online every N records): its median depends on where
    # the samples fall in the tooth, so the late third's peak is judged against the highest
    # value before it — a journal that is never compacted keeps setting new peaks
    peak: bool = False


GAUGES = (
    Gauge("hb_ord_bytes", "B", 0.25, 2048),
    Gauge("hb_md_bytes", "B", 0.25, 2048),
    Gauge("hb_acct_bytes", "B", 0.25, 2048),
    Gauge("journal_bytes", "B", 0.20, 1024 * 1024, peak=True),
    Gauge("rss_max_kb", "KiB", 0.15, 12 * 1024),
    Gauge("rss_total_kb", "KiB", 0.15, 40 * 1024),
    Gauge("ack_p99_us", "µs", 2.0, 5000),
    Gauge("tick_to_order_p99_us", "µs", 2.0, 5000),
    # fences added per window; one isolated fence (a scheduler hiccup) is not a trend
    Gauge("fenced", "", 0.0, 1, counter=True),
)
# every long-lived actor's own RSS, judged like rss_max (verdicts named rss_kb[<actor>])
RSS_ACTOR = Gauge("rss_kb", "KiB", 0.15, 12 * 1024)


@dataclass
class SoakResult:
    """Samples over time and the verdict per gauge."""

    minutes: float
    workers: int
    samples: list[dict[str, float]] = field(default_factory=list)
    verdicts: dict[str, tuple[float, float, bool]] = field(default_factory=dict)
    rss_by_actor: dict[str, tuple[int, int]] = field(default_factory=dict)  # first, last KiB
    rss_samples: list[dict[str, int]] = field(default_factory=list)  # actor → KiB, per sample
    fences: list[str] = field(default_factory=list)  # the router's log lines of each fence

    @property
    def ok(self) -> bool:
        return all(ok for _, _, ok in self.verdicts.values())

    def judge(self, warmup_frac: float = 0.2) -> None:
        """Median of the last third vs the first third, after dropping the warm-up."""
        rows = self.samples[int(len(self.samples) * warmup_frac) :]
        third = max(1, len(rows) // 3)
        for g in GAUGES:
            if g.counter:  # what the count added across the early and across the late third
                early = rows[:third][-1][g.name] - rows[0][g.name]
                late = rows[-1][g.name] - rows[-third][g.name]
            elif g.peak:  # the late third's peak against every sample before it
                early = max(r[g.name] for r in rows[:-third] or rows)
                late = max(r[g.name] for r in rows[-third:])
            else:
                early = statistics.median(r[g.name] for r in rows[:third])
                late = statistics.median(r[g.name] for r in rows[-third:])
            self.verdicts[g.name] = (early, late, late <= early * (1 + g.rel_tol) + g.abs_tol)
        # each long-lived actor on its own: a small actor's leak hides under rss_max while a
        # bigger one is flat. Workers restarted by the churn (new pid, fresh RSS) are judged
        # only when present in every judged sample.
        per = self.rss_samples[int(len(self.rss_samples) * warmup_frac) :]
        if per:
            names = set.intersection(*(set(r) for r in per))
            for name in sorted(names):
                early = statistics.median(r[name] for r in per[:third])
                late = statistics.median(r[name] for r in per[-third:])
                ok = late <= early * (1 + RSS_ACTOR.rel_tol) + RSS_ACTOR.abs_tol
                self.verdicts[f"rss_kb[{name}]"] = (early, late, ok)

    def table(self) -> str:
        lines = [
            "| gauge | early median | late median | allowed | verdict |",
            "|---|---|---|---|---|",
        ]  # a counter's "median" cells are what it added in that third; a peak gauge's, maxima
        gauges = [(g.name, g) for g in GAUGES]
        gauges += [(k, RSS_ACTOR) for k in sorted(self.verdicts) if k.startswith("rss_kb[")]
        for name, g in gauges:
            early, late, ok = self.verdicts[name]
            allowed = early * (1 + g.rel_tol) + g.abs_tol
            lines.append(
                f"| {name} ({g.unit}) | {early:,.0f} | {late:,.0f} | ≤ {allowed:,.0f} |"
                f" {'flat' if ok else '**grows**'} |"
            )
        lines += ["", "| actor | RSS first (KiB) | RSS last (KiB) |", "|---|---|---|"]
        for name, (first, last) in sorted(self.rss_by_actor.items()):
            lines.append(f"| {name} | {first:,} | {last:,} |")
        if self.fences:
            lines += ["", "Fences (router log):", ""]
            lines += [f"- `{f}`" for f in self.fences[:10]]
        return "\n".join(lines)


async def sample(system: System, t0: float) -> tuple[dict[str, float], dict[str, int]]:
    """One reading of every gauge (and each actor's RSS)."""
    pids = await system.pids()
    rss = {name: rss_kb(pid) for name, pid in pids.items() if name != "exchange"}
    router = await system.status("router")
    worst = 0.0
    for w in system.workers:
        st = await system.status(w)
        worst = max(worst, float(st.get("tick_to_order_p99_us", 0.0)))
    row = {
        "t_s": time.monotonic() - t0,
        "hb_ord_bytes": float(await system.heartbeat_bytes("ord")),
        "hb_md_bytes": float(await system.heartbeat_bytes("md")),
        "hb_acct_bytes": float(await system.heartbeat_bytes("acct")),
        "journal_bytes": float(system.journal_bytes()),
        "rss_max_kb": float(max(rss.values(), default=0)),
        "rss_total_kb": float(sum(rss.values())),
        "ack_p99_us": float(router.get("ack_p99_us", 0.0)),
        "tick_to_order_p99_us": worst,
        "fenced": float(router.get("fenced", 0)),
        "orders_tracked": float(router.get("orders_tracked", 0)),
        "journal_records": float(router.get("journal_records", 0)),
    }
    return row, rss


async def memory(system: System, actors: list[str], *, trace: bool) -> None:
    """Print each actor's memory report (``trace`` starts tracemalloc there first)."""
    for name in actors:
        try:
            reply = await system.ctl(
                name, "memory", args={"trace": "1"} if trace else {}, attempt_s=10.0
            )
        except TimeoutError:
            print(f"memory {name}: no answer", flush=True)
            continue
        print(f"memory {name}:", flush=True)
        for k, v in reply.status.items():
            print(f"    {k}: {v}", flush=True)


async def soak(
    root: Path,
    *,
    minutes: float,
    workers: int,
    sample_s: float,
    port: int,
    bus: BusConfig,
    memprofile: list[str] | None = None,
) -> SoakResult:
    """Run the system for ``minutes`` and judge every gauge; ``memprofile`` names actors whose
    allocations are traced from the first sample on and reported at each sample."""
    result = SoakResult(minutes=minutes, workers=workers)
    async with running_system(root, port=port, bus=bus, workers=workers) as system:
        t0 = time.monotonic()
        end = t0 + minutes * 60
        first_rss: dict[str, int] = {}
        last_rss: dict[str, int] = {}
        if memprofile:
            await memory(system, memprofile, trace=True)
        while True:
            if memprofile and result.samples:
                await memory(system, memprofile, trace=False)
            row, rss = await sample(system, t0)
            result.samples.append(row)
            result.rss_samples.append(rss)
            for k, v in rss.items():
                first_rss.setdefault(k, v)
            last_rss = rss
            print(
                f"t={row['t_s']:6.0f}s hb.ord={row['hb_ord_bytes']:.0f}B"
                f" journal={row['journal_bytes'] / 1024:.0f}KiB"
                f" rss.max={row['rss_max_kb'] / 1024:.0f}MiB"
                f" ack.p99={row['ack_p99_us']:.0f}µs t2o.p99={row['tick_to_order_p99_us']:.0f}µs"
                f" fenced={row['fenced']:.0f} tracked={row['orders_tracked']:.0f}",
                flush=True,
            )
            if time.monotonic() >= end:
                break
            await asyncio.sleep(max(0.0, min(sample_s, end - time.monotonic())))
        result.rss_by_actor = {k: (first_rss.get(k, 0), v) for k, v in last_rss.items()}
        router_log = system.log_dir / "router.jsonl"
        if router_log.exists():
            lines = router_log.read_text(errors="replace").splitlines()
            result.fences = [ln[:400] for ln in lines if "strategy fenced" in ln]
    result.judge()
    return result


def write_report(result: SoakResult, path: Path = REPORT) -> None:
    """Replace the "Soak" section of ``docs/reliability.md`` with this run's table."""
    head = (
        f"## Soak\n\nLatest run: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"{result.minutes:g} min, {result.workers} churning workers, {len(result.samples)} "
        f"samples; verdict **{'flat' if result.ok else 'GROWS'}**.\n\n"
        "Command: `make soak` (CI: `tests/soak`, compressed). Late median (last third of the "
        "samples after a 20 % warm-up) against the early median (first third).\n\n"
    )
    section = head + result.table() + "\n"
    replace_section(path, "Soak", section)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=120.0)
    ap.add_argument("--workers", type=int, default=10)
    ap.add_argument("--sample-s", type=float, default=30.0)
    ap.add_argument("--report", action="store_true", help="write docs/reliability.md")
    ap.add_argument(
        "--memprofile",
        default="",
        help="comma-separated actors to trace (tracemalloc) and report at every sample",
    )
    args = ap.parse_args(argv)
    if args.minutes <= 0 or args.workers <= 0 or args.sample_s <= 0:
        print("error: --minutes, --workers and --sample-s must be positive", file=sys.stderr)
        return 2
    root = Path(tempfile.mkdtemp(prefix="okxmm-soak-"))
    try:
        bus = BusConfig(transport="ipc", ipc_dir=str(root / "run"))
        result = asyncio.run(
            soak(
                root / "sys",
                minutes=args.minutes,
                workers=args.workers,
                sample_s=args.sample_s,
                port=free_port(),
                bus=bus,
                memprofile=[a for a in args.memprofile.split(",") if a],
            )
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(result.table())
    if args.report:
        write_report(result)
    return 0 if result.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
