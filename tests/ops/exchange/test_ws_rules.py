"""Today's OKX WS connection rules on the local exchange, with real WS clients: at most
``ws_connects_per_s`` new connections per second per IP (HTTP 429 before the upgrade), at most
``ws_requests_per_hour`` subscribe/unsubscribe/login requests per connection (``60014``)."""

from __future__ import annotations

import asyncio
import json
import time
from contextlib import AsyncExitStack
from typing import Any

import pytest
import websockets
from websockets.exceptions import InvalidStatus

from engine.clock import FakeClock
from ops.exchange.profile import PROFILES, describe
from tests.ops.exchange.conftest import Server
from tests.ops.exchange.wsutil import recv_until, subscribe

SPOT = "BTC-USDT"


@pytest.fixture
def exchange_clock() -> FakeClock:
    # hand-advanced time for the rules' windows; starts at wall time so logins verify
    return FakeClock(start_ns=time.time_ns())


@pytest.fixture
def exchange_overrides() -> dict[str, Any]:
    return {"profile": "current"}


def test_the_rules_are_switches_with_okx_numbers_on_current() -> None:
    cur, leg = PROFILES["current"], PROFILES["legacy"]
    assert (cur.ws_connects_per_s, cur.ws_requests_per_hour) == (3, 480)
    assert (leg.ws_connects_per_s, leg.ws_requests_per_hour) == (0, 0)
    assert "HTTP 429" in describe()
    assert "60014" in describe()


async def _refused(url: str) -> InvalidStatus:
    with pytest.raises(InvalidStatus) as info:
        async with websockets.connect(url):
            pass
    return info.value


async def test_fourth_connection_in_a_second_is_refused_with_429(
    server: Server, exchange_clock: FakeClock
) -> None:
    url = server.ws + "/public"
    async with AsyncExitStack() as stack:
        for _ in range(3):
            ws = await stack.enter_async_context(websockets.connect(url))
            assert (await subscribe(ws, {"channel": "tickers", "instId": SPOT}))["event"] == (
                "subscribe"
            )
        err = await _refused(server.ws + "/private")  # per IP, whatever the endpoint
        assert err.response.status_code == 429
        assert json.loads(err.response.body) == {"msg": "Too Many Requests", "code": "50011"}
        assert await _refused(url)  # refused attempts do not extend the window
        exchange_clock.advance_s(1.0)
        ws = await stack.enter_async_context(websockets.connect(url))
        await ws.send("ping")
        assert await ws.recv() == "pong"


@pytest.mark.parametrize(
    "exchange_overrides", [{"profile": "current", "venue": {"ws_connects_per_s": 5}}]
)
async def test_connection_rate_is_configurable(server: Server) -> None:
    url = server.ws + "/public"
    async with AsyncExitStack() as stack:
        for _ in range(5):
            await stack.enter_async_context(websockets.connect(url))
        assert (await _refused(url)).response.status_code == 429


@pytest.mark.parametrize("exchange_overrides", [{"profile": "legacy"}])
async def test_legacy_has_neither_rule(server: Server) -> None:
    async with AsyncExitStack() as stack:
        conns = [
            await stack.enter_async_context(websockets.connect(server.ws + "/public"))
            for _ in range(10)
        ]
        for _ in range(5):
            ack = await subscribe(conns[0], {"channel": "tickers", "instId": SPOT})
            assert ack["event"] == "subscribe"


@pytest.mark.parametrize(
    "exchange_overrides", [{"profile": "current", "venue": {"ws_requests_per_hour": 3}}]
)
async def test_requests_past_the_hourly_limit_get_60014(server: Server) -> None:
    async with websockets.connect(server.ws + "/public") as ws:
        for inst in ("BTC-USDT", "ETH-USDT"):
            ack = await subscribe(ws, {"channel": "tickers", "instId": inst})
            assert ack["event"] == "subscribe"
        await ws.send(
            json.dumps(
                {"op": "unsubscribe", "args": [{"channel": "tickers", "instId": "ETH-USDT"}]}
            )
        )
        assert (await recv_until(ws, lambda m: "event" in m))["event"] == "unsubscribe"
        arg = {"channel": "tickers", "instId": "BTC-USDT-SWAP"}
        await ws.send(json.dumps({"id": "7", "op": "subscribe", "args": [arg]}))
        err = await recv_until(ws, lambda m: "event" in m)
        assert {k: err[k] for k in ("id", "event", "code", "msg")} == {
            "id": "7",
            "event": "error",
            "code": "60014",
            "msg": "Requests too frequent",
        }
        # refused, not executed: nobody is subscribed to it
        assert not server.venue.hub.subscribers("tickers", "BTC-USDT-SWAP")
        await ws.send(json.dumps({"op": "login", "args": [{}]}))  # logins count too
        assert (await recv_until(ws, lambda m: "event" in m))["code"] == "60014"
        await ws.send("ping")  # the connection stays open
        assert await recv_until_pong(ws)
    # the allowance is per connection: a new one starts afresh
    async with websockets.connect(server.ws + "/public") as ws2:
        assert (await subscribe(ws2, arg))["event"] == "subscribe"


async def recv_until_pong(ws: websockets.ClientConnection) -> bool:
    async with asyncio.timeout(5):
        while await ws.recv() != "pong":
            pass
    return True
