"""Self-trade prevention end to end: two strategies of one account cross on one instrument.

The real router process against the real local exchange (today's profile) on a quiet market:
strategy A rests a sell inside the spread, strategy B sends a buy at the same price. The router
sets ``stpMode`` on every place (``router.stp_mode``), so the venue never matches the two; it
cancels the maker (``cancel_maker``, the default) or the taker (``cancel_taker``) with
``cancelSource`` 32. Both strategies' books of orders — what the router publishes to them —
stay what the venue holds: no fill, the cancelled order CANCELED, the other one LIVE.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest
import zmq.asyncio

from engine.bus.command import CommandClient
from engine.bus.subscriber import Subscriber
from engine.clock import SystemClock
from engine.config import BusConfig
from engine.messages import (
    Ack,
    Heartbeat,
    Hello,
    NewOrder,
    OrderEvent,
    OrderState,
    OrdType,
    Side,
    Welcome,
)
from engine.orders.clordid import ClOrdIdSequence
from ops.exchange.testing import RunningExchange, running_exchange
from tests.engine.router.procs import INST, start_router, write_config
from tests.gateway.harness import Tap

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

QUIET = {"market": {"taker_rate_per_s": 0.0, "volatility_bps": 0.0}}
CLOCK = SystemClock()


class Strategy:
    """A strategy as the router sees one: Hello, heartbeats, orders; no worker logic."""

    def __init__(self, ctx: zmq.asyncio.Context, bus: BusConfig, name: str, epoch: int) -> None:
        self.name, self.epoch = name, epoch
        self.client = CommandClient(
            ctx,
            bus.connect_endpoint("ord.cmd"),
            identity=f"S:{name}:{epoch}".encode(),
            src=name,
            epoch=epoch,
            clock=CLOCK,
        )
        self.ids: ClOrdIdSequence | None = None
        self._beat: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.client.start()
        await self.client.wait_connected(10.0)
        env = await self.client.request(Hello(strategy=self.name, epoch=self.epoch, inst=INST), 10)
        assert isinstance(env.msg, Welcome), env.msg
        self.ids = ClOrdIdSequence(env.msg.short_id, self.epoch)
        self._beat = asyncio.get_running_loop().create_task(self._heartbeats())

    async def _heartbeats(self) -> None:
        while True:
            self.client.send(Heartbeat(strategy=self.name))
            await asyncio.sleep(0.05)  # the heartbeat period, not synchronisation

    async def limit(self, side: Side, px: Decimal) -> str:
        assert self.ids is not None
        cid = self.ids.next()
        msg = NewOrder(
            cl_ord_id=cid, inst=INST, side=side, ord_type=OrdType.LIMIT, sz=Decimal(1), px=px
        )
        env = await self.client.request(msg, 10)
        assert isinstance(env.msg, Ack), env.msg
        return cid

    async def close(self) -> None:
        if self._beat is not None:
            self._beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._beat
        await self.client.close()


class Events:
    """Every OrderEvent the router publishes (the gateway tests' Tap), by clOrdId."""

    def __init__(self, ctx: zmq.asyncio.Context, bus: BusConfig) -> None:
        self.tap = Tap(
            Subscriber(
                ctx,
                bus.connect_endpoint("ord.pub"),
                snap_endpoint=bus.connect_endpoint("ord.snap"),
                prefixes=["ord|"],
                name="stp-test",
                clock=CLOCK,
            )
        )

    def _last(self, cid: str) -> OrderEvent | None:
        evs = [m for m in self.tap.msgs(OrderEvent) if m.cl_ord_id == cid]
        return evs[-1] if evs else None

    async def start(self) -> None:
        await self.tap.start()

    async def state(self, cid: str, want: OrderState, timeout_s: float = 10.0) -> OrderEvent:
        def reached() -> bool:
            ev = self._last(cid)
            return ev is not None and ev.state is want

        await self.tap.until(reached, timeout_s, f"{cid} {want.value}")
        ev = self._last(cid)
        assert ev is not None
        return ev

    async def close(self) -> None:
        await self.tap.close()


@contextlib.asynccontextmanager
async def _router(
    tmp: Path, ex: RunningExchange, bus: BusConfig, stp_mode: str
) -> AsyncIterator[subprocess.Popen[bytes]]:
    cfg = write_config(tmp, ex, bus, {"stp_mode": stp_mode})
    proc = start_router(cfg, tmp)
    try:
        yield proc
    finally:
        proc.terminate()
        await asyncio.to_thread(proc.wait, 15)


async def _inside_spread(ex: RunningExchange) -> Decimal:
    book = await ex.admin(f"/admin/book?instId={INST}&depth=1")
    bid, ask = Decimal(book["bids"][0][0]), Decimal(book["asks"][0][0])
    tick = Decimal("0.1")
    assert ask - bid > 2 * tick, (bid, ask)
    return bid + ((ask - bid) / 2 // tick) * tick


async def _venue_fills(ex: RunningExchange) -> int:
    totals = await ex.admin(f"/admin/fill-totals?apiKey={ex.accounts[0][0]}")
    return sum(int(t["fills"]) for t in totals.values())


@pytest.mark.parametrize("stp_mode", ["cancel_maker", "cancel_taker"])
async def test_two_strategies_crossing_never_trade_with_each_other(
    tmp_path: Path, free_port: int, bus_config: BusConfig, stp_mode: str
) -> None:
    async with running_exchange(tmp_path, port=free_port, config=QUIET) as ex:
        ctx = zmq.asyncio.Context()
        async with _router(tmp_path, ex, bus_config, stp_mode):
            a, b = Strategy(ctx, bus_config, "stp-a", 11), Strategy(ctx, bus_config, "stp-b", 12)
            events = Events(ctx, bus_config)
            try:
                await a.start()
                await b.start()
                await events.start()
                px = await _inside_spread(ex)
                fills_before = await _venue_fills(ex)
                maker = await a.limit(Side.SELL, px)
                await events.state(maker, OrderState.LIVE)
                taker = await b.limit(Side.BUY, px)
                cancelled, kept = (maker, taker) if stp_mode == "cancel_maker" else (taker, maker)
                ev = await events.state(cancelled, OrderState.CANCELED)
                assert ev.reason == "cancelSource 32"  # self-trade prevention
                assert ev.acc_fill_sz == 0
                await events.state(kept, OrderState.LIVE)
                live = {o["clOrdId"]: o for o in await ex.live_orders()}
                assert kept in live
                assert cancelled not in live
                assert live[kept]["stpMode"] == stp_mode
                assert live[kept]["accFillSz"] == "0"
                assert await _venue_fills(ex) == fills_before  # nobody traded with anybody
            finally:
                await events.close()
                await a.close()
                await b.close()
        ctx.destroy(linger=0)
