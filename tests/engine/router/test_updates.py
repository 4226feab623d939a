"""Updates: pushes move orders through the table, fills are journalled once, orphans cancelled."""

from __future__ import annotations

from decimal import Decimal

from engine.messages import Ack, OrderEvent, OrderState
from engine.orders.clordid import encode
from engine.router.effects import Effect
from engine.router.events import VenueFill, VenueOrder
from engine.router.records import JFill
from engine.router.updates import Updates
from tests.engine.router.helpers import INST
from tests.engine.router.subcores import desk, owned, published, records, replies


def _push(cid: str, state: str, **kw: object) -> VenueOrder:
    return VenueOrder(inst=INST, cl_ord_id=cid, ord_id="o1", state=state, sz=Decimal(2), **kw)  # type: ignore[arg-type]


def test_a_fill_push_is_journalled_and_published_once() -> None:
    d = desk()
    up = Updates(d)
    order = owned(d)
    fill = {
        "trade_id": "t1",
        "fill_sz": Decimal(1),
        "fill_px": Decimal(5),
        "acc_fill_sz": Decimal(1),
    }
    out: list[Effect] = []
    up.on_order(out, _push(order.cl_ord_id, "partially_filled", **fill), 0, 0)
    assert order.state is OrderState.PARTIALLY_FILLED
    assert [type(r) for r in records(out)].count(JFill) == 1
    (ev,) = published(out)
    assert isinstance(ev, OrderEvent)
    assert ev.trade_id == "t1"
    again: list[Effect] = []
    up.on_order(again, _push(order.cl_ord_id, "partially_filled", **fill), 0, 0)
    assert published(again) == []
    rest: list[Effect] = []
    up.on_fill(
        rest, VenueFill(INST, "t1", order.cl_ord_id, "o1", Decimal(5), Decimal(1), Decimal(0)), 0
    )
    assert rest == []  # the same trade from the fill list: already counted


def test_a_push_answers_a_place_whose_ack_was_lost() -> None:
    d = desk()
    order = owned(d, state=OrderState.SENT, waiter=True)
    out: list[Effect] = []
    Updates(d).on_order(out, _push(order.cl_ord_id, "live"), 0, 0)
    assert order.state is OrderState.LIVE
    (ack,) = replies(out)
    assert isinstance(ack, Ack)
    assert ack.detail == "o1"


def test_an_unknown_live_order_of_ours_is_cancelled_a_foreign_one_left_alone() -> None:
    d = desk()
    up = Updates(d)
    out: list[Effect] = []
    up.on_order(out, _push(encode("zzz", 1, 1), "live"), 0, 0)
    up.on_order(out, _push("manual1", "live"), 0, 0)
    assert d.batcher.queued("cancel") == 1
    assert d.counters["orphans_cancelled"] == 1
