"""Live status view of ``okxmm up``: actors, books, workers, risk.

Reads only the bus: heartbeats (``hb|``) of every publisher (md-feed, private-gw, router, risk)
for liveness and lag, ``strat|`` (worker status relayed by the router), ``ord|`` (order
lifecycle), ``risk|`` / ``riskstate|`` (risk), ``bookstate|`` / ``book|`` (md-feed) and
``stream|`` (private-gw), ``margin|`` (the margin actor, on a margin account), plus the
supervisor's view of its child processes. On a terminal it draws rich tables; otherwise it logs
a one-line summary every few seconds.

``state`` is the pure core (deliveries and times in, rows out), ``render`` the rich tables,
``feed`` the subscribers and the view loop.
"""

from __future__ import annotations

from ops.dashboard.feed import DashboardFeed, run_dashboard
from ops.dashboard.render import render
from ops.dashboard.state import (
    PUBLISHERS,
    ActorRow,
    ChildStatus,
    DashboardState,
    WorkerRow,
    parse_child,
)

__all__ = [
    "PUBLISHERS",
    "ActorRow",
    "ChildStatus",
    "DashboardFeed",
    "DashboardState",
    "WorkerRow",
    "parse_child",
    "render",
    "run_dashboard",
]
