"""OKX may push the same order update more than once, with a new ``uTime`` (okx-v5.md §14).

One scripted order life (places, partial fills, an amend result, fills, cancels) goes through
every party that reads order pushes — the router, the private gateway, risk and a worker's order
table — once, and again with every push repeated under a later ``uTime``. Each party must end in
the same state both times: the same order states, the same fills (each ``tradeId`` once), the
same positions and the same P&L.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import msgspec

from engine.clock import FakeClock
from engine.messages import AnyMsg, Fill, OrderEvent, OrderUpdate, Side
from engine.router.effects import JournalRecord, Publish
from engine.router.records import JFill
from gateway.okx import convert
from gateway.okx.schemas import OrderData
from gateway.private_state import PrivateState
from risk.config import RiskConfig
from risk.core import RiskCore
from strategies.orders import OrderTable
from tests.engine.router.helpers import INST, Pair
from tests.risk.msgs import BTC_SWAP_INFO, account, book, mark, position, ticker

D = Decimal
S = 1_000_000_000


@dataclass(frozen=True)
class Step:
    """One orders-channel push of order ``n`` (0, 1, 2 of the placed orders)."""

    n: int
    state: str
    acc: str = "0"
    trade_id: str = ""
    fill_sz: str = ""
    px: str = "50000.0"
    req_id: str = ""
    amend_result: str = ""
    cancel_source: str = ""


# order 0 fills in two trades; order 1 is amended then cancelled; order 2 fills partly and is
# cancelled; order 0's first fill push is also repeated late, after later pushes
SCRIPT = [
    Step(0, "live"),
    Step(1, "live"),
    Step(2, "live"),
    Step(0, "partially_filled", "1", "t1", "1"),
    Step(1, "live", px="49990.0", req_id="r1", amend_result="0"),
    Step(2, "partially_filled", "1", "t2", "1"),
    Step(0, "filled", "2", "t3", "1"),
    Step(1, "canceled", cancel_source="1"),
    Step(2, "canceled", "1", cancel_source="1"),
]
LATE_REPEAT = 3  # SCRIPT[3] comes a third time at the very end, stale


def _order_data(step: Step, cid: str, u_time: int) -> OrderData:
    fill = step.trade_id != ""
    return OrderData(
        instId=INST,
        instType="SWAP",
        ordId=f"77{step.n}",
        clOrdId=cid,
        side="buy",
        ordType="post_only",
        px=step.px,
        sz="2",
        state=step.state,
        accFillSz=step.acc,
        avgPx="50000.0" if step.acc != "0" else "0",
        fillSz=step.fill_sz or "0",
        fillPx="50000.0" if fill else "",
        fillFee="-0.1" if fill else "0",
        fillFeeCcy="USDT" if fill else "",
        fillTime=str(u_time) if fill else "",
        tradeId=step.trade_id,
        execType="M" if fill else "",
        fee="-0.1" if fill else "0",
        feeCcy="USDT",
        reqId=step.req_id,
        amendResult=step.amend_result,
        cancelSource=step.cancel_source,
        cTime="1000",
        uTime=str(u_time),
    )


def _pushes(cids: list[str], repeated: bool) -> list[OrderData]:
    out: list[OrderData] = []
    u = 1000
    for step in SCRIPT:
        u += 10
        out.append(_order_data(step, cids[step.n], u))
        if repeated:
            out.append(_order_data(step, cids[step.n], u + 1))  # the same update, new uTime
    if repeated:
        late = SCRIPT[LATE_REPEAT]
        out.append(_order_data(late, cids[late.n], 1000 + 10 * (LATE_REPEAT + 1) + 2))
    return out


@dataclass
class Outcome:
    router_states: dict[str, str]
    router_events: list[tuple[str, str, Decimal, str]]
    router_fills: list[str]
    gw_fills: list[tuple[str, Decimal]]
    gw_open: set[str]
    risk_pnl: Decimal
    risk_books: dict[tuple[str, str], tuple[Decimal, Decimal, Decimal, int]]
    worker_filled: dict[str, Decimal]
    worker_states: dict[str, str]


def _run(repeated: bool) -> Outcome:
    # router: a strategy places three orders; the venue acks them; then the pushes
    pair = Pair()
    who = pair.hello("mm", 5)
    cids = [pair.new_order(who)[0] for _ in range(3)]
    (batch,) = pair.batches()
    pair.result(batch)
    pushes = _pushes(cids, repeated)
    # the Pair fixes ordIds by clOrdId; the venue's, for the router, are the acks'
    ord_ids = {o.cl_ord_id: o.ord_id for o in pair.core.own.all()}
    start = len(pair.effects)
    for d in pushes:
        ev = convert.venue_order(msgspec.structs.replace(d, ordId=ord_ids[d.clOrdId]))
        pair.take(pair.core.on_order_update(ev, pair.clock.now_ns(), pair.clock.monotonic_ns()))
    router_out = pair.effects[start:]
    events = [e.msg for e in router_out if isinstance(e, Publish)]
    order_events = [m for m in events if isinstance(m, OrderEvent)]
    router_fills = [
        e.record.trade_id
        for e in router_out
        if isinstance(e, JournalRecord) and isinstance(e.record, JFill)
    ]

    # private gateway: the same pushes, as the private WS delivers them
    gw = PrivateState(FakeClock())
    gw_out: list[AnyMsg] = []
    for d in pushes:
        gw_out += [p.msg for p in gw.on_orders([d])]
    gw_fills = [(m.trade_id, m.sz) for m in gw_out if isinstance(m, Fill)]

    # risk: what the private gateway published, after an inception snapshot
    risk = RiskCore(RiskConfig(), [INST], ["mm"])
    for m in [
        BTC_SWAP_INFO,
        ticker("BTC-USDT", "49999", "50001", 1),
        mark(INST, "50000", 1),
        book(INST, "49999", "50001", 1),
        account("1000000", 1, USDT="1000000"),
    ]:
        risk.on_message("acct", m, 0, False)
    risk.positions_synced = True
    assert risk.evaluate(0, 1).snapshot is not None
    for m in gw_out:
        risk.on_message("acct", m, S, False)
    for m in [
        account("999999.7", 2, USDT="999999.7"),
        position(INST, "3", "50000", "50010", "0.3", 2),
    ]:
        risk.on_message("acct", m, S, False)
    risk.on_message("acct", mark(INST, "50010", 2), S, False)
    snap = risk.evaluate(2 * S, 2).snapshot
    assert snap is not None

    # worker: the router's events; repeated, as a resubscribed bus would deliver them again
    table = OrderTable()
    for cid in cids:
        table.add(cid, Side.BUY, D("50000.0"), D(2), 0)
    filled: dict[str, Decimal] = {cid: D(0) for cid in cids}
    for ev in order_events:
        for _ in range(2 if repeated else 1):
            delta = table.on_event(ev, 0)
            if delta is not None:
                filled[ev.cl_ord_id] += delta.qty

    return Outcome(
        router_states={o.cl_ord_id: o.state.value for o in pair.core.own.all()},
        router_events=[
            (m.cl_ord_id, m.state.value, m.acc_fill_sz, m.trade_id) for m in order_events
        ],
        router_fills=router_fills,
        gw_fills=gw_fills,
        gw_open=set(gw.open_orders),
        risk_pnl=snap.pnl_in_usd_since_running,
        risk_books={
            k: (b.qty, b.avg_px, b.realised, b.fills)
            for k, b in risk.ledger.books(risk.market.instrument).items()
        },
        worker_filled=filled,
        worker_states={o.cl_ord_id: o.state.value for o in table},
    )


def test_every_order_push_twice_changes_nothing_anywhere() -> None:
    once, twice = _run(repeated=False), _run(repeated=True)
    # the script is what it says: three trades, every order ended
    assert sorted(once.router_fills) == ["t1", "t2", "t3"]
    assert sorted(t for t, _ in once.gw_fills) == ["t1", "t2", "t3"]
    assert set(once.router_states.values()) == {"FILLED", "CANCELED"}
    assert sum(once.worker_filled.values()) == 3
    assert once.gw_open == set()
    assert sum(b[3] for b in once.risk_books.values()) == 3
    # and the repeats change nothing
    assert twice.router_states == once.router_states
    assert twice.router_events == once.router_events
    assert twice.router_fills == once.router_fills
    assert twice.gw_fills == once.gw_fills
    assert twice.gw_open == once.gw_open
    assert twice.risk_pnl == once.risk_pnl
    assert twice.risk_books == once.risk_books
    assert twice.worker_filled == once.worker_filled
    assert twice.worker_states == once.worker_states


def test_order_updates_on_the_bus_are_not_repeated() -> None:
    """private-gw publishes each distinct update once: a repeat with only a new uTime is news
    to nobody, and a terminal state is acted on once per ordId."""
    cids = ["c0", "c1", "c2"]
    once, twice = PrivateState(FakeClock()), PrivateState(FakeClock())
    a = [p.msg for d in _pushes(cids, False) for p in once.on_orders([d])]
    b = [p.msg for d in _pushes(cids, True) for p in twice.on_orders([d])]
    ups_a = [(m.ord_id, m.state, m.acc_fill_sz) for m in a if isinstance(m, OrderUpdate)]
    ups_b = [(m.ord_id, m.state, m.acc_fill_sz) for m in b if isinstance(m, OrderUpdate)]
    assert ups_b == ups_a
    assert twice.orders_repeated == len(SCRIPT)
    assert twice.orders_stale == 1  # the late repeat is older than what was published
