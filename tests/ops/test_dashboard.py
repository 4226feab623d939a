"""Status view of ``okxmm up``: the pure state with real messages and a fake clock, the rich
tables rendered to text, and the feed and view loop against real publishers on an ipc bus."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import pytest
import zmq.asyncio
from loguru import logger
from rich.console import Console

from engine import topics
from engine.actor import Actor
from engine.bus.publisher import Publisher
from engine.clock import FakeClock, SystemClock
from engine.config import BusConfig
from engine.messages import (
    PROTOCOL_VERSION,
    AnyMsg,
    BookState,
    BookTop,
    Envelope,
    MarginState,
    OrderEvent,
    OrderState,
    PubHeartbeat,
    RiskSnapshot,
    RiskState,
    Side,
    StrategyStatus,
    StreamStatus,
    TradingState,
)
from ops.config import OkxmmConfig
from ops.dashboard import (
    PUBLISHERS,
    DashboardFeed,
    DashboardState,
    parse_child,
    render,
    run_dashboard,
)

D = Decimal
BTC, ETH = "BTC-USDT-SWAP", "ETH-USDT-SWAP"
MS = 1_000_000


# ------------------------------------------------------------------------------- helpers
class Bus:
    """Hands envelopes to a DashboardState as the feed would, at fake-clock times."""

    def __init__(self) -> None:
        self.clock = FakeClock()
        self.state = DashboardState()
        self._seq = 0

    def send(
        self,
        src: str,
        msg: AnyMsg,
        *,
        lag_ms: float = 0.0,
        epoch: int = 1,
        snapshot: bool = False,
        sent_ns: int | None = None,
    ) -> None:
        self._seq += 1
        now = self.clock.now_ns()
        ts = sent_ns if sent_ns is not None else now - int(lag_ms * MS)
        env = Envelope(PROTOCOL_VERSION, src, epoch, self._seq, ts, msg)
        self.state.on_delivery(
            env, now_ns=now, mono_ns=self.clock.monotonic_ns(), from_snapshot=snapshot
        )

    def hb(self, src: str, *, lag_ms: float = 0.0, epoch: int = 1) -> None:
        self.send(src, PubHeartbeat(actor=src), lag_ms=lag_ms, epoch=epoch)

    def advance_ms(self, ms: float) -> None:
        self.clock.advance(int(ms * MS))

    def now(self) -> dict[str, int]:
        return {"now_ns": self.clock.now_ns(), "mono_ns": self.clock.monotonic_ns()}


def status(name: str = "mm-btc", inst: str = BTC, **kw: Any) -> StrategyStatus:
    base: dict[str, Any] = {
        "strategy": name,
        "inst": inst,
        "state": "quoting",
        "quoting": True,
        "bids": [(D("64999.5"), D("0.01")), (D("64999"), D("0.01"))],
        "asks": [(D("65000.5"), D("0.01")), (D("65001"), D("0.01"))],
        "net_position": D("0.02"),
        "fills": 3,
        "pnl": D("12.34"),
        "open_orders": 3,
        "volume": D("0.06"),
        "epoch": 7,
    }
    base.update(kw)
    return StrategyStatus(**base)


def order(
    cid: str,
    state: OrderState = OrderState.LIVE,
    *,
    name: str = "mm-btc",
    side: Side = Side.BUY,
    inst: str = BTC,
    fill: str | None = None,
) -> OrderEvent:
    return OrderEvent(
        strategy=name,
        epoch=7,
        cl_ord_id=cid,
        inst=inst,
        side=side,
        state=state,
        sz=D("0.01"),
        px=D("64999.5"),
        acc_fill_sz=D(fill or 0),
        fill_sz=D(fill) if fill else None,
        fill_px=D("64999.5") if fill else None,
    )


def risk(**pnl_by_strategy: str) -> RiskSnapshot:
    return RiskSnapshot(
        pnl_in_usd_since_running=D("20.5"),
        asset_value_change_in_usd_since_running=D("19.75"),
        inception_ts_ms=1,
        current_ts_ms=2,
        exposures_base={BTC: D("0.02")},
        realized_pnl_usd=D("15"),
        unrealized_pnl_usd=D("5.5"),
        pnl_by_strategy_usd={k.replace("_", "-"): D(v) for k, v in pnl_by_strategy.items()},
    )


def book(inst: str = BTC) -> BookTop:
    return BookTop(
        inst=inst,
        state=BookState.VALID,
        seq_id=42,
        ts_ms=1_700_000_000_000,
        bids=[(D("64999"), D("1.5"))],
        asks=[(D("65001"), D("2"))],
    )


RUNNING = {
    "exchange": "running pid=10 restarts=0",
    "md-feed": "running pid=11 restarts=0",
    "router": "running pid=13 restarts=0",
    "mm-btc": "running pid=15 restarts=0",
    "skew-eth": "running pid=16 restarts=0",
}


# ------------------------------------------------------------------------------ state: actors
def test_parse_child_reads_the_supervisor_status_and_keeps_unknown_forms() -> None:
    assert parse_child("running pid=12 restarts=2") == parse_child("running pid=12 restarts=2")
    c = parse_child("restart in 1.0s pid=12 restarts=2")
    assert (c.state, c.pid, c.restarts, c.running) == ("restart in 1.0s", 12, 2, False)
    assert parse_child("running pid=5 restarts=0").running
    odd = parse_child("weird")
    assert (odd.state, odd.pid, odd.running) == ("weird", 0, False)


def test_publisher_is_alive_while_heard_and_dead_after_a_second_of_silence() -> None:
    bus = Bus()
    bus.hb("md-feed")
    rows = {r.name: r for r in bus.state.actor_rows({}, **bus.now())}
    assert rows["md-feed"].bus == "up"
    assert rows["md-feed"].alive
    # expected publishers are listed before they are heard, as never heard and not alive
    assert rows["risk"].bus == "never"
    assert not rows["risk"].alive

    bus.advance_ms(900)
    md = bus.state.actor_rows({}, **bus.now())[0]
    assert md.name == "md-feed"
    assert md.alive
    assert md.heard_ms == pytest.approx(900)

    bus.advance_ms(300)
    md = bus.state.actor_rows({}, **bus.now())[0]
    assert md.bus == "silent"
    assert not md.alive
    assert md.heard_ms == pytest.approx(1200)
    assert "md-feed silent 1.2s" in bus.state.summary({}, **bus.now())

    bus.hb("md-feed")
    assert bus.state.actor_rows({}, **bus.now())[0].alive
    assert bus.state.actors["md-feed"].heartbeats == 2


def test_lag_is_latest_and_worst_over_the_window_and_ignores_snapshot_copies() -> None:
    bus = Bus()
    bus.hb("router", lag_ms=5)
    bus.hb("router", lag_ms=80)
    bus.advance_ms(100)
    bus.hb("router", lag_ms=3)
    row = next(r for r in bus.state.actor_rows({}, **bus.now()) if r.name == "router")
    assert row.lag_ms == pytest.approx(3)
    assert row.max_lag_ms == pytest.approx(80)

    # a retained copy from a snapshot was sent long ago: not lag, not a sign of life
    bus.advance_ms(500)
    bus.send("router", status(), snapshot=True, sent_ns=bus.clock.now_ns() - 60_000 * MS)
    row = next(r for r in bus.state.actor_rows({}, **bus.now()) if r.name == "router")
    assert row.lag_ms == pytest.approx(3)
    assert row.heard_ms == pytest.approx(500)

    # the 80 ms spike leaves the 10 s window
    for _ in range(11):
        bus.advance_ms(1000)
        bus.hb("router", lag_ms=2)
    row = next(r for r in bus.state.actor_rows({}, **bus.now()) if r.name == "router")
    assert row.max_lag_ms == pytest.approx(2)
    assert "router up 2ms" in bus.state.summary({}, **bus.now())


def test_actor_rows_follow_the_supervisor_and_show_streams() -> None:
    bus = Bus()
    bus.hb("md-feed")
    bus.send("private-gw", StreamStatus("private", False, "login failed"))
    bus.send("router", status())
    children = {**RUNNING, "md-feed": "restart in 0.5s pid=11 restarts=1"}
    rows = bus.state.actor_rows(children, **bus.now())
    by = {r.name: r for r in rows}
    assert [r.name for r in rows][:5] == ["exchange", "md-feed", "router", "mm-btc", "skew-eth"]
    assert by["exchange"].bus == "-"
    assert by["exchange"].alive
    md = by["md-feed"]
    assert (md.process, md.restarts, md.alive) == ("restart in 0.5s", 1, False)
    assert by["private-gw"].detail == "private:down(login failed)"
    assert by["mm-btc"].bus == "up"
    assert by["mm-btc"].detail == "epoch …000007"
    summary = bus.state.summary(children, **bus.now())
    assert "md-feed restart in 0.5s" in summary
    assert "exchange running" in summary


# ----------------------------------------------------------------------------- state: workers
def test_worker_row_has_quotes_live_orders_fills_position_and_pnl() -> None:
    bus = Bus()
    bus.send("router", status())
    for cid in ("b1", "b2"):
        bus.send("router", order(cid))
    bus.send("router", order("a1", side=Side.SELL))
    bus.send("router", order("b0", OrderState.PARTIALLY_FILLED, fill="0.004"))
    bus.send("router", order("b0", OrderState.FILLED, fill="0.006"))
    bus.send("risk", risk(mm_btc="11.5"))
    bus.send("risk", RiskState("strategy", "mm-btc", TradingState.REDUCING, "position limit"))

    (w,) = bus.state.worker_rows(RUNNING, now_ns=bus.clock.now_ns())
    assert (w.name, w.inst, w.state, w.alive) == ("mm-btc", BTC, "quoting", True)
    assert w.quotes == "64999.5 (2) / 65000.5 (2)"
    assert (w.live_orders, w.live_bids, w.live_asks) == (3, 2, 1)
    assert w.fills == 3  # the worker's own count, since it started
    assert bus.state.workers["mm-btc"].fills_seen == 2
    assert w.last_fill == "buy 0.006@64999.5"
    assert (w.position, w.volume, w.pnl, w.pnl_usd) == (D("0.02"), D("0.06"), D("12.34"), D("11.5"))

    summary = bus.state.summary(RUNNING, **bus.now())
    assert "mm-btc: quoting quotes=64999.5 (2) / 65000.5 (2) live=3 fills=3" in summary
    assert "pos=0.02 pnl=12.34 (11.50USD)" in summary
    assert "pnl=20.50USD" in summary
    assert "strategy:mm-btc=REDUCING position limit" in summary


def test_paused_or_pulled_worker_shows_its_reason() -> None:
    bus = Bus()
    bus.send("router", status(state="pulled", quoting=False, reason="stale book", bids=[], asks=[]))
    (w,) = bus.state.worker_rows({}, now_ns=bus.clock.now_ns())
    assert (w.state, w.alive, w.quotes) == ("pulled: stale book", True, "- / -")


def test_killed_worker_is_shown_down_and_its_orders_go_when_the_router_cancels() -> None:
    bus = Bus()
    bus.send("router", status())
    bus.send("router", status("skew-eth", ETH, epoch=3))
    for cid in ("m1", "m2", "m3"):
        bus.send("router", order(cid))
    bus.send("router", order("s1", name="skew-eth", inst=ETH))

    # kill -9 mm-btc: the supervisor sees the exit; its retained status still says quoting
    children = {**RUNNING, "mm-btc": "exited pid=15 restarts=0"}
    rows = {w.name: w for w in bus.state.worker_rows(children, now_ns=bus.clock.now_ns())}
    assert (rows["mm-btc"].state, rows["mm-btc"].alive) == ("process exited", False)
    assert rows["mm-btc"].live_orders == 3  # not cancelled yet
    assert rows["mm-btc"].quotes == "-"  # its last wishes are not quotes any more
    actor = next(a for a in bus.state.actor_rows(children, **bus.now()) if a.name == "mm-btc")
    assert (actor.process, actor.alive) == ("exited", False)

    bus.advance_ms(200)
    for cid in ("m1", "m2"):
        bus.send("router", order(cid, OrderState.CANCEL_PENDING))
    bus.send("router", order("m3", OrderState.CANCELED))
    assert bus.state.worker_rows(children, now_ns=bus.clock.now_ns())[0].live_orders == 2
    for cid in ("m1", "m2"):
        bus.send("router", order(cid, OrderState.CANCELED))
    bus.send("router", status("skew-eth", ETH, epoch=3))  # the other worker keeps reporting

    rows = {w.name: w for w in bus.state.worker_rows(children, now_ns=bus.clock.now_ns())}
    assert rows["mm-btc"].live_orders == 0
    assert not rows["mm-btc"].alive
    assert rows["mm-btc"].position == D("0.02")  # cancelling orders does not flatten
    assert rows["skew-eth"].live_orders == 1
    assert rows["skew-eth"].alive
    summary = bus.state.summary(children, **bus.now())
    assert "mm-btc exited" in summary
    assert "mm-btc: process exited" in summary
    assert "live=0" in summary
    assert "skew-eth up" in summary

    # restarted: a new status under a new epoch brings it back
    children["mm-btc"] = "running pid=20 restarts=1"
    bus.send("router", status(epoch=8, fills=0, pnl=D(0), net_position=D("0.02")))
    w = bus.state.worker_rows(children, now_ns=bus.clock.now_ns())[0]
    assert w.alive
    assert w.state == "quoting"
    assert w.fills == 0


def test_liveness_changes_on_death_and_last_order_but_not_on_requotes() -> None:
    bus = Bus()
    bus.hb("router")
    bus.send("router", status())
    bus.send("router", order("m1"))
    before = bus.state.liveness(RUNNING, **bus.now())
    bus.send("router", status(bids=[(D("64990"), D("0.01"))], fills=9, pnl=D(1)))
    bus.send("router", order("m2"))
    assert bus.state.liveness(RUNNING, **bus.now()) == before
    children = {**RUNNING, "mm-btc": "exited pid=15 restarts=0"}
    dead = bus.state.liveness(children, **bus.now())
    assert dead != before
    for cid in ("m1", "m2"):
        bus.send("router", order(cid, OrderState.CANCELED))
    assert bus.state.liveness(children, **bus.now()) != dead


def test_worker_without_supervisor_goes_silent_when_its_status_stops() -> None:
    bus = Bus()
    bus.send("router", status())
    bus.advance_ms(1500)
    bus.hb("router")  # the router is fine; only the worker's status stopped
    (w,) = bus.state.worker_rows({}, now_ns=bus.clock.now_ns())
    assert (w.state, w.alive) == ("silent 1.5s (was quoting)", False)
    a = next(r for r in bus.state.actor_rows({}, **bus.now()) if r.name == "mm-btc")
    assert (a.bus, a.alive, a.heard_ms) == ("silent", False, pytest.approx(1500))


def test_snapshot_copies_neither_recount_fills_nor_replace_a_newer_status() -> None:
    bus = Bus()
    old = bus.clock.now_ns()
    bus.advance_ms(300)
    bus.send("router", status(fills=5))
    bus.send("router", status(fills=4), snapshot=True, sent_ns=old)
    bus.send("router", order("b0", OrderState.PARTIALLY_FILLED, fill="0.004"))
    bus.send("router", order("b0", OrderState.PARTIALLY_FILLED, fill="0.004"), snapshot=True)
    w = bus.state.workers["mm-btc"]
    assert w.status is not None
    assert w.status.fills == 5
    assert w.fills_seen == 1
    assert list(w.open_orders) == ["b0"]


def test_router_restart_forgets_orders_its_snapshot_does_not_list() -> None:
    bus = Bus()
    bus.send("router", order("m1"))
    bus.send("router", order("m2"))
    bus.hb("router", epoch=2)  # new epoch: the subscriber fetches a fresh snapshot
    bus.send("router", order("m2"), epoch=2, snapshot=True)
    assert list(bus.state.workers["mm-btc"].open_orders) == ["m2"]
    row = next(r for r in bus.state.actor_rows({}, **bus.now()) if r.name == "router")
    assert row.restarts == 1


# -------------------------------------------------------------------------------------- render
def test_render_draws_every_table_with_its_values() -> None:
    bus = Bus()
    for src in ("md-feed", "private-gw", "router"):
        bus.hb(src, lag_ms=4)
    bus.send("md-feed", book(), lag_ms=2)
    bus.send("private-gw", StreamStatus("private", True))
    bus.send("router", status())
    bus.send("router", status("skew-eth", ETH, state="paused", quoting=False, reason="ctl pause"))
    bus.send("router", order("m1"))
    bus.send("router", order("m2", side=Side.SELL, fill="0.004", state=OrderState.PARTIALLY_FILLED))
    bus.send("risk", risk(mm_btc="11.5"))
    children = {**RUNNING, "skew-eth": "exited pid=16 restarts=0"}

    console = Console(record=True, width=220, file=io.StringIO())
    console.print(render(bus.state, children, **bus.now()))
    text = console.export_text()
    for header in ("actors", "process", "bus", "last heard", "lag", "max lag", "detail"):
        assert header in text
    for header in ("books", "seqId", "age"):
        assert header in text
    for header in ("workers", "quotes (bid / ask)", "live orders", "fills", "position"):
        assert header in text
    for header in ("volume", "P&L", "P&L USD (risk)", "last fill", "risk"):
        assert header in text
    lines = text.splitlines()

    def line(*words: str) -> str:
        hits = [ln for ln in lines if all(w in ln for w in words)]
        assert hits, f"no line with {words} in:\n{text}"
        return hits[0]

    assert "4ms" in line("router", "running", "up")
    assert "up" in line("risk", "-")  # heard on the bus, not a child of this supervisor
    assert "private:up" in line("private-gw")
    assert "exited" in line("skew-eth", "16")
    assert "64999 x 1.5" in line(BTC, "VALID", "65001 x 2", "42")
    mm = line("mm-btc", "quoting")
    for value in ("64999.5 (2) / 65000.5 (2)", "2 (1b/1a)", "0.02", "0.06", "12.3400", "11.5000"):
        assert value in mm
    assert "sell 0.004@64999.5" in mm
    assert "process exited" in line("skew-eth", ETH)
    assert "20.5000" in line("P&L since start (USD)")
    assert "15.0000 / 5.5000" in line("realized / unrealized")
    assert "0.02" in line(f"exposure {BTC}")


def margin_state(**kw: Any) -> MarginState:
    base: dict[str, Any] = {
        "acct_lv": 3,
        "status": "danger",
        "mgn_ratio": D("1.25"),
        "venue_mgn_ratio": D("1.2497"),
        "adj_eq": D("1613.39"),
        "total_eq": D("1613.39"),
        "imr": D("2581.2"),
        "mmr": D("1290.6"),
        "notional_usd": D("86040"),
        "uly": "BTC",
        "price": D("55100.5"),
        "liq_px": D("54321.5"),
        "liq_move_pct": D("-1.41"),
        "reason": "margin ratio 125.0 % danger (halt at 150 %)",
        "action": "halt",
    }
    base.update(kw)
    return MarginState(**base)


def test_margin_ratio_status_and_risk_margin_reason_are_shown() -> None:
    bus = Bus()
    reason = "margin: margin ratio 125.0 % danger (halt at 150 %)"
    bus.send("risk", RiskState("account", "*", TradingState.HALTED, reason))
    assert bus.state.margin is None
    bus.send("margin", margin_state())
    assert bus.state.margin is not None

    console = Console(record=True, width=220, file=io.StringIO())
    console.print(render(bus.state, RUNNING, **bus.now()))
    text = console.export_text()
    lines = text.splitlines()

    def line(*words: str) -> str:
        hits = [ln for ln in lines if all(w in ln for w in words)]
        assert hits, f"no line with {words} in:\n{text}"
        return hits[0]

    assert "danger (halt)" in line("margin status")
    assert "125.0% / 125.0%" in line("margin ratio (ours / venue's)")
    assert "1613.39 / 1290.60 / 2581.20" in line("adj. equity / MMR / IMR")
    assert "55100.5 / 54321.50 (-1.4%)" in line("BTC price / liquidation")
    assert "HALTED margin: margin ratio 125.0 % danger" in line("account:*")
    summary = bus.state.summary(RUNNING, **bus.now())
    assert "margin=125.0% danger (halt)" in summary
    assert "account:*=HALTED margin: margin ratio" in summary

    # healthy again, nothing needing margin: shown as such
    bus.send("margin", margin_state(status="healthy", mgn_ratio=None, action="", reason="ok"))
    console = Console(record=True, width=220, file=io.StringIO())
    console.print(render(bus.state, RUNNING, **bus.now()))
    healthy = console.export_text()
    assert "healthy" in next(ln for ln in healthy.splitlines() if "margin status" in ln)
    assert "- / 125.0%" in healthy
    assert "margin=- healthy" in bus.state.summary(RUNNING, **bus.now())


# --------------------------------------------------------------------------- real bus (ipc)
@pytest.fixture
async def ctx() -> AsyncIterator[zmq.asyncio.Context]:
    c = zmq.asyncio.Context()
    yield c
    c.destroy(linger=0)


@asynccontextmanager
async def publishers(
    ctx: zmq.asyncio.Context, bus: BusConfig
) -> AsyncIterator[dict[str, Publisher]]:
    """The four bus publishers the view reads, under their actors' names, heartbeating."""
    clock = SystemClock()
    pubs = {
        "md-feed": Publisher(
            ctx, bus.bind_endpoint("md.pub"), src="md-feed", epoch=1, clock=clock,
            snap_endpoint=bus.bind_endpoint("md.snap"),
        ),
        "private-gw": Publisher(
            ctx, bus.bind_endpoint("acct.pub"), src="private-gw", epoch=1, clock=clock,
            snap_endpoint=bus.bind_endpoint("acct.snap"),
        ),
        "router": Publisher(
            ctx, bus.bind_endpoint("ord.pub"), src="router", epoch=1, clock=clock,
            snap_endpoint=bus.bind_endpoint("ord.snap"),
        ),
        "risk": Publisher(
            ctx, bus.bind_endpoint("risk.pub"), src="risk", epoch=1, clock=clock,
            snap_endpoint=bus.bind_endpoint("risk.snap"),
        ),
    }  # fmt: skip
    for p in pubs.values():
        await p.start()
    try:
        yield pubs
    finally:
        for p in pubs.values():
            await p.close()


