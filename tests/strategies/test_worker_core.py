"""The worker core without sockets or a system clock: inputs in, commands out."""

from __future__ import annotations

from decimal import Decimal

from loguru import logger

from engine.clock import FakeClock
from engine.messages import (
    AccountConfig,
    AccountUpdate,
    Ack,
    Amend,
    BookState,
    BookTop,
    Cancel,
    CancelAll,
    Fenced,
    InstrumentInfo,
    MarkPrice,
    NewOrder,
    OrderEvent,
    OrderState,
    Reject,
    Side,
    SnapshotEnd,
    StrategyLimits,
    Ticker,
    Trade,
    Welcome,
)
from strategies.outbox import Command
from strategies.params import StrategyParams
from strategies.registry import make_strategy
from strategies.worker_core import WorkerCore, terminal_state_in
from strategies.worker_state import WorkerState

D = Decimal
INST = "BTC-USDT-SWAP"
EPOCH = 7
PARAMS = StrategyParams(
    step_pct=0.001,
    num_orders_per_side=3,
    single_size_as_multiple_of_lot_size=2,
    max_net_buy=20,
    max_net_sell=20,
    min_requote_interval_ms=0,
    orderbook_max_delay_sec=5,
)
LIMITS = StrategyLimits(D(100), D(10**9), 50, 500)


class Shell:
    """What the process shell does with the core's commands, minus the socket."""

    def __init__(self, params: StrategyParams = PARAMS) -> None:
        self.clock = FakeClock()
        self.core = WorkerCore(
            "mm",
            INST,
            make_strategy("sample_mm"),
            params,
            clock=self.clock,
            epoch=EPOCH,
            log=logger,
        )
        self.seq = 0
        self.sent: dict[int, Command] = {}
        self.fail_sends = False

    def dispatch(self, cmds: list[Command]) -> list[Command]:
        for cmd in cmds:
            if self.fail_sends:
                self.core.not_sent(cmd, "HWM")
                continue
            self.seq += 1
            self.sent[self.seq] = cmd
            self.core.sent(cmd, self.seq)
        return cmds

    def step(self) -> list[Command]:
        out = self.dispatch(self.core.step({}))
        return out + self.dispatch(self.core.housekeeping())

    def market(self, bid: str = "30000.0", ask: str = "30000.5") -> None:
        now, mono = self.clock.now_ns(), self.clock.monotonic_ns()
        for msg in (
            InstrumentInfo(INST, "SWAP", D("0.1"), D(1), D(1), "live", ct_val=D("0.01")),
            AccountUpdate(D(100000), 0, [], snapshot=True),
            AccountConfig(acct_lv=2, pos_mode="net_mode"),
        ):
            self.core.ctx.on_message(msg, now, mono)
        self.book(bid, ask)

    def book(self, bid: str, ask: str, state: BookState = BookState.VALID, ts_ms: int = 0) -> bool:
        top = BookTop(INST, state, 1, ts_ms, [(D(bid), D(5))], [(D(ask), D(5))])
        return self.core.on_message(top)

    def welcome(self) -> None:
        assert self.core.on_hello_answer(Welcome("mm", EPOCH, "00a", LIMITS))

    def seq_of(self, cid: str, kind: str) -> int:
        return next(s for s, c in self.sent.items() if c.cl_ord_id == cid and c.kind == kind)


def places(cmds: list[Command]) -> list[NewOrder]:
    return [c.msg for c in cmds if isinstance(c.msg, NewOrder)]


def quoting() -> Shell:
    s = Shell()
    s.market()
    s.welcome()
    s.step()
    return s


def test_no_decision_before_the_welcome() -> None:
    s = Shell()
    s.market()
    assert s.core.step({}) == []
    assert s.core.state is WorkerState.STARTING


def test_decide_places_the_ladder_and_the_orders_enter_the_table_as_sent() -> None:
    s = Shell()
    s.market()
    s.welcome()
    cmds = s.step()
    orders = places(cmds)
    assert sorted(str(o.px) for o in orders if o.side is Side.BUY) == [
        "29910.0",
        "29940.0",
        "29970.0",
    ]
    assert len([o for o in orders if o.side is Side.SELL]) == 3
    assert {o.state for o in s.core.ctx.orders} == {OrderState.SENT}
    assert s.core.state is WorkerState.QUOTING
    assert s.core.status_msg().quoting


