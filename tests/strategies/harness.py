"""A worker's world in one process: real publishers for md/acct/risk and a minimal router (a real
``CommandServer`` + ``ord.pub`` publisher) that acks commands and reports order lifecycles.

The real router lives in ``engine.router``; this stand-in lets the worker be tested
deterministically (the venue outcome of each command is decided by the test)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import zmq.asyncio

from engine import topics
from engine.actor import Actor
from engine.bus.command import CommandServer
from engine.bus.publisher import Publisher
from engine.clock import SystemClock
from engine.config import BusConfig
from engine.messages import (
    AccountConfig,
    AccountUpdate,
    Ack,
    Amend,
    BalanceDetail,
    BookState,
    BookTop,
    Bye,
    Cancel,
    CancelAll,
    Fenced,
    Heartbeat,
    Hello,
    InstrumentInfo,
    NewOrder,
    OrderEvent,
    OrderState,
    Position,
    RiskState,
    StrategyLimits,
    StrategyStatus,
    TradingState,
    Welcome,
)
from ops.config import OkxmmConfig
from strategies.worker import Worker

D = Decimal
S = OrderState
INST = "BTC-USDT-SWAP"


@dataclass
class RouterOrder:
    cl_ord_id: str
    msg: NewOrder
    strategy: str
    epoch: int
    state: OrderState = S.LIVE
    px: Decimal | None = None
    sz: Decimal = Decimal(0)
    filled: Decimal = Decimal(0)


@dataclass
class MiniRouter:
    """Acks everything (unless ``ack_places`` is False) and publishes OrderEvents."""

    server: CommandServer
    pub: Publisher
    orders: dict[str, RouterOrder] = field(default_factory=dict)
    commands: list[Any] = field(default_factory=list)
    statuses: list[StrategyStatus] = field(default_factory=list)
    heartbeats: int = 0
    ack_places: bool = True
    lose_places: bool = False
    reject_places: bool = False
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    epochs: dict[str, int] = field(default_factory=dict)
    fenced: set[tuple[str, int]] = field(default_factory=set)  # (name, epoch) sessions fenced

    def live(self, strategy: str | None = None) -> list[RouterOrder]:
        return [
            o
            for o in self.orders.values()
            if o.state in (S.LIVE, S.PARTIALLY_FILLED) and strategy in (None, o.strategy)
        ]

    def book(self) -> tuple[list[str], list[str]]:
        """Live bid and ask prices as strings, best first."""
        live = self.live()
        bids = sorted((o.px for o in live if o.msg.side.value == "buy" and o.px), reverse=True)
        asks = sorted(o.px for o in live if o.msg.side.value == "sell" and o.px)
        return [str(p) for p in bids], [str(p) for p in asks]

    def _event(self, o: RouterOrder, **kw: Any) -> None:
        ev = OrderEvent(
            strategy=o.strategy,
            epoch=o.epoch,
            cl_ord_id=o.cl_ord_id,
            inst=o.msg.inst,
            side=o.msg.side,
            state=o.state,
            sz=o.sz,
            px=o.px,
            acc_fill_sz=o.filled,
            **kw,
        )
        self.pub.publish(topics.order_event_of(o.strategy, o.cl_ord_id), ev)

    async def serve(self) -> None:
        while True:
            got = await self.server.recv(None)
            if got is None:
                continue
            identity, env = got
            self.handle(identity, env.seq, env.msg)
            async with self.changed:
                self.changed.notify_all()

    def handle(self, identity: bytes, seq: int, msg: Any) -> None:
        _, name, epoch_text = identity.decode().split(":")
        epoch = int(epoch_text)
        if isinstance(msg, Heartbeat):
            self.heartbeats += 1
            return
        if isinstance(msg, StrategyStatus):
            self.statuses.append(msg)
            return
        self.commands.append(msg)
        if (name, epoch) in self.fenced and not isinstance(msg, Hello):
            # as the real router: a fenced session's commands are refused, never carried out
            # (a place sent before the worker read its Fenced would rest under the old epoch)
            cid = getattr(msg, "cl_ord_id", "")
            self.server.reply(identity, _reject(seq, cid, "fenced: heartbeat silence"))
            self.server.reply(identity, Fenced(name, epoch, "fenced"))
            return
        if isinstance(msg, Hello):
            self.epochs[name] = epoch
            limits = StrategyLimits(
                max_order_sz=D(1000),
                max_order_notional=D(10**9),
                max_open_orders=100,
                price_band_bps=1000,
            )
            self.server.reply(identity, Welcome(name, epoch, "00" + str(len(self.epochs)), limits))
        elif isinstance(msg, NewOrder):
            if self.lose_places:
                return  # lost on the way: the router never hears of it
            if self.reject_places:
                self.server.reply(identity, _reject(seq, msg.cl_ord_id, "sz above max_order_sz"))
                return
            o = RouterOrder(msg.cl_ord_id, msg, name, epoch, px=msg.px, sz=msg.sz)
            self.orders[msg.cl_ord_id] = o
            if self.ack_places:
                self.server.reply(identity, Ack(cmd_seq=seq, cl_ord_id=msg.cl_ord_id))
                self._event(o)
            else:
                o.state = S.SENT
        elif isinstance(msg, Amend):
            o = self.orders[msg.cl_ord_id]
            if o.state not in (S.LIVE, S.PARTIALLY_FILLED):
                # the real router's words (engine/router/core.py)
                why = f"cannot amend in state {o.state.value}"
                self.server.reply(identity, _reject(seq, msg.cl_ord_id, why))
                return
            self.server.reply(identity, Ack(cmd_seq=seq, cl_ord_id=msg.cl_ord_id))
            o.px = msg.new_px or o.px
            o.sz = msg.new_sz or o.sz
            self._event(o)
        elif isinstance(msg, Cancel):
            o2 = self.orders.get(msg.cl_ord_id)
            if o2 is None:
                self.server.reply(identity, _reject(seq, msg.cl_ord_id, "unknown clOrdId"))
                return
            if o2.state not in (S.LIVE, S.PARTIALLY_FILLED, S.SENT):
                self.server.reply(identity, _reject(seq, msg.cl_ord_id, "order gone"))
                return
            self.server.reply(identity, Ack(cmd_seq=seq, cl_ord_id=msg.cl_ord_id))
            o2.state = S.CANCELED
            self._event(o2)
        elif isinstance(msg, CancelAll | Bye):
            n = 0
            for o3 in self.orders.values():
                if o3.strategy == name and o3.state in (S.LIVE, S.PARTIALLY_FILLED, S.SENT):
                    o3.state = S.CANCELED
                    self._event(o3)
                    n += 1
            self.server.reply(identity, Ack(cmd_seq=seq, detail=str(n)))

    def fence(self, name: str, reason: str) -> None:
        """What the real router does on a missed heartbeat: cancel everything, say Fenced."""
        epoch = self.epochs[name]
        self.fenced.add((name, epoch))
        for o in self.orders.values():
            if o.strategy == name and o.state in (S.LIVE, S.PARTIALLY_FILLED, S.SENT):
                o.state = S.CANCELED
                self._event(o)
        self.server.reply(f"S:{name}:{epoch}".encode(), Fenced(name, epoch, reason))

    def fill(self, cid: str, qty: Decimal) -> None:
        o = self.orders[cid]
        o.filled += qty
        o.state = S.FILLED if o.filled >= o.sz else S.PARTIALLY_FILLED
        self._event(o, fill_px=o.px, fill_sz=qty, trade_id=f"t{cid}{o.filled}")

    async def wait_for(self, pred: Callable[[], bool], limit_s: float, what: str) -> None:
        """Wait until ``pred()`` holds after some command; fails naming ``what``."""
        try:
            async with asyncio.timeout(limit_s):
                async with self.changed:
                    await self.changed.wait_for(pred)
        except TimeoutError:
            raise AssertionError(f"not within {limit_s}s: {what}") from None


def _reject(seq: int, cid: str, reason: str) -> Any:
    from engine.messages import Reject

    return Reject(cmd_seq=seq, reason=reason, cl_ord_id=cid)


@dataclass
class World:
    cfg: OkxmmConfig
    ctx: zmq.asyncio.Context
    md: Publisher
    acct: Publisher
    risk: Publisher
    router: MiniRouter

    def instrument(self, tick: str = "0.1", lot: str = "1", min_sz: str = "1") -> None:
        info = InstrumentInfo(
            INST,
            "SWAP",
            D(tick),
            D(lot),
            D(min_sz),
            "live",
            ct_val=D("0.01"),
            ct_mult=D(1),
            ct_type="linear",
            settle_ccy="USDT",
        )
        self.md.publish(topics.instrument(INST), info)

    def book(self, bid: str, ask: str, state: BookState = BookState.VALID) -> None:
        top = BookTop(INST, state, 1, 0, [(D(bid), D(5))], [(D(ask), D(5))])
        self.md.publish(topics.book(INST), top)

    def account(self, pos: str = "0") -> None:
        detail = BalanceDetail("USDT", D(100000))
        self.acct.publish(topics.ACCOUNT, AccountUpdate(D(100000), 0, [detail], snapshot=True))
        self.acct.publish(topics.ACCOUNT_CONFIG, AccountConfig(acct_lv=2, pos_mode="net_mode"))
        p = Position(INST, "SWAP", "cross", "net", D(pos), None, 0)
        self.acct.publish(topics.position(INST), p)

    def risk_state(self, state: TradingState, reason: str = "") -> None:
        self.risk.publish(
            topics.risk_state("account", "*"), RiskState("account", "*", state, reason)
        )


@contextlib.asynccontextmanager
async def world(bus: BusConfig) -> AsyncIterator[World]:
    clock = SystemClock()
    ctx = zmq.asyncio.Context()
    cfg = OkxmmConfig(bus=bus)
    pubs = {
        fam: Publisher(
            ctx,
            bus.bind_endpoint(f"{fam}.pub"),
            src=fam,
            epoch=1,
            clock=clock,
            snap_endpoint=bus.bind_endpoint(f"{fam}.snap"),
        )
        for fam in ("md", "acct", "ord", "risk")
    }
    for p in pubs.values():
        await p.start()
    server = CommandServer(ctx, bus.bind_endpoint("ord.cmd"), src="router", clock=clock)
    await server.start()
    router = MiniRouter(server, pubs["ord"])
    task = asyncio.get_running_loop().create_task(router.serve())
    try:
        yield World(cfg, ctx, pubs["md"], pubs["acct"], pubs["risk"], router)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await server.close()
        for p in pubs.values():
            await p.close()
        ctx.destroy(linger=0)


@contextlib.asynccontextmanager
async def running_worker(
    w: World, *, name: str = "mm-btc", strategy: str = "sample_mm", params: str | None = None
) -> AsyncIterator[tuple[Worker, Actor[OkxmmConfig]]]:
    """A Worker on its own Actor (no signals, no ctl socket) in this event loop."""
    clock = SystemClock()
    actor = Actor(name, w.cfg, w.ctx, clock, clock.now_ns())
    worker = Worker(actor, strategy=strategy, inst=INST, params_path=params)
    task = asyncio.get_running_loop().create_task(worker.run())
    try:
        yield worker, actor
    finally:
        actor.request_stop("test over")
        async with asyncio.timeout(10):
            await task
