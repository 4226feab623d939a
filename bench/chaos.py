"""Chaos: one ``okxmm up`` left running while every actor is killed and stalled, the venue
misbehaves and bad input arrives; after each trial the venue, router, private-gw, risk and
workers must agree again.

    python -m bench.chaos --report     # make chaos: 10 workers, the table into docs/reliability.md
    python -m bench.chaos --workers 4  # what the CI test runs

A trial injects its fault while every worker is quoting, waits until the supervisor shows every
child running again, then pauses quoting and waits until all parties agree (open orders 0
everywhere, the venue's position per instrument equal to risk's net and to the sum of the
workers', risk's booked fills equal to the venue's), then resumes and waits until every worker
quotes again. One table row per trial: the figures and the verdict.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import yaml
import zmq
import zmq.asyncio

from bench.system import (
    ACCOUNT,
    CHURN_PARAMS,
    System,
    free_port,
    replace_section,
    running_system,
    until,
)
from engine.config import BusConfig
from engine.orders.clordid import decode

__all__ = ["Trial", "TrialResult", "run_chaos", "trials"]

REPORT = Path(__file__).resolve().parents[1] / "docs" / "reliability.md"
AGREE_TIMEOUT_S = 60.0

Inject = Callable[[System], Awaitable[str]]


@dataclass(frozen=True)
class Trial:
    """A named fault and how to inject it; ``inject`` returns a figure for the table."""

    name: str
    inject: Inject


@dataclass
class TrialResult:
    name: str
    figure: str
    recover_s: float
    agree_s: float
    quote_s: float
    ok: bool
    problem: str = ""


async def _running(system: System, name: str, old_pid: int, timeout_s: float = 60.0) -> int:
    """Wait until the supervisor runs ``name`` under a pid other than ``old_pid``."""

    async def probe() -> int | None:
        pid = (await system.pids()).get(name)
        return pid if pid is not None and pid != old_pid else None

    return await until(f"{name} restarted", probe, timeout_s)


def kill(name: str) -> Inject:
    async def inject(system: System) -> str:
        pid = (await system.pids())[name]
        sid = await _short_id(system, name) if name in system.workers else ""
        t0 = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        if sid:
            others = await _orders_gone(system, name, sid)
            gone = time.monotonic() - t0
            await _running(system, name, pid)
            return f"its orders gone in {gone * 1000:.0f} ms, {others} others kept"
        await _running(system, name, pid)
        return f"restarted in {time.monotonic() - t0:.1f} s"

    return inject


async def _orders_gone(system: System, name: str, short_id: str) -> int:
    """Wait until the venue has none of ``short_id``'s orders; how many others are live."""

    async def probe() -> int | None:
        live = await system.ex.live_orders(ACCOUNT[0])
        owners = [decode(o.get("clOrdId", "")) for o in live]
        mine = [p for p in owners if p is not None and p.short_id == short_id]
        return len(live) if not mine else None

    return await until(f"{name}'s orders cancelled", probe, 10.0)


async def _short_id(system: System, name: str) -> str:
    """The clOrdId prefix of ``name``'s orders: the short id the router welcomed it with."""
    sid = str((await system.status(name)).get("short_id", ""))
    if not sid:
        raise AssertionError(f"{name} has no short id (not welcomed)")
    return sid


def stall(name: str, seconds: float) -> Inject:
    async def inject(system: System) -> str:
        pid = (await system.pids())[name]
        sid = await _short_id(system, name) if name in system.workers else ""
        t0 = time.monotonic()
        os.kill(pid, signal.SIGSTOP)
        system.stopped.add(str(pid))
        figure = ""
        try:
            if sid:  # a hung worker is fenced: its orders must go while it is still stopped
                await _orders_gone(system, name, sid)
                figure = f"its orders gone in {(time.monotonic() - t0) * 1000:.0f} ms, "
            rest = seconds - (time.monotonic() - t0)
            if rest > 0:
                await asyncio.sleep(rest)  # the fault itself: a stalled process, not a wait
        finally:
            os.kill(pid, signal.SIGCONT)
            system.stopped.discard(str(pid))
        pids = await system.pids()
        kept = "kept running" if pids.get(name) == pid else f"restarted (pid {pids.get(name)})"
        return figure + kept

    return inject