def test_a_place_that_cannot_be_sent_is_rejected_at_once() -> None:
    s = Shell()
    s.market()
    s.welcome()
    s.fail_sends = True
    s.step()
    assert {o.state for o in s.core.ctx.orders} <= {OrderState.REJECTED}
    assert s.core.out.counters["send_failures"] == 6
    assert s.core.out.pending == {}


def test_acks_and_order_events_move_the_order_table() -> None:
    s = quoting()
    cid = places(list(s.sent.values()))[0].cl_ord_id
    assert not s.core.on_reply(Ack(cmd_seq=s.seq_of(cid, "place")))
    order = s.core.ctx.orders.get(cid)
    assert order is not None
    assert order.state is OrderState.ACK
    ev = OrderEvent("mm", EPOCH, cid, INST, order.side, OrderState.LIVE, order.sz, order.px, D(0))
    assert not s.core.on_message(ev)  # a routine confirmation: no new decision
    assert order.state is OrderState.LIVE
    filled = OrderEvent(
        "mm",
        EPOCH,
        cid,
        INST,
        order.side,
        OrderState.FILLED,
        order.sz,
        order.px,
        order.sz,
        fill_px=order.px,
        fill_sz=order.sz,
    )
    assert s.core.on_message(filled)  # a fill calls for a decision
    assert order.state is OrderState.FILLED
    assert s.core.ctx.fill_book.fills == 1


def test_order_events_of_another_epoch_are_not_tracked() -> None:
    s = quoting()
    ev = OrderEvent("mm", EPOCH + 1, "x", INST, Side.BUY, OrderState.LIVE, D(1), D(1), D(0))
    assert not s.core.on_message(ev)
    assert s.core.ctx.orders.get("x") is None


def test_a_refused_place_holds_places_back_and_an_unknown_cancel_forgets_the_order() -> None:
    s = quoting()
    sent = places(list(s.sent.values()))
    first = sent[0].cl_ord_id
    assert s.core.on_reply(Reject(cmd_seq=s.seq_of(first, "place"), reason="size limit"))
    assert s.core.ctx.orders.get(first).state is OrderState.REJECTED  # type: ignore[union-attr]
    assert s.core.counters["rejects"] == 1
    assert s.core.out.places_held_until_ns > s.clock.monotonic_ns()
    assert places(s.step()) == []  # held back
    s.clock.advance_s(0.3)
    assert len(places(s.step())) == 1  # the missing level again once the hold is over


def test_the_book_moving_amends_and_cancels_go_before_places() -> None:
    s = quoting()
    for seq, _cmd in list(s.sent.items()):
        s.core.on_reply(Ack(cmd_seq=seq))
    for o in s.core.ctx.orders:
        ev = OrderEvent("mm", EPOCH, o.cl_ord_id, INST, o.side, OrderState.LIVE, o.sz, o.px, D(0))
        s.core.on_message(ev)
    s.book("30010.0", "30010.5")
    cmds = s.step()
    assert cmds
    assert all(isinstance(c.msg, Amend) for c in cmds)
    assert {o.state for o in s.core.ctx.orders} == {OrderState.AMEND_PENDING}


def test_stale_book_pulls_the_quotes() -> None:
    s = quoting()
    for seq in list(s.sent):
        s.core.on_reply(Ack(cmd_seq=seq))
    s.clock.advance_s(6)  # past orderbook_max_delay_sec
    cmds = s.step()
    assert s.core.state is WorkerState.PULLED
    assert s.core.reason.startswith("book stale")
    assert len(cmds) == 6
    assert all(isinstance(c.msg, Cancel) for c in cmds)
    assert {o.state for o in s.core.ctx.orders} == {OrderState.CANCEL_PENDING}


def test_a_resyncing_book_pulls_the_quotes() -> None:
    s = quoting()
    s.book("30000.0", "30000.5", BookState.RESYNCING)
    s.step()
    assert s.core.state is WorkerState.PULLED


def test_pause_cancels_all_and_resume_quotes_again() -> None:
    s = quoting()
    cmds = s.dispatch(s.core.pause())
    assert [type(c.msg) for c in cmds] == [CancelAll]
    assert {o.state for o in s.core.ctx.orders} == {OrderState.CANCEL_PENDING}
    assert s.step() == []
    assert s.core.state is WorkerState.PAUSED
    s.core.resume()
    s.step()
    assert s.core.state is WorkerState.QUOTING


