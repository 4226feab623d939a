"""Recovery: the journal folded back into sessions and orders; reconciliation's plan applied."""

from __future__ import annotations

from decimal import Decimal

from engine.messages import OrderState, OrdType, Side
from engine.orders.clordid import encode
from engine.router.config import RouterConfig
from engine.router.effects import Effect
from engine.router.events import VenueOrder
from engine.router.records import JEpoch, JOrder, JournalState, JRequest, JShortId, JUpdate
from engine.router.recovery import Recovery
from engine.router.sessions import Sessions
from engine.router.updates import Updates
from tests.engine.router.helpers import INST
from tests.engine.router.subcores import SID, desk, published, queries


def _order(n: int, epoch: int = 1) -> JOrder:
    return JOrder(
        ts_ns=0,
        cl_ord_id=encode(SID, epoch, n),
        strategy="alpha",
        epoch=epoch,
        inst=INST,
        side=Side.BUY,
        ord_type=OrdType.LIMIT,
        sz=Decimal(1),
        px=Decimal(1),
    )


def _recovery() -> tuple[Recovery, Sessions]:
    d = desk()
    ss = Sessions(RouterConfig(), d)
    return Recovery(d, ss, Updates(d)), ss


def test_restore_rebuilds_sessions_and_open_orders_from_the_journal() -> None:
    rec, ss = _recovery()
    state = JournalState()
    never_sent, sent, live = _order(1), _order(2), _order(3)
    for r in (
        JShortId(ts_ns=0, strategy="alpha", short_id=SID),
        JEpoch(ts_ns=0, strategy="alpha", epoch=1, event="welcome"),
        never_sent,
        sent,
        JRequest(ts_ns=0, op="place", transport="ws", cl_ord_ids=[sent.cl_ord_id]),
        live,
        JUpdate(ts_ns=0, cl_ord_id=live.cl_ord_id, state=OrderState.CANCEL_PENDING, ord_id="o3"),
    ):
        state.apply(r)
    out: list[Effect] = []
    rec.restore(out, state, 0)
    own = rec.desk.own
    assert b"S:alpha:1" in ss.sessions
    assert own.get(never_sent.cl_ord_id).state is OrderState.REJECTED  # type: ignore[union-attr]
    assert own.get(sent.cl_ord_id).state is OrderState.SENT  # type: ignore[union-attr]
    restored = own.get(live.cl_ord_id)
    assert restored is not None
    assert restored.state is OrderState.LIVE  # the cancel's outcome comes with the venue
    assert restored.spec is state.orders[live.cl_ord_id].order  # one record, no copy
    assert len(published(out)) == 1


def test_reconcile_attributes_a_lost_order_of_a_live_epoch_and_queries_the_missing() -> None:
    rec, _ = _recovery()
    state = JournalState()
    known = _order(1)
    for r in (
        JShortId(ts_ns=0, strategy="alpha", short_id=SID),
        JEpoch(ts_ns=0, strategy="alpha", epoch=1, event="welcome"),
        known,
        JRequest(ts_ns=0, op="place", transport="ws", cl_ord_ids=[known.cl_ord_id]),
    ):
        state.apply(r)
    rec.restore([], state, 0)
    lost = encode(SID, 1, 9)
    at_venue = [VenueOrder(INST, lost, "o9", "live", sz=Decimal(1), px=Decimal(1))]
    out: list[Effect] = []
    rec.reconcile(out, at_venue, [], 0, 0)
    adopted = rec.desk.own.get(lost)
    assert adopted is not None
    assert adopted.strategy == "alpha"
    assert adopted.state is OrderState.LIVE
    assert queries(out) == [known.cl_ord_id]
