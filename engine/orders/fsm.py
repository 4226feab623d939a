"""The StrategyOrder lifecycle: one transition table shared by the router and the workers.

Rules
-----
* ``TRANSITIONS`` is the only place a state is decided. ``next_state`` looks a pair up and raises
  :class:`~engine.errors.IllegalTransitionError` for a pair that has no row; the caller logs it and
  resolves the order by a query (a venue order query, or the router's ``ord|`` snapshot), it
  never ignores it.
* Triggers say *what happened*, whoever observed it: the router maps venue responses and pushes,
  a worker maps router replies and ``OrderEvent``s. :func:`trigger_for_push` maps one OKX order
  push (``state``, ``accFillSz`` vs ``sz``, ``amendResult``) to a trigger.
* Happy path: PENDING -SUBMIT-> SENT -VENUE_ACCEPT-> ACK -LIVE-> LIVE -PARTIAL_FILL->
  PARTIALLY_FILLED -FILL-> FILLED; cancels and amends go through CANCEL_PENDING / AMEND_PENDING.
* FILLED, CANCELED and REJECTED are terminal. They only absorb late duplicates and late replies
  of requests that lost a race (rows below); the only exit is a fill reported after a cancel
  confirmation, because fills are facts.
* Unacknowledged (PENDING, SENT) and cancelling (CANCEL_PENDING) orders can never be amended: the
  original amended and "kept" such orders (reference §10.1-13).
* One amend in flight per order: AMEND_PENDING + AMEND_REQUEST is illegal.
* A pending request resolves back to LIVE (AMEND_DONE, AMEND_FAILED, CANCEL_FAILED). Fills seen
  meanwhile are not lost: :func:`advance` applies PARTIAL_FILL right after when the order has
  filled quantity, so the order lands in PARTIALLY_FILLED through a table row.
* Repeated pushes are idempotent (LIVE + LIVE, PARTIALLY_FILLED + PARTIAL_FILL, ...).
"""

from __future__ import annotations

import argparse
from decimal import Decimal
from enum import StrEnum
from pathlib import Path

from engine.errors import IllegalTransitionError, RemoteProtocolError
from engine.messages import OrderState

__all__ = [
    "ACTIVE_STATES",
    "AMENDABLE_STATES",
    "TERMINAL_STATES",
    "TRANSITIONS",
    "UNACKNOWLEDGED_STATES",
    "OrderTrigger",
    "advance",
    "is_terminal",
    "mermaid",
    "next_state",
    "render_doc",
    "trigger_for_push",
    "write_diagram",
]

S = OrderState


class OrderTrigger(StrEnum):
    """What happened to an order."""

    SUBMIT = "SUBMIT"  # the place left us (worker: NewOrder sent; router: sent to the venue)
    VENUE_ACCEPT = "VENUE_ACCEPT"  # place accepted (venue sCode 0 / router Ack)
    VENUE_REJECT = "VENUE_REJECT"  # place refused (pre-trade check or venue sCode)
    LIVE = "LIVE"  # push: resting, nothing filled
    PARTIAL_FILL = "PARTIAL_FILL"  # push: 0 < accFillSz < sz
    FILL = "FILL"  # push: fully filled
    AMEND_REQUEST = "AMEND_REQUEST"  # we asked to amend
    AMEND_DONE = "AMEND_DONE"  # the amend took effect
    AMEND_FAILED = "AMEND_FAILED"  # the amend was refused; the order is unchanged
    CANCEL_REQUEST = "CANCEL_REQUEST"  # we asked to cancel
    CANCEL_FAILED = "CANCEL_FAILED"  # the cancel was refused (usually: already filled/gone)
    CANCELED = "CANCELED"  # push: canceled (by us, the router, or the venue)
    EXPIRED = "EXPIRED"  # push: the venue ended it on its own (mmp_canceled, IOC/FOK remainder)
    NOT_FOUND = "NOT_FOUND"  # a query shows the venue has no such order


T = OrderTrigger