def test_decision_errors_cancel_back_off_and_finally_are_fatal() -> None:
    params = PARAMS.model_copy(update={"error_backoff_sec": 1.0, "max_consecutive_errors": 2})
    s = Shell(params)
    s.market()
    s.welcome()

    def boom(*_: object) -> object:
        raise ZeroDivisionError("bad formula")

    s.core.strategy.ladder = boom  # type: ignore[method-assign]
    cmds = s.step()
    assert [type(c.msg) for c in cmds] == [CancelAll]
    assert s.core.state is WorkerState.ERROR_BACKOFF
    assert s.step() == []  # backing off
    assert s.core.state is WorkerState.ERROR_BACKOFF
    s.clock.advance_s(1.1)
    s.step()
    assert s.core.fatal is not None
    assert "2 times in a row" in s.core.fatal
    assert s.core.state is WorkerState.STOPPED
    assert s.core.step({}) == []  # no decision after a fatal error
    assert s.core.machine.illegal == 0


def test_fenced_rejoins_with_a_new_epoch_then_too_often_is_fatal() -> None:
    s = quoting()
    for seq in list(s.sent):
        s.core.on_reply(Ack(cmd_seq=seq))  # at the router: it cancels them when it fences
    assert not s.core.on_reply(Fenced("mm", EPOCH, "stalled"))
    assert s.core.rejoin
    assert s.core.welcome is None
    old = s.core.epoch
    s.clock.advance_s(1)
    new = s.core.rejoin_epoch()
    assert new != old
    assert old in s.core.old_epochs
    assert {o.state for o in s.core.ctx.orders} == {OrderState.CANCEL_PENDING}
    assert s.core.out.ids is None
    assert s.core.out.pending == {}
    for _ in range(3):
        s.core.on_hello_answer(Fenced("mm", s.core.epoch, "again"))
        s.core.rejoin_epoch()
    assert s.core.fatal is not None
    assert "fenced by the router" in s.core.fatal


def test_overdue_orders_are_cancelled_again_then_forgotten() -> None:
    params = PARAMS.model_copy(update={"unacked_timeout_sec": 0.2})
    s = Shell(params)
    s.market()
    s.welcome()
    first = {c.cl_ord_id for c in s.step()}
    s.clock.advance_s(0.3)
    cmds = s.step()
    assert {c.cl_ord_id for c in cmds if c.kind == "recancel"} == first
    assert {o.state for o in s.core.ctx.orders} == {OrderState.CANCEL_PENDING}
    for _ in range(6):
        s.clock.advance_s(0.3)
        s.step()
    assert not first & {o.cl_ord_id for o in s.core.ctx.orders.active()}  # forgotten


def live_ladder() -> Shell:
    """Quoting, every place acknowledged and reported LIVE by the router."""
    s = quoting()
    for seq in list(s.sent):
        s.core.on_reply(Ack(cmd_seq=seq))
    for o in s.core.ctx.orders:
        ev = OrderEvent("mm", EPOCH, o.cl_ord_id, INST, o.side, OrderState.LIVE, o.sz, o.px, D(0))
        s.core.on_message(ev)
    return s


def test_issue_13_a_refused_amend_of_an_order_terminal_at_the_router_closes_it() -> None:
    s = live_ladder()
    s.book("30010.0", "30010.5")
    amends = [c for c in s.step() if c.kind == "amend"]
    assert len(amends) == 6
    first, second = amends[0].cl_ord_id, amends[1].cl_ord_id
    # the router's own words (engine/router/core.py): the order ended before our amend arrived
    s.core.on_reply(Reject(s.seq_of(first, "amend"), "cannot amend in state FILLED", first))
    s.core.on_reply(Reject(s.seq_of(second, "amend"), "order CANCELED", second))
    assert s.core.ctx.orders.get(first).state is OrderState.FILLED  # type: ignore[union-attr]
    assert s.core.ctx.orders.get(second).state is OrderState.CANCELED  # type: ignore[union-attr]
    assert s.core.counters["closed_by_reject"] == 2
    s.book("30020.0", "30020.5")
    again = s.step()
    assert not {first, second} & {c.cl_ord_id for c in again}  # no loop of rejected amends
    assert s.core.counters["refusal_trips"] == 0  # routine races, not refusals


