"""The order desk: the router's order table, its request queue and every change to an order. Pure.

Everything that happens to an owned order goes through here, whichever input caused it: a state
change through the shared FSM table (journalled, published), a cancel (idempotent, withdrawing a
place still queued), a venue request queued for the batcher, a query when the outcome is unknown,
and the answers to the commands waiting on the order. The other sub-cores (commands, outcomes,
updates, recovery, market) decide *when*; the desk knows *how*.

Every method that produces output appends to the ``out`` list it is given (the caller's effect
list, returned to the shell); nothing is kept for later.
"""

from __future__ import annotations

from loguru import logger

from engine import topics
from engine.errors import IllegalTransitionError
from engine.messages import Ack, OrderState, Reject
from engine.orders.fsm import OrderTrigger
from engine.router.batcher import Batcher
from engine.router.config import RouterConfig
from engine.router.effects import Effect, JournalRecord, Publish, Query, Reply, Send
from engine.router.events import CancelReq, PlaceReq
from engine.router.ownership import OwnedOrder, Ownership
from engine.router.records import JRequest, JUpdate

__all__ = ["MS", "OrderDesk", "S", "resolve_after_ns"]

MS = 1_000_000
S = 1_000_000_000
_QUERIES_BEFORE_BACKOFF = 5  # then the interval doubles up to _MAX_RESOLVE_INTERVAL_NS
_MAX_RESOLVE_INTERVAL_NS = 30 * S


