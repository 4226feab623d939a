"""The order desk: transitions journalled, cancels idempotent, flush journals before sending."""

from __future__ import annotations

from engine.messages import OrderEvent, OrderState
from engine.orders.fsm import OrderTrigger
from engine.router.effects import Effect, JournalRecord, Send
from engine.router.records import JRequest, JUpdate
from tests.engine.router.subcores import desk, owned, published, queries, records


def test_a_transition_is_journalled_and_an_illegal_one_is_queried() -> None:
    d = desk()
    order = owned(d, state=OrderState.LIVE)
    out: list[Effect] = []
    assert d.transition(out, order, OrderTrigger.CANCEL_REQUEST, 5, "cancel")
    (upd,) = records(out)
    assert isinstance(upd, JUpdate)
    assert upd.state is OrderState.CANCEL_PENDING
    out = []
    assert not d.transition(out, order, OrderTrigger.SUBMIT, 6, "bogus")
    assert queries(out) == [order.cl_ord_id]
    assert d.counters["illegal_transitions"] == 1


def test_cancel_is_idempotent_and_a_pending_place_is_withdrawn() -> None:
    d = desk()
    live = owned(d, 1)
    out: list[Effect] = []
    assert d.request_cancel(out, live, 0, "why")
    assert d.request_cancel(out, live, 0, "again")
    assert d.batcher.queued("cancel") == 1  # one cancel in flight, not two
    pending = owned(d, 2, state=OrderState.PENDING)
    d.queue_place(pending)
    out = []
    d.request_cancel(out, pending, 0, "withdrawn")
    assert d.batcher.queued("place") == 0
    assert pending.state is OrderState.CANCELED
    (ev,) = published(out)
    assert isinstance(ev, OrderEvent)
    assert ev.state is OrderState.CANCELED


def test_flush_marks_places_sent_and_journals_each_request_before_its_send() -> None:
    d = desk()
    order = owned(d, state=OrderState.PENDING)
    d.queue_place(order)
    out: list[Effect] = []
    d.flush(out, 0, "ws")
    assert order.state is OrderState.SENT
    kinds = [
        type(e.record).__name__ if isinstance(e, JournalRecord) else type(e).__name__ for e in out
    ]
    assert kinds == ["JUpdate", "JRequest", "Send"]
    req = records(out)[1]
    assert isinstance(req, JRequest)
    assert req.transport == "ws"
    (send,) = [e for e in out if isinstance(e, Send)]
    assert send.batch.cl_ord_ids == [order.cl_ord_id]


def test_queries_are_one_at_a_time() -> None:
    d = desk()
    order = owned(d)
    out: list[Effect] = []
    d.query(out, order)
    d.query(out, order)
    assert queries(out) == [order.cl_ord_id]
