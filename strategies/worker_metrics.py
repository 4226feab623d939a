"""A strategy worker's Prometheus series, read at scrape time from what its status reads."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.metrics import Histogram, Snapshot, subscriber_series
from strategies.worker_state import WorkerState

if TYPE_CHECKING:
    from strategies.worker import Worker

__all__ = ["tick_to_order_histogram", "worker_series"]


def tick_to_order_histogram(worker: Worker) -> Histogram:
    """``okxmm_tick_to_order_seconds`` of this worker (fed by its tick-to-order window)."""
    return worker.actor.metrics.histogram(
        "okxmm_tick_to_order_seconds",
        "Market message that woke a decision to its first command sent.",
        strategy=worker.core.strategy.name,
        inst=worker.inst,
    )


def worker_series(worker: Worker, snap: Snapshot) -> None:
    """Prometheus series, read at scrape time from what ``status`` reads."""
    core, ctx = worker.core, worker.core.ctx
    lab = {"strategy": core.strategy.name, "inst": worker.inst}
    snap.state(
        "okxmm_strategy_state",
        "1 for the worker's state.",
        core.state.value,
        WorkerState,
        **lab,
    )
    counters = core.counters
    snap.counter("okxmm_strategy_decisions", "Decisions run.", counters["decisions"], **lab)
    snap.counter(
        "okxmm_strategy_commands",
        "Commands sent to the router.",
        core.out.counters["commands"],
        **lab,
    )
    snap.counter(
        "okxmm_strategy_send_failures",
        "Commands that could not be sent.",
        core.out.counters["send_failures"],
        **lab,
    )
    snap.counter(
        "okxmm_strategy_acks", "Commands the router acknowledged.", counters["acks"], **lab
    )
    snap.counter(
        "okxmm_strategy_refusal_trips",
        "Back-offs after repeated refusals.",
        counters["refusal_trips"],
        **lab,
    )
    snap.counter(
        "okxmm_strategy_held_for_book",
        "Decisions held because our latest fill was newer than the book.",
        counters["held_for_book"],
        **lab,
    )
    for (kind, code), n in core.reject_codes.items():
        snap.counter(
            "okxmm_strategy_rejects",
            "Commands refused, per kind and code.",
            n,
            kind=kind,
            code=code,
            **lab,
        )
    snap.counter("okxmm_strategy_fills", "Fills received.", ctx.fill_book.fills, **lab)
    snap.gauge("okxmm_strategy_open_orders", "Open orders.", len(ctx.orders.active()), **lab)
    snap.gauge(
        "okxmm_strategy_position", "Net position (contracts).", float(ctx.net_position()), **lab
    )
    pnl = ctx.fill_book.pnl(ctx.mid, ctx.contract_value())
    snap.gauge(
        "okxmm_strategy_pnl", "Trading P&L marked to mid, quote currency.", float(pnl), **lab
    )
    snap.gauge(
        "okxmm_strategy_welcomed",
        "1 while the router's session is open.",
        float(core.welcome is not None),
        **lab,
    )
    now = worker.clock.monotonic_ns()
    for bus, sub in worker.subs.items():
        subscriber_series(snap, bus, sub, now)
