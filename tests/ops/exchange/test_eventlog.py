"""The venue's event log: shocks, the book pushes that carry them, trade requests as received
(per account and connection, instrument resolved from instIdCode) and order states, in order on
the exchange's monotonic clock; bounded."""

from __future__ import annotations

import json
from typing import Any

import pytest
import websockets

from ops.exchange.eventlog import EventLog
from tests.ops.exchange.conftest import ACCOUNT, Server
from tests.ops.exchange.wsutil import channel_is, login, recv_until, subscribe

SWAP = "BTC-USDT-SWAP"


async def _events(server: Server, since: int = 0, *kinds: str) -> list[dict[str, Any]]:
    params = "&".join([f"since={since}", *(f"kind={k}" for k in kinds)])
    out: list[dict[str, Any]] = (await server.admin(f"/admin/events?{params}"))["events"]
    return out


@pytest.mark.parametrize("exchange_overrides", [{"profile": "current"}])
async def test_a_shock_its_book_push_and_the_order_that_reacts_are_logged_in_order(
    server: Server,
) -> None:
    r = await server.http.get("/api/v5/public/instruments", params={"instType": "SWAP"})
    code = next(int(i["instIdCode"]) for i in r.json()["data"] if i["instId"] == SWAP)
    async with (
        websockets.connect(server.ws + "/public") as pub,
        websockets.connect(server.ws + "/private") as priv,
    ):
        await subscribe(pub, {"channel": "books", "instId": SWAP})
        await login(priv, ACCOUNT)
        await subscribe(priv, {"channel": "orders", "instType": "SWAP"})
        start = (await server.admin("/admin/events?since=0&limit=1"))["seq"]
        await server.admin("/admin/faults", {"shock_pct": 0.5, "instId": SWAP})
        await recv_until(pub, channel_is("books"))
        order = {"instIdCode": code, "tdMode": "cross", "side": "buy", "ordType": "limit",
                 "px": "1000", "sz": "1", "clOrdId": "react1"}  # fmt: skip
        await priv.send(json.dumps({"id": "1", "op": "order", "args": [order]}))
        await recv_until(priv, channel_is("orders"))
    evs = await _events(server, start)
    kinds = [e["kind"] for e in evs if e["instId"] in (SWAP, "")]
    shock = kinds.index("shock")
    book = kinds.index("book", shock)
    request = kinds.index("request", book)
    assert kinds.index("order", request) > request
    req = next(e for e in evs if e["kind"] == "request")
    assert req["instId"] == SWAP  # resolved from the instIdCode
    assert req["detail"] == "order"
    assert req["connId"]
    assert req["uid"]
    monos = [e["monoNs"] for e in evs]
    assert monos == sorted(monos)
    only = await _events(server, start, "request")
    assert [e["kind"] for e in only] == ["request"]


async def test_a_bad_query_is_refused(server: Server) -> None:
    r = await server.http.get("/admin/events?since=x")
    assert r.status_code == 400


def test_the_log_is_bounded_and_counts_what_it_dropped() -> None:
    t = iter(range(10**6))
    log = EventLog(lambda: next(t), size=100)
    for _ in range(250):
        log.add("book", inst=SWAP)
    assert len(log.since(0)) == 100
    assert log.dropped == 150
    assert log.since(0)[0].seq == 151
