"""hftbacktest against our backtest on the same recorded market (issue 17: use it as the fill
engine if it takes our strategy interface and is at least as fast).

The shipped recording (tests/fixtures/marketdata) is converted to hftbacktest's event rows
(the first REST book as a depth snapshot, every ``books`` level change as a depth event, every
trade as a trade event; exchange time = the frame's ``ts``, local time = its receive time). On
it: a simple quoting strategy (one bid and one ask ``STEP`` ticks off the touch, requoted every
50 ms, post-only) (a) compiled with numba, hftbacktest's intended use, and (b) driven from plain
Python, which is what calling our ``decide()`` would need; then our backtest with ``sample_mm``
on the same frames. Reports wall time, × real time and frames/s of each.

Optional: needs ``pip install 'okxmm[hftbacktest]'``; prints why and exits 0 without it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from loguru import logger

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "fixtures" / "marketdata" / "btc-usdt-swap-20s.okxraw.gz"
INST = "BTC-USDT-SWAP"
STEP = 2  # ticks off the touch
STEP_NS = 50_000_000
try:  # hftbacktest's order constants (plain ints: the numba strategy reads them as globals)
    from hftbacktest import GTX as _GTX
    from hftbacktest import LIMIT as _LIMIT
except ImportError:
    _GTX = _LIMIT = 0


def to_events(frames: list[Any]) -> Any:
    """The recording as hftbacktest event rows (``hftbacktest.event_dtype``)."""
    import numpy as np
    from hftbacktest import (
        BUY_EVENT,
        DEPTH_EVENT,
        DEPTH_SNAPSHOT_EVENT,
        EXCH_EVENT,
        LOCAL_EVENT,
        SELL_EVENT,
        TRADE_EVENT,
        event_dtype,
    )

    rows: list[tuple[int, int, int, float, float, int, int, float]] = []
    both = EXCH_EVENT | LOCAL_EVENT
    started = False
    last_exch = 0
    for f in frames:
        if f.stream == f"rest:books:{INST}" and not started:
            d = json.loads(f.text)["data"][0]
            for side, flag in (("bids", BUY_EVENT), ("asks", SELL_EVENT)):
                for px, sz, *_ in d[side]:
                    ev = DEPTH_SNAPSHOT_EVENT | both | flag
                    rows.append((ev, f.recv_ns, f.recv_ns, float(px), float(sz), 0, 0, 0.0))
            started = True
            last_exch = f.recv_ns
            continue
        if not started or not f.stream.startswith("ws:") or '"event"' in f.text[:10]:
            continue
        msg = json.loads(f.text)
        ch = msg.get("arg", {}).get("channel")
        for d in msg.get("data", []):
            exch = max(int(d.get("ts", 0)) * 1_000_000, last_exch)
            exch = min(exch, f.recv_ns)
            last_exch = exch
            if ch == "books":
                for side, flag in (("bids", BUY_EVENT), ("asks", SELL_EVENT)):
                    for px, sz, *_ in d[side]:
                        ev = DEPTH_EVENT | both | flag
                        rows.append((ev, exch, f.recv_ns, float(px), float(sz), 0, 0, 0.0))
            elif ch == "trades":
                flag = BUY_EVENT if d["side"] == "buy" else SELL_EVENT
                ev = TRADE_EVENT | both | flag
                row = (ev, exch, f.recv_ns, float(d["px"]), float(d["sz"]), 0, 0, 0.0)
                rows.append(row)
    return np.array(rows, dtype=event_dtype)


def _quote_loop(hbt: Any) -> int:
    """One bid and one ask STEP ticks off the touch, requoted every 50 ms; returns steps."""
    steps = 0
    oid = 0
    while hbt.elapse(STEP_NS) == 0:
        steps += 1
        hbt.clear_inactive_orders(0)
        depth = hbt.depth(0)
        tick = depth.tick_size
        bid = depth.best_bid - STEP * tick
        ask = depth.best_ask + STEP * tick
        orders = hbt.orders(0)
        have_bid = have_ask = False
        values = orders.values()
        while values.has_next():
            o = values.get()
            if o.side == 1:
                if abs(o.price - bid) < tick / 2:
                    have_bid = True
                elif o.cancellable:
                    hbt.cancel(0, o.order_id, False)
            else:
                if abs(o.price - ask) < tick / 2:
                    have_ask = True
                elif o.cancellable:
                    hbt.cancel(0, o.order_id, False)
        if not have_bid:
            oid += 1
            hbt.submit_buy_order(0, oid, bid, 0.1, _GTX, _LIMIT, False)
        if not have_ask:
            oid += 1
            hbt.submit_sell_order(0, oid, ask, 0.1, _GTX, _LIMIT, False)
    return steps


def _hbt(events: Any) -> Any:
    from hftbacktest import BacktestAsset, HashMapMarketDepthBacktest

    asset = (
        BacktestAsset()
        .data([events])
        .linear_asset(0.01)
        .constant_order_latency(2_000_000, 2_000_000)
        .power_prob_queue_model(2.0)
        .no_partial_fill_exchange()
        .trading_value_fee_model(0.0002, 0.0005)
        .tick_size(0.1)
        .lot_size(0.01)
    )
    return HashMapMarketDepthBacktest([asset])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    try:
        from numba import njit
    except ImportError:
        print("## hftbacktest\n\nskipped: hftbacktest is not installed (pip install "
              "'okxmm[hftbacktest]').\n")  # fmt: skip
        return 0
    from ops.backtest.data import frames_of, instrument_info
    from ops.backtest.engine import Backtest, BacktestConfig
    from strategies.params import StrategyParams

    logger.remove()
    rounds = 3 if args.quick else 7
    frames = list(frames_of([DATA]))
    span_s = (frames[-1].recv_ns - frames[0].recv_ns) / 1e9
    events = to_events(frames)
    compiled = njit(_quote_loop)
    compiled(_hbt(events))  # JIT compile once, not measured
    jit_s, py_s, ours_s = [], [], []
    params = StrategyParams(
        step_pct=0.00002, num_orders_per_side=2, single_size_as_multiple_of_lot_size=10,
        max_net_buy=5, max_net_sell=5, min_requote_interval_ms=50, orderbook_max_delay_sec=5,
    )  # fmt: skip
    cfg = BacktestConfig(INST, "sample_mm", params, instrument_info(INST, frames))
    for _ in range(rounds):
        hbt = _hbt(events)
        t0 = time.perf_counter()
        compiled(hbt)
        jit_s.append(time.perf_counter() - t0)
        hbt = _hbt(events)
        t0 = time.perf_counter()
        _quote_loop(hbt)
        py_s.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        Backtest(cfg).run(frames)
        ours_s.append(time.perf_counter() - t0)
    n = len(frames)
    rows = []
    for name, runs in (
        ("hftbacktest, numba strategy", jit_s),
        ("hftbacktest, Python strategy", py_s),
        ("okxmm backtest, sample_mm (live worker core)", ours_s),
    ):
        s = statistics.median(runs)
        rows.append(f"| {name} | {s * 1000:,.1f} | {span_s / s:,.0f} | {n / s:,.0f} |")
    print("## hftbacktest\n")
    print(
        f"{n} recorded frames ({len(events)} hftbacktest event rows, {span_s:.1f} s of "
        f"{INST}), median of {rounds} rounds, JIT compile excluded.\n"
    )
    print("| engine | wall ms | × real time | frames/s |\n|---|---|---|---|")
    print("\n".join(rows) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
