"""Outcomes: the meaning of a venue answer decides — ack, retry, look up, or reject."""

from __future__ import annotations

from engine.messages import Ack, OrderState, Reject
from engine.router.batcher import Batch
from engine.router.effects import Effect
from engine.router.events import (
    AmendReq,
    CancelReq,
    Outcome,
    VenueAck,
    VenueFailure,
    VenueNotFound,
    VenueOrder,
)
from engine.router.outcomes import Outcomes
from engine.router.updates import Updates
from gateway.okx import codes
from tests.engine.router.helpers import INST
from tests.engine.router.subcores import desk, owned, queries, replies


def test_place_ok_acks_duplicate_queries_refused_rejects() -> None:
    d = desk()
    oc = Outcomes(d, Updates(d))
    a, b, c = (owned(d, n, state=OrderState.SENT, waiter=True) for n in (1, 2, 3))
    batch = Batch("place", [d.place_req(o) for o in (a, b, c)])
    acks = [
        VenueAck(a.cl_ord_id, Outcome.OK, ord_id="x"),
        VenueAck(b.cl_ord_id, Outcome.DUPLICATE, "51016"),
        VenueAck(c.cl_ord_id, Outcome.REFUSED, "51008", "no money"),
    ]
    out: list[Effect] = []
    oc.on_result(out, batch, acks, 0, 0)
    assert a.state is OrderState.ACK
    assert queries(out) == [b.cl_ord_id]
    assert c.state is OrderState.REJECTED
    kinds = [type(m) for m in replies(out)]
    assert kinds == [Ack, Reject]
    rej = replies(out)[1]
    assert isinstance(rej, Reject)
    assert rej.code == "51008"


def test_unknown_cancel_outcome_is_resent_then_queried() -> None:
    d = desk()
    oc = Outcomes(d, Updates(d))
    order = owned(d, state=OrderState.CANCEL_PENDING)
    order.cancel_attempts = 1  # the first cancel went out
    batch = Batch("cancel", [CancelReq(INST, order.cl_ord_id)])
    resent = 0
    while True:
        d.batcher.take(0)
        out: list[Effect] = []
        oc.on_result(out, batch, VenueFailure(Outcome.UNKNOWN, "timeout"), 0, 0)
        if not d.batcher.queued("cancel"):
            break
        resent += 1  # cancels are idempotent: sent again
    assert resent == d.cfg.max_cancel_retries
    assert queries(out) == [order.cl_ord_id]  # then the venue is asked


def test_not_found_resends_a_place_once_then_ends_it() -> None:
    d = desk()
    oc = Outcomes(d, Updates(d))
    order = owned(d, state=OrderState.SENT, waiter=True)
    order.place_attempts = 1
    oc.on_query_result([], order.cl_ord_id, VenueNotFound("51603"), 0, 0)
    assert d.batcher.queued("place") == 1
    out: list[Effect] = []
    oc.on_query_result(out, order.cl_ord_id, VenueNotFound("51603"), 0, 0)
    assert order.state is OrderState.REJECTED
    (rej,) = replies(out)
    assert isinstance(rej, Reject)
    assert rej.code == "51603"


def test_a_cancel_that_kept_failing_is_sent_again_once_the_venue_says_the_order_is_live() -> None:
    """A 5xx burst used up the immediate retries; each query answer "live" must send the cancel
    again, however long the burst: a dead strategy's order stayed at the venue for good."""
    d = desk()
    oc = Outcomes(d, Updates(d))
    order = owned(d, state=OrderState.LIVE)
    d.request_cancel([], order, 0, "strategy dead")
    batch = Batch("cancel", [CancelReq(INST, order.cl_ord_id)])
    live = VenueOrder(INST, order.cl_ord_id, "o1", "live", sz=order.sz, px=order.px)
    for burst in range(4):
        sent = 0
        while d.batcher.queued("cancel"):
            assert sent <= d.cfg.max_cancel_retries + 1, "cancels without end"
            d.batcher.take(0)
            sent += 1
            out: list[Effect] = []
            oc.on_result(out, batch, VenueFailure(Outcome.UNKNOWN, "50001"), 0, 0)
        assert sent >= 1, f"burst {burst}: no cancel sent"
        assert queries(out) == [order.cl_ord_id]
        oc.on_query_result([], order.cl_ord_id, live, 0, burst * 3_000_000_000)
        assert order.want_cancel
        assert not order.terminal


def test_a_refilled_cancel_budget_is_paced_not_a_loop() -> None:
    d = desk()
    oc = Outcomes(d, Updates(d))
    order = owned(d, state=OrderState.LIVE)
    d.request_cancel([], order, 0, "strategy dead")
    batch = Batch("cancel", [CancelReq(INST, order.cl_ord_id)])
    live = VenueOrder(INST, order.cl_ord_id, "o1", "live", sz=order.sz, px=order.px)
    sent = 0
    for answer in range(20):  # the venue answers queries at once but refuses every cancel
        while d.batcher.queued("cancel"):
            d.batcher.take(0)
            sent += 1
            oc.on_result([], batch, VenueFailure(Outcome.UNKNOWN, "50001"), 0, 0)
        oc.on_query_result([], order.cl_ord_id, live, 0, 1_000_000_000 + answer)  # same second
    # the first budget (a cancel, its retries, one re-cancel after the answer) and one refill
    budget = d.cfg.max_cancel_retries + 2
    assert budget < sent <= 2 * budget


def test_amend_back_pressure_51513_pauses_amends_and_leaves_the_order_as_it_was() -> None:
    d = desk()
    oc = Outcomes(d, Updates(d))
    order = owned(d, state=OrderState.AMEND_PENDING, waiter=True)
    order.amend_waiter = order.place_waiter
    batch = Batch("amend", [AmendReq(inst=INST, cl_ord_id=order.cl_ord_id, new_px=order.px)])
    item = VenueAck(order.cl_ord_id, codes.outcome("51513"), "51513", "too many amends")
    out: list[Effect] = []
    oc.on_result(out, batch, [item], 0, 0)
    assert order.state is OrderState.LIVE  # as it was: the venue did not take the amend
    (rej,) = replies(out)
    assert isinstance(rej, Reject)
    assert rej.code == "51513"  # the worker reads this code as back-pressure
    d.batcher.add("amend", AmendReq(inst=INST, cl_ord_id=order.cl_ord_id, new_px=order.px))
    assert d.batcher.take(0) == []  # amends wait a moment: no burst into the limit
    assert d.batcher.take(10**9) != []
