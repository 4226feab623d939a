"""OkxWsClient against the real local exchange's connection rules (today's OKX): clients
refused for the connection rate (HTTP 429) or for too many subscribe requests (``60014``) back
off and get in, and every drop is logged with the venue's close code and reason."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from loguru import logger

from engine.clock import SystemClock
from gateway.okx.schemas import PushArg
from gateway.okx.ws import OkxWsClient
from gateway.okx.ws_protocol import WsEvent
from ops.exchange.config import ExchangeConfig
from ops.exchange.server import serve
from ops.exchange.venue import Venue


class _Logs:
    """Loguru records as they are emitted, with a wait for the first matching one."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.changed = asyncio.Event()

    def sink(self, message: Any) -> None:
        self.records.append(message.record)
        self.changed.set()

    def matching(self, text: str) -> list[dict[str, Any]]:
        return [r for r in self.records if r["message"] == text]

    async def first(self, text: str, within: float = 10.0, **extra: object) -> dict[str, Any]:
        async with asyncio.timeout(within):
            while True:
                for r in self.matching(text):
                    if all(r["extra"].get(k) == v for k, v in extra.items()):
                        return r
                self.changed.clear()
                await self.changed.wait()


@pytest.fixture
def logs() -> Iterator[_Logs]:
    rec = _Logs()
    sink_id = logger.add(rec.sink, level="DEBUG")
    yield rec
    logger.remove(sink_id)


@pytest.fixture
def exchange_overrides() -> dict[str, Any]:
    return {}


@pytest.fixture
async def ws_url(free_port: int, exchange_overrides: dict[str, Any]) -> AsyncIterator[str]:
    """An in-process local exchange on today's profile; its public WS URL."""
    cfg = ExchangeConfig(port=free_port, realtime=True, profile="current", **exchange_overrides)
    venue = Venue(cfg, SystemClock(), [])
    stop, ready = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(
        serve(venue, host="127.0.0.1", port=free_port, ssl_cert=None, stop=stop, ready=ready)
    )
    await asyncio.wait_for(ready.wait(), 10)
    try:
        yield f"ws://127.0.0.1:{free_port}/ws/v5/public"
    finally:
        stop.set()
        await task


def _client(url: str, name: str, events: list[WsEvent], **kw: Any) -> OkxWsClient:
    ws = OkxWsClient(url, name=name, clock=SystemClock(), on_event=events.append, **kw)
    ws.subscribe([PushArg(channel="tickers", instId="BTC-USDT")])
    return ws


async def test_clients_connecting_at_once_all_get_in_by_backing_off(
    ws_url: str, logs: _Logs
) -> None:
    events: list[WsEvent] = []
    clients = [_client(ws_url, f"md{i}", events) for i in range(8)]
    tasks = [asyncio.create_task(c.run()) for c in clients]
    try:
        opened = await asyncio.gather(*(c.wait_open(15.0) for c in clients))
        assert all(opened)
        refused = [r for r in logs.matching("okx ws disconnected") if r["extra"].get("http_status")]
        # 8 at once against 3 per second: some were refused, each logged with the status
        assert refused
        assert all(r["extra"]["http_status"] == 429 for r in refused)
        assert "HTTP 429" in refused[0]["extra"]["reason"]
        assert "50011" in refused[0]["extra"]["reason"]
        # backoff, not a tight loop: a handful of retries each for ~2 s of refusals
        assert sum(c.reconnects for c in clients) == len(refused) <= 8 * 5
    finally:
        for c in clients:
            await c.close()
        await asyncio.gather(*tasks)


@pytest.mark.parametrize("exchange_overrides", [{"venue": {"ws_requests_per_hour": 2}}])
async def test_requests_too_frequent_drops_and_reconnects_with_a_fresh_allowance(
    ws_url: str, logs: _Logs
) -> None:
    events: list[WsEvent] = []
    ws = _client(ws_url, "md", events)  # the subscribe on connect is request 1
    task = asyncio.create_task(ws.run())
    try:
        assert await ws.wait_open(10.0)
        ws.resubscribe([PushArg(channel="tickers", instId="BTC-USDT")])  # requests 2 and 3
        r = await logs.first("okx ws disconnected", code="60014")
        assert "Requests too frequent" in r["extra"]["reason"]
        assert r["extra"]["retry_in_s"] > 0
        await logs.first("okx ws open", session=2)
        assert ws.last_error_code == "60014"
    finally:
        await ws.close()
        await task


@pytest.mark.parametrize("exchange_overrides", [{"idle_timeout_s": 0.5}])
async def test_a_dropped_connection_logs_the_close_code_and_reason(
    ws_url: str, logs: _Logs
) -> None:
    events: list[WsEvent] = []
    # no keep-alive pings: the venue's idle rule closes the connection (4004)
    ws = _client(ws_url, "md", events, ping_after_s=60.0)
    task = asyncio.create_task(ws.run())
    try:
        r = await logs.first("okx ws disconnected", close_code=4004)
        assert r["extra"]["close_reason"] == "No data received in 30s"
        assert r["extra"]["reason"] == "closed 4004 No data received in 30s"
    finally:
        await ws.close()
        await task