async def until(
    state: DashboardState, what: str, cond: Callable[[], bool], timeout_s: float = 10
) -> None:
    """Wake on every delivery until ``cond`` holds; fail saying ``what`` did not happen."""
    changed = asyncio.Event()
    state.on_change = changed.set
    try:
        async with asyncio.timeout(timeout_s):
            while not cond():
                changed.clear()
                await changed.wait()
    except TimeoutError:
        raise AssertionError(f"timed out after {timeout_s} s waiting for {what}") from None
    finally:
        state.on_change = None


def all_heard(state: DashboardState) -> bool:
    """Every publisher's heartbeat arrived: the subscriptions are live."""
    return all(n in state.actors and state.actors[n].heartbeats for n in PUBLISHERS)


def live_orders(state: DashboardState, worker: str) -> int:
    w = state.workers.get(worker)
    return -1 if w is None else len(w.open_orders)


async def test_feed_fills_the_state_from_real_publishers(
    ctx: zmq.asyncio.Context, bus_config: BusConfig
) -> None:
    clock = SystemClock()
    state = DashboardState()
    async with publishers(ctx, bus_config) as pubs, DashboardFeed(ctx, bus_config, clock, state):
        # retained before the view subscribed: it must come from the snapshot
        pubs["router"].publish(topics.strategy_status("mm-btc"), status())
        await until(state, "a heartbeat from every publisher", lambda: all_heard(state))
        pubs["md-feed"].publish(topics.book(BTC), book())
        pubs["private-gw"].publish(topics.stream("private"), StreamStatus("private", True))
        pubs["router"].publish(topics.order_event_of("mm-btc", "m1"), order("m1"))
        pubs["router"].publish(topics.order_event_of("mm-btc", "m2"), order("m2"))
        pubs["risk"].publish(topics.RISK, risk(mm_btc="11.5"))
        await until(
            state,
            "book, stream, orders and risk",
            lambda: (
                BTC in state.books
                and "private" in state.streams.get("private-gw", {})
                and live_orders(state, "mm-btc") == 2
                and state.risk is not None
            ),
        )
        pubs["router"].publish(
            topics.order_event_of("mm-btc", "m1"), order("m1", OrderState.CANCELED)
        )
        await until(state, "m1 cancelled", lambda: live_orders(state, "mm-btc") == 1)
        assert list(state.workers["mm-btc"].open_orders) == ["m2"]

        now = {"now_ns": clock.now_ns(), "mono_ns": clock.monotonic_ns()}
        rows = {r.name: r for r in state.actor_rows({}, **now)}
        for name in ("md-feed", "private-gw", "router", "risk"):
            r = rows[name]
            assert r.bus == "up", r
            assert r.alive, r
            # same host, same wall clock: lag is a real, non-negative measure
            assert r.lag_ms is not None
            assert r.max_lag_ms is not None
            assert 0 <= r.lag_ms <= r.max_lag_ms
        assert rows["private-gw"].detail == "private:up"
        (w,) = state.worker_rows({}, now_ns=clock.now_ns())
        assert (w.state, w.live_orders, w.pnl, w.pnl_usd) == ("quoting", 1, D("12.34"), D("11.5"))