class OrderDesk:
    """The order table (:class:`Ownership`), the venue queue (:class:`Batcher`), and the rules
    for changing an order."""

    def __init__(self, cfg: RouterConfig, batcher: Batcher) -> None:
        self.cfg = cfg
        self.own = Ownership()
        self.batcher = batcher
        self.wall_ns = 0  # wall time of the current input: journal timestamps
        self._held_logged_ns = -S  # last "cancels held by rate limit" warning
        # (code, reason) once the venue said this account may not place orders: new orders are
        # refused here from then on, never sent again (a restart after fixing the account)
        self.place_blocked: tuple[str, str] | None = None
        self.counters: dict[str, int] = {
            "commands": 0,
            "rejects": 0,
            "fenced": 0,
            "orphans_cancelled": 0,
            "illegal_transitions": 0,
        }

    # ---------------------------------------------------------------------------- replies
    def reject(
        self,
        out: list[Effect],
        identity: bytes,
        seq: int,
        reason: str,
        cid: str = "",
        code: str = "",
    ) -> None:
        self.counters["rejects"] += 1
        out.append(Reply(identity, Reject(cmd_seq=seq, reason=reason, cl_ord_id=cid, code=code)))

    def publish(self, out: list[Effect], order: OwnedOrder, **kw: object) -> None:
        """The order's lifecycle event on ``ord|<strategy>|<clOrdId>|`` (forgotten when final)."""
        topic = topics.order_event_of(order.strategy, order.cl_ord_id)
        ev = order.event(**kw)  # type: ignore[arg-type]
        out.append(Publish(topic, ev, retain=True, forget=order.terminal))

    def ack_place(self, out: list[Effect], order: OwnedOrder) -> None:
        """Answer the NewOrder still waiting on ``order``: the venue has it."""
        if order.place_waiter is not None:
            w, order.place_waiter = order.place_waiter, None
            ack = Ack(cmd_seq=w.cmd_seq, cl_ord_id=order.cl_ord_id, detail=order.ord_id)
            out.append(Reply(w.identity, ack))

    def settle_waiters(
        self, out: list[Effect], order: OwnedOrder, reason: str, code: str = ""
    ) -> None:
        """Answer every command still waiting on ``order`` (it reached a final state)."""
        cid = order.cl_ord_id
        if order.place_waiter is not None:
            if order.state is OrderState.REJECTED or not order.venue_seen:
                w, order.place_waiter = order.place_waiter, None
                rej = Reject(cmd_seq=w.cmd_seq, reason=reason, cl_ord_id=cid, code=code)
                out.append(Reply(w.identity, rej))
            else:
                self.ack_place(out, order)
        for w in order.cancel_waiters:
            ack = Ack(cmd_seq=w.cmd_seq, cl_ord_id=cid, detail=order.state.value)
            out.append(Reply(w.identity, ack))
        order.cancel_waiters.clear()
        if order.amend_waiter is not None:
            w, order.amend_waiter = order.amend_waiter, None
            rej = Reject(cmd_seq=w.cmd_seq, reason=f"order {reason}", cl_ord_id=cid, code=code)
            out.append(Reply(w.identity, rej))

    def reject_cancel_waiters(
        self, out: list[Effect], order: OwnedOrder, code: str, reason: str
    ) -> None:
        """Answer every strategy awaiting this cancel with a Reject carrying the venue code."""
        for w in order.cancel_waiters:
            reject = Reject(cmd_seq=w.cmd_seq, reason=reason, cl_ord_id=order.cl_ord_id, code=code)
            out.append(Reply(w.identity, reject))
        order.cancel_waiters.clear()

    # ------------------------------------------------------------------------- transitions
    def transition(
        self, out: list[Effect], order: OwnedOrder, trig: OrderTrigger, mono_ns: int, src: str
    ) -> bool:
        """Apply ``trig``; journal a change; on an illegal pair log it and resolve by a query."""
        try:
            changed = order.apply(trig, mono_ns)
        except IllegalTransitionError as exc:
            self.counters["illegal_transitions"] += 1
            logger.warning(
                "illegal order transition",
                clOrdId=order.cl_ord_id,
                state=exc.state,
                trigger=exc.event,
                source=src,
            )
            self.query(out, order)
            return False
        if changed:
            self.own.on_state(order)
            rec = JUpdate(
                ts_ns=self.wall_ns or mono_ns,
                cl_ord_id=order.cl_ord_id,
                state=order.state,
                ord_id=order.ord_id,
                acc_fill_sz=order.acc_fill_sz,
                sz=order.sz,
                px=order.px,
                source=src,
            )
            out.append(JournalRecord(rec))
        return changed

    # ----------------------------------------------------------------------------- requests
    def place_req(self, o: OwnedOrder) -> PlaceReq:
        return PlaceReq(
            inst=o.inst,
            cl_ord_id=o.cl_ord_id,
            side=o.side,
            ord_type=o.ord_type,
            sz=o.sz,
            px=o.px,
            td_mode=o.td_mode,
            pos_side=o.pos_side,
            reduce_only=o.reduce_only,
            tag=self.cfg.order_tag,
            ccy=o.ccy,
        )

    def queue_place(self, order: OwnedOrder) -> None:
        order.place_attempts += 1
        self.batcher.add("place", self.place_req(order))

    def queue_cancel(self, order: OwnedOrder, mono_ns: int) -> None:
        order.cancel_in_flight = True
        order.cancel_attempts += 1
        order.since_ns = mono_ns
        self.batcher.add("cancel", CancelReq(inst=order.inst, cl_ord_id=order.cl_ord_id))

    def cancel_orphan(self, inst: str, cl_ord_id: str) -> None:
        """A live order with our prefix that nobody owns: cancel it."""
        self.counters["orphans_cancelled"] += 1
        logger.warning("cancelling orphan order", clOrdId=cl_ord_id, inst=inst)
        self.batcher.add("cancel", CancelReq(inst=inst, cl_ord_id=cl_ord_id))

    def flush(self, out: list[Effect], mono_ns: int, transport: str) -> None:
        """Cut the batches that may go now: journal each as sent, then hand it to the shell.
        Places become SENT."""
        batches = self.batcher.take(mono_ns)
        held = self.batcher.queued("cancel")
        if held and self.batcher.retry_at_ns and mono_ns >= self._held_logged_ns + S:
            # cancels waiting for tokens delay cancel-on-death: say so (at most once a second)
            self._held_logged_ns = mono_ns
            wait_ms = (self.batcher.retry_at_ns - mono_ns) / MS
            logger.warning("cancels held by rate limit", cancels=held, wait_ms=round(wait_ms, 1))
        for b in batches:
            if b.op == "place":
                for cid in b.cl_ord_ids:
                    order = self.own.get(cid)
                    if order is not None and order.state is OrderState.PENDING:
                        self.transition(out, order, OrderTrigger.SUBMIT, mono_ns, "sent")
            rec = JRequest(
                ts_ns=self.wall_ns, op=b.op, transport=transport, cl_ord_ids=b.cl_ord_ids
            )
            out.append(JournalRecord(rec))
            out.append(Send(b, transport))

    # ------------------------------------------------------------------------------ cancels
    def request_cancel(
        self, out: list[Effect], order: OwnedOrder, mono_ns: int, reason: str
    ) -> bool:
        """Cancel ``order`` (idempotent); True if anything was done."""
        if order.terminal:
            return False
        order.want_cancel = True
        if order.state is OrderState.PENDING:
            # still queued: withdraw it, nothing reached the venue
            self.batcher.drop("place", order.cl_ord_id)
            self.transition(out, order, OrderTrigger.CANCEL_REQUEST, mono_ns, "withdrawn")
            self.settle_waiters(out, order, f"withdrawn before sending: {reason}")
            self.publish(out, order, reason=reason)
            return True
        if order.state is not OrderState.CANCEL_PENDING:
            self.transition(out, order, OrderTrigger.CANCEL_REQUEST, mono_ns, "cancel")
            self.publish(out, order, reason=reason)
        if not order.cancel_in_flight:
            self.queue_cancel(order, mono_ns)
        return True

    def cancel_strategy(
        self, out: list[Effect], strategy: str, inst: str, mono_ns: int, reason: str
    ) -> int:
        """Cancel every open order of ``strategy`` (on ``inst`` if given); how many."""
        n = 0
        for order in self.own.open_orders(strategy, inst):
            n += self.request_cancel(out, order, mono_ns, reason)
        return n

    def cancel_everything(self, out: list[Effect], mono_ns: int, reason: str) -> int:
        n = 0
        for order in self.own.open_orders():
            n += self.request_cancel(out, order, mono_ns, reason)
        return n

    def maybe_recancel(self, out: list[Effect], order: OwnedOrder, mono_ns: int) -> None:
        """Cancel again when a cancel was wanted but could not land (late ack, lost cancel)."""
        if order.want_cancel and not order.terminal and not order.cancel_in_flight:
            if order.cancel_attempts <= self.cfg.max_cancel_retries + 1:
                self.queue_cancel(order, mono_ns)
            else:
                self.query(out, order)

    # ------------------------------------------------------------------------------ queries
    def query(self, out: list[Effect], order: OwnedOrder) -> None:
        """Ask the venue what it has for ``order`` (one question at a time)."""
        if order.query_in_flight or order.terminal:
            return
        if order.queries == _QUERIES_BEFORE_BACKOFF:
            # never give up (an order left unresolved is unmanaged money), but say so and ask
            # less often: a venue outage may last minutes
            logger.error(
                "order still unresolved: asking again with backoff",
                clOrdId=order.cl_ord_id,
                state=order.state.value,
                queries=order.queries,
                max_interval_s=_MAX_RESOLVE_INTERVAL_NS / S,
            )
        order.query_in_flight = True
        order.queries += 1
        out.append(Query(order.inst, order.cl_ord_id))


def resolve_after_ns(queries: int) -> int:
    """How long an order may stay unresolved before the next query: 3 s for the first few,
    then doubling up to 30 s, for as long as the venue does not answer."""
    extra = max(0, queries - _QUERIES_BEFORE_BACKOFF + 1)
    return min((3 * S) << min(extra, 8), _MAX_RESOLVE_INTERVAL_NS)