TRANSITIONS: dict[tuple[OrderState, OrderTrigger], OrderState] = {
    # --- PENDING: created, not yet handed on
    (S.PENDING, T.SUBMIT): S.SENT,
    (S.PENDING, T.VENUE_REJECT): S.REJECTED,  # refused before sending (pre-trade, fenced)
    (S.PENDING, T.CANCEL_REQUEST): S.CANCELED,  # withdrawn before it was sent: nothing to cancel
    (S.PENDING, T.NOT_FOUND): S.REJECTED,
    # --- SENT: waiting for the place response
    (S.SENT, T.VENUE_ACCEPT): S.ACK,
    (S.SENT, T.VENUE_REJECT): S.REJECTED,
    (S.SENT, T.LIVE): S.LIVE,  # race: the live push beats the place response
    (S.SENT, T.PARTIAL_FILL): S.PARTIALLY_FILLED,  # race: a fill before the ack
    (S.SENT, T.FILL): S.FILLED,  # race: filled in full before the ack
    (S.SENT, T.CANCELED): S.CANCELED,  # race: canceled (post-only cross, cancel-all) before ack
    (S.SENT, T.EXPIRED): S.CANCELED,
    (S.SENT, T.CANCEL_REQUEST): S.CANCEL_PENDING,  # cancel by clOrdId needs no ack first
    (S.SENT, T.NOT_FOUND): S.REJECTED,  # place response lost and the venue never saw it
    # --- ACK: accepted, no push yet
    (S.ACK, T.VENUE_ACCEPT): S.ACK,  # duplicate response (idempotent retry by clOrdId)
    (S.ACK, T.LIVE): S.LIVE,
    (S.ACK, T.PARTIAL_FILL): S.PARTIALLY_FILLED,
    (S.ACK, T.FILL): S.FILLED,
    (S.ACK, T.CANCELED): S.CANCELED,
    (S.ACK, T.EXPIRED): S.CANCELED,
    (S.ACK, T.AMEND_REQUEST): S.AMEND_PENDING,
    (S.ACK, T.CANCEL_REQUEST): S.CANCEL_PENDING,
    (S.ACK, T.NOT_FOUND): S.CANCELED,
    # --- LIVE
    (S.LIVE, T.LIVE): S.LIVE,  # repeated push
    (S.LIVE, T.VENUE_ACCEPT): S.LIVE,  # race: the place response arrives after the live push
    (S.LIVE, T.PARTIAL_FILL): S.PARTIALLY_FILLED,
    (S.LIVE, T.FILL): S.FILLED,
    (S.LIVE, T.CANCELED): S.CANCELED,  # canceled without our request (router cancel-all, venue)
    (S.LIVE, T.EXPIRED): S.CANCELED,
    (S.LIVE, T.AMEND_REQUEST): S.AMEND_PENDING,
    (S.LIVE, T.CANCEL_REQUEST): S.CANCEL_PENDING,
    (S.LIVE, T.AMEND_DONE): S.LIVE,  # the amend push and the amend response both confirm it
    (S.LIVE, T.AMEND_FAILED): S.LIVE,  # likewise for a failure
    (S.LIVE, T.CANCEL_FAILED): S.LIVE,  # late failure of a duplicate cancel (cancel-all)
    (S.LIVE, T.NOT_FOUND): S.CANCELED,
    # --- PARTIALLY_FILLED
    (S.PARTIALLY_FILLED, T.PARTIAL_FILL): S.PARTIALLY_FILLED,
    (S.PARTIALLY_FILLED, T.LIVE): S.PARTIALLY_FILLED,  # stale push: fills never un-happen
    (S.PARTIALLY_FILLED, T.VENUE_ACCEPT): S.PARTIALLY_FILLED,  # late response after early fill
    (S.PARTIALLY_FILLED, T.FILL): S.FILLED,
    (S.PARTIALLY_FILLED, T.CANCELED): S.CANCELED,
    (S.PARTIALLY_FILLED, T.EXPIRED): S.CANCELED,
    (S.PARTIALLY_FILLED, T.AMEND_REQUEST): S.AMEND_PENDING,
    (S.PARTIALLY_FILLED, T.CANCEL_REQUEST): S.CANCEL_PENDING,
    (S.PARTIALLY_FILLED, T.AMEND_DONE): S.PARTIALLY_FILLED,  # second confirmation of an amend
    (S.PARTIALLY_FILLED, T.AMEND_FAILED): S.PARTIALLY_FILLED,
    (S.PARTIALLY_FILLED, T.CANCEL_FAILED): S.PARTIALLY_FILLED,  # duplicate cancel's failure
    (S.PARTIALLY_FILLED, T.NOT_FOUND): S.CANCELED,
    # --- AMEND_PENDING
    (S.AMEND_PENDING, T.AMEND_DONE): S.LIVE,  # advance() re-applies fills seen meanwhile
    (S.AMEND_PENDING, T.AMEND_FAILED): S.LIVE,
    (S.AMEND_PENDING, T.LIVE): S.AMEND_PENDING,  # a push without the amend's outcome
    (S.AMEND_PENDING, T.VENUE_ACCEPT): S.AMEND_PENDING,  # duplicate place response
    (S.AMEND_PENDING, T.PARTIAL_FILL): S.AMEND_PENDING,  # race: amend vs partial fill
    (S.AMEND_PENDING, T.FILL): S.FILLED,  # race: amend vs fill; the fill wins, the amend fails
    (S.AMEND_PENDING, T.CANCELED): S.CANCELED,
    (S.AMEND_PENDING, T.EXPIRED): S.CANCELED,
    (S.AMEND_PENDING, T.CANCEL_REQUEST): S.CANCEL_PENDING,  # a cancel supersedes the amend
    (S.AMEND_PENDING, T.CANCEL_FAILED): S.AMEND_PENDING,  # duplicate cancel's failure
    (S.AMEND_PENDING, T.NOT_FOUND): S.CANCELED,
    # --- CANCEL_PENDING
    (S.CANCEL_PENDING, T.CANCELED): S.CANCELED,
    (S.CANCEL_PENDING, T.EXPIRED): S.CANCELED,
    (S.CANCEL_PENDING, T.CANCEL_FAILED): S.LIVE,  # advance() re-applies fills seen meanwhile
    (S.CANCEL_PENDING, T.CANCEL_REQUEST): S.CANCEL_PENDING,  # repeated cancel (cancel-all)
    (S.CANCEL_PENDING, T.LIVE): S.CANCEL_PENDING,  # race: a live push after cancel-requested
    (S.CANCEL_PENDING, T.VENUE_ACCEPT): S.CANCEL_PENDING,  # cancel sent before the place ack
    (S.CANCEL_PENDING, T.VENUE_REJECT): S.REJECTED,  # ... and the place was refused after all
    (S.CANCEL_PENDING, T.PARTIAL_FILL): S.CANCEL_PENDING,  # race: partial fill vs cancel
    (S.CANCEL_PENDING, T.FILL): S.FILLED,  # race: a fill beats the cancel; the cancel fails
    (S.CANCEL_PENDING, T.AMEND_DONE): S.CANCEL_PENDING,  # outcome of a superseded amend
    (S.CANCEL_PENDING, T.AMEND_FAILED): S.CANCEL_PENDING,
    (S.CANCEL_PENDING, T.NOT_FOUND): S.CANCELED,
    # --- terminal: late duplicates and losers of races
    (S.FILLED, T.FILL): S.FILLED,
    (S.FILLED, T.VENUE_ACCEPT): S.FILLED,  # race: filled before the place response arrived
    (S.FILLED, T.AMEND_FAILED): S.FILLED,  # race: the amend lost to the fill
    (S.FILLED, T.AMEND_DONE): S.FILLED,  # amended, then filled before the response arrived
    (S.FILLED, T.CANCEL_FAILED): S.FILLED,  # race: the cancel lost to the fill
    (S.CANCELED, T.CANCELED): S.CANCELED,
    (S.CANCELED, T.EXPIRED): S.CANCELED,
    (S.CANCELED, T.VENUE_ACCEPT): S.CANCELED,  # race: canceled before the place response
    (S.CANCELED, T.AMEND_FAILED): S.CANCELED,  # race: the amend lost to a cancel
    (S.CANCELED, T.AMEND_DONE): S.CANCELED,  # amended, then canceled before the response
    (S.CANCELED, T.CANCEL_FAILED): S.CANCELED,  # our cancel lost to another (cancel-all)
    (S.CANCELED, T.PARTIAL_FILL): S.CANCELED,  # race: a partial fill reported after the cancel
    (S.CANCELED, T.FILL): S.FILLED,  # race: the match beat the cancel; fills are facts
    (S.REJECTED, T.VENUE_REJECT): S.REJECTED,  # duplicate response
    (S.REJECTED, T.CANCEL_FAILED): S.REJECTED,  # cancel sent before the place was refused
}

