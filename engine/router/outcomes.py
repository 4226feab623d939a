"""The venue's answers to our requests and queries, retries, and orders whose outcome is overdue.

Pure. Per item of a batch (:class:`~engine.router.events.VenueAck`, in request order) or for
the whole request (:class:`~engine.router.events.VenueFailure`):

- rate limited (refused before processing) → the same request again after a pause, bounded;
- unknown outcome (timeout, 5xx, dropped WS) → cancels are sent again (idempotent), places and
  amends are looked up by a query;
- place accepted → Ack; a duplicate clOrdId means an earlier attempt landed → query;
- cancel "gone" while the place is still in flight → nothing (the late ack re-cancels);
- refused → Reject with the venue's code.

A query answer is applied as an update; "not found" re-sends a place that never arrived (bounded)
or ends the order. The slow timer queries every order stuck in a transient state, with backoff
and without end (:func:`~engine.router.orders.resolve_after_ns`). Nothing loops.
"""

from __future__ import annotations

from engine.messages import Ack, OrderState, Reject
from engine.orders.fsm import OrderTrigger
from engine.router.batcher import Batch
from engine.router.effects import Effect, JournalRecord, Reply
from engine.router.events import (
    Outcome,
    VenueAck,
    VenueFailure,
    VenueNotFound,
    VenueOrder,
    VenueResult,
)
from engine.router.orders import MS, OrderDesk, resolve_after_ns
from engine.router.ownership import OwnedOrder
from engine.router.records import JAck
from engine.router.updates import Updates

__all__ = ["Outcomes"]

_MAX_RATE_RETRIES = 20
_RATE_PAUSE_NS = 200 * MS
_KEEP_TERMINAL_NS = 60_000 * MS
# A cancel whose retries all failed is looked up; if the venue says the order still rests, the
# cancel gets a fresh budget — at most this often, so a venue that refuses cancels for minutes
# sees a few cancels every few seconds, never a tight loop, and the order is never left alone.
_CANCEL_REFILL_NS = 3_000 * MS
_MISSING = VenueFailure(Outcome.UNKNOWN, "missing", "no result item")
_OVERDUE_STATES = frozenset(
    {OrderState.SENT, OrderState.ACK, OrderState.CANCEL_PENDING, OrderState.AMEND_PENDING}
)


