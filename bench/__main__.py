"""Run every ``bench/bench_*.py`` as its own process and collect their reports into docs/perf.md.

Each benchmark prints a markdown section with its figures and the floor measured in the same run
(machines here are noisy: compare ratios, not absolute numbers). ``--quick`` for a short run;
``--only NAME`` to run one.
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", help="short runs")
    parser.add_argument("--only", action="append", default=[], help="bench name, e.g. bus")
    parser.add_argument("--out", default=str(ROOT / "docs" / "perf.md"))
    args = parser.parse_args()
    benches = sorted(p.stem for p in (ROOT / "bench").glob("bench_*.py"))
    if args.only:
        benches = [b for b in benches if b.removeprefix("bench_") in args.only]
    sections = []
    failed = []
    for name in benches:
        cmd = [sys.executable, "-m", f"bench.{name}"] + (["--quick"] if args.quick else [])
        print(f"running {name} ...", flush=True)
        res = subprocess.run(
            cmd, capture_output=True, text=True, cwd=ROOT, timeout=900, check=False
        )
        if res.returncode != 0:
            failed.append(name)
            sections.append(
                f"## {name}\n\nFAILED (exit {res.returncode}):\n\n```\n{res.stderr[-2000:]}\n```\n"
            )
        else:
            sections.append(res.stdout.strip() + "\n")
        print(sections[-1], flush=True)
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    head = (
        "# okxmm performance\n\n"
        f"Latest `make bench` run: {now}, {platform.machine()}, Python {platform.python_version()}, "
        f"{'quick' if args.quick else 'full'} mode. Every figure is printed next to a floor "
        "measured in the same run (the floors are in `bench/floors/` and in each bench); ratios "
        "are what to compare.\n\n"
    )
    Path(args.out).write_text(head + "\n".join(sections))
    print(f"wrote {args.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
