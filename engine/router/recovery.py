"""Restart and reconciliation: rebuild from the journal, then align with the venue. Pure.

:meth:`Recovery.restore` takes the folded journal (``engine.router.journal.JournalState``):
short ids, fenced epochs, welcomed epochs (given ``restart_grace_ms`` to speak again), seen
trade ids, and every order not yet final. A place that never left the router is rejected; one
whose request went out is SENT (its answer was lost); a cancel or amend in flight is forgotten
(its outcome comes with the venue). :meth:`Recovery.reconcile` applies the plan of
``engine.router.reconcile`` to the venue's pending orders and recent fills.
"""

from __future__ import annotations

from loguru import logger

from engine.messages import OrderState
from engine.orders import clordid
from engine.orders.fsm import OrderTrigger
from engine.router.effects import Effect, JournalRecord
from engine.router.events import VenueFill, VenueOrder
from engine.router.orders import MS, OrderDesk
from engine.router.ownership import OwnedOrder
from engine.router.reconcile import plan_reconcile
from engine.router.records import JOrder, JournalState
from engine.router.sessions import Session, Sessions
from engine.router.updates import Updates

__all__ = ["Recovery"]

_FINAL = (OrderState.FILLED, OrderState.CANCELED, OrderState.REJECTED)


class Recovery:
    """Restores sessions and orders and reconciles them with the venue."""

    def __init__(self, desk: OrderDesk, sessions: Sessions, updates: Updates) -> None:
        self.desk = desk
        self.sessions = sessions
        self.updates = updates

    def restore(self, out: list[Effect], state: JournalState, mono_ns: int) -> None:
        """Rebuild from the journal after a restart (before reconciling with the venue)."""
        desk, ss = self.desk, self.sessions
        ss.short_ids.update(state.short_ids)
        for name, epoch in state.fenced:
            ss.fenced_epochs[(name, epoch)] = "fenced before router restart"
        grace_ns = desk.cfg.restart_grace_ms * MS
        for name, epoch in state.epochs.items():
            if (name, epoch) in state.fenced or name not in ss.short_ids:
                continue
            identity = f"S:{name}:{epoch}".encode()
            sess = Session(name, epoch, identity, ss.short_ids[name], "")
            ss.sessions[identity] = sess
            ss.current[name] = sess
            ss.liveness.on_message(identity, mono_ns + grace_ns)
        for jo in state.orders.values():
            if jo.state in _FINAL:
                continue
            j = jo.order
            order = OwnedOrder(
                j,
                jo.sz if jo.sz is not None else j.sz,
                jo.px if jo.px is not None else j.px,
                state=jo.state,
                ord_id=jo.ord_id,
                acc_fill_sz=jo.acc_fill_sz,
                since_ns=mono_ns,
                venue_seen=bool(jo.ord_id),
                trade_ids={f.trade_id for f in state.fills.get(j.cl_ord_id, ())},
            )
            if order.state is OrderState.PENDING and jo.sent:
                order.state = OrderState.SENT  # the request went out; its answer was lost
            if order.state in (OrderState.CANCEL_PENDING, OrderState.AMEND_PENDING):
                # the request's outcome comes with the venue
                filled = order.acc_fill_sz != 0
                order.state = OrderState.PARTIALLY_FILLED if filled else OrderState.LIVE
            desk.own.add(order)
            if order.state is OrderState.PENDING:
                # never left the router: nothing to cancel at the venue
                desk.transition(out, order, OrderTrigger.VENUE_REJECT, mono_ns, "restart")
                desk.publish(out, order, reason="router restarted before sending")
            elif (j.strategy, j.epoch) in ss.fenced_epochs:
                order.want_cancel = True
        logger.info(
            "journal restored",
            records=state.records,
            open_orders=len(desk.own.open_orders()),
            strategies=len(ss.sessions),
        )

    def reconcile(
        self,
        out: list[Effect],
        pending: list[VenueOrder],
        fills: list[VenueFill],
        wall_ns: int,
        mono_ns: int,
    ) -> None:
        """Align our books with the venue's pending orders and recent fills."""
        desk, ss, upd = self.desk, self.sessions, self.updates
        known = {o.cl_ord_id for o in desk.own.all()}
        open_known = [o.cl_ord_id for o in desk.own.open_orders()]
        plan = plan_reconcile(pending, fills, known, open_known, ss.attributable, upd.trade_ids)
        for f in plan.fills:
            upd.on_fill(out, f, wall_ns)
        for d in plan.adopt:
            order = desk.own.get(d.cl_ord_id)
            if order is not None:
                upd.apply(out, order, d, wall_ns, mono_ns, "reconcile")
        for d in plan.attribute:
            parts = clordid.decode(d.cl_ord_id)
            spec = JOrder(
                ts_ns=wall_ns,
                cl_ord_id=d.cl_ord_id,
                strategy=ss.name_of(parts.short_id) if parts else "",
                epoch=parts.epoch if parts else 0,
                inst=d.inst,
                side=d.side,
                ord_type=d.ord_type,
                sz=d.sz,
                px=d.px,
                td_mode=d.td_mode or "cross",
                pos_side=d.pos_side,
                reduce_only=d.reduce_only,
                ccy=d.ccy,
            )
            order = OwnedOrder(spec, spec.sz, spec.px, state=OrderState.SENT, since_ns=mono_ns)
            desk.own.add(order)
            out.append(JournalRecord(spec))
            upd.apply(out, order, d, wall_ns, mono_ns, "reconcile")
        for d in plan.orphans:
            desk.cancel_orphan(d.inst, d.cl_ord_id)
        for cid in plan.query:
            order = desk.own.get(cid)
            if order is not None and order.state is not OrderState.PENDING:
                order.query_in_flight = False
                desk.query(out, order)
        for order in desk.own.open_orders():
            desk.maybe_recancel(out, order, mono_ns)
        logger.info(
            "reconciled",
            pending=len(pending),
            adopted=len(plan.adopt),
            attributed=len(plan.attribute),
            orphans=len(plan.orphans),
            queried=len(plan.query),
            fills=len(plan.fills),
            foreign=plan.foreign,
        )
