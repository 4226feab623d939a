"""Rich tables of the status view: actors, books, workers, risk."""

from __future__ import annotations

from collections.abc import Mapping

from rich.console import Group
from rich.table import Table
from rich.text import Text

from engine.actor import StatusValue
from ops.dashboard.state import DashboardState, WorkerRow, fmt_decimal, fmt_ms, fmt_ratio

__all__ = ["render"]

_NS_PER_MS = 1_000_000
_GOOD, _WARN, _BAD = "green", "yellow", "bold red"
_MARGIN_STYLE = {"healthy": _GOOD, "warning": _WARN}  # danger and liquidation: _BAD


def _worker_style(w: WorkerRow) -> str:
    """Quoting is green; alive but not quoting (paused, pulled, halted) yellow; dead red."""
    if not w.alive:
        return _BAD
    return _GOOD if w.state.startswith("quoting") else _WARN


def render(
    state: DashboardState, children: Mapping[str, StatusValue], *, now_ns: int, mono_ns: int
) -> Group:
    """The tables: actors, books, workers, risk (with the margin, on a margin account)."""
    at = Table(title="actors", expand=True)
    for col in ("actor", "process", "pid", "restarts", "bus", "last heard", "lag", "max lag"):
        at.add_column(col)
    at.add_column("detail")
    for a in state.actor_rows(children, now_ns=now_ns, mono_ns=mono_ns):
        proc_style = _GOOD if a.process == "running" else (_WARN if a.process == "-" else _BAD)
        bus_style = {"up": _GOOD, "-": ""}.get(a.bus, _BAD)
        at.add_row(
            Text(a.name, style="" if a.alive else _BAD),
            Text(a.process, style=proc_style),
            str(a.pid or "-"),
            str(a.restarts),
            Text(a.bus, style=bus_style),
            fmt_ms(a.heard_ms),
            fmt_ms(a.lag_ms),
            fmt_ms(a.max_lag_ms),
            Text(a.detail),
        )

    bt = Table(title="books", expand=True)
    for col in ("instrument", "state", "bid", "ask", "seqId", "age"):
        bt.add_column(col)
    for inst, book in sorted(state.books.items()):
        bid = f"{book.bids[0][0]} x {book.bids[0][1]}" if book.bids else "-"
        ask = f"{book.asks[0][0]} x {book.asks[0][1]}" if book.asks else "-"
        book_state = state.book_states.get(inst, "?")
        age_ms = max(0.0, now_ns / _NS_PER_MS - book.ts_ms) if book.ts_ms else None
        bt.add_row(
            inst,
            Text(book_state, style=_GOOD if book_state == "VALID" else _BAD),
            bid,
            ask,
            str(book.seq_id),
            fmt_ms(age_ms),
        )

    wt = Table(title="workers", expand=True)
    cols = ("worker", "inst", "state", "quotes (bid / ask)", "live orders", "fills", "position")
    for col in (*cols, "volume", "P&L", "P&L USD (risk)", "last fill"):
        wt.add_column(col, no_wrap=col.startswith("quotes"))
    for w in state.worker_rows(children, now_ns=now_ns):
        wt.add_row(
            Text(w.name, style="" if w.alive else _BAD),
            w.inst,
            Text(w.state, style=_worker_style(w)),
            w.quotes,
            f"{w.live_orders} ({w.live_bids}b/{w.live_asks}a)",
            str(w.fills),
            fmt_decimal(w.position),
            fmt_decimal(w.volume),
            fmt_decimal(w.pnl, 4),
            fmt_decimal(w.pnl_usd, 4),
            Text(w.last_fill),
        )

    rt = Table(title="risk", expand=True)
    rt.add_column("what")
    rt.add_column("value")
    if state.risk is not None:
        r = state.risk
        rt.add_row("P&L since start (USD)", f"{r.pnl_in_usd_since_running:.4f}")
        rt.add_row(
            "realized / unrealized (USD)", f"{r.realized_pnl_usd:.4f} / {r.unrealized_pnl_usd:.4f}"
        )
        rt.add_row("asset value change (USD)", f"{r.asset_value_change_in_usd_since_running:.4f}")
        for inst, expo in sorted(r.exposures_base.items()):
            rt.add_row(f"exposure {inst}", str(expo))
    for key, text in sorted(state.risk_states.items()):
        rt.add_row(key, Text(text, style=_GOOD if text.startswith("ACTIVE") else _BAD))
    if state.margin is not None:
        m = state.margin
        style = _MARGIN_STYLE.get(m.status, _BAD)
        rt.add_row(
            "margin status", Text(m.status + (f" ({m.action})" if m.action else ""), style=style)
        )
        rt.add_row(
            "margin ratio (ours / venue's)",
            Text(f"{fmt_ratio(m.mgn_ratio)} / {fmt_ratio(m.venue_mgn_ratio)}", style=style),
        )
        rt.add_row("adj. equity / MMR / IMR (USD)", f"{m.adj_eq:.2f} / {m.mmr:.2f} / {m.imr:.2f}")
        if m.uly:
            liq = "-" if m.liq_px is None else f"{m.liq_px:.2f}"
            move = "" if m.liq_move_pct is None else f" ({m.liq_move_pct:+.1f}%)"
            rt.add_row(f"{m.uly} price / liquidation", f"{fmt_decimal(m.price)} / {liq}{move}")
        rt.add_row("margin reason", m.reason)
    return Group(at, bt, wt, rt)
