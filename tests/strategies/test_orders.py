"""The worker's order table: router events → FSM, fills from accFillSz, illegal pairs resolved."""

from __future__ import annotations

from decimal import Decimal

from engine.messages import OrderEvent, OrderState, Side
from engine.orders.fsm import OrderTrigger
from strategies.orders import OrderTable

D = Decimal
S = OrderState
T = OrderTrigger


def ev(
    cid: str,
    state: OrderState,
    *,
    px: str = "100",
    sz: str = "2",
    acc: str = "0",
    fill_px: str | None = None,
) -> OrderEvent:
    return OrderEvent(
        strategy="w",
        epoch=1,
        cl_ord_id=cid,
        inst="X",
        side=Side.BUY,
        state=state,
        sz=D(sz),
        px=D(px),
        acc_fill_sz=D(acc),
        fill_px=D(fill_px) if fill_px else None,
    )


def placed(table: OrderTable, cid: str = "c1") -> None:
    table.add(cid, Side.BUY, D(100), D(2), 0)
    table.apply(cid, T.SUBMIT, 0)


def test_lifecycle_from_router_events() -> None:
    t = OrderTable()
    placed(t)
    assert t.on_event(ev("c1", S.ACK), 1) is None
    assert t.orders["c1"].state is S.ACK
    t.on_event(ev("c1", S.LIVE), 2)
    assert t.orders["c1"].state is S.LIVE
    d1 = t.on_event(ev("c1", S.PARTIALLY_FILLED, acc="0.5", fill_px="100"), 3)
    assert d1 is not None
    assert d1.qty == D("0.5")
    d2 = t.on_event(ev("c1", S.FILLED, acc="2", fill_px="99"), 4)
    assert d2 is not None
    assert d2.qty == D("1.5")
    assert d2.px == D(99)
    assert t.orders["c1"].state is S.FILLED


def test_weak_spot_10_2_9_fills_counted_from_acc_fill_sz_once() -> None:
    t = OrderTable()
    placed(t)
    assert t.on_event(ev("c1", S.PARTIALLY_FILLED, acc="1"), 1) is not None
    assert t.on_event(ev("c1", S.PARTIALLY_FILLED, acc="1"), 2) is None  # repeated push
    assert t.orders["c1"].filled == D(1)


def test_fill_before_ack() -> None:
    t = OrderTable()
    placed(t)
    t.on_event(ev("c1", S.PARTIALLY_FILLED, acc="1"), 1)
    t.apply("c1", T.VENUE_ACCEPT, 2)  # the router's Ack arrives late
    assert t.orders["c1"].state is S.PARTIALLY_FILLED


def test_amend_outcome_from_router_state_and_values() -> None:
    t = OrderTable()
    placed(t)
    t.on_event(ev("c1", S.LIVE), 1)
    t.request_amend("c1", D(101), None, 2)
    assert t.orders["c1"].quote_px == D(101)
    t.on_event(ev("c1", S.LIVE, px="101"), 3)  # landed
    o = t.orders["c1"]
    assert o.state is S.LIVE
    assert o.px == D(101)
    assert o.target_px is None
    t.request_amend("c1", D(102), None, 4)
    t.on_event(ev("c1", S.LIVE, px="101"), 5)  # the router says live at the old price: failed
    assert o.state is S.LIVE
    assert o.px == D(101)  # weak spot 10.1-14: the venue's price, not the optimistic one


def test_amend_racing_a_partial_fill_lands_partially_filled() -> None:
    t = OrderTable()
    placed(t)
    t.on_event(ev("c1", S.LIVE), 1)
    t.request_amend("c1", D(101), None, 2)
    t.on_event(ev("c1", S.PARTIALLY_FILLED, px="101", acc="1"), 3)
    assert t.orders["c1"].state is S.PARTIALLY_FILLED


def test_cancel_racing_a_fill() -> None:
    t = OrderTable()
    placed(t)
    t.on_event(ev("c1", S.LIVE), 1)
    t.apply("c1", T.CANCEL_REQUEST, 2)
    t.on_event(ev("c1", S.LIVE), 3)  # a live push after cancel-requested: stays cancelling
    assert t.orders["c1"].state is S.CANCEL_PENDING
    t.on_event(ev("c1", S.FILLED, acc="2"), 4)
    assert t.orders["c1"].state is S.FILLED
    t.on_command_failed("c1", "cancel", 5)  # the cancel's failure arrives last
    assert t.orders["c1"].state is S.FILLED
    assert t.illegal_transitions == 0


def test_illegal_pair_is_logged_and_the_router_state_adopted() -> None:
    t = OrderTable()
    placed(t)
    t.on_event(ev("c1", S.FILLED, acc="2"), 1)
    t.on_event(ev("c1", S.LIVE, acc="2"), 2)  # FILLED + PARTIAL_FILL has no row
    assert t.illegal_transitions == 1
    assert t.orders["c1"].state is S.LIVE  # the router's view wins; the diff takes it from here


def test_unknown_open_order_is_tracked_so_it_gets_cancelled() -> None:
    t = OrderTable()
    t.on_event(ev("zz", S.LIVE), 1)
    assert t.orders["zz"].state is S.LIVE
    assert t.on_event(ev("yy", S.CANCELED), 1) is None
    assert "yy" not in t.orders


def test_overdue_and_prune() -> None:
    t = OrderTable()
    placed(t)
    assert [o.cl_ord_id for o in t.overdue(10, 5)] == ["c1"]
    t.on_event(ev("c1", S.CANCELED), 20)
    assert t.prune(21, 5) == 0
    assert t.prune(30, 5) == 1
    assert len(t) == 0


def test_open_and_ended_indexes_follow_every_way_an_order_ends() -> None:
    t = OrderTable()
    for i, at in enumerate((1, 2, 3, 4)):
        t.add(f"c{i}", Side.BUY, D(100), D(1), at)
        t.apply(f"c{i}", T.SUBMIT, at)
    t.on_event(ev("c2", S.CANCELED), 10)  # ends first
    t.close("c0", S.FILLED, 12)  # a refused amend's word from the router
    t.orders["c3"].state = S.CANCELED  # set by hand, outside the table (a harness)
    assert [o.cl_ord_id for o in t.active()] == ["c1"]
    assert [o.cl_ord_id for o in t.overdue(100, 5)] == ["c1"]
    # pruned in the order they ended, each once its own window is over
    assert t.prune(16, 5) == 1
    assert sorted(t.orders) == ["c0", "c1", "c3"]
    # c3, ended by hand, kept its changed_ns (4): found by active(), pruned right after c0
    assert t.prune(18, 5) == 2
    assert sorted(t.orders) == ["c1"]
    t.on_event(ev("c1", S.CANCELED), 20)
    assert t.active() == []
    assert t.prune(25, 5) == 0
    assert t.prune(26, 5) == 1
    assert len(t) == 0


def test_the_table_stays_bounded_under_churn() -> None:
    t = OrderTable()
    for i in range(10_000):
        cid = f"c{i}"
        t.add(cid, Side.BUY, D(100), D(1), i)
        t.apply(cid, T.SUBMIT, i)
        t.on_event(ev(cid, S.CANCELED), i)
        t.prune(i, 50)
    assert len(t) == 51  # what ended in the last 50 ns, and nothing more
    assert len(t._ended) == 51  # the index with it
    assert t.active() == []
