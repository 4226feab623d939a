"""What a backtest earned and how: metrics, ``summary.json``, fills and orders CSV.

P&L is in the settle currency, marked at mid: equity = cash + position × ctVal × mid, fees
included (OKX sign: negative = charged). Markouts (adverse selection) at 1 s / 10 s / 60 s: per
fill, (mid then − fill px) for a buy, (fill px − mid then) for a sell, in basis points of the
fill price, size-weighted — negative means the market moved against our fills. Quote uptime:
the share of samples with an order resting on each side. Sharpe per day: mean / stdev of daily
P&L (``None`` with fewer than two days). Numbers are rounded to fixed places and keys sorted,
so the same run writes the same bytes.
"""

from __future__ import annotations

import bisect
import csv
import json
import statistics
from decimal import Decimal
from pathlib import Path
from typing import Any

from ops.backtest.engine import Backtest

__all__ = ["summarize", "write_report"]

_DAY_NS = 86_400 * 10**9
_MARKOUTS_S = (1, 10, 60)


def _f(x: Decimal | float | None, places: int = 6) -> float | None:
    return None if x is None else round(float(x), places)


def summarize(bt: Backtest) -> dict[str, Any]:
    samples = bt.samples
    ts = [s["ts_ns"] for s in samples]
    mids = [s["mid"] for s in samples]
    equity = [s["equity"] for s in samples]
    start = bt.cfg.start_cash
    final_mid = bt.mid()
    final_eq = bt.equity(final_mid)
    peak, max_dd = start, Decimal(0)
    for e in equity:
        peak = max(peak, e)
        max_dd = max(max_dd, peak - e)
    placed = sum(o.sz for o in bt.orders.values() if o.state != "refused")
    filled = sum(f.sz for f in bt.fills)
    notional = sum(f.sz * bt.ct_val * f.px for f in bt.fills)
    positions = [abs(s["position"]) for s in samples]
    markouts: dict[str, float | None] = {}
    for h in _MARKOUTS_S:
        num = Decimal(0)
        den = Decimal(0)
        for f in bt.fills:
            i = bisect.bisect_left(ts, f.ts_ns + h * 10**9)
            if i >= len(ts) or mids[i] is None:
                continue
            sign = 1 if f.side == "buy" else -1
            num += sign * (mids[i] - f.px) / f.px * 10_000 * f.sz
            den += f.sz
        markouts[f"{h}s_bps"] = _f(num / den, 3) if den else None
    days: dict[int, Decimal] = {}
    for t, e in zip(ts, equity, strict=True):
        days[t // _DAY_NS] = e  # equity at each day's last sample
    daily = []
    prev = start
    for d in sorted(days):
        daily.append(days[d] - prev)
        prev = days[d]
    sharpe = None
    if len(daily) >= 2 and statistics.pstdev(daily) > 0:
        sharpe = _f(statistics.mean(daily) / statistics.pstdev(daily), 3)
    n = len(samples) or 1
    return {
        "inst": bt.cfg.inst,
        "strategy": bt.cfg.strategy,
        "events": bt.events,
        "span_s": _f((ts[-1] - ts[0]) / 1e9 if len(ts) > 1 else 0, 3),
        "pnl": _f(final_eq - start),
        "fees": _f(bt.fees),
        "max_drawdown": _f(max_dd),
        "fills": len(bt.fills),
        "maker_fills": sum(1 for f in bt.fills if f.maker),
        "volume": _f(filled),
        "notional": _f(notional, 2),
        "fill_ratio": _f(filled / placed, 4) if placed else None,
        "final_position": _f(bt.position),
        "inventory_mean_abs": _f(statistics.mean(positions), 4) if positions else None,
        "inventory_max_abs": _f(max(positions), 4) if positions else None,
        "markouts": markouts,
        "sharpe_per_day": sharpe,
        "quote_uptime_bid": _f(sum(s["bid_up"] for s in samples) / n, 4),
        "quote_uptime_ask": _f(sum(s["ask_up"] for s in samples) / n, 4),
        "book_valid_share": _f(sum(s["book_valid"] for s in samples) / n, 4),
        "orders": len(bt.orders),
        "refused": bt.refused,
        "rate_waits": bt.rate_waits,  # router batches held for the venue's rate limits
        "gaps": [
            {"at_ns": g.recv_ns, "reason": g.reason, "healed_ns": g.healed_ns}
            for r in bt.books.reports.values()
            for g in r.gaps
        ],
        # the risk actor's state changes (with --risk-config): when, scope, key, state, why
        "risk_changes": [
            {"at_ns": t, "scope": sc, "key": k, "state": st, "reason": why}
            for t, sc, k, st, why in bt.risk_changes
        ],
        "settings": {
            "queue": bt.cfg.queue,
            "rate_limits": bt.cfg.rate_limits,
            "maker_fee": str(bt.cfg.maker_fee),
            "taker_fee": str(bt.cfg.taker_fee),
            "md_latency_ms": bt.cfg.md_latency_ns / 1e6,
            "order_latency_ms": bt.cfg.order_latency_ns / 1e6,
            "response_latency_ms": bt.cfg.response_latency_ns / 1e6,
            "latency_samples": len(bt.cfg.latency_samples_ns),
            "latency_samples_median_ms": (
                statistics.median(bt.cfg.latency_samples_ns) / 1e6
                if bt.cfg.latency_samples_ns
                else None
            ),
            "md_latency_samples": len(bt.cfg.md_latency_samples_ns),
            "md_latency_samples_median_ms": (
                statistics.median(bt.cfg.md_latency_samples_ns) / 1e6
                if bt.cfg.md_latency_samples_ns
                else None
            ),
            "seed": bt.cfg.seed,
        },
    }


def write_report(bt: Backtest, out: Path) -> dict[str, Any]:
    """``summary.json``, ``fills.csv``, ``orders.csv`` in ``out``; returns the summary."""
    out.mkdir(parents=True, exist_ok=True)
    summary = summarize(bt)
    (out / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    with (out / "fills.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["ts_ns", "cl_ord_id", "side", "px", "sz", "maker", "fee"])
        for r in bt.fills:
            w.writerow([r.ts_ns, r.cl_ord_id, r.side, r.px, r.sz, int(r.maker), r.fee])
    with (out / "orders.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["cl_ord_id", "side", "px", "sz", "placed_ns", "state", "filled", "refused"])
        for o in bt.orders.values():
            w.writerow([o.cl_ord_id, o.side, o.px, o.sz, o.placed_ns, o.state, o.filled, o.refused])
    return summary