class Outcomes:
    """Turns venue answers into order changes, replies and follow-up requests."""

    def __init__(self, desk: OrderDesk, updates: Updates) -> None:
        self.desk = desk
        self.updates = updates

    # ------------------------------------------------------------------------ trade results
    def on_result(
        self, out: list[Effect], batch: Batch, result: VenueResult, wall_ns: int, mono_ns: int
    ) -> None:
        own = self.desk.own
        if isinstance(result, VenueFailure):
            for cid in batch.cl_ord_ids:
                order = own.get(cid)
                if order is not None:
                    self._on_failure(out, batch, order, result, wall_ns, mono_ns)
            return
        for i, cid in enumerate(batch.cl_ord_ids):
            order = own.get(cid)
            if order is None:
                continue
            if i >= len(result):
                self._on_failure(out, batch, order, _MISSING, wall_ns, mono_ns)
                continue
            item = result[i]
            if item.outcome is Outcome.RATE_LIMITED:
                fail = VenueFailure(Outcome.RATE_LIMITED, item.code, item.msg)
                self._on_failure(out, batch, order, fail, wall_ns, mono_ns)
                continue
            rec = JAck(
                ts_ns=wall_ns,
                op=batch.op,
                cl_ord_id=cid,
                code=item.code,
                msg=item.msg,
                ord_id=item.ord_id,
            )
            out.append(JournalRecord(rec))
            if batch.op == "place":
                self._on_place(out, order, item, mono_ns)
            elif batch.op == "cancel":
                self._on_cancel(out, order, item, mono_ns)
            else:
                self._on_amend(out, order, item.outcome, item.code, item.msg, mono_ns)

    def _on_place(self, out: list[Effect], order: OwnedOrder, item: VenueAck, mono_ns: int) -> None:
        desk = self.desk
        if item.outcome is Outcome.OK:
            order.venue_seen = True
            desk.own.set_ord_id(order, item.ord_id)
            changed = desk.transition(out, order, OrderTrigger.VENUE_ACCEPT, mono_ns, "place-ack")
            desk.ack_place(out, order)
            if changed:
                desk.publish(out, order)
            desk.maybe_recancel(out, order, mono_ns)
            return
        if item.outcome is Outcome.DUPLICATE:
            # an earlier attempt of this very order landed: find out what the venue has
            desk.query(out, order)
            return
        order.venue_seen = True  # the venue answered: it knows the order is refused
        desk.transition(out, order, OrderTrigger.VENUE_REJECT, mono_ns, "place-reject")
        order.want_cancel = False
        order.cancel_in_flight = False
        msg, code = item.msg, item.code
        if item.outcome is Outcome.ACCOUNT_BLOCKED:
            msg = f"account may not place orders (fix the account, restart the router): {msg}"
            if desk.place_blocked is None:
                desk.place_blocked = (code, msg)
        desk.settle_waiters(out, order, f"venue: {msg}" if msg else "venue rejected", code)
        desk.publish(out, order, reason=msg or "venue rejected", code=code)

    def _on_cancel(
        self, out: list[Effect], order: OwnedOrder, item: VenueAck, mono_ns: int
    ) -> None:
        desk = self.desk
        order.cancel_in_flight = False
        if item.outcome in (Outcome.OK, Outcome.ALREADY_CANCELING):
            order.venue_seen = True
            cid = order.cl_ord_id
            out.extend(
                Reply(w.identity, Ack(cmd_seq=w.cmd_seq, cl_ord_id=cid))
                for w in order.cancel_waiters
            )
            order.cancel_waiters.clear()
            return
        if item.outcome is Outcome.GONE:
            if not order.venue_seen:
                # the place is still in flight: the late ack will re-cancel
                return
            desk.reject_cancel_waiters(out, order, item.code, item.msg or "order gone")
            desk.query(out, order)
            return
        desk.transition(out, order, OrderTrigger.CANCEL_FAILED, mono_ns, "cancel-reject")
        order.want_cancel = False
        desk.reject_cancel_waiters(out, order, item.code, item.msg or "cancel failed")
        desk.publish(out, order, reason=item.msg or "cancel failed", code=item.code)

    def _on_amend(
        self,
        out: list[Effect],
        order: OwnedOrder,
        outcome: Outcome,
        code: str,
        msg: str,
        mono_ns: int,
    ) -> None:
        desk = self.desk
        w, order.amend_waiter = order.amend_waiter, None
        cid = order.cl_ord_id
        if outcome is Outcome.OK:
            if w is not None:
                out.append(Reply(w.identity, Ack(cmd_seq=w.cmd_seq, cl_ord_id=cid)))
            return  # the orders push carries the outcome (amendResult)
        order.pending_amend = None
        if w is not None:
            rej = Reject(cmd_seq=w.cmd_seq, reason=msg or "amend failed", cl_ord_id=cid, code=code)
            out.append(Reply(w.identity, rej))
        if order.state is OrderState.AMEND_PENDING:
            desk.transition(out, order, OrderTrigger.AMEND_FAILED, mono_ns, "amend-reject")
            desk.publish(out, order, reason=msg or "amend failed", code=code)
        if outcome is Outcome.AMEND_ON_DONE:
            desk.query(out, order)

    def _on_failure(
        self,
        out: list[Effect],
        batch: Batch,
        order: OwnedOrder,
        err: VenueFailure,
        wall_ns: int,
        mono_ns: int,
    ) -> None:
        desk = self.desk
        cid = order.cl_ord_id
        rec = JAck(ts_ns=wall_ns, op=batch.op, cl_ord_id=cid, code=err.code, msg=err.msg)
        out.append(JournalRecord(rec))
        rate_limited = err.outcome is Outcome.RATE_LIMITED
        if rate_limited:
            # refused before processing: the same request may go again, a little later
            desk.batcher.pause(batch.op, mono_ns + _RATE_PAUSE_NS)
            if batch.op == "place" and order.place_attempts < _MAX_RATE_RETRIES:
                if not order.want_cancel:
                    order.place_attempts += 1
                    desk.batcher.add("place", desk.place_req(order))
                    return
            elif batch.op == "cancel" and order.cancel_attempts < _MAX_RATE_RETRIES + 1:
                order.cancel_in_flight = False
                desk.queue_cancel(order, mono_ns)
                return
            elif batch.op == "amend":
                self._on_amend(out, order, err.outcome, err.code, err.msg, mono_ns)
                return
        if rate_limited or err.outcome is Outcome.UNKNOWN:
            # outcome unknown: cancels are idempotent, everything else is looked up
            if batch.op == "cancel":
                order.cancel_in_flight = False
                if order.cancel_attempts <= desk.cfg.max_cancel_retries:
                    desk.queue_cancel(order, mono_ns)
                else:
                    desk.query(out, order)
            else:
                if batch.op == "amend":
                    w, order.amend_waiter = order.amend_waiter, None
                    if w is not None:
                        rej = Reject(
                            cmd_seq=w.cmd_seq,
                            reason=f"amend outcome unknown: {err.msg}",
                            cl_ord_id=cid,
                            code=err.code,
                        )
                        out.append(Reply(w.identity, rej))
                desk.query(out, order)
            return
        # a request-level refusal (bad args, auth): nothing was done
        if batch.op == "place":
            item = VenueAck(cid, err.outcome, err.code, err.msg)
            self._on_place(out, order, item, mono_ns)
        elif batch.op == "cancel":
            order.cancel_in_flight = False
            desk.query(out, order)
        else:
            self._on_amend(out, order, err.outcome, err.code, err.msg, mono_ns)

    # ------------------------------------------------------------------------------ queries
    def on_query_result(
        self,
        out: list[Effect],
        cl_ord_id: str,
        data: VenueOrder | VenueNotFound | VenueFailure,
        wall_ns: int,
        mono_ns: int,
    ) -> None:
        """The venue's order, its "no such order", or the query's own failure."""
        desk = self.desk
        order = desk.own.get(cl_ord_id)
        if order is None:
            return
        order.query_in_flight = False
        order.since_ns = mono_ns
        if isinstance(data, VenueFailure):
            return  # the overdue timer asks again, with backoff
        order.queries = 0  # an answer: the next doubt starts with a fresh, fast budget
        if order.want_cancel and order.cancel_attempts > desk.cfg.max_cancel_retries:
            last = order.cancel_refilled_ns
            if last is None or mono_ns - last >= _CANCEL_REFILL_NS:
                order.cancel_attempts = 0
                order.cancel_refilled_ns = mono_ns
        if isinstance(data, VenueNotFound):
            if (
                not order.want_cancel
                and order.state in (OrderState.SENT, OrderState.PENDING)
                and order.place_attempts <= desk.cfg.max_place_retries
            ):
                # the place never arrived: send it again (idempotent by clOrdId)
                desk.queue_place(order)
                return
            order.cancel_in_flight = False
            order.want_cancel = False
            if desk.transition(out, order, OrderTrigger.NOT_FOUND, mono_ns, "query"):
                desk.settle_waiters(out, order, "not found at the venue", data.code)
                desk.publish(out, order, reason="not found at the venue", code=data.code)
            return
        self.updates.apply(out, order, data, wall_ns, mono_ns, "query")

    def on_slow_timer(self, out: list[Effect], mono_ns: int) -> None:
        """Resolve orders whose outcome is overdue; prune old final ones."""
        desk = self.desk
        for order in desk.own.open_orders():
            overdue = mono_ns - order.since_ns > resolve_after_ns(order.queries)
            if overdue and order.state in _OVERDUE_STATES:
                if order.state is OrderState.CANCEL_PENDING and not order.venue_seen:
                    # never acknowledged: maybe never placed; ask, then maybe cancel again
                    order.cancel_in_flight = False
                desk.query(out, order)
        desk.own.prune(mono_ns, _KEEP_TERMINAL_NS)
