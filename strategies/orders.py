"""The worker's own orders: one record per clOrdId, every change through ``engine.orders.fsm``.

Sources of change: our requests (place/amend/cancel), the router's replies (``Reject`` for a
command) and the router's ``OrderEvent``s, which carry the router's view of the order (its own
FSM state, px, sz, accFillSz). The router is the source of truth: an event's px/sz/fills are
copied in (the original kept optimistic amend values forever, §10.1-14), and when our table has
no row for what the router reports, the transition is logged and the router's state adopted —
the router's event *is* the answer to the query the FSM rules ask for.

Fills are counted from accFillSz deltas (never per-push ``fillSz``: §10.2-9), once per order.
Pure: no I/O, the caller passes ``now_ns``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from loguru import logger

from engine.errors import IllegalTransitionError
from engine.messages import OrderEvent, OrderState, Side
from engine.orders.fsm import (
    TERMINAL_STATES,
    UNACKNOWLEDGED_STATES,
    OrderTrigger,
    advance,
)

__all__ = ["FillDelta", "OrderTable", "WorkerOrder"]

S = OrderState
T = OrderTrigger
ZERO = Decimal(0)


@dataclass(slots=True)
class WorkerOrder:
    """One order of this worker."""

    cl_ord_id: str
    side: Side
    px: Decimal
    sz: Decimal  # total size including the filled part (OKX ``sz``)
    state: OrderState = S.PENDING
    filled: Decimal = ZERO  # accFillSz
    avg_px: Decimal | None = None
    ord_id: str = ""
    target_px: Decimal | None = None  # amend in flight: where it is going
    target_sz: Decimal | None = None
    created_ns: int = 0
    changed_ns: int = 0
    requests: int = 0  # cancels sent while CANCEL_PENDING (re-sent on timeout)
    illegal: int = 0
    pos_side: str = ""  # as placed: net, long, short ("" for SPOT/MARGIN)

    @property
    def remaining(self) -> Decimal:
        return self.sz - self.filled

    @property
    def quote_px(self) -> Decimal:
        """The price the order will have once a pending amend lands."""
        return self.target_px if self.target_px is not None else self.px

    @property
    def quote_remaining(self) -> Decimal:
        sz = self.target_sz if self.target_sz is not None else self.sz
        return sz - self.filled


@dataclass(frozen=True, slots=True)
class FillDelta:
    """New fill quantity on one order, from an accFillSz increase."""

    cl_ord_id: str
    side: Side
    qty: Decimal
    px: Decimal  # best price estimate of this delta (fill px, else avg px, else order px)
    fee: Decimal | None = None


@dataclass
class OrderTable:
    """Every order of the worker by clOrdId; terminal ones are dropped after ``keep``.

    Bounded by the prune window: ``orders`` holds the open orders plus those that ended in
    the last ``keep_ns``. Two indexes keep every step's reads off the ended ones (a busy
    worker ends hundreds of orders in a window, and each decision reads the open ones several
    times): ``_open`` (not terminal) and ``_ended`` (clOrdIds in the order they ended, which
    is also their ``changed_ns`` order, so pruning pops from the front)."""

    orders: dict[str, WorkerOrder] = field(default_factory=dict)
    illegal_transitions: int = 0
    rejects: int = 0
    _open: dict[str, WorkerOrder] = field(default_factory=dict)
    _ended: deque[str] = field(default_factory=deque)

    def __iter__(self) -> Iterator[WorkerOrder]:
        return iter(self.orders.values())

    def __len__(self) -> int:
        return len(self.orders)

    def get(self, cl_ord_id: str) -> WorkerOrder | None:
        return self.orders.get(cl_ord_id)

    def active(self) -> list[WorkerOrder]:
        """The orders not in a terminal state."""
        out = [o for o in self._open.values() if o.state not in TERMINAL_STATES]
        if len(out) != len(self._open):  # one set from outside _set_state (a test's harness)
            for o in [o for o in self._open.values() if o.state in TERMINAL_STATES]:
                self._ended_now(o)
        return out

    def _ended_now(self, order: WorkerOrder) -> None:
        if self._open.pop(order.cl_ord_id, None) is not None:
            self._ended.append(order.cl_ord_id)

    # ----------------------------------------------------------------------------- requests
    def add(
        self,
        cl_ord_id: str,
        side: Side,
        px: Decimal,
        sz: Decimal,
        now_ns: int,
        pos_side: str = "",
    ) -> WorkerOrder:
        order = WorkerOrder(
            cl_ord_id, side, px, sz, created_ns=now_ns, changed_ns=now_ns, pos_side=pos_side
        )
        self.orders[cl_ord_id] = order
        self._open[cl_ord_id] = order
        return order

    def apply(self, cl_ord_id: str, trigger: OrderTrigger, now_ns: int) -> WorkerOrder | None:
        """Apply a trigger we caused or observed; illegal pairs are logged and raised."""
        order = self.orders.get(cl_ord_id)
        if order is None:
            return None
        new = advance(order.state, trigger, filled=order.filled)
        self._set_state(order, new, now_ns)
        return order

    def request_amend(
        self, cl_ord_id: str, new_px: Decimal | None, new_sz: Decimal | None, now_ns: int
    ) -> None:
        order = self.orders[cl_ord_id]
        self._set_state(order, advance(order.state, T.AMEND_REQUEST, filled=order.filled), now_ns)
        order.target_px, order.target_sz = new_px, new_sz

    def _set_state(self, order: WorkerOrder, new: OrderState, now_ns: int) -> None:
        if new is not order.state:
            order.changed_ns = now_ns
        if new is not S.AMEND_PENDING:
            order.target_px = order.target_sz = None
        if new is not S.CANCEL_PENDING:
            order.requests = 0
        order.state = new
        if new in TERMINAL_STATES:
            self._ended_now(order)
        elif order.cl_ord_id not in self._open and order.cl_ord_id in self.orders:
            self._open[order.cl_ord_id] = order  # not final after all (a resolved mix-up)

    def on_command_failed(self, cl_ord_id: str, kind: str, now_ns: int) -> None:
        """The router refused our ``place``/``amend``/``cancel`` for this order."""
        trigger = {"place": T.VENUE_REJECT, "amend": T.AMEND_FAILED, "cancel": T.CANCEL_FAILED}[
            kind
        ]
        self.rejects += 1
        try:
            self.apply(cl_ord_id, trigger, now_ns)
        except IllegalTransitionError as exc:
            self.illegal_transitions += 1
            logger.warning("illegal order transition", clOrdId=cl_ord_id, error=str(exc))

    def close(self, cl_ord_id: str, state: OrderState, now_ns: int) -> bool:
        """The router says the order is over (``state`` terminal): adopt that, whatever our row.

        A refused amend/cancel of an order the router already has FILLED/CANCELED is the
        router's word on the order; keeping it open made every later decision amend it again
        and loop on the same Reject (issue 13 item 4). Fills still count if their event comes:
        :meth:`on_event` counts accFillSz deltas before it looks at states. True if it closed."""
        order = self.orders.get(cl_ord_id)
        if order is None or order.state in TERMINAL_STATES or state not in TERMINAL_STATES:
            return False
        self._set_state(order, state, now_ns)
        return True

    # ------------------------------------------------------------------------------- events
    def on_event(self, ev: OrderEvent, now_ns: int) -> FillDelta | None:
        """Apply one router ``OrderEvent``; returns the new fill quantity, if any."""
        order = self.orders.get(ev.cl_ord_id)
        if order is None:
            if ev.state in TERMINAL_STATES:
                return None  # an order of ours we already forgot (or a snapshot replay)
            # An order the router knows and we do not (a restart of ours within the epoch is
            # impossible: the epoch changes) — track it so the diff cancels it.
            order = self.add(ev.cl_ord_id, ev.side, ev.px or ZERO, ev.sz, now_ns)
            order.state = S.SENT
        delta: FillDelta | None = None
        if ev.acc_fill_sz > order.filled:
            qty = ev.acc_fill_sz - order.filled
            px = ev.fill_px or ev.avg_px or ev.px or order.px
            delta = FillDelta(order.cl_ord_id, order.side, qty, px, ev.fee)
            order.filled = ev.acc_fill_sz
        if ev.avg_px is not None:
            order.avg_px = ev.avg_px
        if ev.ord_id:
            order.ord_id = ev.ord_id
        trigger = self._trigger_for(order, ev)
        if trigger is not None:
            try:
                new = advance(order.state, trigger, filled=order.filled)
            except IllegalTransitionError as exc:
                self.illegal_transitions += 1
                order.illegal += 1
                logger.warning(
                    "illegal order transition resolved by router state",
                    clOrdId=order.cl_ord_id,
                    error=str(exc),
                    router_state=ev.state.value,
                )
                new = ev.state
            self._set_state(order, new, now_ns)
        # The router's px/sz are the truth once nothing of ours is in flight on the order.
        if order.state not in (S.AMEND_PENDING, S.PENDING):
            if ev.px is not None:
                order.px = ev.px
            if ev.sz > 0:
                order.sz = ev.sz
        return delta

    @staticmethod
    def _trigger_for(order: WorkerOrder, ev: OrderEvent) -> OrderTrigger | None:
        """What the router's reported state means relative to ours."""
        ours, theirs = order.state, ev.state
        if theirs in (S.LIVE, S.PARTIALLY_FILLED):
            if ours is S.AMEND_PENDING:
                landed = (order.target_px is None or ev.px == order.target_px) and (
                    order.target_sz is None or ev.sz == order.target_sz
                )
                return T.AMEND_DONE if landed else T.AMEND_FAILED
            # CANCEL_PENDING stays: a failed cancel of ours comes as a Reject of the command;
            # a live event may simply predate our cancel (the table keeps CANCEL_PENDING)
            return T.LIVE if theirs is S.LIVE else T.PARTIAL_FILL
        return {
            S.ACK: T.VENUE_ACCEPT,
            S.FILLED: T.FILL,
            S.CANCELED: T.CANCELED,
            S.REJECTED: T.VENUE_REJECT,
            S.CANCEL_PENDING: None if ours is S.CANCEL_PENDING else T.CANCEL_REQUEST,
            S.AMEND_PENDING: None,  # our own amend on its way (or the router's): wait
            S.SENT: None,
            S.PENDING: None,
        }[theirs]

    # ------------------------------------------------------------------------ housekeeping
    def overdue(self, now_ns: int, timeout_ns: int) -> list[WorkerOrder]:
        """Orders stuck unacknowledged or cancelling longer than ``timeout_ns``."""
        stuck = UNACKNOWLEDGED_STATES | {S.CANCEL_PENDING, S.AMEND_PENDING}
        return [o for o in self.active() if o.state in stuck and now_ns - o.changed_ns > timeout_ns]

    def prune(self, now_ns: int, keep_ns: int) -> int:
        """Forget terminal orders older than ``keep_ns`` (late duplicates are harmless before)."""
        self.active()  # indexes an order a harness ended by hand
        ended, orders, n = self._ended, self.orders, 0
        while ended:
            o = orders.get(ended[0])
            if o is not None and o.state in TERMINAL_STATES:
                if now_ns - o.changed_ns <= keep_ns:
                    break  # the rest ended later
                del orders[o.cl_ord_id]
                n += 1
            ended.popleft()  # forgotten, or reopened (then in _open again)
        return n
