"""OkxRestClient against a real HTTP server (aiohttp, in-process) that verifies signatures."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from pydantic import SecretStr

from engine.clock import SystemClock
from engine.config import Credentials
from engine.errors import (
    AuthError,
    OrderRejectedError,
    RateLimitError,
    VenueError,
    VenueUnavailableError,
)
from gateway.okx.rest import OkxRestClient
from gateway.okx.schemas import CancelOrderReq, PlaceOrderReq
from gateway.okx.signing import prehash, sign

CREDS = Credentials(api_key=SecretStr("k1"), secret=SecretStr("s3cr3t"), passphrase=SecretStr("pp"))
SERVER_AHEAD_MS = 45_000  # server clock 45 s ahead: unsynced clients get 50102


@dataclass
class FakeOkx:
    """Just enough OKX: time, signed endpoints, scripted failures."""

    clock: SystemClock = field(default_factory=SystemClock)
    hits: dict[str, int] = field(default_factory=dict)
    fail_next: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    headers_seen: list[dict[str, str]] = field(default_factory=list)

    def now_ms(self) -> int:
        return self.clock.now_ns() // 1_000_000 + SERVER_AHEAD_MS

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/api/v5/public/time", self.time)
        app.router.add_route("*", "/api/v5/{tail:.*}", self.private)
        return app

    async def time(self, request: web.Request) -> web.Response:
        self.hits["time"] = self.hits.get("time", 0) + 1
        return web.json_response({"code": "0", "msg": "", "data": [{"ts": str(self.now_ms())}]})

    async def private(self, request: web.Request) -> web.Response:
        path = request.path
        self.hits[path] = self.hits.get(path, 0) + 1
        self.headers_seen.append(dict(request.headers))
        if self.fail_next:
            status, body = self.fail_next.pop(0)
            return web.json_response(body, status=status)
        body = await request.text()
        ts = request.headers.get("OK-ACCESS-TIMESTAMP", "")
        want = sign("s3cr3t", prehash(ts, request.method, request.raw_path, body))
        if request.headers.get("OK-ACCESS-SIGN") != want:
            return web.json_response({"code": "50113", "msg": "Invalid Sign"}, status=401)
        from datetime import datetime

        sent_ms = int(datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp() * 1000)
        if abs(sent_ms - self.now_ms()) > 30_000:
            expired = {"code": "50102", "msg": "Timestamp request expired"}
            return web.json_response(expired, status=401)
        if path == "/api/v5/account/balance":
            return web.json_response(
                {
                    "code": "0",
                    "msg": "",
                    "data": [{"totalEq": "10", "details": [{"ccy": "USDT", "cashBal": "10"}]}],
                }
            )
        if path == "/api/v5/trade/order":
            req = json.loads(body)
            if req["sz"] == "0":
                item = {
                    "ordId": "",
                    "clOrdId": req.get("clOrdId", ""),
                    "sCode": "51000",
                    "sMsg": "Parameter sz error",
                }
                return web.json_response({"code": "1", "msg": "", "data": [item]})
            return web.json_response(
                {
                    "code": "0",
                    "msg": "",
                    "data": [
                        {"ordId": "42", "clOrdId": req.get("clOrdId", ""), "sCode": "0", "sMsg": ""}
                    ],
                }
            )
        if path == "/api/v5/trade/cancel-batch-orders":
            reqs = json.loads(body)
            items = [
                {
                    "ordId": r.get("ordId", ""),
                    "clOrdId": r.get("clOrdId", ""),
                    "sCode": "0" if i == 0 else "51400",
                    "sMsg": "",
                }
                for i, r in enumerate(reqs)
            ]
            return web.json_response(
                {"code": "2", "msg": "", "data": items, "inTime": "1", "outTime": "2"}
            )
        return web.json_response({"code": 404, "data": {}, "msg": "Not Found"}, status=404)


@pytest.fixture
async def server(free_port: int) -> AsyncIterator[tuple[FakeOkx, str]]:
    fake = FakeOkx()
    runner = web.AppRunner(fake.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", free_port)
    await site.start()
    try:
        yield fake, f"http://127.0.0.1:{free_port}"
    finally:
        await runner.cleanup()


Make = Callable[..., OkxRestClient]


@pytest.fixture
async def make(server: tuple[FakeOkx, str]) -> AsyncIterator[Make]:
    clients: list[OkxRestClient] = []

    def _make(**kw: Any) -> OkxRestClient:
        c = OkxRestClient(
            server[1],
            CREDS,
            simulated=kw.pop("simulated", True),
            clock=SystemClock(),
            retry_backoff_s=0.01,
            **kw,
        )
        clients.append(c)
        return c

    yield _make
    for c in clients:
        await c.close()


async def test_clock_sync_and_signed_get(server: tuple[FakeOkx, str], make: Make) -> None:
    fake, _ = server
    c = make()
    await c.start()
    assert abs(c.offset_ms - SERVER_AHEAD_MS) < 2_000
    bal = await c.balance()
    assert bal.totalEq == "10"
    assert bal.details[0].ccy == "USDT"
    assert fake.headers_seen[-1]["x-simulated-trading"] == "1"


async def test_50102_resyncs_and_retries_once(server: tuple[FakeOkx, str], make: Make) -> None:
    fake, _ = server
    c = make()
    await c.start()
    c.offset_ms = 0  # clock drifted: the server is 45 s ahead
    ack = await c.place_order(
        PlaceOrderReq(
            instId="BTC-USDT-SWAP",
            tdMode="cross",
            side="buy",
            ordType="limit",
            sz="1",
            px="1",
            clOrdId="a1",
        )
    )
    assert ack.ordId == "42"
    assert fake.hits["/api/v5/trade/order"] == 2  # refused once (not processed), resent once
    assert fake.hits["time"] == 2


async def test_single_rejection_raises_typed_error(make: Make) -> None:
    c = make()
    await c.start()
    with pytest.raises(OrderRejectedError) as ei:
        await c.place_order(
            PlaceOrderReq(instId="X", tdMode="cross", side="buy", ordType="limit", sz="0", px="1")
        )
    assert ei.value.code == "51000"


async def test_batch_partial_returns_items(make: Make) -> None:
    c = make()
    await c.start()
    res = await c.cancel_orders(
        [CancelOrderReq(instId="X", clOrdId="a"), CancelOrderReq(instId="X", clOrdId="b")]
    )
    assert res.code == "2"
    assert [i.ok for i in res.items] == [True, False]
    err = res.item_error(1)
    assert err is not None
    assert err.code == "51400"
    assert res.item_error(0) is None


async def test_get_retried_on_unavailable_but_write_is_not(
    server: tuple[FakeOkx, str], make: Make
) -> None:
    fake, _ = server
    c = make()
    await c.start()
    fake.fail_next = [(503, {"code": "50001", "msg": "Service temporarily unavailable"})]
    assert (await c.balance()).totalEq == "10"
    assert fake.hits["/api/v5/account/balance"] == 2
    fake.fail_next = [(503, {"code": "50001", "msg": "Service temporarily unavailable"})]
    with pytest.raises(VenueUnavailableError):
        await c.place_order(
            PlaceOrderReq(instId="X", tdMode="cross", side="buy", ordType="limit", sz="1", px="1")
        )
    assert fake.hits["/api/v5/trade/order"] == 1


async def test_error_mapping(server: tuple[FakeOkx, str], make: Make) -> None:
    fake, _ = server
    c = make(get_retries=0)
    await c.start()
    fake.fail_next = [(429, {"code": "50011", "msg": "Too Many Requests"})]
    with pytest.raises(RateLimitError):
        await c.balance()
    fake.fail_next = [(401, {"code": "50111", "msg": "Invalid OK-ACCESS-KEY"})]
    with pytest.raises(AuthError) as ei:
        await c.balance()
    assert ei.value.code == "50111"
    assert ei.value.http_status == 401
    with pytest.raises(VenueError) as e404:
        await c.request("fills", object)  # unknown path on the fake: the 404 shape
    assert e404.value.code == "404"


async def test_wrong_secret_is_auth_error(server: tuple[FakeOkx, str]) -> None:
    bad = Credentials(api_key=SecretStr("k1"), secret=SecretStr("nope"), passphrase=SecretStr("pp"))
    async with OkxRestClient(server[1], bad, simulated=False, clock=SystemClock()) as c:
        await c.start()
        with pytest.raises(AuthError) as ei:
            await c.balance()
        assert ei.value.code == "50113"
        assert "nope" not in str(ei.value)


async def test_transport_error_is_unavailable(free_port: int) -> None:
    async with OkxRestClient(
        f"http://127.0.0.1:{free_port}", None, simulated=False, clock=SystemClock(), get_retries=0
    ) as c:
        with pytest.raises(VenueUnavailableError) as ei:
            await c.server_time_ms()
        assert ei.value.code == "transport"
