"""Pure router modules: liveness, batcher, pre-trade checks, journal."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from engine.messages import NewOrder, OrderState, OrdType, Side, TradingState
from engine.router.batcher import Batcher
from engine.router.events import CancelReq, PlaceReq
from engine.router.journal import JEpoch, JFill, JOrder, Journal, JShortId, JUpdate, compact, replay
from engine.router.liveness import Liveness
from engine.router.pretrade import OrderLimits, check_amend, check_new_order, notional
from gateway.okx.ratelimit import OkxTradeLimiter
from tests.engine.router.helpers import INST, RULES

MS = 1_000_000
LIMITS = OrderLimits(Decimal(100), Decimal(1_000_000), 10, 500)


def test_liveness_reports_each_silent_peer_once() -> None:
    lv = Liveness(150 * MS)
    lv.on_message(b"a", 0)
    lv.on_message(b"b", 0)
    lv.on_message(b"b", 100 * MS)
    assert lv.expired(150 * MS) == []
    assert lv.expired(151 * MS) == [b"a"]
    assert lv.expired(400 * MS) == [b"b"]
    assert lv.expired(10_000 * MS) == []
    lv.on_message(b"a", 500 * MS)
    assert lv.watching(b"a")


def test_liveness_credit_moves_the_deadline_by_the_routers_own_stall() -> None:
    lv = Liveness(150 * MS)
    lv.on_message(b"a", 0)
    lv.credit(300 * MS)  # the router was stopped for 300 ms
    assert lv.expired(400 * MS) == []
    assert lv.expired(451 * MS) == [b"a"]  # silent for 150 ms after the stall: dead


def _place(cid: str, inst: str = INST) -> PlaceReq:
    return PlaceReq(inst, cid, Side.BUY, OrdType.LIMIT, Decimal(1), Decimal(1))


def test_batcher_cancels_first_batches_of_20_and_rate_limits() -> None:
    b = Batcher(OkxTradeLimiter(), 20)
    for i in range(45):
        b.add("place", _place(f"p{i}"))
    b.add("cancel", CancelReq(INST, "c1"))
    out = b.take(0)
    assert out[0].op == "cancel"
    assert [len(x.reqs) for x in out[1:]] == [20, 20, 5]
    # the batch bucket (300 orders / 2 s) runs dry: the rest waits, nothing is lost
    for i in range(300):
        b.add("place", _place(f"q{i}"))
    sent = sum(len(x.reqs) for x in b.take(1))
    assert sent < 300
    assert b.queued("place") == 300 - sent
    assert b.retry_at_ns > 1
    assert sum(len(x.reqs) for x in b.take(10 * 1_000_000_000)) == 300 - sent


def test_batcher_pause_and_drop() -> None:
    b = Batcher(OkxTradeLimiter(), 20)
    b.add("place", _place("x"))
    b.add("place", _place("y"))
    assert b.drop("place", "x")
    b.pause("place", 100)
    assert b.take(50) == []
    (batch,) = b.take(100)
    assert batch.cl_ord_ids == ["y"]


def _order(**kw: object) -> NewOrder:
    base: dict[str, object] = {
        "cl_ord_id": "x",
        "inst": INST,
        "side": Side.BUY,
        "ord_type": OrdType.POST_ONLY,
        "sz": Decimal(1),
        "px": Decimal("50000.0"),
    }
    base.update(kw)
    return NewOrder(**base)  # type: ignore[arg-type]


def test_pretrade_rules() -> None:
    ref = Decimal(50000)
    ok = check_new_order(_order(), RULES, LIMITS, 0, ref, require_reference=True)
    assert ok is None
    cases = [
        (_order(px=None), "needs px"),
        (_order(ord_type=OrdType.MARKET), "must not carry px"),
        (_order(sz=Decimal(0)), "positive"),
        (_order(px=Decimal("40000.0")), "band"),
    ]
    for o, why in cases:
        reason = check_new_order(o, RULES, LIMITS, 0, ref, require_reference=True)
        assert reason is not None
        assert why in reason
    full = check_new_order(_order(), RULES, LIMITS, 10, ref, require_reference=True)
    assert full is not None
    assert "max open" in full
    assert check_new_order(_order(), RULES, LIMITS, 0, None, require_reference=True)
    assert check_new_order(_order(), RULES, LIMITS, 0, None, require_reference=False) is None
    assert check_new_order(_order(), None, LIMITS, 0, ref, require_reference=False)
    reducing = OrderLimits(Decimal(100), Decimal(10**6), 10, 500, TradingState.REDUCING)
    assert check_new_order(_order(), RULES, reducing, 0, ref, require_reference=False)
    assert (
        check_new_order(_order(reduce_only=True), RULES, reducing, 0, ref, require_reference=False)
        is None
    )
    assert notional(RULES, Decimal(2), Decimal(50000)) == Decimal(1000)  # 2 × 0.01 × 50000
    assert check_amend(
        Decimal(1),
        Decimal(50000),
        Decimal(0),
        None,
        None,
        RULES,
        LIMITS,
        ref,
        require_reference=False,
    )
    assert check_amend(
        Decimal(3),
        Decimal(50000),
        Decimal(2),
        Decimal(2),
        None,
        RULES,
        LIMITS,
        ref,
        require_reference=False,
    )


def test_journal_round_trip_and_torn_line(tmp_path: Path) -> None:
    path = tmp_path / "j" / "router.journal"
    j = Journal(path)
    j.append(JShortId(ts_ns=1, strategy="a", short_id="000"))
    j.append(JEpoch(ts_ns=2, strategy="a", epoch=7, event="welcome"))
    j.append(
        JOrder(
            ts_ns=3,
            cl_ord_id="c1",
            strategy="a",
            epoch=7,
            inst=INST,
            side=Side.BUY,
            ord_type=OrdType.LIMIT,
            sz=Decimal("1.5"),
            px=Decimal("100.1"),
        )
    )
    j.append(
        JUpdate(
            ts_ns=4, cl_ord_id="c1", state=OrderState.LIVE, ord_id="9", acc_fill_sz=Decimal("0.5")
        )
    )
    j.append(
        JFill(
            ts_ns=5,
            inst=INST,
            trade_id="t1",
            cl_ord_id="c1",
            ord_id="9",
            side=Side.BUY,
            px=Decimal("100.1"),
            sz=Decimal("0.5"),
            fee=Decimal("-0.01"),
        )
    )
    j.close()
    with path.open("ab") as fh:
        fh.write(b'{"k":"upd","cl_ord_id":"c1","sta')  # a kill -9 mid-write
    st = replay(path)
    assert st.short_ids == {"a": "000"}
    assert st.epochs == {"a": 7}
    jo = st.orders["c1"]
    assert jo.state is OrderState.LIVE
    assert jo.acc_fill_sz == Decimal("0.5")
    assert jo.order.px == Decimal("100.1")
    assert (INST, "t1") in st.trade_ids
    assert replay(tmp_path / "missing").records == 0


def test_compact_keeps_what_a_restart_needs(tmp_path: Path) -> None:
    path = tmp_path / "router.journal"
    j = Journal(path)
    j.append(JShortId(ts_ns=1, strategy="a", short_id="000"))
    j.append(JEpoch(ts_ns=2, strategy="a", epoch=7, event="welcome"))
    j.append(JEpoch(ts_ns=2, strategy="a", epoch=6, event="fenced"))
    for cid, state in (("open1", OrderState.LIVE), ("done1", OrderState.CANCELED)):
        j.append(
            JOrder(
                ts_ns=3,
                cl_ord_id=cid,
                strategy="a",
                epoch=7,
                inst=INST,
                side=Side.BUY,
                ord_type=OrdType.LIMIT,
                sz=Decimal(2),
                px=Decimal(1),
            )
        )
        j.append(JUpdate(ts_ns=4, cl_ord_id=cid, state=state, acc_fill_sz=Decimal(1)))
        j.append(
            JFill(
                ts_ns=5,
                inst=INST,
                trade_id=f"t-{cid}",
                cl_ord_id=cid,
                ord_id="9",
                side=Side.BUY,
                px=Decimal(1),
                sz=Decimal(1),
                fee=Decimal(0),
            )
        )
    j.close()
    before = replay(path)
    assert compact(path, before, 10) < before.records
    after = replay(path)
    assert set(after.orders) == {"open1"}
    assert after.orders["open1"].state is OrderState.LIVE
    assert after.orders["open1"].acc_fill_sz == Decimal(1)
    assert after.short_ids == before.short_ids
    assert after.epochs == before.epochs
    assert after.fenced == before.fenced
    assert after.trade_ids == {(INST, "t-open1")}