TERMINAL_STATES: frozenset[OrderState] = frozenset({S.FILLED, S.CANCELED, S.REJECTED})
ACTIVE_STATES: frozenset[OrderState] = frozenset(set(S) - TERMINAL_STATES)
UNACKNOWLEDGED_STATES: frozenset[OrderState] = frozenset({S.PENDING, S.SENT})
AMENDABLE_STATES: frozenset[OrderState] = frozenset(
    s for (s, t) in TRANSITIONS if t is T.AMEND_REQUEST
)

_MACHINE = "StrategyOrder"


def next_state(state: OrderState, trigger: OrderTrigger) -> OrderState:
    """The state after ``trigger``; raises IllegalTransitionError when the table has no row."""
    try:
        return TRANSITIONS[(state, trigger)]
    except KeyError:
        raise IllegalTransitionError(_MACHINE, state.value, trigger.value) from None


def advance(state: OrderState, trigger: OrderTrigger, *, filled: Decimal) -> OrderState:
    """``next_state``, then PARTIAL_FILL if a resolved request lands in LIVE with fills recorded.

    ``filled`` is the order's accumulated fill size known to the caller (max accFillSz seen)."""
    new = next_state(state, trigger)
    if new is S.LIVE and filled > 0:
        new = next_state(new, T.PARTIAL_FILL)
    return new


