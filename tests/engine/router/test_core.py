"""Router core: command protocol, fencing, cancel-on-death, venue answers, no loops."""

from __future__ import annotations

from decimal import Decimal
from itertools import pairwise

from engine.errors import RateLimitError, VenueUnavailableError
from engine.messages import (
    Ack,
    Amend,
    Bye,
    Cancel,
    CancelAll,
    Fenced,
    Heartbeat,
    Hello,
    NewOrder,
    OrderEvent,
    OrderState,
    OrdType,
    Reject,
    RiskState,
    Side,
    TradingState,
    Welcome,
)
from engine.orders.clordid import encode
from engine.router.config import RouterConfig
from engine.router.effects import Forget, Query
from engine.router.events import VenueNotFound
from engine.router.journal import Journal, JournalState
from gateway.okx import convert
from gateway.okx.schemas import OrderData
from tests.engine.router.helpers import INST, Pair, events, replies

MS = 1_000_000
NOT_FOUND = VenueNotFound("51603")
BUSY = convert.venue_failure(VenueUnavailableError("50026", "busy"))


def test_hello_gets_welcome_with_distinct_short_ids_and_limits() -> None:
    p = Pair()
    a = p.hello("alpha", 1)
    b = p.hello("beta", 1)
    assert p.ids[a].short_id != p.ids[b].short_id
    w = replies(p.effects, Welcome)[0]
    assert isinstance(w, Welcome)
    assert w.limits.max_open_orders == 100
    assert w.dead_after_ms == 150


def test_hello_must_match_routing_id() -> None:
    p = Pair()
    out = p.send(b"S:alpha:1", Hello(strategy="alpha", epoch=2, inst=INST))
    assert replies(out, Reject)


def test_new_order_acked_after_venue_accepts() -> None:
    p = Pair()
    s = p.hello("alpha", 1)
    cid, out = p.new_order(s)
    assert not replies(out, Ack)  # the Ack waits for the venue
    (batch,) = p.batches()
    assert batch.op == "place"
    assert batch.cl_ord_ids == [cid]
    order = p.core.own.get(cid)
    assert order is not None
    assert order.state is OrderState.SENT
    out = p.result(batch)
    (ack,) = replies(out, Ack)
    assert isinstance(ack, Ack)
    assert ack.cl_ord_id == cid
    assert ack.detail
    (ev,) = events(out)
    assert isinstance(ev, OrderEvent)
    assert ev.state is OrderState.ACK
    p.push(cid, "live")
    assert order.state is OrderState.LIVE


def test_venue_reject_carries_okx_code() -> None:
    p = Pair()
    s = p.hello("alpha", 1)
    cid, _ = p.new_order(s)
    (batch,) = p.batches()
    out = p.result(batch, ["51008"])
    (rej,) = replies(out, Reject)
    assert isinstance(rej, Reject)
    assert rej.code == "51008"
    assert rej.cl_ord_id == cid
    order = p.core.own.get(cid)
    assert order is not None
    assert order.state is OrderState.REJECTED


def test_bad_commands_are_rejected_not_raised() -> None:
    p = Pair()
    s = p.hello("alpha", 1)
    # wrong epoch in clOrdId, foreign clOrdId, unknown strategy, stale, bad identity, duplicate
    bad = NewOrder(
        cl_ord_id=encode(p.ids[s].short_id, 2, 1),
        inst=INST,
        side=Side.BUY,
        ord_type=OrdType.LIMIT,
        sz=Decimal(1),
        px=Decimal("50000.0"),
    )
    assert replies(p.send(s, bad), Reject)
    foreign = NewOrder(
        cl_ord_id="abc",
        inst=INST,
        side=Side.BUY,
        ord_type=OrdType.LIMIT,
        sz=Decimal(1),
        px=Decimal("50000.0"),
    )
    assert replies(p.send(s, foreign), Reject)
    assert replies(p.send(b"S:ghost:1", Heartbeat(strategy="ghost")), Reject) == []
    assert replies(p.send(b"S:ghost:1", Cancel(cl_ord_id="x", inst=INST)), Reject)
    assert replies(p.send(s, Heartbeat(strategy="alpha"), age_ns=2_000 * MS), Reject)
    assert replies(p.send(b"garbage", Heartbeat(strategy="x")), Reject)
    cid, _ = p.new_order(s)
    dup = NewOrder(
        cl_ord_id=cid,
        inst=INST,
        side=Side.BUY,
        ord_type=OrdType.LIMIT,
        sz=Decimal(1),
        px=Decimal("50000.0"),
    )
    (rej,) = replies(p.send(s, dup), Reject)
    assert isinstance(rej, Reject)
    assert "duplicate" in rej.reason
    assert replies(
        p.send(
            s, Welcome(strategy="a", epoch=1, short_id="000", limits=p.core.limits_for("a", INST))
        ),
        Reject,
    )  # type: ignore[arg-type]