def test_issue_13_a_refused_cancel_of_a_terminal_or_unknown_order_closes_it() -> None:
    s = live_ladder()
    cmds = s.dispatch(s.core.pause())
    assert [c.kind for c in cmds] == ["cancel-all"]
    s.core.resume()
    s.book("30000.0", "30000.5")
    orders = list(s.core.ctx.orders)
    a, b = orders[0].cl_ord_id, orders[1].cl_ord_id
    seq_a = s.dispatch([Command(Cancel(cl_ord_id=a, inst=INST), "recancel", a)]) and s.seq
    s.core.on_reply(Reject(seq_a, "order already FILLED", a))
    seq_b = s.dispatch([Command(Cancel(cl_ord_id=b, inst=INST), "recancel", b)]) and s.seq
    s.core.on_reply(Reject(seq_b, "unknown clOrdId", b))
    assert s.core.ctx.orders.get(a).state is OrderState.FILLED  # type: ignore[union-attr]
    assert s.core.ctx.orders.get(b).state is OrderState.CANCELED  # type: ignore[union-attr]
    assert s.core.counters["closed_by_reject"] == 2


def test_terminal_state_in_reads_only_terminal_states() -> None:
    assert terminal_state_in("cannot amend in state FILLED") is OrderState.FILLED
    assert terminal_state_in("order already REJECTED") is OrderState.REJECTED
    assert terminal_state_in("cannot amend in state PARTIALLY_FILLED") is None
    assert terminal_state_in("cannot amend in state CANCEL_PENDING") is None
    assert terminal_state_in("sz above max_order_sz") is None


def refuse_all(s: Shell, cmds: list[Command], reason: str = "sz above max_order_sz") -> None:
    for c in cmds:
        if c.kind in ("place", "amend"):
            s.core.on_reply(Reject(s.seq_of(c.cl_ord_id, c.kind), reason, c.cl_ord_id))


def test_issue_13_a_router_that_keeps_refusing_pulls_the_quotes_and_backs_off() -> None:
    params = PARAMS.model_copy(
        update={
            "refusals_max": 6,
            "refusals_window_sec": 5.0,
            "refusal_backoff_sec": 1.0,
            "refusal_backoff_max_sec": 3.0,
        }
    )
    s = Shell(params)
    s.market()
    s.welcome()
    refuse_all(s, s.step())  # six refused places: the limit
    assert s.core.counters["refusal_trips"] == 1
    cmds = s.step()
    assert [type(c.msg) for c in cmds] == [CancelAll]  # quotes pulled, those we do not know too
    assert s.core.state is WorkerState.BACKING_OFF
    status = s.core.status_msg()
    assert status.state == "backing-off"
    assert not status.quoting
    assert "router refused 6 commands" in status.reason
    assert "sz above max_order_sz" in status.reason
    assert "backing off 1 s" in status.reason
    s.clock.advance_s(0.9)
    assert places(s.step()) == []  # still backing off
    assert s.core.state is WorkerState.BACKING_OFF
    # back-offs double per trip, capped: 1 s, then 2 s, 3 s, 3 s
    backoff_ns = s.core.refused_until_ns - s.clock.monotonic_ns()
    for want_s in (2.0, 3.0, 3.0):
        s.clock.advance(backoff_ns + 1)
        s.book("30000.0", "30000.5")
        again = s.step()
        assert s.core.state is WorkerState.QUOTING
        assert len(places(again)) == 6, "quotes again once the back-off is over"
        refuse_all(s, again)
        backoff_ns = s.core.refused_until_ns - s.clock.monotonic_ns()
        assert backoff_ns == int(want_s * 1e9)
    assert s.core.counters["refusal_trips"] == 4
    assert s.core.machine.illegal == 0


def test_issue_13_an_order_size_above_the_router_limit_is_not_sent() -> None:
    s = Shell()
    s.market()
    small = StrategyLimits(D(1), D(10**9), 50, 500)  # the ladder's size is 2
    assert s.core.on_hello_answer(Welcome("mm", EPOCH, "00a", small))
    cmds = s.step()
    assert places(cmds) == []
    assert s.core.state is WorkerState.HALTED
    assert s.core.reason == "params: order size 2 above the router's max_order_sz 1"