def is_terminal(state: OrderState) -> bool:
    return state in TERMINAL_STATES


def trigger_for_push(
    state: str, acc_fill_sz: Decimal, sz: Decimal, amend_result: str = ""
) -> OrderTrigger:
    """Map one OKX order push to a trigger.

    ``state`` is OKX's (live, partially_filled, filled, canceled, mmp_canceled); ``amend_result``
    OKX's ``amendResult`` ("0" amended, "-1" failed, "1" failed and canceled, "" none).
    Raises RemoteProtocolError for an unknown state."""
    if state in ("canceled", "mmp_canceled"):
        if sz > 0 and acc_fill_sz >= sz:
            return T.FILL  # defensive: a fully filled order is filled, whatever the label
        return T.CANCELED if state == "canceled" else T.EXPIRED
    if state == "filled":
        return T.FILL
    if state not in ("live", "partially_filled"):
        raise RemoteProtocolError(f"unknown OKX order state {state!r}")
    if amend_result == "0":
        return T.AMEND_DONE
    if amend_result in ("-1", "1"):
        return T.AMEND_FAILED
    if acc_fill_sz <= 0:
        return T.LIVE
    if acc_fill_sz >= sz:
        return T.FILL
    return T.PARTIAL_FILL


def mermaid() -> str:
    """The table as a mermaid state diagram (one edge per row, labels merged per edge)."""
    edges: dict[tuple[OrderState, OrderState], list[str]] = {}
    for (src, trig), dst in TRANSITIONS.items():
        edges.setdefault((src, dst), []).append(trig.value)
    lines = ["stateDiagram-v2", f"    [*] --> {S.PENDING.value}"]
    for (src, dst), trigs in edges.items():
        lines.append(f"    {src.value} --> {dst.value}: {', '.join(trigs)}")
    lines.extend(f"    {s.value} --> [*]" for s in S if s in TERMINAL_STATES)
    return "\n".join(lines) + "\n"


def render_doc() -> str:
    """The whole ``docs/order-fsm.md`` page."""
    doc = __doc__ or ""
    rules = doc.split("-----\n", 1)[-1]
    return (
        "# StrategyOrder lifecycle\n\n"
        "Generated from `engine/orders/fsm.py` (`python -m engine.orders.fsm`); do not edit.\n\n"
        "## Rules\n\n"
        f"{rules.strip()}\n\n"
        "```mermaid\n"
        f"{mermaid()}"
        "```\n"
    )


def write_diagram(path: Path) -> None:
    """Write the generated page to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_doc(), encoding="utf-8")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="write the StrategyOrder state diagram")
    parser.add_argument("--out", default="docs/order-fsm.md")
    write_diagram(Path(parser.parse_args().out))
