"""WebSocket against a real in-process server: channels, trade ops, bad input, faults."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import websockets

from tests.ops.exchange.bookcheck import BookChecker
from tests.ops.exchange.conftest import ACCOUNT, OTHER, Server
from tests.ops.exchange.wsutil import channel_is, login, recv_until, subscribe

SWAP = "BTC-USDT-SWAP"


def _order(cl: str, px: str, side: str = "buy", sz: str = "0.1") -> dict[str, str]:
    return {
        "instId": SWAP,
        "tdMode": "cross",
        "side": side,
        "ordType": "limit",
        "px": px,
        "sz": sz,
        "clOrdId": cl,
    }


async def _op(ws: websockets.ClientConnection, req_id: str, op: str, args: Any) -> dict[str, Any]:
    await ws.send(json.dumps({"id": req_id, "op": op, "args": args}))
    return await recv_until(ws, lambda m: m.get("id") == req_id and "op" in m)


async def test_public_channels_and_book_stream(server: Server) -> None:
    # max_queue=None: this test stops reading early; a full queue would stall the close
    async with websockets.connect(server.ws + "/public?brokerId=9999", max_queue=None) as ws:
        await ws.send("ping")
        assert await ws.recv() == "pong"
        channels = ["books", "books5", "bbo-tbt", "tickers", "trades", "mark-price"]
        await ws.send(
            json.dumps(
                {
                    "id": "s1",
                    "op": "subscribe",
                    "args": [{"channel": c, "instId": SWAP} for c in channels],
                }
            )
        )
        checker = BookChecker()
        acks = []
        async with asyncio.timeout(5):
            while len(acks) < len(channels) or checker.messages == 0:
                m = json.loads(await ws.recv())
                if m.get("event") == "subscribe":
                    assert m["id"] == "s1"
                    assert m["connId"]
                    acks.append(m["arg"]["channel"])
                elif m.get("action") == "snapshot":
                    checker.on_message(m)
        assert acks == channels
        await server.admin("/admin/step", {"n": 30})
        seen: set[str] = set()
        want = {"books", "books5", "bbo-tbt", "tickers", "trades", "mark-price"}
        async with asyncio.timeout(5):
            while not want <= seen:
                m = json.loads(await ws.recv())
                ch = m["arg"]["channel"]
                seen.add(ch)
                if ch == "books":
                    checker.on_message(m)
                if ch == "trades":
                    assert m["data"][0]["side"] in ("buy", "sell")
        assert checker.checked >= 2


async def test_private_login_channels_and_trade_ops(server: Server) -> None:
    async with websockets.connect(server.ws + "/private") as ws:
        assert (await login(ws, ACCOUNT))["code"] == "0"
        acct_snap_ack = await subscribe(ws, {"channel": "account"})
        assert acct_snap_ack["event"] == "subscribe"
        snap = await recv_until(ws, channel_is("account"))
        assert snap["eventType"] == "snapshot"
        await subscribe(ws, {"channel": "positions", "instType": "ANY"})
        await recv_until(ws, channel_is("positions"))
        await subscribe(ws, {"channel": "balance_and_position"})
        await recv_until(ws, channel_is("balance_and_position"))
        await subscribe(ws, {"channel": "orders", "instType": "SWAP", "instId": SWAP})
        r = await _op(ws, "o1", "order", [_order("w1", "50000")])
        assert r["code"] == "0"
        assert r["data"][0]["sCode"] == "0"
        assert r["data"][0]["clOrdId"] == "w1"
        push = await recv_until(ws, channel_is("orders"))
        d = push["data"][0]
        assert (d["state"], d["avgPx"], d["fillSz"], d["accFillSz"]) == ("live", "0", "0", "0")
        assert push["arg"]["instId"] == SWAP
        r = await _op(
            ws,
            "b1",
            "batch-orders",
            [_order(f"wb{i}", "50000") for i in range(3)] + [_order("w1", "50000")],
        )
        assert r["code"] == "2"
        assert [x["sCode"] for x in r["data"]] == ["0", "0", "0", "51016"]
        r = await _op(
            ws,
            "a1",
            "amend-order",
            [{"instId": SWAP, "clOrdId": "w1", "newPx": "50001", "reqId": "q1"}],
        )
        assert r["data"][0]["reqId"] == "q1"
        r = await _op(
            ws,
            "ab1",
            "batch-amend-orders",
            [{"instId": SWAP, "clOrdId": f"wb{i}", "newSz": "0.2"} for i in range(3)],
        )
        assert r["code"] == "0"
        r = await _op(ws, "c1", "cancel-order", [{"instId": SWAP, "clOrdId": "w1"}])
        assert r["code"] == "0"
        r = await _op(
            ws,
            "bc1",
            "batch-cancel-orders",
            [{"instId": SWAP, "clOrdId": f"wb{i}"} for i in range(3)]
            + [{"instId": SWAP, "clOrdId": "gone"}],
        )
        assert [x["sCode"] for x in r["data"]] == ["0", "0", "0", "51400"]
        assert (await server.admin(f"/admin/orders?apiKey={ACCOUNT[0]}"))["orders"] == []
        # a fill moves account, positions and balance_and_position
        book = await server.admin(f"/admin/book?instId={SWAP}&depth=1")
        r = await _op(ws, "t1", "order", [_order("take", book["asks"][0][0])])
        assert r["code"] == "0"
        got: dict[str, dict[str, Any]] = {}
        async with asyncio.timeout(5):
            while not {"account", "positions", "balance_and_position", "orders"} <= set(got):
                m = await recv_until(ws, lambda m: "data" in m)
                got[m["arg"]["channel"]] = m
        assert got["balance_and_position"]["data"][0]["eventType"] == "filled"
        assert got["balance_and_position"]["data"][0]["posData"][0]["pos"] == "0.1"
        assert got["positions"]["data"][0]["pos"] == "0.1"
        assert got["account"]["eventType"] == "event_update"
        assert got["orders"]["data"][0]["execType"] == "T"


async def test_bad_input_gets_error_events_and_others_unaffected(server: Server) -> None:
    async with (
        websockets.connect(server.ws + "/public") as good,
        websockets.connect(server.ws + "/public") as bad,
        websockets.connect(server.ws + "/private") as priv,
        websockets.connect(server.ws + "/business") as biz,
    ):
        await subscribe(good, {"channel": "tickers", "instId": SWAP})
        await bad.send("{not json")
        e = await recv_until(bad, lambda m: m.get("event") == "error")
        assert e["code"] == "60012"
        await bad.send(json.dumps({"op": "fly", "args": []}))
        assert (await recv_until(bad, lambda m: "code" in m))["code"] == "60019"
        await bad.send(json.dumps([1, 2]))
        assert (await recv_until(bad, lambda m: "code" in m))["code"] == "60012"
        assert (await subscribe(bad, {"channel": "nope", "instId": SWAP}))["code"] == "60018"
        assert (await subscribe(bad, {"channel": "books", "instId": "X-Y"}))["code"] == "60018"
        assert (await subscribe(bad, {"channel": "orders", "instType": "ANY"}))["code"] == "60018"
        await bad.send(json.dumps({"op": "subscribe", "argss": []}))
        assert (await recv_until(bad, lambda m: "code" in m))["code"] == "60012"
        assert (await subscribe(priv, {"channel": "orders", "instType": "ANY"}))["code"] == "60011"
        await priv.send(json.dumps({"id": "x", "op": "order", "args": [_order("a", "1")]}))
        assert (await recv_until(priv, lambda m: "code" in m))["code"] == "60011"
        assert (await login(priv, (ACCOUNT[0], ACCOUNT[1], "wrong")))["code"] == "60024"
        assert (await login(priv, ("nobody", "s", "p")))["code"] == "60005"
        assert (await login(priv, ACCOUNT))["code"] == "0"
        assert (await login(priv, ACCOUNT))["code"] == "60031"
        await priv.send(json.dumps({"op": "order", "args": [_order("a", "1")]}))
        r = await recv_until(priv, lambda m: m.get("op") == "order")
        assert (r["code"], r["msg"], r["data"]) == ("60013", "Invalid args", [])
        await priv.send(json.dumps({"id": "y", "op": "order", "args": [{"instId": SWAP}]}))
        r = await recv_until(priv, lambda m: m.get("id") == "y")
        assert (r["code"], r["data"][0]["sCode"], r["data"][0]["sMsg"]) == (
            "1",
            "50014",
            "Parameter tdMode can not be empty.",
        )
        assert (await subscribe(biz, {"channel": "books", "instId": SWAP}))["code"] == "64002"
        # the good connection still streams
        await server.admin("/admin/step", {"n": 5})
        t = await recv_until(good, channel_is("tickers"))
        assert t["data"][0]["instId"] == SWAP


async def test_ws_trade_ops_share_rate_limits_with_rest(server: Server) -> None:
    async with websockets.connect(server.ws + "/private") as ws:
        await login(ws, OTHER)
        codes = []
        for i in range(61):
            r = await _op(ws, f"r{i}", "order", [_order(f"rl{i}", "40000")])
            codes.append(r["code"])
        assert codes[:60] == ["0"] * 60
        assert codes[60] == "50011"


async def _drain_until_closed(ws: websockets.ClientConnection) -> None:
    async with asyncio.timeout(3):
        while True:
            await ws.recv()


async def test_drop_ws_fault_closes_connections(server: Server) -> None:
    async with websockets.connect(server.ws + "/public") as ws:
        await subscribe(ws, {"channel": "tickers", "instId": SWAP})
        await server.admin("/admin/faults", {"drop_ws": True})
        with pytest.raises(websockets.ConnectionClosed):
            await _drain_until_closed(ws)
        assert ws.close_code == 1001


async def test_ws_error_injection_and_ack_delay(server: Server) -> None:
    async with websockets.connect(server.ws + "/private") as ws:
        await login(ws, ACCOUNT)
        await server.admin("/admin/faults", {"error_rate": 1.0, "error_code": "50001"})
        r = await _op(ws, "e1", "order", [_order("e1", "40000")])
        assert (r["code"], r["data"]) == ("50001", [])
        await server.admin("/admin/faults", {"error_rate": 0.0, "ack_delay_ms": 200})
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        r = await _op(ws, "e2", "order", [_order("e2", "40000")])
        assert r["code"] == "0"
        assert loop.time() - t0 >= 0.19


@pytest.mark.parametrize("exchange_overrides", [{"idle_timeout_s": 0.4}])
async def test_idle_connections_are_closed_with_4004(server: Server) -> None:
    async with websockets.connect(server.ws + "/public", ping_interval=None) as ws:
        with pytest.raises(websockets.ConnectionClosed):
            async with asyncio.timeout(3):
                await ws.recv()
        assert (ws.close_code, ws.close_reason) == (4004, "No data received in 30s")


async def test_login_expired_with_clock_shift(server: Server) -> None:
    await server.admin("/admin/faults", {"clock_offset_ms": -120_000})
    async with websockets.connect(server.ws + "/private") as ws:
        assert (await login(ws, ACCOUNT))["code"] == "60006"


async def test_notice_then_close(server: Server) -> None:
    async with websockets.connect(server.ws + "/public") as ws:
        await server.admin("/admin/faults", {"notice_ws": "public", "notice_close_ms": 100})
        notice = await recv_until(ws, lambda m: m.get("event") == "notice")
        assert notice["code"] == "64008"
        with pytest.raises(websockets.ConnectionClosed):
            await _drain_until_closed(ws)


async def test_periodic_drop_fault(server: Server) -> None:
    async with websockets.connect(server.ws + "/public") as ws:
        await server.admin("/admin/faults", {"drop_ws_every_s": 0.2})
        with pytest.raises(websockets.ConnectionClosed):
            await _drain_until_closed(ws)
        assert ws.close_code == 1001
    await server.admin("/admin/faults", {"drop_ws_every_s": 0})


async def test_skip_seq_and_corrupt_checksum_over_the_wire(server: Server) -> None:
    from tests.ops.exchange.bookcheck import ChainError, ChecksumError

    async with websockets.connect(server.ws + "/public", max_queue=None) as ws:
        await subscribe(ws, {"channel": "books", "instId": SWAP})
        checker = BookChecker()
        checker.on_message(await recv_until(ws, lambda m: m.get("action") == "snapshot"))
        await server.admin("/admin/faults", {"corrupt_checksum": 1, "instId": SWAP})
        await server.admin("/admin/step", {"n": 1})
        bad = await recv_until(ws, lambda m: m.get("action") == "update")
        with pytest.raises(ChecksumError):
            checker.on_message(bad)
        await server.admin("/admin/faults", {"skip_seq": 1, "instId": SWAP})
        await server.admin("/admin/step", {"n": 1})
        gap = await recv_until(ws, lambda m: m.get("action") == "update")
        with pytest.raises(ChainError):
            checker.on_message(gap)
