"""Desired quotes vs live orders → cancel / amend / place, preferring amend (reference §3.3).

Per side, with P the desired quotes (ladder order) and C the worker's orders of that side sorted
by price (bids descending, asks ascending):

1. an order whose (price, remaining size rounded to the lot) equals a quote in P is kept, and
   that quote is removed from P (first occurrence) — the original's exact-match step;
2. with ``threshold_ticks``/``size_pct`` > 0, an order within that distance of a remaining quote
   is kept too, so the ladder does not churn on every tick (requote thresholds);
3. what is left is paired in order: extra quotes are placed, extra orders cancelled (from the far
   end), and each pair is amended — new price if it differs, new *total* size (filled + quote
   size) if the remaining size differs.

With thresholds 0 and every order acknowledged this is exactly the original's decision.
Differences, each tested by name (§10.1-13, §10.1-16):
* orders being cancelled are not matched, kept or amended: their quote is placed anew;
* unacknowledged orders and orders with an amend in flight are never amended: they satisfy their
  exact quote, and a pair that would amend them is deferred until they are acknowledged (no
  duplicate is placed meanwhile);
* cancels come first, then amends, then places (the original placed first: transient
  over-exposure);
* an "amend" that would change nothing is not sent (the original could emit one with both
  fields empty after a float/string mismatch).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from engine.messages import OrderState, Side
from engine.orders.fsm import AMENDABLE_STATES, TERMINAL_STATES
from strategies.base import Desired, Quote
from strategies.grid import round_to_step
from strategies.orders import WorkerOrder

__all__ = ["Actions", "AmendOp", "CancelOp", "PlaceOp", "diff_quotes"]


@dataclass(frozen=True, slots=True)
class PlaceOp:
    side: Side
    px: Decimal
    sz: Decimal


@dataclass(frozen=True, slots=True)
class AmendOp:
    cl_ord_id: str
    new_px: Decimal | None
    new_sz: Decimal | None  # new total size including the filled part (OKX newSz)


@dataclass(frozen=True, slots=True)
class CancelOp:
    cl_ord_id: str


@dataclass(frozen=True, slots=True)
class Actions:
    """What to send, in this order: cancels, amends, places."""

    cancels: tuple[CancelOp, ...] = ()
    amends: tuple[AmendOp, ...] = ()
    places: tuple[PlaceOp, ...] = ()
    deferred: int = 0  # pairs waiting for an acknowledgement

    @property
    def empty(self) -> bool:
        return not (self.cancels or self.amends or self.places)


def _remaining(order: WorkerOrder, lot: Decimal) -> Decimal:
    # the original: round_to_lot(float(size) − float(filled_size))
    return round_to_step(
        float(order.sz if order.target_sz is None else order.target_sz) - float(order.filled), lot
    )


def _side(
    quotes: Sequence[Quote],
    orders: list[WorkerOrder],
    descending: bool,
    lot: Decimal,
    tick: Decimal,
    threshold_ticks: int,
    size_pct: float,
    cancels: list[CancelOp],
    amends: list[AmendOp],
    places: list[PlaceOp],
) -> int:
    live = sorted(orders, key=lambda o: o.quote_px, reverse=descending)
    rest: list[WorkerOrder] = []
    avail = Counter((q.px, q.sz) for q in quotes)
    kept: Counter[tuple[Decimal, Decimal]] = Counter()
    for order in live:  # 1. exact matches stay untouched
        key = (order.quote_px, _remaining(order, lot))
        if avail[key] > 0:
            avail[key] -= 1
            kept[key] += 1
        else:
            rest.append(order)
    pending: list[Quote] = []
    for q in quotes:  # drop the first occurrence of each kept quote, keep ladder order
        if kept[(q.px, q.sz)] > 0:
            kept[(q.px, q.sz)] -= 1
        else:
            pending.append(q)
    if threshold_ticks > 0 or size_pct > 0:  # 2. close enough stays too
        max_px = tick * threshold_ticks
        unmatched = []
        for order in rest:
            rem = _remaining(order, lot)
            near = next(
                (
                    q
                    for q in pending
                    if abs(order.quote_px - q.px) <= max_px
                    and abs(rem - q.sz) <= q.sz * Decimal(repr(size_pct))
                ),
                None,
            )
            if near is None:
                unmatched.append(order)
            else:
                pending.remove(near)
        rest = unmatched
    deferred = 0
    for k in range(max(len(pending), len(rest))):  # 3. pair the rest in order
        if k >= len(rest):
            q = pending[k]
            places.append(PlaceOp(q.side, q.px, q.sz))
        elif k >= len(pending):
            cancels.append(CancelOp(rest[k].cl_ord_id))
        elif rest[k].state not in AMENDABLE_STATES:
            deferred += 1  # unacknowledged or amend in flight: wait, never amend it
        else:
            order, q = rest[k], pending[k]
            new_px = q.px if q.px != order.px else None
            new_sz = order.filled + q.sz if q.sz != order.sz - order.filled else None
            if new_px is not None or new_sz is not None:
                amends.append(AmendOp(order.cl_ord_id, new_px, new_sz))
    return deferred


def diff_quotes(
    desired: Desired,
    orders: Iterable[WorkerOrder],
    *,
    lot: Decimal,
    tick: Decimal,
    threshold_ticks: int = 0,
    size_pct: float = 0.0,
) -> Actions:
    """The actions that turn ``orders`` into ``desired``."""
    cancels: list[CancelOp] = []
    amends: list[AmendOp] = []
    places: list[PlaceOp] = []
    usable = [
        o
        for o in orders
        if o.state not in TERMINAL_STATES and o.state is not OrderState.CANCEL_PENDING
    ]
    if desired.halt:
        return Actions(cancels=tuple(CancelOp(o.cl_ord_id) for o in usable))
    deferred = 0
    for quotes, side, descending in (
        (desired.bids, Side.BUY, True),
        (desired.asks, Side.SELL, False),
    ):
        deferred += _side(
            quotes,
            [o for o in usable if o.side is side],
            descending,
            lot,
            tick,
            threshold_ticks,
            size_pct,
            cancels,
            amends,
            places,
        )
    return Actions(tuple(cancels), tuple(amends), tuple(places), deferred)
