"""The report a person reads at a glance: four PNG plots and one self-contained HTML page.

Equity and P&L over time; inventory; our best quotes against the mid; markouts at 1/10/60 s.
matplotlib draws off-screen (Agg) and is imported only here, so no actor pays for it.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

from ops.backtest.engine import Backtest

__all__ = ["write_plots"]


def write_plots(bt: Backtest, summary: dict[str, Any], out: Path) -> list[Path]:
    """PNG files and ``report.html`` in ``out``; returns the PNG paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = bt.samples
    t0 = s[0]["ts_ns"] if s else 0
    t = [(x["ts_ns"] - t0) / 1e9 for x in s]
    start = float(bt.cfg.start_cash)
    pngs: list[Path] = []

    def save(fig: Any, name: str) -> None:
        path = out / name
        fig.tight_layout()
        fig.savefig(path, dpi=90, metadata={"Software": None})  # no version stamp: same bytes
        plt.close(fig)
        pngs.append(path)

    fig, ax = plt.subplots(figsize=(8, 3))
    ax.plot(t, [float(x["equity"]) - start for x in s], label="P&L at mid, after fees")
    ax.set_xlabel("s")
    ax.set_ylabel(bt.cfg.info.settle_ccy or "quote")
    ax.legend(loc="best")
    save(fig, "pnl.png")

    fig, ax = plt.subplots(figsize=(8, 2.5))
    ax.step(t, [float(x["position"]) for x in s], where="post")
    ax.set_ylabel("position (contracts)")
    ax.set_xlabel("s")
    save(fig, "inventory.png")

    fig, ax = plt.subplots(figsize=(8, 3))

    def series(key: str) -> list[float]:
        nan = float("nan")  # a gap in the line where there was no price
        return [float(x[key]) if x[key] is not None else nan for x in s]

    ax.plot(t, series("mid"), label="mid", lw=1)
    ax.plot(t, series("our_bid"), label="our best bid", lw=0.8)
    ax.plot(t, series("our_ask"), label="our best ask", lw=0.8)
    ax.legend(loc="best")
    ax.set_xlabel("s")
    save(fig, "quotes.png")

    fig, ax = plt.subplots(figsize=(5, 2.5))
    marks = summary["markouts"]
    keys = list(marks)
    ax.bar(keys, [marks[k] or 0.0 for k in keys])
    ax.axhline(0, color="black", lw=0.5)
    ax.set_ylabel("bps (negative: adverse)")
    save(fig, "markouts.png")

    rows = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(json.dumps(v))}</td></tr>"
        for k, v in sorted(summary.items())
        if k != "gaps"
    )
    imgs = "".join(
        f'<p><img alt="{p.stem}" src="data:image/png;base64,'
        f'{base64.b64encode(p.read_bytes()).decode()}"></p>'
        for p in pngs
    )
    title = f"okxmm backtest: {summary['strategy']} on {summary['inst']}"
    (out / "report.html").write_text(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif;max-width:900px;margin:auto}"
        "th{text-align:left;padding-right:1em}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><table>{rows}</table>{imgs}"
        f"<p>gaps in the data: {len(summary['gaps'])}</p></body></html>\n"
    )
    return pngs