def venue(seconds: float, **knobs: object) -> Inject:
    """Set fault knobs for ``seconds`` (0: one-shot), then back to normal."""

    async def inject(system: System) -> str:
        await system.ex.faults(**knobs)
        if seconds:
            await asyncio.sleep(seconds)  # the length of the outage
            off: dict[str, object] = {}
            for k in knobs:
                off[k] = {"error_rate": 0.0, "ack_delay_ms": 0, "freeze": False}.get(k)
            await system.ex.faults(**{k: v for k, v in off.items() if v is not None})
        return ", ".join(f"{k}={v}" for k, v in knobs.items()) + (
            f" for {seconds:g} s" if seconds else ""
        )

    return inject


async def bad_params(system: System) -> str:
    """A params file with an out-of-range step: every worker keeps its params and says so."""
    path = system.root / "churn.yaml"
    good = path.read_text()
    before = {w: int((await system.status(w)).get("params_rejected", 0)) for w in system.workers}
    path.write_text(yaml.safe_dump({**CHURN_PARAMS, "step_pct": 0.49}))
    try:
        for w in system.workers:
            reply = await system.ctl(w, "reload")
            assert not reply.ok, f"{w} accepted step_pct 0.49"
        after = {w: int((await system.status(w)).get("params_rejected", 0)) for w in system.workers}
        assert all(after[w] > before[w] for w in system.workers), (before, after)
    finally:
        path.write_text(good)
        for w in system.workers:
            await system.ctl(w, "reload")
    return f"refused by {len(system.workers)} workers, old params kept"


async def garbage_commands(system: System) -> str:
    """Junk frames and a 5 MiB frame on ``ord.cmd``: the router stays up and answers."""
    sock = system.ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.IDENTITY, b"S:chaos-junk:1")
    sock.connect(system.bus.connect_endpoint("ord.cmd"))
    try:
        for frame in (b"", b"\xc1\xc1\xc1", b"\x92\x01", os.urandom(64), b"x" * (5 << 20)):
            await sock.send(frame)
        pid = (await system.pids())["router"]
        st = await system.status("router")
        assert (await system.pids())["router"] == pid
        return f"router up, {st.get('rejects', 0)} rejects so far"
    finally:
        sock.close()


def trials() -> list[Trial]:
    """The trial matrix (issue 13): each actor killed and stalled, venue faults, bad input."""
    out = [
        Trial(f"kill -9 {a}", kill(a)) for a in ("md-feed", "private-gw", "router", "risk", "w01")
    ]
    for actor, s in (("w02", 3.0), ("router", 1.5), ("md-feed", 3.0), ("risk", 3.0)):
        out.append(Trial(f"SIGSTOP {actor} {s:g} s", stall(actor, s)))
    out.append(Trial("SIGSTOP private-gw 3 s", stall("private-gw", 3.0)))
    out += [
        Trial("venue 5xx burst (50026)", venue(8.0, error_rate=1.0, error_code="50026")),
        Trial("venue rate-limit burst (50011)", venue(4.0, error_rate=0.5, error_code="50011")),
        Trial("venue acks 800 ms late", venue(5.0, ack_delay_ms=800)),
        Trial("venue drops every WS", venue(0, drop_ws=True)),
        Trial("book seqId gap", venue(0, skip_seq=3)),
        Trial("book checksum wrong", venue(0, corrupt_checksum=2)),
        Trial("orders pushed twice", venue(6.0, order_push_repeat_rate=1.0)),
        Trial("params out of range", bad_params),
        Trial("junk on ord.cmd", garbage_commands),
    ]
    return out


