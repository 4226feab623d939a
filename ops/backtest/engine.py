"""The backtest loop: the live worker core against recorded market data, on a simulated clock.

One process, one instrument. Events run in timestamp order from one heap: recorded frames (at
their receive time), and what the latencies schedule — a book reaching the worker
(``md_latency``), our commands reaching the venue (``order_latency``), the venue's answers
reaching the worker (``response_latency``). The strategy code is the live one: the worker's
:class:`~strategies.worker_core.WorkerCore` (decide, diff, order table, refusal back-off) fed the
same bus messages the live worker gets; between it and the venue, the router's own pre-trade
checks (:func:`~engine.router.pretrade.check_new_order`, ``check_amend``) with the router's
configured limits. The venue is :class:`~ops.backtest.venue.SimVenue`. Nothing random: the same
data, params and settings give the same result, byte for byte.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from loguru import logger

from engine.clock import FakeClock
from engine.instruments import Instrument
from engine.messages import (
    AccountConfig,
    AccountUpdate,
    Ack,
    Amend,
    AnyMsg,
    BalanceDetail,
    Cancel,
    CancelAll,
    InstrumentInfo,
    NewOrder,
    OrderEvent,
    OrderState,
    Position,
    Reject,
    RiskState,
    Side,
    StrategyLimits,
    TradingState,
    Welcome,
)
from engine.router.batcher import Batcher, Op, Unlimited
from engine.router.config import RouterConfig
from engine.router.events import AmendReq, CancelReq, PlaceReq, VenueReq
from engine.router.pretrade import OrderLimits, check_amend, check_new_order
from gateway.book_replay import BookReplay
from gateway.okx import convert
from gateway.okx.ratelimit import OkxTradeLimiter
from gateway.okx.ws_protocol import TradesPush, WsParser
from ops.backtest.venue import Fill, QueueModel, SimOrder, SimVenue
from ops.marketdata.rawfile import RawFrame
from risk.config import RiskConfig
from risk.limits import InstView, LimitInputs, Severity, evaluate
from risk.state import ScopeState, StateEvent
from strategies.outbox import Command
from strategies.params import StrategyParams
from strategies.registry import make_strategy
from strategies.worker_core import WorkerCore

__all__ = ["Backtest", "BacktestConfig", "FillRecord", "OrderRecord"]

_MS = 1_000_000
_S = 1_000_000_000
_OPS: dict[type, Op] = {NewOrder: "place", Amend: "amend"}  # anything else: cancels
_STATE = {
    "live": OrderState.LIVE,
    "partially_filled": OrderState.PARTIALLY_FILLED,
    "filled": OrderState.FILLED,
    "canceled": OrderState.CANCELED,
}


@dataclass(frozen=True)
class BacktestConfig:
    inst: str
    strategy: str
    params: StrategyParams
    info: InstrumentInfo
    maker_fee: Decimal = Decimal("-0.0002")
    taker_fee: Decimal = Decimal("-0.0005")
    queue: QueueModel = "proportional"
    md_latency_ns: int = 1 * _MS
    order_latency_ns: int = 2 * _MS
    response_latency_ns: int = 2 * _MS
    tick_ns: int = 250 * _MS  # the live worker's idle wake-up
    sample_ns: int = 1 * _S  # equity / inventory / quote-uptime samples
    start_cash: Decimal = Decimal(100_000)
    router: RouterConfig = field(default_factory=RouterConfig)
    # record our best resting quotes and position as each frame arrives (``frame_states``),
    # for the parity test against the exchange's replay mode
    trace_frames: bool = False
    # the risk actor's limits (risk.limits.evaluate + risk.state), checked after every fill and
    # sample; None: not simulated
    risk: RiskConfig | None = None
    # order round trips recorded live (ns; e.g. the router's ack latencies): each command goes
    # out in half a drawn sample and its answers come back in the other half, in order (one
    # connection: nothing overtakes); drawn with ``seed``, so runs stay reproducible.
    # Empty: the constant latencies above
    latency_samples_ns: tuple[int, ...] = ()
    # market-data latencies recorded live (ns, one way; e.g. a worker's ``okxmm latencies``):
    # each book and trade reaches the worker a drawn sample after the venue frame, never before
    # an earlier one (one stream, in order). Empty: ``md_latency_ns``
    md_latency_samples_ns: tuple[int, ...] = ()
    seed: int = 0
    # the router's OKX trade limits (``gateway.okx.ratelimit``, what the live router's batcher
    # spends): a batch without tokens waits, as live. False: no limits
    rate_limits: bool = True


@dataclass(frozen=True)
class FillRecord:
    ts_ns: int
    cl_ord_id: str
    side: str
    px: Decimal
    sz: Decimal
    maker: bool
    fee: Decimal


@dataclass
class OrderRecord:
    cl_ord_id: str
    side: str
    px: Decimal
    sz: Decimal
    placed_ns: int
    state: str = "sent"
    filled: Decimal = Decimal(0)
    refused: str = ""


class Backtest:
    """Feed it frames with :meth:`run`; read ``fills``, ``orders``, ``samples`` after."""

    def __init__(self, cfg: BacktestConfig) -> None:
        self.cfg = cfg
        self.rules = Instrument.from_info(cfg.info)
        self.ct_val = cfg.info.ct_val or Decimal(1)
        self.venue = SimVenue(cfg.maker_fee, cfg.taker_fee, self.ct_val, cfg.queue)
        self.books = BookReplay([cfg.inst])
        self._parser = WsParser()
        r = cfg.router
        self.limits = OrderLimits(
            Decimal(r.max_order_sz), Decimal(r.max_order_notional), r.max_open_orders,
            r.price_band_bps,
        )  # fmt: skip
        self._heap: list[tuple[int, int, str, Any]] = []
        self._n = 0
        self.clock: FakeClock | None = None
        self.core: WorkerCore | None = None
        self.position = Decimal(0)
        self.cash = cfg.start_cash
        self.fees = Decimal(0)
        self.fills: list[FillRecord] = []
        self.orders: dict[str, OrderRecord] = {}
        self.samples: list[dict[str, Any]] = []  # ts, mid, equity, position, bid_up, ask_up
        self.refused = 0
        self.events = 0
        self.gaps = 0
        self._seq = 0
        self._decide_at: int | None = None
        self._last_step_ns = 0
        # the venue's clock: the latest exchange time recorded (book or trade) and when; and
        # the venue time of what the venue is doing now (an order event's ts_ms): a fill is
        # the same matching event as the trade or book that caused it, so it has its time
        self._mkt_ms = 0
        self._mkt_recv_ns = 0
        self._event_ms = 0
        self.frame_states: list[tuple[int, str | None, str | None, str]] = []
        self._scopes: dict[tuple[str, str], ScopeState] = {}
        self._rng = random.Random(cfg.seed)  # noqa: S311 - a simulation's draws, not crypto
        self._out_at = 0  # the last command's arrival at the venue
        self._back_at = 0  # the last answer's arrival at the worker
        self._half = 0  # this command's one-way latency (drawn when it is sent)
        self._md_at = 0  # the last market-data message's arrival at the worker
        self._peak_pnl = Decimal(0)
        self._new_orders: list[int] = []  # when each new order was sent (order-rate limit)
        # the live router's batcher (queues per operation, batches of ≤ 20) over the venue's
        # rate limits; each queued request → the command it carries (None: one of the orders
        # a CancelAll cancels, which spend tokens as the live router's cancels do)
        self._batcher = Batcher(OkxTradeLimiter() if cfg.rate_limits else Unlimited())
        self._carried: dict[int, tuple[int, AnyMsg] | None] = {}
        self._router_due = False
        self.risk_changes: list[tuple[int, str, str, str, str]] = []  # ts, scope, key, state, why

    # ------------------------------------------------------------------------------- setup
    def _schedule(self, t: int, kind: str, payload: Any) -> None:
        self._n += 1
        heapq.heappush(self._heap, (t, self._n, kind, payload))

    def _start(self, t0: int) -> WorkerCore:
        self.clock = FakeClock(start_ns=t0)
        core = WorkerCore(
            "bt",
            self.cfg.inst,
            make_strategy(self.cfg.strategy),
            self.cfg.params,
            clock=self.clock,
            epoch=1,
            log=logger.bind(actor="backtest"),
        )
        lim = StrategyLimits(
            self.limits.max_order_sz, self.limits.max_order_notional,
            self.limits.max_open_orders, self.limits.price_band_bps,
        )  # fmt: skip
        core.on_hello_answer(Welcome("bt", 1, "0bt", lim))
        quote = self.cfg.info.settle_ccy or "USDT"
        for msg in (
            self.cfg.info,
            AccountConfig(acct_lv=2, pos_mode="net_mode"),
            AccountUpdate(
                self.cash,
                0,
                [
                    BalanceDetail(
                        ccy=quote,
                        cash_bal=self.cash,
                        eq=self.cash,
                        avail_bal=self.cash,
                        avail_eq=self.cash,
                        u_time_ms=0,
                    )
                ],
                snapshot=True,
            ),
            self._position_msg(),
        ):
            core.on_message(msg)
        self.core = core
        self._schedule(t0 + self.cfg.tick_ns, "tick", None)
        self._schedule(t0 + self.cfg.sample_ns, "sample", None)
        return core

    def _position_msg(self) -> Position:
        return Position(
            inst=self.cfg.inst, inst_type=self.cfg.info.inst_type, mgn_mode="cross",
            pos_side="net", pos=self.position, avg_px=None, u_time_ms=0,
        )  # fmt: skip

    # ------------------------------------------------------------------------------ events
    def run(
        self,
        frames: Iterable[RawFrame],
        until_ns: int | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        """Run every frame (and what they cause) to the end; ``progress(frames_done)`` is called
        every 1000 frames."""
        it = iter(frames)
        done = 0
        nxt = next(it, None)
        if nxt is None:
            return
        self._start(nxt.recv_ns)
        while nxt is not None or self._heap:
            if nxt is not None and (not self._heap or nxt.recv_ns <= self._heap[0][0]):
                if until_ns is not None and nxt.recv_ns > until_ns:
                    nxt = None
                    continue
                self._advance(nxt.recv_ns)
                self._on_frame(nxt)
                nxt = next(it, None)
                done += 1
                if progress is not None and done % 1000 == 0:
                    progress(done)
                continue
            t, _, kind, payload = heapq.heappop(self._heap)
            if nxt is None and kind in ("tick", "sample"):
                continue  # the data is over: no more periodic work
            self._advance(t)
            self._dispatch(kind, payload)

    def _advance(self, t: int) -> None:
        assert self.clock is not None
        if t > self.clock.now_ns():
            self.clock.advance(t - self.clock.now_ns())
        self.events += 1

    def _on_frame(self, f: RawFrame) -> None:
        if self.cfg.trace_frames:
            live = [o for o in self.venue.orders.values() if o.open]
            bid = max((o.px for o in live if o.side is Side.BUY), default=None)
            ask = min((o.px for o in live if o.side is Side.SELL), default=None)
            quote = (None if bid is None else str(bid), None if ask is None else str(ask))
            self.frame_states.append((f.recv_ns, *quote, str(self.position)))
        inst = self.books.on_frame(f)
        now = f.recv_ns
        if inst == self.cfg.inst:
            sync = self.books.syncs[inst]
            self._market_time(sync.ts_ms, now)
            self._event_ms = sync.ts_ms
            self._mirror_book(f)
            self._schedule(self._md(now), "worker", sync.top_message(now))
            return
        if f.stream == "ws:public" and '"trades"' in f.text[:60]:
            self._on_trades(f)

    def _mirror_book(self, f: RawFrame) -> None:
        """The venue's book follows the recorded one, level by level as the venue changed it
        (queues move on these changes); reloaded whole after a snapshot or a healed gap."""
        books = self.books
        if books.last_reloaded:
            self.venue.load(*books.syncs[self.cfg.inst].book.top_strings(400))
            self._fills(self.venue.apply([], []))
            return
        for d in books.last_items:
            self._fills(self.venue.apply(d.bids, d.asks))

    def _on_trades(self, f: RawFrame) -> None:
        # md-feed's parser and converter: the worker sees the Trade the live feed publishes
        ev = self._parser.parse(f.text)
        if type(ev) is not TradesPush:
            return
        for d in ev.data:
            if d.instId != self.cfg.inst:
                continue
            try:
                trade = convert.trade(d)
            except (ValueError, ArithmeticError):
                continue  # md-feed drops it the same way (a logged bad frame)
            self._market_time(trade.ts_ms, f.recv_ns)
            self._event_ms = trade.ts_ms
            self._fills(self.venue.on_trade(trade.side, trade.px, trade.sz))
            self._schedule(self._md(f.recv_ns), "worker", trade)

    def _market_time(self, ts_ms: int, recv_ns: int) -> None:
        if ts_ms > self._mkt_ms:
            self._mkt_ms, self._mkt_recv_ns = ts_ms, recv_ns

    def _venue_ms(self, now: int) -> int:
        """The venue's clock at ``now``: the latest recorded exchange time, run on with the
        simulation since (what a fill's ``ts_ms`` is measured against the book's)."""
        return self._mkt_ms + max(0, now - self._mkt_recv_ns) // _MS

    def _dispatch(self, kind: str, payload: Any) -> None:
        assert self.core is not None
        assert self.clock is not None
        now = self.clock.now_ns()
        if kind == "worker":
            wake = self._deliver(payload)
            if wake:
                self._want_decision(now)
        elif kind == "decide":
            self._decide_at = None
            self._decide(now)
        elif kind == "router":
            self._router_due = False
            self._flush_router(now)
        elif kind == "tick":
            self._decide(now)
            self._schedule(now + self.cfg.tick_ns, "tick", None)
        elif kind == "sample":
            self._sample(now)
            self._check_risk(now)
            self._schedule(now + self.cfg.sample_ns, "sample", None)
        elif kind == "venue":
            self._at_venue(payload, now)
        elif kind == "kill":
            self._event_ms = self._venue_ms(now)
            o = self.venue.orders.get(payload)
            if o is not None and not self.venue.cancel(payload):
                self._event(o, self._back(now))
                self.venue.forget_closed()

    def _deliver(self, msg: AnyMsg) -> bool:
        assert self.core is not None
        if isinstance(msg, Ack | Reject):
            return self.core.on_reply(msg)
        return self.core.on_message(msg)

    def _want_decision(self, now: int) -> None:
        gap = self.cfg.params.min_requote_interval_ms * _MS
        at = max(now, self._last_step_ns + gap)
        if self._decide_at is None or at < self._decide_at:
            self._decide_at = at
            self._schedule(at, "decide", None)

    def _decide(self, now: int) -> None:
        assert self.core is not None
        silent = {"md": False, "acct": False, "ord": False, "risk": False}
        cmds = self.core.step(
            silent, account_heard_ns=self.clock.monotonic_ns() if self.clock else None
        )
        if cmds:
            self._last_step_ns = now  # as the live worker: a step that sent restarts the gap
        cmds += self.core.housekeeping()
        for cmd in cmds:
            self._send(cmd, now)
        self._flush_router(now)

    # ------------------------------------------------------------------------ the router
    def _send(self, cmd: Command, now: int) -> None:
        assert self.core is not None
        self._seq += 1
        seq = self._seq
        self.core.sent(cmd, seq)
        msg = cmd.msg
        why: str | None = None
        ref = self.venue.best_bid()
        if isinstance(msg, NewOrder):
            self._new_orders.append(now)
            open_n = sum(1 for o in self.venue.orders.values() if o.open)
            why = check_new_order(
                msg, self.rules, self.limits, open_n, ref, require_reference=False
            )
            self.orders[msg.cl_ord_id] = OrderRecord(
                msg.cl_ord_id, msg.side.value, msg.px or Decimal(0), msg.sz, now
            )
        elif isinstance(msg, Amend):
            o = self.venue.orders.get(msg.cl_ord_id)
            if o is not None:
                why = check_amend(o.sz, o.px, o.filled, msg.new_sz, msg.new_px, self.rules,
                                  self.limits, ref, require_reference=False)  # fmt: skip
        if why is not None:
            self.refused += 1
            if isinstance(msg, NewOrder):
                self.orders[msg.cl_ord_id].refused = why
                self.orders[msg.cl_ord_id].state = "refused"
            self._schedule(now, "worker", Reject(seq, why, cmd.cl_ord_id))
            return
        for i, req in enumerate(self._requests(msg)):
            self._carried[id(req)] = (seq, msg) if i == 0 else None
            self._batcher.add(_OPS.get(type(msg), "cancel"), req)

    def _requests(self, msg: AnyMsg) -> list[VenueReq]:
        """What the live router would queue for ``msg`` (a CancelAll: a cancel per order)."""
        inst = self.cfg.inst
        if isinstance(msg, NewOrder):
            return [PlaceReq(inst, msg.cl_ord_id, msg.side, msg.ord_type, msg.sz, msg.px)]
        if isinstance(msg, Amend):
            return [AmendReq(inst, msg.cl_ord_id, msg.new_sz, msg.new_px)]
        if isinstance(msg, Cancel):
            return [CancelReq(inst, msg.cl_ord_id)]
        open_ids = [o.cl_ord_id for o in self.venue.orders.values() if o.open]
        return [CancelReq(inst, cid) for cid in open_ids or ["*"]]

    def _flush_router(self, now: int) -> None:
        """Send what the router's batcher lets go now (cancels, amends, places, within the
        venue's rate limits); what waits for tokens is tried again when they are there."""
        for batch in self._batcher.take(now):
            for req in batch.reqs:
                item = self._carried.pop(id(req))
                if item is not None:
                    self._schedule(self._out(now), "venue", item)
        retry = self._batcher.retry_at_ns
        if retry and not self._router_due:
            self._router_due = True
            self._schedule(retry, "router", None)

    @property
    def rate_waits(self) -> int:
        """Times the router's batcher held a queue for the venue's rate limits."""
        return sum(self._batcher.waits.values())

    def _md(self, now: int) -> int:
        """When a market-data message of a frame received now reaches the worker."""
        samples = self.cfg.md_latency_samples_ns
        if not samples:
            return now + self.cfg.md_latency_ns
        self._md_at = max(now + samples[self._rng.randrange(len(samples))], self._md_at)
        return self._md_at

    def _out(self, now: int) -> int:
        """When a command sent now reaches the venue."""
        samples = self.cfg.latency_samples_ns
        if not samples:
            return now + self.cfg.order_latency_ns
        self._half = samples[self._rng.randrange(len(samples))] // 2
        self._out_at = max(now + self._half, self._out_at)
        return self._out_at

    def _back(self, now: int, *, draw: bool = False) -> int:
        """When an answer the venue sends now reaches the worker (``draw``: a push no command
        caused, e.g. a fill, draws its own latency)."""
        samples = self.cfg.latency_samples_ns
        if not samples:
            return now + self.cfg.response_latency_ns
        if draw:
            self._half = samples[self._rng.randrange(len(samples))] // 2
        self._back_at = max(now + self._half, self._back_at)
        return self._back_at

    # -------------------------------------------------------------------------- the venue
    def _at_venue(self, payload: tuple[int, AnyMsg], now: int) -> None:
        seq, msg = payload
        back = self._back(now)
        self._event_ms = self._venue_ms(now)
        if isinstance(msg, NewOrder):
            o = SimOrder(msg.cl_ord_id, msg.side, msg.px or Decimal(0), msg.sz, msg.ord_type)
            fills = self.venue.place(o)
            self._schedule(back, "worker", Ack(seq, cl_ord_id=o.cl_ord_id))
            self._event(o, back)
            self._fills(fills)
        elif isinstance(msg, Amend):
            code = self.venue.amend(msg.cl_ord_id, msg.new_px, msg.new_sz)
            if code:
                self._schedule(back, "worker", Reject(seq, f"venue: {code}", msg.cl_ord_id, code))
            else:
                self._schedule(back, "worker", Ack(seq, cl_ord_id=msg.cl_ord_id))
                self._event(self.venue.orders[msg.cl_ord_id], back)
        elif isinstance(msg, Cancel):
            code = self.venue.cancel(msg.cl_ord_id)
            if code:
                self._schedule(back, "worker", Reject(seq, f"venue: {code}", msg.cl_ord_id, code))
            else:
                self._schedule(back, "worker", Ack(seq, cl_ord_id=msg.cl_ord_id))
                self._event(self.venue.orders[msg.cl_ord_id], back)
        elif isinstance(msg, CancelAll):
            n = 0
            for o in list(self.venue.orders.values()):
                if o.open:
                    self.venue.cancel(o.cl_ord_id)
                    self._event(o, back)
                    n += 1
            self._schedule(back, "worker", Ack(seq, detail=str(n)))
        self.venue.forget_closed()

    def _event(self, o: SimOrder, at: int, fill: Fill | None = None) -> None:
        rec = self.orders.get(o.cl_ord_id)
        if rec is not None:
            rec.state, rec.filled, rec.px = o.state, o.filled, o.px
        ev = OrderEvent(
            strategy="bt", epoch=1, cl_ord_id=o.cl_ord_id, inst=self.cfg.inst, side=o.side,
            state=_STATE[o.state], sz=o.sz, px=o.px, acc_fill_sz=o.filled,
            fill_px=fill.px if fill else None, fill_sz=fill.sz if fill else None,
            trade_id=fill.trade_id if fill else "", fee=fill.fee if fill else None,
            fee_ccy=(self.cfg.info.settle_ccy or "USDT") if fill else "",
            ts_ms=self._event_ms,
        )  # fmt: skip
        self._schedule(at, "worker", ev)

    def _fills(self, fills: list[Fill]) -> None:
        if not fills:
            return
        assert self.clock is not None
        now = self.clock.now_ns()
        back = self._back(now, draw=True)
        for f in fills:
            signed = f.sz if f.side is Side.BUY else -f.sz
            self.position += signed
            self.cash -= signed * self.ct_val * f.px
            self.cash += f.fee
            self.fees += f.fee
            self.fills.append(
                FillRecord(now, f.cl_ord_id, f.side.value, f.px, f.sz, f.maker, f.fee)
            )
            o = self.venue.orders.get(f.cl_ord_id)
            if o is not None:
                self._event(o, back, f)
        self._schedule(back, "worker", self._position_msg())
        self._check_risk(now)

    # ------------------------------------------------------------------------------- risk
    def _check_risk(self, now: int) -> None:
        """The risk actor's evaluation on what the backtest knows; a state change reaches the
        router's checks at once (same process) and the worker after ``md_latency``; HALTED
        cancels every open order, as the router does."""
        rc = self.cfg.risk
        if rc is None:
            return
        mid = self.mid()
        pnl = self.equity(mid) - self.cfg.start_cash if mid is not None else None
        if pnl is not None:
            self._peak_pnl = max(self._peak_pnl, pnl)
        live = [o for o in self.venue.orders.values() if o.open]
        ct = self.ct_val
        view = InstView(
            inst=self.cfg.inst,
            position_base=self.position * ct,
            price_usd=mid or Decimal(0),
            open_buy_base=sum((o.remaining for o in live if o.side is Side.BUY), Decimal(0)) * ct,
            open_sell_base=sum((o.remaining for o in live if o.side is Side.SELL), Decimal(0)) * ct,
            md_age_ms=0,
            book_resyncing=not self.books.valid(self.cfg.inst),
        )
        self._new_orders = [t for t in self._new_orders if now - t < _S]
        inp = LimitInputs(
            account_ready=True, private_ok=True, pnl_usd=pnl, peak_pnl_usd=self._peak_pnl,
            strategy_pnl={"bt": (pnl, self._peak_pnl)} if pnl is not None else {},
            insts=[view], order_rates={"bt": len(self._new_orders)},
        )  # fmt: skip
        breaches = evaluate(inp, rc)
        keys = {("account", "*"), ("inst", self.cfg.inst), ("strategy", "bt")}
        keys |= {(b.scope, b.key) for b in breaches}
        worst = TradingState.ACTIVE
        for scope, key in sorted(keys):
            st = self._scopes.setdefault((scope, key), ScopeState(scope, key))
            mine = [b for b in breaches if (b.scope, b.key) == (scope, key)]
            halt = [b for b in mine if b.severity is Severity.HALT]
            if halt:
                change = st.fire(StateEvent.HALT, halt[0].reason)
            elif mine:
                change = st.fire(StateEvent.BREACH, mine[0].reason)
            else:
                change = st.fire(StateEvent.CLEAR, "")
            if change is not None:
                self.risk_changes.append((now, scope, key, change.new.value, change.reason))
                msg = RiskState(scope, key, change.new, change.reason)
                self._schedule(now + self.cfg.md_latency_ns, "worker", msg)
            if st.state is TradingState.HALTED:
                worst = TradingState.HALTED
            elif st.state is TradingState.REDUCING and worst is TradingState.ACTIVE:
                worst = TradingState.REDUCING
        if worst is not self.limits.trading_state:
            self.limits = replace(self.limits, trading_state=worst)
            if worst is TradingState.HALTED:
                for o in live:  # the router's kill: cancel everything at the venue
                    self._schedule(self._out(now), "kill", o.cl_ord_id)

    # ---------------------------------------------------------------------------- samples
    def mid(self) -> Decimal | None:
        b, a = self.venue.best_bid(), self.venue.best_ask()
        return (b + a) / 2 if b is not None and a is not None else None

    def equity(self, mid: Decimal | None) -> Decimal:
        return self.cash + (self.position * self.ct_val * mid if mid is not None else Decimal(0))

    def _sample(self, now: int) -> None:
        mid = self.mid()
        live = [o for o in self.venue.orders.values() if o.open]
        self.samples.append(
            {
                "ts_ns": now,
                "mid": mid,
                "equity": self.equity(mid),
                "position": self.position,
                "bid_up": any(o.side is Side.BUY for o in live),
                "ask_up": any(o.side is Side.SELL for o in live),
                "our_bid": max((o.px for o in live if o.side is Side.BUY), default=None),
                "our_ask": min((o.px for o in live if o.side is Side.SELL), default=None),
                "book_valid": self.books.valid(self.cfg.inst),
            }
        )
