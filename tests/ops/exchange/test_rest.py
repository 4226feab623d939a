"""REST against a real in-process server: envelopes, every error path, rate limits, faults."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import websockets

from ops.exchange.testing import rest_headers
from tests.ops.exchange.conftest import ACCOUNT, Server
from tests.ops.exchange.wsutil import channel_is, login, recv_until, subscribe


async def _get(s: Server, path: str, *, signed: bool = True, **hdr: str) -> Any:
    h = rest_headers(ACCOUNT, "GET", path) if signed else {}
    h.update(hdr)
    return await s.http.get(path, headers=h)


async def _post(
    s: Server, path: str, body: Any, *, raw: str | None = None, ctype: str = "application/json"
) -> Any:
    text = raw if raw is not None else json.dumps(body)
    h = rest_headers(ACCOUNT, "POST", path, text)
    h["Content-Type"] = ctype
    return await s.http.post(path, content=text, headers=h)


async def test_public_endpoints(server: Server) -> None:
    r = await server.http.get("/api/v5/public/time")
    assert r.json()["code"] == "0"
    assert r.json()["data"][0]["ts"].isdigit()
    assert (await server.http.get("/api/v5/system/status")).json() == {
        "code": "0",
        "msg": "",
        "data": [],
    }
    r = await server.http.get("/api/v5/public/instruments?instType=SWAP&instId=BTC-USDT-SWAP")
    inst = r.json()["data"][0]
    assert (inst["ctVal"], inst["tickSz"], inst["lotSz"], inst["state"]) == (
        "0.01",
        "0.1",
        "0.01",
        "live",
    )
    assert (await server.http.get("/api/v5/public/instruments?instType=OPTION")).json()[
        "data"
    ] == []
    r = await server.http.get("/api/v5/public/instruments")
    assert (r.status_code, r.json()["code"]) == (400, "50014")
    r = await server.http.get("/api/v5/market/books?instId=BTC-USDT-SWAP&sz=400")
    book = r.json()["data"][0]
    assert len(book["bids"]) == 400
    assert isinstance(book["seqId"], int)
    assert all(len(level) == 4 for level in book["asks"])
    r = await server.http.get("/api/v5/market/ticker?instId=ETH-USDT")
    t = r.json()["data"][0]
    assert float(t["bidPx"]) < float(t["askPx"])
    r = await server.http.get("/api/v5/market/tickers?instType=SWAP")
    assert {x["instId"] for x in r.json()["data"]} == {"BTC-USDT-SWAP", "ETH-USDT-SWAP"}
    r = await server.http.get("/api/v5/public/mark-price?instType=SWAP")
    assert len(r.json()["data"]) == 2
    r = await server.http.get("/api/v5/public/price-limit?instId=BTC-USDT-SWAP")
    assert r.json()["data"][0]["enabled"] is True
    r = await server.http.get("/api/v5/market/books?instId=NOPE")
    assert r.json()["code"] == "51001"


async def test_unknown_path_shape(server: Server) -> None:
    r = await server.http.get("/api/v5/no/such")
    assert r.status_code == 404
    assert r.json() == {
        "code": 404,
        "data": {},
        "detailMsg": "",
        "error_code": "404",
        "error_message": "Not Found",
        "msg": "Not Found",
    }


async def test_auth_errors(server: Server) -> None:
    r = await server.http.get("/api/v5/account/balance")
    assert (r.status_code, r.json()["code"]) == (401, "50103")
    assert "data" not in r.json()
    r = await _get(server, "/api/v5/account/balance", **{"OK-ACCESS-PASSPHRASE": "nope"})
    assert r.json()["code"] == "50105"
    r = await _get(server, "/api/v5/account/balance", **{"OK-ACCESS-KEY": "nope"})
    assert r.json()["code"] == "50111"
    h = rest_headers(ACCOUNT, "GET", "/api/v5/account/balance?ccy=BTC")
    r = await server.http.get("/api/v5/account/balance?ccy=USDT", headers=h)
    assert r.json()["code"] == "50113"
    h = rest_headers(ACCOUNT, "GET", "/api/v5/account/balance", ts="2020-12-08T09:08:57.715Z")
    r = await server.http.get("/api/v5/account/balance", headers=h)
    assert r.json()["code"] == "50102"


async def test_clock_shift_fault_expires_honest_requests(server: Server) -> None:
    await server.admin("/admin/faults", {"clock_offset_ms": 60_000})
    r = await _get(server, "/api/v5/account/balance")
    assert (r.status_code, r.json()["code"]) == (401, "50102")
    t = (await server.http.get("/api/v5/public/time")).json()["data"][0]["ts"]
    r = await _get(
        server,
        "/api/v5/account/balance",
        signed=False,
        **rest_headers(ACCOUNT, "GET", "/api/v5/account/balance", ts=_iso(int(t))),
    )
    assert r.json()["code"] == "0"


def _iso(ms: int) -> str:
    import datetime as dt

    d = dt.datetime.fromtimestamp(ms / 1000, dt.UTC)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


async def test_body_errors(server: Server) -> None:
    path = "/api/v5/trade/order"
    r = await _post(server, path, None, raw="")
    assert (r.status_code, r.json()["code"]) == (400, "50000")
    r = await _post(server, path, None, raw="{not json")
    assert (r.status_code, r.json()["code"]) == (400, "50002")
    r = await _post(server, path, {"instId": "BTC-USDT-SWAP"}, ctype="text/plain")
    assert (r.status_code, r.json()["code"]) == (400, "50006")
    r = await _post(server, path, {"instId": "BTC-USDT-SWAP", "tdMode": "cross"})
    assert (r.status_code, r.json()["code"]) == (400, "50014")


async def test_trading_reads_and_fills(server: Server) -> None:
    r = await _get(server, "/api/v5/account/config")
    cfg = r.json()["data"][0]
    assert cfg["acctLv"] in {"1", "2", "3", "4"}
    assert cfg["posMode"] == "net_mode"
    book = (await server.http.get("/api/v5/market/books?instId=BTC-USDT-SWAP")).json()["data"][0]
    ask = book["asks"][0][0]
    r = await _post(
        server,
        "/api/v5/trade/order",
        {
            "instId": "BTC-USDT-SWAP",
            "tdMode": "cross",
            "side": "buy",
            "ordType": "limit",
            "px": ask,
            "sz": "0.1",
            "clOrdId": "take1",
        },
    )
    body = r.json()
    assert body["code"] == "0", body
    assert int(body["outTime"]) >= int(body["inTime"])
    ord_id = body["data"][0]["ordId"]
    o = (await _get(server, f"/api/v5/trade/order?instId=BTC-USDT-SWAP&ordId={ord_id}")).json()
    assert o["data"][0]["state"] == "filled"
    assert o["data"][0]["avgPx"] == ask
    fills = (await _get(server, "/api/v5/trade/fills?instId=BTC-USDT-SWAP")).json()["data"]
    assert fills[0]["ordId"] == ord_id
    assert fills[0]["execType"] == "T"
    pos = (await _get(server, "/api/v5/account/positions")).json()["data"]
    assert [(p["instId"], p["pos"]) for p in pos] == [("BTC-USDT-SWAP", "0.1")]
    bal = (await _get(server, "/api/v5/account/balance?ccy=USDT")).json()["data"][0]
    assert [d["ccy"] for d in bal["details"]] == ["USDT"]
    r = await _get(server, "/api/v5/trade/order?instId=BTC-USDT-SWAP&ordId=1")
    assert r.json()["code"] == "51603"
    r = await _post(
        server,
        "/api/v5/trade/order",
        {
            "instId": "BTC-USDT-SWAP",
            "tdMode": "cross",
            "side": "sell",
            "ordType": "limit",
            "px": "1000",
            "sz": "0.1",
        },
    )
    assert r.json()["data"][0]["sCode"] == "51006"
    assert r.json()["code"] == "1"


async def test_cancel_all_after_over_rest(server: Server) -> None:
    r = await _post(
        server,
        "/api/v5/trade/order",
        {
            "instId": "ETH-USDT-SWAP",
            "tdMode": "cross",
            "side": "buy",
            "ordType": "limit",
            "px": "2500",
            "sz": "1",
        },
    )
    assert r.json()["code"] == "0"
    r = await _post(server, "/api/v5/trade/cancel-all-after", {"timeOut": 10})
    d = r.json()["data"][0]
    assert int(d["triggerTime"]) - int(d["ts"]) == 10_000
    r = await _post(server, "/api/v5/trade/cancel-all-after", {"timeOut": "5"})
    assert r.json()["code"] in ("51000", "50011")
    server.venue.limiter.reset()
    r = await _post(server, "/api/v5/trade/cancel-all-after", {"timeOut": "5"})
    assert r.json()["code"] == "51000"
    # time passes (clock fault) → the housekeeping timer fires within its 100 ms period
    async with websockets.connect(server.ws + "/private") as ws:
        assert (await login(ws, ACCOUNT))["code"] == "0"
        await subscribe(ws, {"channel": "orders", "instType": "ANY"})
        await server.admin("/admin/faults", {"clock_offset_ms": 11_000})
        push = await recv_until(ws, channel_is("orders"), within=3)
    assert push["data"][0]["cancelSource"] == "20"
    assert (await server.admin(f"/admin/orders?apiKey={ACCOUNT[0]}"))["orders"] == []
    acct = server.venue.account(ACCOUNT[0])
    assert acct is not None
    assert [o.cancel_source for o in acct.history.values()] == ["20"]


async def test_rest_rate_limit_429(server: Server) -> None:
    codes = []
    for _ in range(11):
        r = await _get(server, "/api/v5/account/balance")
        codes.append((r.status_code, r.json()["code"]))
    assert codes[:10] == [(200, "0")] * 10
    assert codes[10] == (429, "50011")


@pytest.mark.parametrize(("code", "status"), [("50011", 429), ("50001", 503), ("50026", 500)])
async def test_error_injection(server: Server, code: str, status: int) -> None:
    await server.admin("/admin/faults", {"error_rate": 1.0, "error_code": code})
    r = await server.http.get("/api/v5/public/time")
    assert (r.status_code, r.json()["code"]) == (status, code)
    await server.admin("/admin/faults", {"error_rate": 0.0})
    assert (await server.http.get("/api/v5/public/time")).status_code == 200


async def test_ack_delay(server: Server) -> None:
    await server.admin("/admin/faults", {"ack_delay_ms": 300})
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    await server.http.get("/api/v5/public/time")
    assert loop.time() - t0 >= 0.29
    bad = await server.http.post("/admin/faults", json={"ack_delay_ms": "x", "nope": 1})
    assert bad.status_code == 400
    assert set(bad.json()["fields"]) == {"ack_delay_ms", "nope"}


async def test_admin_readouts_freeze_and_shock(server: Server) -> None:
    book = await server.admin("/admin/book?instId=BTC-USDT-SWAP&depth=5")
    assert len(book["bids"]) == 5
    await server.admin("/admin/faults", {"freeze": True})
    m0 = server.venue.ex.marks["BTC-USDT-SWAP"]
    await server.admin("/admin/step", {"n": 20})
    assert server.venue.ex.marks["BTC-USDT-SWAP"] == m0
    await server.admin("/admin/faults", {"shock_pct": 2.0, "instId": "BTC-USDT-SWAP"})
    m1 = server.venue.ex.marks["BTC-USDT-SWAP"]
    assert abs(float(m1 / m0) - 1.02) < 0.0005
    assert server.venue.ex.marks["ETH-USDT-SWAP"] != 0
    bal = await server.admin(f"/admin/balances?apiKey={ACCOUNT[0]}")
    assert bal["balances"]["USDT"]["cash"] == "1000000"
    pos = await server.admin(f"/admin/positions?apiKey={ACCOUNT[0]}")
    assert pos == {"positions": []}
    r = await server.http.get("/admin/orders?apiKey=unknown")
    assert r.status_code == 404


async def test_exptime_header_and_last_fill_fields(server: Server) -> None:
    body = {
        "instId": "BTC-USDT-SWAP",
        "tdMode": "cross",
        "side": "buy",
        "ordType": "limit",
        "px": "50000",
        "sz": "0.1",
        "clOrdId": "late",
    }
    text = json.dumps(body)
    h = rest_headers(ACCOUNT, "POST", "/api/v5/trade/order", text)
    h["expTime"] = "1000"
    r = await server.http.post("/api/v5/trade/order", content=text, headers=h)
    assert r.json()["code"] == "1"
    assert r.json()["data"][0]["sCode"] == "50036"
    assert await server.admin(f"/admin/orders?apiKey={ACCOUNT[0]}") == {"orders": []}
    book = await server.admin("/admin/book?instId=BTC-USDT-SWAP&depth=1")
    r = await _post(
        server, "/api/v5/trade/order", {**body, "px": book["asks"][0][0], "clOrdId": "fill1"}
    )
    o = (await _get(server, "/api/v5/trade/order?instId=BTC-USDT-SWAP&clOrdId=fill1")).json()
    d = o["data"][0]
    assert d["fillPx"] == book["asks"][0][0]
    assert d["fillSz"] == "0.1"
    assert d["tradeId"].isdigit()


@pytest.mark.parametrize("exchange_overrides", [{"enforce_env_header": True}])
async def test_enforced_environment_header(server: Server) -> None:
    r = await _get(server, "/api/v5/account/balance", **{"x-simulated-trading": "0"})
    assert (r.status_code, r.json()["code"]) == (401, "50101")
    r = await _get(server, "/api/v5/account/balance")
    assert r.json()["code"] == "0"


async def test_instrument_family_filter(server: Server) -> None:
    r = await server.http.get("/api/v5/public/instruments?instType=SWAP&instFamily=ETH-USDT")
    assert [i["instId"] for i in r.json()["data"]] == ["ETH-USDT-SWAP"]
    r = await server.http.get("/api/v5/public/instruments?instType=OPTION&uly=BTC-USD")
    assert r.json()["data"] == []