def test_pretrade_rejects_misaligned_and_out_of_band() -> None:
    p = Pair()
    p.core.mark[INST] = Decimal("50000")
    s = p.hello("alpha", 1)
    for px, sz, why in [
        ("50000.05", "1", "tick"),
        ("50000.0", "1.5", "lot"),
        ("60000.0", "1", "band"),
        ("50000.0", "5000", "above max"),
    ]:
        _, out = p.new_order(s, px=px, sz=sz)
        (rej,) = replies(out, Reject)
        assert isinstance(rej, Reject)
        assert why in rej.reason
    assert p.batches() == []


def test_halted_rejects_new_orders_and_cancels_open_ones() -> None:
    p = Pair()
    s = p.hello("alpha", 1)
    cid, _ = p.new_order(s)
    (batch,) = p.batches()
    p.result(batch)
    p.core.on_market(RiskState(scope="account", key="*", state=TradingState.HALTED, reason="kill"))
    (cancel,) = p.batches()
    assert cancel.op == "cancel"
    assert cancel.cl_ord_ids == [cid]
    _, out = p.new_order(s)
    (rej,) = replies(out, Reject)
    assert isinstance(rej, Reject)
    assert "halted" in rej.reason


def test_heartbeat_silence_fences_and_cancels_everything_in_batches_of_20() -> None:
    p = Pair()
    s = p.hello("alpha", 1)
    other = p.hello("beta", 1)
    cids = [p.new_order(s, px=f"{49000 + i}.0")[0] for i in range(45)]
    beta_cid, _ = p.new_order(other)
    sent = p.batches()
    assert [len(b.reqs) for b in sent] == [20, 20, 6]
    for b in sent[:2]:
        p.result(b)  # 40 acked; 5 of alpha's + beta's still in flight
    p.clock.advance(100 * MS)
    p.send(other, Heartbeat(strategy="beta"))
    p.clock.advance(60 * MS)  # alpha silent 160 ms, beta 60 ms
    out = p.core.on_timer(p.clock.now_ns(), p.clock.monotonic_ns())
    assert any(isinstance(e, Forget) and e.identity == s for e in out)
    assert any(isinstance(m, Fenced) for m in replies(out, Fenced))
    cancels = p.batches()
    assert all(b.op == "cancel" for b in cancels)
    assert [len(b.reqs) for b in cancels] == [20, 20, 5]
    cancelled = {c for b in cancels for c in b.cl_ord_ids}
    assert cancelled == set(cids)  # in-flight ones too, and nothing of beta's
    assert beta_cid not in cancelled
    # later commands of the fenced epoch are refused
    _, out = p.new_order(s)
    assert replies(out, Reject)
    assert replies(out, Fenced)


def test_cancel_of_in_flight_order_recancels_on_late_ack_without_looping() -> None:
    p = Pair()
    s = p.hello("alpha", 1)
    cid, _ = p.new_order(s)
    (place,) = p.batches()
    p.core.fence_identity(s, "test", p.clock.now_ns(), p.clock.monotonic_ns())
    (cancel,) = p.batches()
    p.result(cancel, ["51400"])  # the venue has not seen the place yet
    assert p.batches() == []  # no retry loop while the place is in flight
    p.result(place)  # the late ack
    (again,) = p.batches()
    assert again.op == "cancel"
    assert again.cl_ord_ids == [cid]
    p.result(again)
    p.push(cid, "canceled")
    order = p.core.own.get(cid)
    assert order is not None
    assert order.state is OrderState.CANCELED
    assert p.batches() == []


def test_pending_place_is_withdrawn_when_fenced() -> None:
    p = Pair()
    s = p.hello("alpha", 1)
    cid, _ = p.new_order(s)
    out = p.send(s, Bye(strategy="alpha"))
    assert replies(out, Ack)
    assert p.batches() == []  # never sent: nothing to cancel at the venue
    order = p.core.own.get(cid)
    assert order is not None
    assert order.state is OrderState.CANCELED


