"""PrivateState: fill dedup, order retention, stale pushes, account merge, reconciliation."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import msgspec

from engine import topics
from engine.clock import FakeClock
from engine.messages import AccountUpdate, Fill, OrderUpdate, Position, RecentFills
from gateway.okx.schemas import Balance, BalanceDetailData, FillData, OrderData, PositionData
from gateway.okx.ws_protocol import BalanceAndPositionPush, OrdersPush, WsParser
from gateway.private_state import PrivateState

INST = "BTC-USDT-SWAP"


def _order(
    ord_id: str, state: str, u: int, trade_id: str = "", fill_sz: str = "0", acc: str = "0"
) -> OrderData:
    return OrderData(
        instId=INST,
        ordId=ord_id,
        clOrdId=f"c{ord_id}",
        side="buy",
        ordType="limit",
        px="100",
        sz="2",
        state=state,
        accFillSz=acc,
        fillSz=fill_sz,
        fillPx="100" if trade_id else "",
        tradeId=trade_id,
        fillFee="-0.01" if trade_id else "",
        fillFeeCcy="USDT",
        uTime=str(u),
        instType="SWAP",
    )


def test_orders_push_fixture_gives_one_fill_and_terminal_update(okx_fixtures: Path) -> None:
    ev = WsParser().parse((okx_fixtures / "ws" / "orders.push.json").read_text())
    assert isinstance(ev, OrdersPush)
    st = PrivateState(FakeClock())
    out = st.on_orders(ev.data)
    kinds = [type(p.msg) for p in out]
    assert kinds == [Fill, OrderUpdate]
    assert out[0].retain is False
    assert out[1].forget is True  # filled: terminal, not retained
    again = st.on_orders(ev.data)  # OKX may repeat a push
    assert not any(isinstance(p.msg, Fill) for p in again)
    assert st.fills_published == 1


def test_fill_dedup_across_push_and_rest() -> None:
    st = PrivateState(FakeClock())
    out = st.on_orders([_order("1", "partially_filled", 10, "t1", "1", "1")])
    assert [type(p.msg) for p in out] == [Fill, OrderUpdate]
    assert out[1].retain
    assert not out[1].forget
    rest_fill = FillData(
        instId=INST, tradeId="t1", ordId="1", side="buy", fillPx="100", fillSz="1", ts="10"
    )
    other = FillData(
        instId=INST,
        tradeId="t2",
        ordId="1",
        side="buy",
        fillPx="100",
        fillSz="1",
        fee="-0.02",
        ts="11",
    )
    out = st.on_rest_fills([other, rest_fill])
    assert [p.msg.trade_id for p in out if isinstance(p.msg, Fill)] == ["t2"]
    assert st.fills_duplicate == 1
    assert "1" in st.open_orders


def test_stale_order_push_does_not_regress() -> None:
    st = PrivateState(FakeClock())
    st.on_orders([_order("1", "filled", 20, acc="2")])
    out = st.on_orders([_order("1", "live", 10)])
    assert out == []
    assert st.orders_stale == 1
    assert "1" not in st.open_orders


def test_account_merge_is_published_whole(okx_fixtures: Path) -> None:
    st = PrivateState(FakeClock())
    snap = Balance(
        totalEq="100",
        uTime="1",
        details=[
            BalanceDetailData(ccy="USDT", cashBal="90"),
            BalanceDetailData(ccy="BTC", cashBal="1"),
        ],
    )
    st.on_account([snap], snapshot=True)
    out = st.on_account(
        [Balance(totalEq="101", uTime="2", details=[BalanceDetailData(ccy="BTC", cashBal="1.5")])],
        snapshot=False,
    )
    (p,) = out
    assert p.topic == topics.ACCOUNT
    assert isinstance(p.msg, AccountUpdate)
    assert p.msg.snapshot
    assert {d.ccy: d.cash_bal for d in p.msg.details} == {
        "BTC": Decimal("1.5"),
        "USDT": Decimal(90),
    }
    ev = WsParser().parse((okx_fixtures / "ws" / "balance_and_position.push.json").read_text())
    assert isinstance(ev, BalanceAndPositionPush)
    out = st.on_balance_and_position(ev.data)
    acct = next(p.msg for p in out if isinstance(p.msg, AccountUpdate))
    assert {d.ccy: d.cash_bal for d in acct.details}["BTC"] == Decimal(1)
    pos = next(p.msg for p in out if isinstance(p.msg, Position))
    assert pos.pos == Decimal(10)


def test_reconcile_publishes_state_and_flattens_vanished_positions() -> None:
    st = PrivateState(FakeClock())
    st.on_positions([PositionData(instId=INST, mgnMode="cross", posSide="net", pos="3", uTime="1")])
    st.on_orders([_order("1", "live", 1), _order("2", "live", 1)])
    final1 = _order("1", "filled", 5, "t9", "2", "2")
    fills = [
        FillData(
            instId=INST,
            tradeId="t9",
            ordId="1",
            side="buy",
            fillPx="100",
            fillSz="2",
            fee="-0.1",
            ts="5",
        )
    ]
    out = st.reconcile(
        Balance(totalEq="5", details=[BalanceDetailData(ccy="USDT", cashBal="5")]),
        [],
        [_order("3", "live", 6)],
        [final1],
        fills,
    )
    msgs = [p.msg for p in out]
    flat = [m for m in msgs if isinstance(m, Position)]
    assert flat[0].pos == 0
    fills_out = [m for m in msgs if isinstance(m, Fill)]
    assert [f.trade_id for f in fills_out] == ["t9"]
    assert fills_out[0].fee == Decimal("-0.1")  # from trade/fills, not the order object
    ups = {m.ord_id: m.state for m in msgs if isinstance(m, OrderUpdate)}
    assert ups == {"1": "filled", "3": "live"}
    assert set(st.open_orders) == {"3"}  # 2 vanished without a known final state
    # the same fill pushed later is not published again
    assert all(
        not isinstance(p.msg, Fill)
        for p in st.on_orders([msgspec.structs.replace(final1, uTime="7")])
    )


def _rest_fill(i: int) -> FillData:
    return FillData(
        instId=INST,
        tradeId=f"t{i}",
        ordId=f"o{i}",
        side="buy",
        fillPx="100",
        fillSz="1",
        ts=str(1000 + i),
        billId=str(i),
    )


def test_fill_ring_keeps_the_last_fills_in_a_fixed_set_of_retained_topics() -> None:
    """Bounded: ring_slots × slot_size fills, whatever was published; only changed slots are
    republished, each under one of ring_slots topics."""
    st = PrivateState(FakeClock(), ring_slots=3, slot_size=4)
    pushed = []
    for i in range(50):
        fill_out = st.on_orders([_order(f"o{i}", "filled", i + 1, f"t{i}", "1", "1")])
        assert [p.topic for p in fill_out if isinstance(p.msg, Fill)] == [topics.fill(INST)]
        pushed.extend(st.flush_ring())
    assert st.ring_capacity == 12
    recent = st.recent_fills
    # the newest slot may be partly filled: between capacity - slot_size + 1 and capacity kept
    assert 9 <= len(recent) <= 12
    assert [f.trade_id for f in recent] == [f"t{i}" for i in range(50 - len(recent), 50)]
    assert {p.topic for p in pushed} == {"recentfills|0|", "recentfills|1|", "recentfills|2|"}
    assert all(p.retain for p in pushed)
    assert st.flush_ring() == []  # nothing changed since


def test_rest_fills_of_a_reconcile_enter_the_ring_once() -> None:
    st = PrivateState(FakeClock(), ring_slots=2, slot_size=5)
    first = st.on_rest_fills([_rest_fill(i) for i in (3, 1, 2)])
    assert [p.msg.trade_id for p in first if isinstance(p.msg, Fill)] == ["t1", "t2", "t3"]
    again = st.on_rest_fills([_rest_fill(i) for i in (1, 2, 3, 4)])
    assert [p.msg.trade_id for p in again if isinstance(p.msg, Fill)] == ["t4"]
    (slot,) = st.flush_ring()
    assert isinstance(slot.msg, RecentFills)
    assert [f.trade_id for f in slot.msg.fills] == ["t1", "t2", "t3", "t4"]
    assert st.seen_fill(INST, "t4")


def test_tables_stay_bounded_over_many_orders_and_fills() -> None:
    st = PrivateState(FakeClock(), fill_dedup_size=100, ring_slots=2, slot_size=10)
    for i in range(2_000):
        st.on_orders([_order(f"o{i}", "live", i + 1)])
        st.on_orders([_order(f"o{i}", "filled", i + 2, f"t{i}", "2", "2")])
    sizes = st.sizes()
    assert sizes["seen_fills"] <= 100
    assert sizes["order_utimes"] <= 100
    assert sizes["open_orders"] == 0
    assert sizes["recent_fills"] <= 20
    assert st.fills_published == 2_000


def test_fill_dedup_ages_by_the_shells_clock() -> None:
    """The de-dup window is 5 minutes of the clock the shell gives (a test's or replay's
    clock), not of a clock the core reads itself."""
    clock = FakeClock()
    st = PrivateState(clock, dedup_age_s=300, ring_slots=2, slot_size=10)
    assert len(st.on_rest_fills([_rest_fill(1)])) == 1
    clock.advance_s(299)
    assert st.on_rest_fills([_rest_fill(1)]) == []
    assert st.seen_fill(INST, "t1")
    st.on_rest_fills([_rest_fill(2)])  # at 299 s: t1 (0 s) still inside the window
    assert st.seen_fill(INST, "t1")
    clock.advance_s(2)
    st.on_rest_fills([_rest_fill(3)])  # at 301 s t1 expires
    assert not st.seen_fill(INST, "t1")
    assert st.seen_fill(INST, "t2")
