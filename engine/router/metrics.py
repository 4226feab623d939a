"""The router's Prometheus series, read at scrape time from the counters its status reads."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.metrics import ActorMetrics, Histogram, Snapshot, subscriber_series

if TYPE_CHECKING:
    from engine.router.actor import Router

__all__ = ["ack_histograms", "router_series"]


def ack_histograms(metrics: ActorMetrics) -> dict[str, Histogram]:
    """Per operation, ``okxmm_router_ack_latency_seconds``: a venue request to its answer."""
    return {
        op: metrics.histogram(
            "okxmm_router_ack_latency_seconds",
            "Venue request sent to its answer, per operation.",
            op=op,
        )
        for op in ("place", "amend", "cancel")
    }


def router_series(router: Router, snap: Snapshot) -> None:
    """Prometheus series, read from the counters ``status`` reads, at scrape time."""
    c = router.core
    for op, n in router.sent.items():
        snap.counter("okxmm_orders_sent", "Venue requests sent, per operation.", n, op=op)
    for (op, outcome, code), n in router.answers.items():
        snap.counter(
            "okxmm_orders_answered",
            "Venue answers per operation, outcome (ok, refused, ...) and OKX code.",
            n,
            op=op,
            outcome=outcome,
            code=code,
        )
    for op, n in c.batcher.waits.items():
        snap.counter("okxmm_rate_limit_waits", "Batches held for rate limits.", n, op=op)
    counters = c.counters
    snap.counter("okxmm_router_commands", "Commands from strategies.", counters["commands"])
    snap.counter("okxmm_router_rejects", "Commands refused.", counters["rejects"])
    snap.counter("okxmm_fenced_strategies", "Strategy sessions fenced.", counters["fenced"])
    snap.counter(
        "okxmm_orphans_cancelled",
        "Orders of dead strategies cancelled.",
        counters["orphans_cancelled"],
    )
    snap.counter("okxmm_router_send_errors", "Venue requests failed.", router.send_errors)
    snap.gauge("okxmm_router_open_orders", "Open orders.", len(c.own.open_orders()))
    snap.gauge("okxmm_router_queued", "Requests waiting for rate limits.", c.batcher.queued())
    live = sum(1 for s in c.sessions.values() if not s.fenced)
    snap.gauge("okxmm_router_strategies", "Strategies with a live session.", live)
    snap.gauge(
        "okxmm_router_ws_open", "1 while the private WS is open.", float(router.venue.is_open)
    )
    snap.gauge("okxmm_router_risk_alive", "1 while risk is heard.", float(c.risk_alive))
    now = router.clock.monotonic_ns()
    subscriber_series(snap, "md", router.md, now)
    subscriber_series(snap, "risk", router.risk, now)
