"""Backtest speed: ``sample_mm`` on the recorded markets in tests/fixtures/marketdata (a quiet
one and a busy one), against the bare book-apply loop over the same frames (the live md-feed's
BookSync alone), same run.

Reports frames per second of both, the backtest's speed as a multiple of real time (recorded
span / wall time), and the ratio to the floor. Goal (issue 17): ≥ 100× real time on a recorded
busy market.

Prints a markdown section; ``python -m bench`` collects it into docs/perf.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from loguru import logger

from bench.stats import table
from gateway.book_replay import BookReplay
from ops.backtest.data import frames_of, instrument_info
from ops.backtest.engine import Backtest, BacktestConfig
from strategies.params import StrategyParams

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "marketdata"
DATA = FIXTURES / "btc-usdt-swap-20s.okxraw.gz"
# the same venue at OKX's books cadence (100 ms) with 80 trades/s: how it was recorded is in
# the .yaml beside it
BUSY = FIXTURES / "btc-usdt-swap-busy-30s.okxraw.gz"
INST = "BTC-USDT-SWAP"
PARAMS = StrategyParams(
    step_pct=0.00002,
    num_orders_per_side=2,
    single_size_as_multiple_of_lot_size=10,
    max_net_buy=5,
    max_net_sell=5,
    min_requote_interval_ms=50,
    orderbook_max_delay_sec=5,
)


def _measure(path: Path, rounds: int) -> tuple[list[str], str]:
    """One table row per metric for the recording at ``path``, and its one-line description."""
    frames = list(frames_of([path]))
    span_s = (frames[-1].recv_ns - frames[0].recv_ns) / 1e9
    cfg = BacktestConfig(INST, "sample_mm", PARAMS, instrument_info(INST, frames))
    floor_s, bt_s = [], []
    fills = 0
    for _ in range(rounds):  # alternate: noise hits both alike
        t0 = time.perf_counter()
        replay = BookReplay([INST])
        for _ in replay.run(frames):
            pass
        floor_s.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        bt = Backtest(cfg)
        bt.run(frames)
        bt_s.append(time.perf_counter() - t0)
        fills = len(bt.fills)
    f, b = statistics.median(floor_s), statistics.median(bt_s)
    n = len(frames)
    row = [
        path.name.removesuffix(".okxraw.gz"),
        f"{n / span_s:,.0f}",
        f"{n / b:,.0f}",
        f"{n / f:,.0f}",
        f"{f / b:.2f}x",
        f"{span_s / b:,.0f}",
        f"{span_s / f:,.0f}",
        str(fills),
    ]
    return row, f"{n} frames over {span_s:.1f} s"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    rounds = 3 if args.quick else 9
    logger.remove()  # the worker core logs every decision at INFO: not what is measured
    rows, about = [], []
    for path in (DATA, BUSY):
        row, text = _measure(path, rounds)
        rows.append(row)
        about.append(f"{row[0]}: {text}")
    busy_x = float(rows[-1][5].replace(",", ""))
    verdict = "meets" if busy_x >= 100 else "misses"
    print("## backtest\n")
    print(
        f"`sample_mm` on two recordings of BTC-USDT-SWAP from the local exchange "
        f"({'; '.join(about)}), median of {rounds} alternating rounds. Floor: the same frames "
        f"through the live book code alone, which bounds the backtest's multiple of real time. "
        f"Goal ≥ 100× real time on the busy market: **{verdict}**.\n"
    )
    head = ["recording", "frames/s recorded", "backtest frames/s", "floor frames/s", "ratio",
            "backtest × real time", "floor × real time", "fills"]  # fmt: skip
    print(table(head, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