def test_new_epoch_fences_old_and_old_hello_is_refused() -> None:
    p = Pair()
    old = p.hello("alpha", 1)
    cid, _ = p.new_order(old)
    (b,) = p.batches()
    p.result(b)
    new = p.hello("alpha", 2)
    assert p.ids[new].short_id == p.ids[old].short_id
    (cancel,) = p.batches()
    assert cancel.cl_ord_ids == [cid]
    out = p.send(old, Hello(strategy="alpha", epoch=1, inst=INST))
    assert replies(out, Fenced)
    assert replies(p.send(old, Cancel(cl_ord_id=cid, inst=INST)), Reject)


def test_supervisor_cancel_all_fences_named_strategy() -> None:
    p = Pair()
    s = p.hello("alpha", 1)
    cid, _ = p.new_order(s)
    (b,) = p.batches()
    p.result(b)
    out = p.send(b"O:supervisor", CancelAll(strategy="alpha", reason="exit -9"))
    (ack,) = replies(out, Ack)
    assert isinstance(ack, Ack)
    assert ack.detail == "1"
    (cancel,) = p.batches()
    assert cancel.cl_ord_ids == [cid]
    assert replies(p.send(s, Heartbeat(strategy="alpha")), Fenced)


def test_unknown_outcome_is_resolved_by_query_then_replaced_once() -> None:
    p = Pair()
    s = p.hello("alpha", 1)
    cid, _ = p.new_order(s)
    (b,) = p.batches()
    now, mono = p.clock.now_ns(), p.clock.monotonic_ns()
    out = p.core.on_venue_result(
        b, convert.venue_failure(VenueUnavailableError("timeout", "no answer")), now, mono
    )
    assert [e for e in out if isinstance(e, Query)] == [Query(INST, cid)]
    p.core.on_query_result(cid, NOT_FOUND, now, mono)  # the venue never saw it
    (again,) = p.batches()
    assert again.op == "place"
    assert again.cl_ord_ids == [cid]
    out = p.core.on_venue_result(
        again, convert.venue_failure(VenueUnavailableError("timeout", "again")), now, mono
    )
    assert [e for e in out if isinstance(e, Query)]
    out = p.core.on_query_result(cid, NOT_FOUND, now, mono)
    assert p.batches() == []  # retries are bounded
    order = p.core.own.get(cid)
    assert order is not None
    assert order.state is OrderState.REJECTED
    assert replies(out, Reject)


def test_rate_limited_place_is_requeued() -> None:
    p = Pair()
    s = p.hello("alpha", 1)
    cid, _ = p.new_order(s)
    (b,) = p.batches()
    p.core.on_venue_result(
        b,
        convert.venue_failure(RateLimitError("50011", "Too Many Requests", 429)),
        p.clock.now_ns(),
        p.clock.monotonic_ns(),
    )
    assert p.batches() == []  # paused a moment: the venue said our buckets were optimistic
    p.clock.advance(250 * MS)
    (again,) = p.batches()
    assert again.cl_ord_ids == [cid]


def test_per_item_rate_limit_is_retried_not_rejected() -> None:
    p = Pair()
    s = p.hello("alpha", 1)
    cid, _ = p.new_order(s)
    (b,) = p.batches()
    out = p.result(b, ["50011"])
    assert not replies(out, Reject)
    p.clock.advance(250 * MS)
    (again,) = p.batches()
    assert again.cl_ord_ids == [cid]
    assert replies(p.result(again), Ack)


def test_amend_then_push_updates_price() -> None:
    p = Pair()
    s = p.hello("alpha", 1)
    cid, _ = p.new_order(s)
    (b,) = p.batches()
    p.result(b)
    p.push(cid, "live")
    out = p.send(s, Amend(cl_ord_id=cid, inst=INST, new_px=Decimal("50001.0")))
    assert not replies(out, Reject)
    (amend,) = p.batches()
    assert amend.op == "amend"
    second = p.send(s, Amend(cl_ord_id=cid, inst=INST, new_px=Decimal("50002.0")))
    assert replies(second, Reject)  # one amend in flight
    assert replies(p.result(amend), Ack)
    p.push(cid, "live", px="50001.0", amendResult="0")
    order = p.core.own.get(cid)
    assert order is not None
    assert order.px == Decimal("50001.0")
    assert order.state is OrderState.LIVE