async def run_trial(system: System, trial: Trial) -> TrialResult:
    t0 = time.monotonic()
    try:
        figure = await asyncio.wait_for(trial.inject(system), 90)
        recover_s = time.monotonic() - t0

        async def all_running() -> bool | None:
            kids = await system.children()
            return True if all(s.startswith("running") for s in kids.values()) else None

        await until("every child running", all_running, 60)
        _, agree_s = await system.converged(AGREE_TIMEOUT_S)
        quote_s = await system.quoting(60)
        return TrialResult(trial.name, figure, recover_s, agree_s, quote_s, True)
    except (AssertionError, TimeoutError, KeyError) as exc:
        with_detail = str(exc) or type(exc).__name__
        with contextlib.suppress(AssertionError, TimeoutError):
            await system.quoting(30)  # give the next trial a quoting system if it can
        return TrialResult(trial.name, "", time.monotonic() - t0, 0, 0, False, with_detail)


async def run_chaos(
    root: Path, *, port: int, bus: BusConfig, workers: int, only: list[str] | None = None
) -> list[TrialResult]:
    results: list[TrialResult] = []
    async with running_system(root, port=port, bus=bus, workers=workers) as system:
        baseline, _ = await system.converged(AGREE_TIMEOUT_S)
        await system.quoting(60)
        results.append(TrialResult("baseline", "all agree", 0, 0, 0, not baseline.problems))
        for trial in trials():
            if only and not any(o in trial.name for o in only):
                continue
            r = await run_trial(system, trial)
            print(
                f"{'ok  ' if r.ok else 'FAIL'} {r.name}: {r.figure or r.problem}"
                f" (recover {r.recover_s:.1f} s, agree {r.agree_s:.1f} s, quote {r.quote_s:.1f} s)",
                flush=True,
            )
            results.append(r)
        code = await system.close()
        results.append(TrialResult("clean stop", f"okxmm up exit {code}", 0, 0, 0, code == 0))
        left = await system.ex.live_orders(ACCOUNT[0])
        results.append(
            TrialResult("no order left after stop", f"{len(left)} live", 0, 0, 0, not left)
        )
    return results


def table(results: list[TrialResult]) -> str:
    lines = [
        "| trial | figure | recovered (s) | agreed (s) | quoting (s) | verdict |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        verdict = "agree" if r.ok else f"**FAIL**: {r.problem}"
        lines.append(
            f"| {r.name} | {r.figure} | {r.recover_s:.1f} | {r.agree_s:.1f} | {r.quote_s:.1f}"
            f" | {verdict} |"
        )
    return "\n".join(lines)


def write_report(results: list[TrialResult], workers: int, path: Path = REPORT) -> None:
    ok = sum(r.ok for r in results)
    section = (
        f"## Chaos\n\nLatest run: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"{workers} churning workers, {ok}/{len(results)} trials agree. Command: `make chaos` "
        "(CI: `tests/chaos`, 4 workers). 'Agreed' is the time from pausing quoting until "
        "the venue, router, private-gw, risk and workers agree on open orders, positions and "
        "fills.\n\n" + table(results) + "\n"
    )
    replace_section(path, "Chaos", section)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.chaos", description=__doc__.split("\n")[0])
    ap.add_argument("--workers", type=int, default=10)
    ap.add_argument("--only", action="append", help="run trials whose name contains this")
    ap.add_argument("--report", action="store_true", help="write docs/reliability.md")
    args = ap.parse_args(argv)
    if args.workers < 2:
        print(
            "error: --workers must be at least 2 (trials kill w01 and stall w02)", file=sys.stderr
        )
        return 2
    root = Path(tempfile.mkdtemp(prefix="okxmm-chaos-"))
    try:
        bus = BusConfig(transport="ipc", ipc_dir=str(root / "run"))
        results = asyncio.run(
            run_chaos(root / "sys", port=free_port(), bus=bus, workers=args.workers, only=args.only)
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(table(results))
    if args.report:
        write_report(results, args.workers)
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
