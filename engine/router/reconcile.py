"""Venue vs journal → what to do. Pure.

Run on start (after the journal replay) and after every private-WS reconnect, with the venue's
``orders-pending`` and recent ``fills``:

- a pending order we own (journal or memory) → **adopt**: its state is taken from the venue;
- a pending order with our clOrdId prefix that decodes to a live strategy epoch but that we do
  not know (its journal line was lost) → **adopt** too, attributed by its clOrdId;
- a pending order with our prefix that we cannot attribute (unknown short id, fenced or older
  epoch) → **orphan**: cancel it;
- a pending order without our prefix → **foreign**: left alone (manual or another system);
- an order open in our books but absent from ``orders-pending`` → **query** it: it ended while we
  were not looking (filled, canceled, or never arrived);
- fills are only ever taken from the venue's fill list (never inferred), de-duplicated by
  ``(instId, tradeId)``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field

from engine.orders import clordid
from engine.router.events import VenueFill, VenueOrder

__all__ = ["ReconcilePlan", "plan_reconcile"]


@dataclass(slots=True)
class ReconcilePlan:
    adopt: list[VenueOrder] = field(default_factory=list)
    attribute: list[VenueOrder] = field(default_factory=list)
    orphans: list[VenueOrder] = field(default_factory=list)
    query: list[str] = field(default_factory=list)
    fills: list[VenueFill] = field(default_factory=list)
    foreign: int = 0


def plan_reconcile(
    pending: Sequence[VenueOrder],
    fills: Sequence[VenueFill],
    known: Collection[str],
    open_known: Collection[str],
    attributable: Callable[[str, int], bool],
    seen_trades: Collection[tuple[str, str]],
) -> ReconcilePlan:
    """``known``: every clOrdId we own; ``open_known``: those we think are open;
    ``attributable(short_id, epoch)``: True if that strategy epoch is alive."""
    out = ReconcilePlan()
    at_venue: set[str] = set()
    for d in pending:
        cid = d.cl_ord_id
        at_venue.add(cid)
        if cid and cid in known:
            out.adopt.append(d)
            continue
        parts = clordid.decode(cid)
        if parts is None:
            out.foreign += 1
        elif attributable(parts.short_id, parts.epoch):
            out.attribute.append(d)
        else:
            out.orphans.append(d)
    out.query = [cid for cid in open_known if cid not in at_venue]
    for f in fills:
        if f.cl_ord_id in known and (f.inst, f.trade_id) not in seen_trades:
            out.fills.append(f)
    return out