def test_fills_are_deduplicated_by_trade_id() -> None:
    p = Pair()
    s = p.hello("alpha", 1)
    cid, _ = p.new_order(s, sz="2")
    (b,) = p.batches()
    p.result(b)
    fill = {"tradeId": "77", "fillSz": "1", "fillPx": "50000.0"}
    first = p.push(cid, "partially_filled", acc="1", sz="2", **fill)
    again = p.push(cid, "partially_filled", acc="1", sz="2", **fill)
    assert [e for e in events(first) if isinstance(e, OrderEvent) and e.trade_id == "77"]
    assert not events(again)
    order = p.core.own.get(cid)
    assert order is not None
    assert order.state is OrderState.PARTIALLY_FILLED


def test_restore_and_reconcile_adopt_orphan_query() -> None:
    journal = Journal(None)
    p = Pair(journal=journal)  # the pair writes the core's journal effects here
    s = p.hello("alpha", 1)
    live_cid, _ = p.new_order(s)
    gone_cid, _ = p.new_order(s, px="49000.0")
    (b,) = p.batches()
    p.result(b)
    state = JournalState()
    for rec in journal.memory:
        state.apply(rec)
    # a new router from the journal
    q = Pair(RouterConfig(), Journal(None))
    q.core.restore(state, q.clock.now_ns(), q.clock.monotonic_ns())
    assert {o.cl_ord_id for o in q.core.own.open_orders()} == {live_cid, gone_cid}
    orphan = encode("zzz", 5, 1)
    pending = [
        OrderData(
            instId=INST, ordId="1", clOrdId=live_cid, state="live", sz="1", px="50000.0", side="buy"
        ),
        OrderData(instId=INST, ordId="2", clOrdId=orphan, state="live", sz="1", side="buy"),
        OrderData(instId=INST, ordId="3", clOrdId="manual1", state="live", sz="1", side="buy"),
    ]
    venue = [convert.venue_order(d) for d in pending]
    out = q.core.reconcile(venue, [], q.clock.now_ns(), q.clock.monotonic_ns())
    assert [e for e in out if isinstance(e, Query)] == [Query(INST, gone_cid)]
    (cancel,) = q.batches()
    assert cancel.cl_ord_ids == [orphan]  # never the foreign one
    live = q.core.own.get(live_cid)
    assert live is not None
    assert live.state is OrderState.LIVE
    # the restored strategy keeps its session: its heartbeats are accepted
    assert not replies(q.send(s, Heartbeat(strategy="alpha")), Reject)


def test_an_unresolved_order_is_queried_with_backoff_however_long_the_fault_lasts() -> None:
    """Issue 13 item 5: an 8 s burst of 50026 used to spend a per-order budget of 5 queries
    that never refilled, leaving the order unmanaged for good."""
    p = Pair()
    s = p.hello("alpha", 1)
    cid, _ = p.new_order(s)
    (b,) = p.batches()
    out = p.core.on_venue_result(b, BUSY, p.clock.now_ns(), p.clock.monotonic_ns())
    assert [e for e in out if isinstance(e, Query)] == [Query(INST, cid)]
    asked_at: list[float] = []
    for _ in range(600):  # 10 minutes of venue errors, the slow timer every second
        p.core.on_query_result(cid, BUSY, p.clock.now_ns(), p.clock.monotonic_ns())
        while True:
            p.clock.advance_s(1.0)
            out = p.core.on_slow_timer(p.clock.now_ns(), p.clock.monotonic_ns())
            if [e for e in out if isinstance(e, Query)]:
                asked_at.append(p.clock.monotonic_ns() / 1e9)
                break
        if asked_at[-1] > 600:
            break
    gaps = [b - a for a, b in pairwise(asked_at)]
    assert len(asked_at) > 20  # it never stopped asking
    assert max(gaps) <= 31  # never more than 30 s between two questions
    assert gaps[0] < gaps[-1]  # and it backed off
    order = p.core.own.get(cid)
    assert order is not None
    # the venue answers at last: the order is resolved and the next doubt starts fast again
    p.core.on_query_result(cid, NOT_FOUND, p.clock.now_ns(), p.clock.monotonic_ns())
    assert order.queries == 0