async def test_run_dashboard_logs_a_summary_at_once_when_a_worker_dies(
    ctx: zmq.asyncio.Context, bus_config: BusConfig
) -> None:
    """Non-tty mode: the periodic line is an hour away, yet the worker appearing, dying and
    losing its orders are each logged as they happen."""
    clock = SystemClock()
    actor = Actor("supervisor", OkxmmConfig(bus=bus_config), ctx, clock, clock.now_ns())
    summaries: list[str] = []
    logged = asyncio.Event()

    def sink(message: Any) -> None:
        summary = message.record["extra"].get("summary")
        if summary is not None:
            summaries.append(summary)
            logged.set()

    async def summary_with(*words: str) -> str:
        try:
            async with asyncio.timeout(10):
                while True:
                    hits = [s for s in summaries if all(w in s for w in words)]
                    if hits:
                        return hits[0]
                    logged.clear()
                    await logged.wait()
        except TimeoutError:
            raise AssertionError(f"no summary with {words}; got {summaries}") from None

    sink_id = logger.add(sink, level="INFO")
    # a slow CI box must not turn the worker's one status into "silent"
    state = DashboardState(alive_ms=60_000)
    children = {"router": "running pid=13 restarts=0", "mm-btc": "running pid=15 restarts=0"}
    try:
        async with publishers(ctx, bus_config) as pubs:
            view = asyncio.get_running_loop().create_task(
                run_dashboard(
                    actor, lambda: children, state=state, interactive=False, summary_every_s=3600
                )
            )
            await until(state, "a heartbeat from every publisher", lambda: all_heard(state))
            router = pubs["router"]
            router.publish(topics.strategy_status("mm-btc"), status())
            for cid in ("m1", "m2"):
                router.publish(topics.order_event_of("mm-btc", cid), order(cid))
            line = await summary_with("mm-btc: quoting", "live=2")
            assert "router up" in line
            assert "pnl=12.34" in line

            children["mm-btc"] = "exited pid=15 restarts=0"  # kill -9
            line = await summary_with("mm-btc: process exited")
            assert "mm-btc exited" in line
            for cid in ("m1", "m2"):
                router.publish(
                    topics.order_event_of("mm-btc", cid), order(cid, OrderState.CANCELED)
                )
            line = await summary_with("mm-btc: process exited", "live=0")
            assert "router up" in line

            view.cancel()
            with pytest.raises(asyncio.CancelledError):
                await view
    finally:
        logger.remove(sink_id)


async def test_feed_shows_the_margin_actors_state_from_a_real_publisher(
    ctx: zmq.asyncio.Context, bus_config: BusConfig
) -> None:
    clock = SystemClock()
    state = DashboardState()
    pub = Publisher(
        ctx, bus_config.bind_endpoint("margin.pub"), src="margin", epoch=1, clock=clock,
        snap_endpoint=bus_config.bind_endpoint("margin.snap"), heartbeat_ms=50,
    )  # fmt: skip
    await pub.start()
    try:
        async with DashboardFeed(ctx, bus_config, clock, state):
            await until(
                state,
                "the margin actor's heartbeat",
                lambda: "margin" in state.actors and state.actors["margin"].heartbeats > 0,
            )
            pub.publish(topics.MARGIN, margin_state(status="warning", mgn_ratio=D("4"), action=""))
            await until(state, "the MarginState", lambda: state.margin is not None)
            assert state.margin is not None
            assert (state.margin.status, state.margin.mgn_ratio) == ("warning", D("4"))
            assert "margin=400.0% warning" in state.summary(
                {}, now_ns=clock.now_ns(), mono_ns=clock.monotonic_ns()
            )
    finally:
        await pub.close()