def test_issue_13_orders_a_restarted_router_does_not_hold_are_cancelled_then_closed() -> None:
    """After a router restart its order snapshot lacks orders that ended during the outage:
    the worker cancels each one it tracks as open and the router's 'unknown' closes it — no
    phantom 'quoting' on orders that are not at the venue. Orders the snapshot holds, and a
    place younger than the grace, are left alone."""
    s = live_ladder()
    orders = list(s.core.ctx.orders.active())
    held, gone = orders[0], orders[1:]
    s.clock.advance_s(2.0)
    s.sent.clear()
    fresh = s.core.ctx.orders.add("fresh", Side.BUY, D("29000"), D(2), s.clock.monotonic_ns())
    assert fresh.state is OrderState.PENDING
    snapshot = SnapshotEnd(seq_by_topic={f"ord|mm|{held.cl_ord_id}|": 3})
    assert s.core.on_message(snapshot)  # calls for a decision: housekeeping sends the cancels
    cmds = s.dispatch(s.core.housekeeping())
    cancelled = {c.cl_ord_id for c in cmds if isinstance(c.msg, Cancel)}
    assert cancelled == {o.cl_ord_id for o in gone}
    assert all(o.state is OrderState.CANCEL_PENDING for o in gone)
    for o in gone:
        s.core.on_reply(Reject(s.seq_of(o.cl_ord_id, "cancel"), "unknown clOrdId", o.cl_ord_id))
    assert {o.state for o in gone} == {OrderState.CANCELED}
    assert held.state is OrderState.LIVE
    assert s.core.counters["unheld_cancelled"] == len(gone)
    # a snapshot holding everything open asks for nothing
    all_held = {f"ord|mm|{o.cl_ord_id}|": 1 for o in s.core.ctx.orders.active()}
    assert not s.core.on_message(SnapshotEnd(seq_by_topic=all_held))


def test_venue_race_codes_and_terminal_rejects_do_not_count_as_refusals() -> None:
    params = PARAMS.model_copy(update={"refusals_max": 2})
    s = live_ladder()
    s.core.set_params(params)
    s.book("30010.0", "30010.5")
    amends = [c for c in s.step() if c.kind == "amend"]
    for c in amends[:3]:
        s.core.on_reply(Reject(s.seq_of(c.cl_ord_id, "amend"), "venue: gone", c.cl_ord_id, "51503"))
    for c in amends[3:]:
        cid = c.cl_ord_id
        s.core.on_reply(Reject(s.seq_of(cid, "amend"), "cannot amend in state FILLED", cid))
    assert s.core.counters["rejects"] == 6
    assert s.core.counters["refusal_trips"] == 0
    s.step()
    assert s.core.state is WorkerState.QUOTING


def test_issue_15_a_cancel_the_venue_refused_stays_pending_until_the_router_says() -> None:
    s = live_ladder()
    o = next(iter(s.core.ctx.orders))
    cid = o.cl_ord_id
    s.dispatch([Command(Cancel(cl_ord_id=cid, inst=INST), "recancel", cid)])
    assert s.core.ctx.orders.get(cid).state is OrderState.CANCEL_PENDING  # type: ignore[union-attr]
    # 51400: the venue says filled, canceled or does not exist; the router asks the venue
    s.core.on_reply(Reject(s.seq, "venue: cancel failed", cid, "51400"))
    assert s.core.ctx.orders.get(cid).state is OrderState.CANCEL_PENDING  # type: ignore[union-attr]
    assert s.core.counters["cancel_races"] == 1
    assert s.core.counters["refusal_trips"] == 0
    # the decision does not treat it as a live quote to keep or amend
    assert cid not in {c.cl_ord_id for c in s.step() if c.kind in ("amend", "cancel")}
    # the router's answer closes it
    ev = OrderEvent("mm", EPOCH, cid, INST, o.side, OrderState.FILLED, o.sz, o.px, o.sz)
    s.core.on_message(ev)
    assert s.core.ctx.orders.get(cid).state is OrderState.FILLED  # type: ignore[union-attr]


def test_issue_15_amend_back_pressure_51513_is_not_a_refusal_and_amends_to_the_newest() -> None:
    params = PARAMS.model_copy(update={"refusals_max": 2})
    s = live_ladder()
    s.core.set_params(params)
    s.book("30010.0", "30010.5")
    amends = [c for c in s.step() if c.kind == "amend"]
    assert len(amends) == 6
    for c in amends:  # the venue: too many amends of this order in progress
        s.core.on_reply(
            Reject(s.seq_of(c.cl_ord_id, "amend"), "venue: 51513", c.cl_ord_id, "51513")
        )
    assert s.core.counters["refusal_trips"] == 0
    assert s.core.state is WorkerState.QUOTING
    assert {o.state for o in s.core.ctx.orders} == {OrderState.LIVE}
    s.book("30020.0", "30020.5")  # the market moved on meanwhile
    again = [c for c in s.step() if c.kind == "amend"]
    assert {c.cl_ord_id for c in again} == {c.cl_ord_id for c in amends}
    first = {c.cl_ord_id: c.msg.new_px for c in amends if isinstance(c.msg, Amend)}
    latest = {c.cl_ord_id: c.msg.new_px for c in again if isinstance(c.msg, Amend)}
    assert all(latest[k] > first[k] for k in first)  # one amend each, to the newest price


