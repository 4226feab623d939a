"""What the venue says an order became: pushes, query answers, reconciled orders, fills. Pure.

An update moves the order through the FSM table (``trigger_for_push``), records a fill once per
``(inst, tradeId)`` (journal + the fill fields of the ``OrderEvent``), answers a NewOrder whose
own ack was lost, settles the waiters of a final order and re-cancels an order we still want
gone. A live order with our prefix that nobody owns is an orphan: it is cancelled.
"""

from __future__ import annotations

from decimal import Decimal

from loguru import logger

from engine.messages import OrderState
from engine.orders import clordid
from engine.orders.fsm import OrderTrigger, trigger_for_push
from engine.router.effects import Effect, JournalRecord
from engine.router.events import VenueFill, VenueOrder
from engine.router.orders import OrderDesk
from engine.router.ownership import OwnedOrder
from engine.router.records import JFill

__all__ = ["Updates"]

_ZERO = Decimal(0)


class Updates:
    """Applies venue order objects and fills to the desk's orders."""

    def __init__(self, desk: OrderDesk) -> None:
        self.desk = desk

    @property
    def trade_ids(self) -> set[tuple[str, str]]:
        """``(inst, tradeId)`` of every fill of the orders the desk holds. A fill is de-duplicated
        against its own order's trade ids: an order is held while open and for the terminal
        window, and a fill of an order no longer held is not ours to book, so nothing here
        outlives its order (a router-wide set grew by every fill ever made: issue 13)."""
        return {(o.inst, t) for o in self.desk.own.all() for t in o.trade_ids}

    def on_order(self, out: list[Effect], d: VenueOrder, wall_ns: int, mono_ns: int) -> None:
        """One venue order object pushed on the WS ``orders`` channel (or REST)."""
        own = self.desk.own
        order = own.get(d.cl_ord_id) if d.cl_ord_id else own.by_ord_id(d.ord_id)
        if order is None:
            if clordid.is_ours(d.cl_ord_id) and d.state in ("live", "partially_filled"):
                self.desk.cancel_orphan(d.inst, d.cl_ord_id)
            return
        self.apply(out, order, d, wall_ns, mono_ns, "push")

    def apply(
        self,
        out: list[Effect],
        order: OwnedOrder,
        d: VenueOrder,
        wall_ns: int,
        mono_ns: int,
        source: str,
    ) -> None:
        desk = self.desk
        order.venue_seen = True
        desk.own.set_ord_id(order, d.ord_id)
        acc = d.acc_fill_sz
        sz = d.sz or order.sz
        fill_kw: dict[str, object] = {}
        if d.trade_id and d.fill_sz > 0 and d.trade_id not in order.trade_ids:
            self._record_fill(out, order, d, wall_ns)
            fill_kw = {
                "fill_px": d.fill_px,
                "fill_sz": d.fill_sz,
                "trade_id": d.trade_id,
                "fee": d.fill_fee,
                "fee_ccy": d.fee_ccy,
            }
        if acc > order.acc_fill_sz:
            order.acc_fill_sz = acc
        if d.avg_px:
            order.avg_px = d.avg_px
        amend_result = d.amend_result
        amending = order.state is OrderState.AMEND_PENDING
        if source == "query" and amending and order.pending_amend:
            # a query answer has no amendResult: the amend is done if the order shows it
            want_sz, want_px = order.pending_amend
            done = (want_px is None or d.px == want_px) and (want_sz is None or sz == want_sz)
            amend_result = "0" if done else "-1"
        try:
            trig = trigger_for_push(d.state, acc, sz, amend_result)
        except Exception:  # noqa: BLE001 - RemoteProtocolError from an unknown state: resolve
            logger.warning("unknown venue order state", clOrdId=order.cl_ord_id, state=d.state)
            return
        if trig is OrderTrigger.AMEND_DONE:
            order.sz = sz
            order.px = d.px if d.px is not None else order.px
            order.pending_amend = None
        elif trig is OrderTrigger.AMEND_FAILED:
            order.pending_amend = None
        changed = desk.transition(out, order, trig, mono_ns, source)
        if not order.terminal:
            # the place's own answer was lost (timeout, dropped WS): the venue has the order
            desk.ack_place(out, order)
        if order.terminal:
            order.want_cancel = False
            order.cancel_in_flight = False
            desk.settle_waiters(out, order, order.state.value)
        if changed or fill_kw:
            reason = f"cancelSource {d.cancel_source}" if d.cancel_source else ""
            desk.publish(out, order, reason=reason, ts_ms=d.u_time_ms, **fill_kw)
        desk.maybe_recancel(out, order, mono_ns)

    def _record_fill(
        self, out: list[Effect], order: OwnedOrder, d: VenueOrder, wall_ns: int
    ) -> None:
        order.trade_ids.add(d.trade_id)
        rec = JFill(
            ts_ns=wall_ns,
            inst=d.inst,
            trade_id=d.trade_id,
            cl_ord_id=order.cl_ord_id,
            ord_id=d.ord_id,
            side=order.side,
            px=d.fill_px or _ZERO,
            sz=d.fill_sz,
            fee=d.fill_fee or _ZERO,
            fee_ccy=d.fee_ccy,
            ts_ms=d.fill_time_ms,
        )
        out.append(JournalRecord(rec))

    def on_fill(self, out: list[Effect], f: VenueFill, wall_ns: int) -> None:
        """A fill from the venue's fill list (reconciliation): journal it once if it is ours."""
        order = self.desk.own.get(f.cl_ord_id)
        if order is None or f.trade_id in order.trade_ids:
            return
        order.trade_ids.add(f.trade_id)
        rec = JFill(
            ts_ns=wall_ns,
            inst=f.inst,
            trade_id=f.trade_id,
            cl_ord_id=f.cl_ord_id,
            ord_id=f.ord_id,
            side=order.side,
            px=f.px,
            sz=f.sz,
            fee=f.fee,
            fee_ccy=f.fee_ccy,
            ts_ms=f.ts_ms,
        )
        out.append(JournalRecord(rec))
        self.desk.publish(
            out,
            order,
            fill_px=f.px,
            fill_sz=f.sz,
            trade_id=f.trade_id,
            fee=f.fee,
            fee_ccy=f.fee_ccy,
            ts_ms=f.ts_ms,
        )
