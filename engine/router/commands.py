"""Order commands of a welcomed strategy: NewOrder, Cancel, Amend. Pure.

- ``NewOrder``: the clOrdId must be of the session's short id and epoch and new; the venue
  must not have refused this account's places outright (``ACCOUNT_BLOCKED``, e.g. KYC); risk
  must be alive (when required); pre-trade checks must pass. Then the order is owned,
  journalled and its place queued. The ``Ack`` (``detail`` = ordId) or ``Reject`` waits for
  the venue.
- ``Cancel``: of an own, non-final order; answered once the venue accepted (or the order ended).
- ``Amend``: one at a time, in an amendable state, pre-trade checked; the outcome comes with the
  order push (``amendResult``).
"""

from __future__ import annotations

from engine.messages import Amend, Cancel, NewOrder
from engine.orders import clordid
from engine.orders.fsm import AMENDABLE_STATES, OrderTrigger
from engine.router.effects import Effect, JournalRecord
from engine.router.events import AmendReq
from engine.router.market import Market
from engine.router.orders import OrderDesk
from engine.router.ownership import OwnedOrder, Waiter
from engine.router.pretrade import check_amend, check_new_order
from engine.router.records import JCommand, JOrder
from engine.router.sessions import Session

__all__ = ["OrderCommands"]


class OrderCommands:
    """Validates order commands and hands them to the desk."""

    def __init__(
        self, desk: OrderDesk, market: Market, *, require_risk: bool, require_reference: bool
    ) -> None:
        self.desk = desk
        self.market = market
        self.require_risk = require_risk
        self.require_reference = require_reference

    def on_new_order(
        self,
        out: list[Effect],
        sess: Session,
        identity: bytes,
        seq: int,
        msg: NewOrder,
        wall_ns: int,
        mono_ns: int,
    ) -> None:
        desk, market = self.desk, self.market
        cid = msg.cl_ord_id
        parts = clordid.decode(cid)
        if parts is None or parts.short_id != sess.short_id or parts.epoch != sess.epoch:
            desk.reject(out, identity, seq, "clOrdId not of this strategy epoch", cid)
            return
        if cid in desk.own:
            desk.reject(out, identity, seq, "duplicate clOrdId", cid)
            return
        if desk.place_blocked is not None:
            code, why_blocked = desk.place_blocked
            desk.reject(out, identity, seq, f"venue: {why_blocked}", cid, code)
            return
        if self.require_risk and not market.risk_alive:
            desk.reject(out, identity, seq, "risk heartbeat missing: new orders blocked", cid)
            return
        why = check_new_order(
            msg,
            market.rules.get(msg.inst),
            market.limits_for(sess.strategy, msg.inst),
            desk.own.open_count(sess.strategy),
            market.ref_px(msg.inst),
            require_reference=self.require_reference,
        )
        if why is not None:
            desk.reject(out, identity, seq, why, cid)
            return
        spec = JOrder(
            ts_ns=wall_ns,
            cl_ord_id=cid,
            strategy=sess.strategy,
            epoch=sess.epoch,
            inst=msg.inst,
            side=msg.side,
            ord_type=msg.ord_type,
            sz=msg.sz,
            px=msg.px,
            td_mode=msg.td_mode,
            pos_side=msg.pos_side,
            reduce_only=msg.reduce_only,
            ccy=msg.ccy,
        )
        order = OwnedOrder(
            spec, spec.sz, spec.px, since_ns=mono_ns, place_waiter=Waiter(identity, seq)
        )
        desk.own.add(order)
        out.append(JournalRecord(spec))
        desk.queue_place(order)

    def on_cancel(
        self, out: list[Effect], sess: Session, identity: bytes, seq: int, msg: Cancel, mono_ns: int
    ) -> None:
        desk = self.desk
        order = desk.own.get(msg.cl_ord_id)
        if order is None or order.strategy != sess.strategy:
            desk.reject(out, identity, seq, "unknown clOrdId", msg.cl_ord_id)
            return
        if order.terminal:
            desk.reject(out, identity, seq, f"order already {order.state.value}", msg.cl_ord_id)
            return
        order.cancel_waiters.append(Waiter(identity, seq))
        desk.request_cancel(out, order, mono_ns, "strategy cancel")

    def on_amend(
        self,
        out: list[Effect],
        sess: Session,
        identity: bytes,
        seq: int,
        msg: Amend,
        wall_ns: int,
        mono_ns: int,
    ) -> None:
        desk, market = self.desk, self.market
        order = desk.own.get(msg.cl_ord_id)
        if order is None or order.strategy != sess.strategy:
            desk.reject(out, identity, seq, "unknown clOrdId", msg.cl_ord_id)
            return
        cid = order.cl_ord_id
        if order.state not in AMENDABLE_STATES or order.want_cancel:
            desk.reject(out, identity, seq, f"cannot amend in state {order.state.value}", cid)
            return
        if self.require_risk and not market.risk_alive:
            desk.reject(out, identity, seq, "risk heartbeat missing: amends blocked", cid)
            return
        why = check_amend(
            order.sz,
            order.px,
            order.acc_fill_sz,
            msg.new_sz,
            msg.new_px,
            market.rules.get(order.inst),
            market.limits_for(order.strategy, order.inst),
            market.ref_px(order.inst),
            require_reference=self.require_reference,
        )
        if why is not None:
            desk.reject(out, identity, seq, why, cid)
            return
        if not desk.transition(out, order, OrderTrigger.AMEND_REQUEST, mono_ns, "amend"):
            desk.reject(out, identity, seq, "amend not possible now", cid)
            return
        order.amend_waiter = Waiter(identity, seq)
        order.pending_amend = (msg.new_sz, msg.new_px)
        rec = JCommand(
            ts_ns=wall_ns,
            peer=sess.strategy,
            cmd_seq=seq,
            kind="amend",
            cl_ord_id=cid,
            detail=f"sz={msg.new_sz} px={msg.new_px}",
        )
        out.append(JournalRecord(rec))
        desk.batcher.add(
            "amend", AmendReq(inst=order.inst, cl_ord_id=cid, new_sz=msg.new_sz, new_px=msg.new_px)
        )
