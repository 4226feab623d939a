"""Risk state stays bounded however long it runs, and heals from private-gw's fill ring.

Every map of the core has a named bound (docstrings of :mod:`risk.pnl`, :mod:`risk.fills`,
:mod:`risk.open_orders`, :mod:`risk.durable`); these tests feed many times that many fills and
orders and assert the sizes — in memory and on disk — stay flat.
"""

from __future__ import annotations

from decimal import Decimal

from engine.messages import AnyMsg, OrderState, OrderUpdate, RecentFills, Side
from risk.config import RiskConfig
from risk.convert import fill_record, instrument_spec
from risk.core import RiskCore
from risk.fills import FillCounters
from risk.inputs import InstrumentSpec
from risk.open_orders import OpenOrders
from risk.persist import encode_state
from risk.pnl import FillRecord, PnlLedger

from .msgs import BTC_SWAP_INFO, account, fill, mark, order_event

D = Decimal
BTC = "BTC-USDT-SWAP"
S = 1_000_000_000
_BTC_SPEC = instrument_spec(BTC_SWAP_INFO)


def SPEC(inst: str) -> InstrumentSpec | None:  # noqa: N802 - a constant lookup
    return _BTC_SPEC if inst == BTC else None


def started() -> RiskCore:
    c = RiskCore(RiskConfig(), [BTC], ["mm"])
    for m in (BTC_SWAP_INFO, mark(BTC, "40000", 1), account("10000", 1, USDT="10000")):
        c.on_message("acct", m, 0, False)
    c.positions_synced = True
    assert c.evaluate(0, 1).snapshot is not None
    return c


def order_update(i: int, state: str, acc: str) -> OrderUpdate:
    return OrderUpdate(
        inst=BTC,
        inst_type="SWAP",
        ord_id=f"o{i}",
        cl_ord_id=f"c{i}",
        side=Side.BUY if i % 2 else Side.SELL,
        ord_type="limit",
        px=D(40000),
        sz=D(1),
        state=state,
        acc_fill_sz=D(acc),
        avg_px=D(40000),
        u_time_ms=i,
    )


def trade(c: RiskCore, i: int) -> None:
    """One order of one contract: router event, fill, venue's terminal update."""
    side = "buy" if i % 2 else "sell"
    msgs: list[AnyMsg] = [
        order_event("mm", f"c{i}", BTC, side, OrderState.LIVE, "1"),
        fill(BTC, f"t{i}", side, str(40000 + i % 7), "1", "-0.01", 10 + i, cl=f"c{i}"),
        order_update(i, "filled", "1"),
    ]
    for m in msgs:
        c.on_message("ord" if m is msgs[0] else "acct", m, i, False)


def test_persisted_state_and_maps_stay_flat_over_many_fills() -> None:
    c = started()
    sizes: list[int] = []
    snap = None
    for i in range(1, 12_001):
        trade(c, i)
        if i % 200 == 0:
            snap = c.evaluate(i * S, i).snapshot or snap
        if i % 1000 == 0:
            sizes.append(len(encode_state(c.persisted())))
    first, later = max(sizes[:6]), max(sizes[6:])
    assert later <= first * 1.05, sizes  # flat, not growing with the fills
    assert later < 1_000_000, sizes  # the 5.8 MB of the issue: a bound of well under 1 MB
    assert len(c.ledger.fills) <= 2_000
    assert len(c.persisted().claims) <= 2_000 + 2_000  # claims of persisted fills and orders
    assert len(c.counters.orders) == 0  # every order terminal: folded
    assert len(c.counters.closed) <= 5_000
    assert snap is not None
    assert snap.buy_filled_qty[BTC] == 6_000
    assert snap.sell_filled_qty[BTC] == 6_000
    assert c.ledger.booked(c.market.instrument) == 12_000


def rec(i: int, ts: int | None = None) -> FillRecord:
    out = fill_record(fill(BTC, f"t{i}", "buy", "40000", "1", "0", i if ts is None else ts))
    assert out is not None
    return out


