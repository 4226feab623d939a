"""Live status view of ``okxmm up``: actors, books, workers, risk.

Reads only the bus: ``strat|`` (worker status relayed by the router), ``ord|`` (order lifecycle),
``risk|`` / ``riskstate|`` (risk), ``bookstate|`` / ``book|`` and heartbeats (md-feed). On a
terminal it draws a rich table; otherwise it logs a one-line summary every few seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from engine import topics
from engine.actor import Actor, StatusValue
from engine.bus.subscriber import Subscriber
from engine.messages import (
    BookStatus,
    BookTop,
    OrderEvent,
    OrderState,
    RiskSnapshot,
    RiskState,
    StrategyStatus,
)

__all__ = ["DashboardState", "run_dashboard"]

_OPEN = {
    OrderState.PENDING,
    OrderState.SENT,
    OrderState.ACK,
    OrderState.LIVE,
    OrderState.PARTIALLY_FILLED,
    OrderState.AMEND_PENDING,
    OrderState.CANCEL_PENDING,
}


@dataclass
class WorkerView:
    status: StrategyStatus | None = None
    open_orders: dict[str, OrderEvent] = field(default_factory=dict)
    fills: int = 0
    last_fill: str = ""


@dataclass
class DashboardState:
    """What the view shows; fed by bus messages (pure)."""

    books: dict[str, BookTop] = field(default_factory=dict)
    book_states: dict[str, str] = field(default_factory=dict)
    workers: dict[str, WorkerView] = field(default_factory=dict)
    risk: RiskSnapshot | None = None
    risk_states: dict[str, str] = field(default_factory=dict)

    def on_message(self, msg: object) -> None:
        if isinstance(msg, BookTop):
            self.books[msg.inst] = msg
            self.book_states[msg.inst] = msg.state.value
        elif isinstance(msg, BookStatus):
            self.book_states[msg.inst] = msg.state.value
        elif isinstance(msg, StrategyStatus):
            self.workers.setdefault(msg.strategy, WorkerView()).status = msg
        elif isinstance(msg, OrderEvent):
            view = self.workers.setdefault(msg.strategy, WorkerView())
            if msg.state in _OPEN:
                view.open_orders[msg.cl_ord_id] = msg
            else:
                view.open_orders.pop(msg.cl_ord_id, None)
            if msg.fill_sz:
                view.fills += 1
                view.last_fill = f"{msg.side.value} {msg.fill_sz}@{msg.fill_px}"
        elif isinstance(msg, RiskSnapshot):
            self.risk = msg
        elif isinstance(msg, RiskState):
            self.risk_states[f"{msg.scope}:{msg.key}"] = f"{msg.state.value} {msg.reason}".strip()

    def summary(self) -> str:
        parts = []
        for inst, book in sorted(self.books.items()):
            bid = book.bids[0][0] if book.bids else "-"
            ask = book.asks[0][0] if book.asks else "-"
            parts.append(f"{inst} {self.book_states.get(inst, '?')} {bid}/{ask}")
        for name, w in sorted(self.workers.items()):
            pos = w.status.net_position if w.status else Decimal(0)
            parts.append(f"{name}: open={len(w.open_orders)} fills={w.fills} pos={pos}")
        if self.risk is not None:
            parts.append(f"pnl={self.risk.pnl_in_usd_since_running:.2f}USD")
        return " | ".join(parts)


def _render(state: DashboardState, actors: dict[str, StatusValue]) -> Group:
    at = Table(title="actors", expand=True)
    at.add_column("actor")
    at.add_column("state")
    for name, text in actors.items():
        at.add_row(name, str(text))
    bt = Table(title="books", expand=True)
    for col in ("instrument", "state", "bid", "ask", "seqId"):
        bt.add_column(col)
    for inst, book in sorted(state.books.items()):
        bid = f"{book.bids[0][0]} x {book.bids[0][1]}" if book.bids else "-"
        ask = f"{book.asks[0][0]} x {book.asks[0][1]}" if book.asks else "-"
        bt.add_row(inst, state.book_states.get(inst, "?"), bid, ask, str(book.seq_id))
    wt = Table(title="workers", expand=True)
    for col in ("worker", "inst", "state", "quotes", "open", "fills", "position", "last fill"):
        wt.add_column(col)
    for name, w in sorted(state.workers.items()):
        st = w.status
        quotes = f"{len(st.bids)}b/{len(st.asks)}a" if st else "-"
        wt.add_row(
            name,
            st.inst if st else "-",
            (st.state + (" (quoting)" if st.quoting else "")) if st else "-",
            quotes,
            str(len(w.open_orders)),
            str(w.fills),
            str(st.net_position) if st else "-",
            w.last_fill,
        )
    rt = Table(title="risk", expand=True)
    rt.add_column("what")
    rt.add_column("value")
    if state.risk is not None:
        rt.add_row("P&L since start (USD)", f"{state.risk.pnl_in_usd_since_running:.4f}")
        rt.add_row(
            "asset value change (USD)", f"{state.risk.asset_value_change_in_usd_since_running:.4f}"
        )
        for inst, expo in sorted(state.risk.exposures_base.items()):
            rt.add_row(f"exposure {inst}", str(expo))
    for key, text in sorted(state.risk_states.items()):
        rt.add_row(key, text)
    return Group(at, bt, wt, rt)


async def run_dashboard(actor: Actor, actors: Callable[[], dict[str, StatusValue]]) -> None:
    """Subscribe to the bus and draw until cancelled."""
    bus = actor.cfg.bus
    state = DashboardState()
    subs = [
        Subscriber(
            actor.ctx, bus.connect_endpoint("md.pub"), prefixes=["book|", "bookstate|"],
            name="dash-md", clock=actor.clock,
        ),
        Subscriber(
            actor.ctx, bus.connect_endpoint("ord.pub"),
            snap_endpoint=bus.connect_endpoint("ord.snap"), prefixes=["strat|", "ord|"],
            name="dash-ord", clock=actor.clock,
        ),
        Subscriber(
            actor.ctx, bus.connect_endpoint("risk.pub"), prefixes=[topics.RISK, "riskstate|"],
            name="dash-risk", clock=actor.clock,
        ),
    ]

    async def pump(sub: Subscriber) -> None:
        await sub.start()
        while True:
            d = await sub.recv(1.0)
            if d is not None:
                state.on_message(d.env.msg)

    tasks = [asyncio.get_running_loop().create_task(pump(s)) for s in subs]
    try:
        if sys.stdout.isatty():
            console = Console()
            with Live(_render(state, actors()), console=console, refresh_per_second=4) as live:
                while True:
                    await asyncio.sleep(0.25)
                    live.update(_render(state, actors()))
        else:
            while True:
                await asyncio.sleep(5.0)
                actor.log.info("status", summary=state.summary())
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for sub in subs:
            await sub.close()
