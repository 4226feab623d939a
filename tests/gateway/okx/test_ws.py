"""OkxWsClient against a real in-process websockets server playing OKX."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from pydantic import SecretStr
from websockets.asyncio.server import ServerConnection, serve

from engine.clock import SystemClock
from engine.config import Credentials
from engine.errors import OrderRejectedError, VenueError, VenueUnavailableError
from gateway.okx.schemas import PlaceOrderReq, PushArg
from gateway.okx.signing import login_args
from gateway.okx.ws import OkxWsClient, WsState
from gateway.okx.ws_protocol import Connected, Disconnected, SubscribeAck, TickersPush, WsEvent

CREDS = Credentials(api_key=SecretStr("k"), secret=SecretStr("sec"), passphrase=SecretStr("pp"))


@dataclass
class FakeWs:
    """One OKX-ish WS endpoint: login check, subscribe acks, pings, trade ops, scripted drops."""

    good_secret: str = "sec"
    conns: list[ServerConnection] = field(default_factory=list)
    logins: int = 0
    subscribes: list[list[dict[str, str]]] = field(default_factory=list)
    pings: int = 0
    answer_pings: bool = True
    hold_ops: bool = False
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    rec: Recorder | None = None

    async def handler(self, ws: ServerConnection) -> None:
        self.conns.append(ws)
        self.connected.set()
        async for raw in ws:
            if self.rec is not None:
                self.rec.poke()
            if raw == "ping":
                self.pings += 1
                if self.answer_pings:
                    await ws.send("pong")
                continue
            msg: dict[str, Any] = json.loads(raw)
            op = msg["op"]
            if op == "login":
                self.logins += 1
                a = msg["args"][0]
                want = login_args(
                    Credentials(
                        api_key=SecretStr("k"),
                        secret=SecretStr(self.good_secret),
                        passphrase=SecretStr("pp"),
                    ),
                    int(a["timestamp"]),
                )
                if a["sign"] == want["sign"]:
                    await ws.send(
                        json.dumps({"event": "login", "code": "0", "msg": "", "connId": "c1"})
                    )
                else:
                    await ws.send(
                        json.dumps(
                            {
                                "event": "error",
                                "code": "60009",
                                "msg": "Login failed.",
                                "connId": "c1",
                            }
                        )
                    )
            elif op == "subscribe":
                self.subscribes.append(msg["args"])
                for a in msg["args"]:
                    await ws.send(json.dumps({"event": "subscribe", "arg": a, "connId": "c1"}))
                    await ws.send(
                        json.dumps(
                            {
                                "arg": a,
                                "data": [{"instId": a.get("instId", ""), "last": "1", "ts": "1"}],
                            }
                        )
                    )
            elif op == "order" and not self.hold_ops:
                sz = msg["args"][0]["sz"]
                item = {
                    "ordId": "7",
                    "clOrdId": msg["args"][0].get("clOrdId", ""),
                    "sCode": "0" if sz != "0" else "51000",
                    "sMsg": "",
                }
                await ws.send(
                    json.dumps(
                        {
                            "id": msg["id"],
                            "op": "order",
                            "code": "0" if sz != "0" else "1",
                            "msg": "",
                            "data": [item],
                        }
                    )
                )
            elif op == "batch-orders":
                await ws.send(
                    json.dumps(
                        {
                            "id": msg["id"],
                            "op": op,
                            "code": "60013",
                            "msg": "Invalid args",
                            "data": [],
                        }
                    )
                )


@pytest.fixture
async def fake(free_port: int) -> AsyncIterator[tuple[FakeWs, str]]:
    f = FakeWs()
    async with serve(f.handler, "127.0.0.1", free_port):
        yield f, f"ws://127.0.0.1:{free_port}/ws/v5/private"


class Recorder:
    def __init__(self) -> None:
        self.events: list[WsEvent] = []
        self._cond = asyncio.Condition()

    def __call__(self, ev: WsEvent) -> None:
        self.events.append(ev)
        self.poke()

    def poke(self) -> None:
        """Re-evaluate waiters (server side activity or a client event)."""
        asyncio.get_running_loop().create_task(self._notify())

    async def _notify(self) -> None:
        async with self._cond:
            self._cond.notify_all()

    async def wait_for(self, pred: Any, within_s: float = 5.0) -> None:
        async with asyncio.timeout(within_s), self._cond:
            await self._cond.wait_for(lambda: pred(self.events))


def _client(url: str, rec: Recorder, **kw: Any) -> OkxWsClient:
    return OkxWsClient(
        url,
        name="test",
        clock=SystemClock(),
        on_event=rec,
        backoff_initial_s=0.01,
        backoff_max_s=0.05,
        auth_backoff_initial_s=kw.pop("auth_backoff_initial_s", 0.05),
        rng=random.Random(1),
        **kw,
    )


async def _run(c: OkxWsClient) -> asyncio.Task[None]:
    return asyncio.get_running_loop().create_task(c.run())


async def _stop(c: OkxWsClient, task: asyncio.Task[None]) -> None:
    await c.close()
    async with asyncio.timeout(5):
        await task
    assert c.state is WsState.CLOSED


async def test_login_subscribe_and_resubscribe_after_drop(fake: tuple[FakeWs, str]) -> None:
    srv, url = fake
    rec = Recorder()
    srv.rec = rec
    c = _client(url, rec, credentials=CREDS)
    arg = PushArg(channel="tickers", instId="BTC-USDT")
    c.subscribe([arg])
    task = await _run(c)
    await rec.wait_for(lambda evs: any(isinstance(e, TickersPush) for e in evs))
    assert srv.logins == 1
    assert any(isinstance(e, SubscribeAck) and e.arg == arg for e in rec.events)
    assert isinstance(rec.events[0], Connected)
    await srv.conns[-1].close()  # venue drops the connection
    await rec.wait_for(lambda evs: sum(isinstance(e, TickersPush) for e in evs) == 2)
    assert any(isinstance(e, Disconnected) for e in rec.events)
    assert srv.logins == 2
    assert srv.subscribes == [[{"channel": "tickers", "instId": "BTC-USDT"}]] * 2
    assert c.session == 2
    await _stop(c, task)


async def test_keepalive_ping_and_stale_detection(fake: tuple[FakeWs, str]) -> None:
    srv, url = fake
    rec = Recorder()
    srv.rec = rec
    c = _client(url, rec, ping_after_s=0.05, pong_timeout_s=1.0)  # margin for a loaded CI box
    task = await _run(c)
    assert await c.wait_open(5)
    await rec.wait_for(lambda evs: srv.pings >= 3)  # idle → text ping, pong keeps it alive
    assert not any(isinstance(e, Disconnected) for e in rec.events)
    srv.answer_pings = False
    await rec.wait_for(
        lambda evs: any(isinstance(e, Disconnected) and "stale" in e.reason for e in evs)
    )
    srv.answer_pings = True
    await rec.wait_for(lambda evs: sum(isinstance(e, Connected) for e in evs) >= 2)
    await _stop(c, task)


async def test_busy_stream_still_pings(fake: tuple[FakeWs, str]) -> None:
    """A venue that counts only what the client sends (OKX's 30 s rule as our simulator applies
    it) must still see pings while pushes arrive non-stop."""
    srv, url = fake
    rec = Recorder()
    srv.rec = rec
    c = _client(url, rec, ping_after_s=0.05, pong_timeout_s=1.0)
    task = await _run(c)
    assert await c.wait_open(5)
    await srv.connected.wait()
    push = json.dumps({"arg": {"channel": "tickers", "instId": "X"}, "data": [{"instId": "X"}]})

    async def flood() -> None:
        while True:  # a frame every ~1 ms: the client never sees 50 ms of silence
            await srv.conns[-1].send(push)
            await asyncio.sleep(0.001)

    flooding = asyncio.get_running_loop().create_task(flood())
    try:
        await rec.wait_for(lambda evs: srv.pings >= 3)
    finally:
        flooding.cancel()
    assert c.frames > 20
    assert not any(isinstance(e, Disconnected) for e in rec.events)
    await _stop(c, task)


async def test_bad_login_is_retried_with_backoff_not_crashed(fake: tuple[FakeWs, str]) -> None:
    srv, url = fake
    srv.good_secret = "other"
    rec = Recorder()
    srv.rec = rec
    c = _client(url, rec, credentials=CREDS)
    task = await _run(c)
    await rec.wait_for(lambda evs: srv.logins >= 3)
    assert c.last_error_code == "60009"
    assert c.state is not WsState.OPEN
    assert not task.done()
    assert not any(isinstance(e, Connected) for e in rec.events)
    await _stop(c, task)


async def test_trade_ops_request_response(fake: tuple[FakeWs, str]) -> None:
    srv, url = fake
    rec = Recorder()
    srv.rec = rec
    c = _client(url, rec, credentials=CREDS)
    task = await _run(c)
    assert await c.wait_open(5)
    req = PlaceOrderReq(
        instId="BTC-USDT-SWAP",
        tdMode="cross",
        side="buy",
        ordType="limit",
        sz="1",
        px="1",
        clOrdId="c1",
    )
    res = await c.request("order", [req], timeout_s=2)
    assert res.single().ordId == "7"
    bad = await c.request(
        "order", [PlaceOrderReq(instId="X", tdMode="cross", side="buy", ordType="limit", sz="0")]
    )
    with pytest.raises(OrderRejectedError):
        bad.single()
    with pytest.raises(VenueError) as ei:
        await c.request("batch-orders", [req])
    assert ei.value.code == "60013"
    srv.hold_ops = True
    with pytest.raises(VenueUnavailableError):
        await c.request("order", [req], timeout_s=0.1)
    pending = asyncio.get_running_loop().create_task(c.request("order", [req], timeout_s=5))
    await rec.wait_for(lambda evs: len(c._pending) == 1)
    await srv.conns[-1].close()
    with pytest.raises(VenueUnavailableError) as closed:
        await pending
    assert closed.value.code == "ws-closed"
    await _stop(c, task)


async def test_request_when_not_open_fails_fast(free_port: int) -> None:
    c = _client(f"ws://127.0.0.1:{free_port}/ws", Recorder())
    with pytest.raises(VenueUnavailableError) as ei:
        await c.request("order", [])
    assert ei.value.code == "ws-not-open"
    task = await _run(c)  # nothing listens: it keeps retrying with backoff and never raises
    assert not await c.wait_open(1.0)
    assert c.reconnects >= 1
    assert not task.done()
    await _stop(c, task)