def _fill(s: Shell, side: Side, ts_ms: int) -> None:
    """The router's event: the best live order of ``side`` filled at venue time ``ts_ms``."""
    o = max(
        (o for o in s.core.ctx.orders.active() if o.side is side),
        key=lambda o: o.px if side is Side.BUY else -o.px,
    )
    ev = OrderEvent(
        "mm", EPOCH, o.cl_ord_id, INST, side, OrderState.FILLED, o.sz, o.px, o.sz,
        fill_px=o.px, fill_sz=o.sz, ts_ms=ts_ms,
    )  # fmt: skip
    assert s.core.on_message(ev)


def test_a_fill_ahead_of_its_book_update_waits_for_the_book() -> None:
    s = Shell(PARAMS.model_copy(update={"min_requote_interval_ms": 50}))
    s.market()
    s.welcome()
    s.step()
    for seq in list(s.sent):
        s.core.on_reply(Ack(cmd_seq=seq))
    s.book("30000.0", "30000.5", ts_ms=900)
    _fill(s, Side.BUY, ts_ms=1000)  # the private path beat the book showing the trade
    assert s.step() == []  # requoting now would price off the book before the fill
    assert s.core.counters["held_for_book"] == 1
    s.book("29999.0", "30000.5", ts_ms=1000)  # the book the venue had after the fill
    assert places(s.step())  # decided at once, on that book
    # a book that never catches up holds the decision no longer than the requote gap
    _fill(s, Side.SELL, ts_ms=2000)
    assert s.step() == []
    s.clock.advance_s(0.049)
    assert s.step() == []
    s.clock.advance_s(0.002)
    assert s.step() != []
    assert s.core.counters["held_for_book"] == 3


def test_only_what_a_decision_reads_wakes_one() -> None:
    s = quoting()
    trade = Trade(INST, "1", D("30000.0"), D(1), Side.SELL, 1)
    assert not s.core.on_message(MarkPrice(INST, D("30000.2"), 1))
    assert not s.core.on_message(Ticker(INST, D(30000), D(30000), D(1), D("30000.5"), D(1), 1))
    assert not s.core.on_message(trade)  # sample_mm reads no trades
    assert s.book("30001.0", "30001.5")
    s_as = Shell()
    s_as.core = WorkerCore(
        "mm", INST, make_strategy("avellaneda_stoikov"), PARAMS, clock=s_as.clock, epoch=EPOCH,
        log=logger,
    )  # fmt: skip
    s_as.market()
    assert s_as.core.on_message(trade)  # its σ and κ come from trades


def test_places_unanswered_at_a_fence_are_asked_about_once_welcomed_again() -> None:
    """A place sent just before the fence may never have reached the router, and its refusal
    (under the old epoch) is dropped with the old session: once welcomed again the worker
    cancels it, and the router's "unknown" closes it — no phantom row holding a level."""
    s = quoting()  # six places sent, none answered
    placed = {c.cl_ord_id for c in s.sent.values()}
    assert not s.core.on_reply(Fenced("mm", EPOCH, "stalled"))
    s.core.rejoin_epoch()
    assert {o.state for o in s.core.ctx.orders} == {OrderState.SENT}  # not assumed cancelled
    assert s.core.on_hello_answer(Welcome("mm", s.core.epoch, "00b", LIMITS))
    cmds = s.step()
    cancels = {c.cl_ord_id for c in cmds if isinstance(c.msg, Cancel)}
    assert cancels == placed
    for cid in cancels:
        s.core.on_reply(Reject(cmd_seq=s.seq_of(cid, "cancel"), reason="unknown clOrdId"))
    assert all(s.core.ctx.orders.get(cid) is None or s.core.ctx.orders.get(cid).state in
               (OrderState.CANCELED, OrderState.REJECTED) for cid in placed)  # fmt: skip