def test_every_window_is_bounded() -> None:
    led = PnlLedger(keep_fills=10, dedup_window=50, max_epochs=3, max_claims=50)
    for i in range(500):
        led.on_fill(rec(i))
        led.claim(f"c{i}", "mm")
        led.claim_epoch(i + 1, "mm")
        led.books(SPEC)
    assert len(led.fills) <= 10
    assert led.dedup_entries <= 10  # folded fills are dropped by the floor, not remembered
    assert len(led.claims) <= 50
    assert len(led.epoch_owners) <= 3
    assert led.booked(SPEC) == 500
    counters = FillCounters(closed_window=20, max_open=30)
    orders = OpenOrders(max_closed=20, max_open=30)
    for i in range(500):
        counters.on_order(f"c{i}", "", BTC, "buy", D(1))  # never terminal: its end was missed
        counters.on_fill(f"x{i}", "", BTC, "buy", D(1))  # a fill whose order was never seen
        orders.on_order(f"c{i}", BTC, "buy", "live", D(1), D(0), now_ns=i)
        orders.on_order(f"d{i}", BTC, "buy", "filled", D(1), D(1), now_ns=i)
    assert len(counters.orders) <= 30
    assert len(counters.closed) <= 20
    assert len(orders) <= 30
    assert counters.by_inst()[BTC].buy_filled_qty == 1000  # folded orders still count


def test_closed_orders_age_out_by_the_callers_clock() -> None:
    """A closed key is remembered for ``closed_age_s`` of the time risk is given (its bus
    receive time), not of the wall clock it would read itself: a replay or test runs on its
    own clock."""
    s = 1_000_000_000
    orders = OpenOrders(closed_age_s=10)
    orders.on_order("a", BTC, "buy", "filled", D(1), D(1), now_ns=0)
    orders.on_order("a", BTC, "buy", "live", D(1), D(0), now_ns=9 * s)  # late: ignored
    assert len(orders) == 0
    assert "a" in orders
    orders.on_order("b", BTC, "buy", "canceled", D(1), D(0), now_ns=11 * s)  # a is now 11 s old
    assert "a" not in orders
    assert "b" in orders


def test_fills_below_the_fold_watermark_are_accounted_already() -> None:
    led = PnlLedger(keep_fills=10)
    for i in range(30):
        led.on_fill(rec(i))
        led.books(SPEC)
    floor = led.floors[BTC]
    assert floor[0] > 0
    assert not led.on_fill(rec(1000, ts=floor[0] - 1))  # older than the fold: not re-booked
    assert led.late_dropped == 1
    assert led.on_fill(rec(1001, ts=floor[0] + 100))


def test_restart_replays_the_fill_ring_without_double_counting() -> None:
    """Risk persisted after fill 100, died, fills 101..130 happened; private-gw's ring holds
    71..130: after the restart every fill counts once and the fills nobody saw count too."""
    c = started()
    for i in range(1, 101):
        trade(c, i)
    c.evaluate(S, 2)
    restored = RiskCore(RiskConfig(), [BTC], ["mm"], persisted=c.persisted())
    for m in (BTC_SWAP_INFO, mark(BTC, "40000", 3), account("10000", 3, USDT="10000")):
        restored.on_message("acct", m, 0, True)
    restored.positions_synced = True
    ring = [
        fill(BTC, f"t{i}", "buy" if i % 2 else "sell", "40000", "1", "-0.01", 10 + i, cl=f"c{i}")
        for i in range(71, 131)
    ]
    for _ in range(2):  # the slot is republished: replays are de-duplicated
        restored.on_message("acct", RecentFills(slot=0, fills=ring), S, True)
    snap = restored.evaluate(2 * S, 4).snapshot
    assert snap is not None
    assert snap.buy_filled_qty[BTC] == 65  # odd i in 1..130
    assert snap.sell_filled_qty[BTC] == 65
    assert restored.ledger.booked(restored.market.instrument) == 130


def test_a_fresh_start_does_not_book_the_rings_older_fills() -> None:
    """No persisted state: the account before the start is the inception, so the ring's fills
    from before are in it already; fills after the start count."""
    c = RiskCore(RiskConfig(), [BTC], ["mm"], started_ms=1_000)
    for m in (BTC_SWAP_INFO, mark(BTC, "40000", 1), account("10000", 1, USDT="10000")):
        c.on_message("acct", m, 0, True)
    c.positions_synced = True
    ring = [fill(BTC, f"t{i}", "buy", "40000", "1", "0", 990 + i) for i in range(20)]
    c.on_message("acct", RecentFills(slot=0, fills=ring), 0, True)
    snap = c.evaluate(S, 1_100).snapshot
    assert snap is not None
    assert snap.buy_filled_qty[BTC] == 10  # ts 1000..1009
