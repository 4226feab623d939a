"""Response shapes as OKX's: every REST response and WS message with a fixture, obtained from a
running local exchange over real HTTP/WS, has the fixture's keys (recursively) and value types.

Types compared: string, number, bool, list, object; a string the fixture prints as a number
must be a number here too (never ``""``). Keys on either side that differ for a reason are in
the commented allow-lists below; nothing else may be missing or extra.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import websockets

from ops.exchange.testing import rest_headers, ws_login_args
from tests.ops.exchange.conftest import ACCOUNT, OTHER, Server

_NUM = re.compile(r"^-?\d+(\.\d+)?([eE]-?\d+)?$")

# fixture keys we deliberately do not send (path → keys); "*" applies at every path
NOT_SENT: dict[str, dict[str, set[str]]] = {
    # the docs' spot example has an upcoming tickSz change; ours has none scheduled, and an
    # empty list cannot show its item keys
    "rest/get_public_instruments_spot.response.json": {"data[].upcChg[]": {"*"}},
    # the docs' positions example has a TP/SL close algo; we refuse attached algos (51000)
    "ws/positions.push.json": {"data[].closeOrderAlgo[]": {"*"}},
    # the docs subscribed with an instId, and arg echoes the subscription; we subscribe by
    # instType only
    "ws/orders.push.json": {"arg": {"instId"}},
    # only this example has a top-level subCode; no other op response (REST or WS) has one
    "ws/op_batch-orders.all_failed.json": {"": {"subCode"}},
}
# keys we send that the fixture's example lacks, each documented by OKX for this response
EXTRA: dict[str, dict[str, set[str]]] = {
    # documented on the account channel (the docs example predates them)
    # (REST and WS examples each lack some of the other's keys: we send the union)
    "ws/account.push.json": {
        "data[].details[]": {"autoLendStatus", "autoLendMtAmt", "maxSpotInUse"}
    },
    # the account channel documents coinUsdPrice; the REST example omits it
    "rest/get_account_balance.response.json": {
        "data[].details[]": {"coinUsdPrice", "maxSpotInUseAmt"}
    },
    # pTime is documented on positions (REST prints it in the channel only)
    "rest/get_account_positions.response.json": {"data[]": {"pTime"}},
    # the positions channel documents the spot/margin-only keys the REST example prints
    "ws/positions.push.json": {"data[]": {"baseBal", "quoteBal", "bePx", "usdPx"}},
    # cancelSourceReason is in REST order reads and documented on the orders channel
    "ws/orders.push.json": {"data[]": {"cancelSourceReason"}},
    # the examples disagree on subCode per item (some have it, some not); we always send it
    "ws/op_order.response.json": {"data[]": {"subCode"}},
    "ws/op_cancel-order.response.json": {"data[]": {"subCode"}},
    "ws/op_order.all_failed.json": {"data[]": {"subCode"}},
    "ws/op_batch-amend-orders.partial.json": {"data[]": {"subCode"}},
    "ws/op_batch-amend-orders.all_failed.json": {"data[]": {"subCode"}},
    "ws/op_batch-cancel-orders.response.json": {"data[]": {"subCode"}},
    "ws/op_batch-cancel-orders.partial.json": {"data[]": {"subCode"}},
    "ws/op_batch-cancel-orders.all_failed.json": {"data[]": {"subCode"}},
    "ws/op_cancel-order.all_failed.json": {"data[]": {"subCode"}},
}
# fixture numbers that are "" for what we trade: the examples are isolated MARGIN/FUTURES
# positions; ours are cross SWAP ones, which have no isolated margin or liability, and a long
# the account's equity more than covers has no liquidation price (OKX sends "" then too)
EMPTY_OK: dict[str, set[str]] = {
    "rest/get_account_positions.response.json": {"data[].liab", "data[].margin", "data[].liqPx"},
    "ws/positions.push.json": {"data[].margin", "data[].liqPx"},
    # the example's failure (51008, insufficient balance) has a subCode; ours (the order does
    # not exist, 51503) has none
    "ws/op_amend-order.all_failed.json": {"data[].subCode"},
    "ws/op_batch-amend-orders.all_failed.json": {"data[].subCode"},
}
# (fixture, path, key) of every allow-list entry that excused a difference: a stale entry fails
_USED: set[tuple[str, str, str]] = set()


def _allow_entries() -> set[tuple[str, str, str]]:
    out = {
        (n, p, k)
        for d in (NOT_SENT, EXTRA)
        for n, paths in d.items()
        for p, ks in paths.items()
        for k in ks
    }
    return out | {(n, p, "") for n, ps in EMPTY_OK.items() for p in ps}


def _kind(v: object) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int | float):
        return "number"
    if isinstance(v, str):
        return "numeric-string" if _NUM.match(v) else "string"
    if isinstance(v, list):
        return "list"
    if isinstance(v, dict):
        return "object"
    return "null"


def shape_diff(name: str, ours: object, theirs: object, path: str = "") -> list[str]:
    """Differences of ``ours`` from the fixture ``theirs`` (empty: same shape)."""
    tk, ok = _kind(theirs), _kind(ours)
    if tk == "numeric-string":
        if ok == "numeric-string":
            return []
        if path in EMPTY_OK.get(name, set()):
            _USED.add((name, path, ""))
            return []
        return [f"{path}: {ours!r} where OKX gives a number ({theirs!r})"]
    if tk == "string" and ok == "numeric-string":
        return []  # OKX prints "" or a word where a number may be (e.g. fee on a new order)
    if tk != ok:
        return [f"{path}: {ok} ({ours!r}) where OKX gives {tk} ({theirs!r})"]
    out: list[str] = []
    if isinstance(theirs, dict) and isinstance(ours, dict):
        not_sent = NOT_SENT.get(name, {}).get(path, set())
        extra = EXTRA.get(name, {}).get(path, set())
        missing, more = set(theirs) - set(ours), set(ours) - set(theirs)
        _USED.update((name, path, k) for k in missing & not_sent)
        _USED.update((name, path, k) for k in more & extra)
        out += [f"{path}: missing {k!r}" for k in sorted(missing - not_sent)]
        out += [f"{path}: extra {k!r}" for k in sorted(more - extra)]
        for k in sorted(set(theirs) & set(ours)):
            out += shape_diff(name, ours[k], theirs[k], f"{path}.{k}" if path else k)
    elif isinstance(theirs, list) and isinstance(ours, list):
        if "*" in NOT_SENT.get(name, {}).get(path + "[]", set()):
            _USED.add((name, path + "[]", "*"))
            return []
        if theirs and not ours:
            return [f"{path}: empty list, OKX's has items"]
        if theirs:
            # item by item when the example has as many (a partial: success, then failure)
            pairs = theirs if len(theirs) == len(ours) else [theirs[0]] * len(ours)
            for item, example in zip(ours, pairs, strict=True):
                out += shape_diff(name, item, example, path + "[]")
    return out


@dataclass
class _Inbox:
    """Every frame one WS connection received, and a wait for the first matching one."""

    frames: list[dict[str, Any]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def read(self, ws: websockets.ClientConnection) -> None:
        async for raw in ws:
            if raw != "pong":
                self.frames.append(json.loads(raw))
                self.changed.set()

    async def first(
        self, pred: Callable[[dict[str, Any]], bool], within: float = 5.0
    ) -> dict[str, Any]:
        async with asyncio.timeout(within):
            while True:
                for f in self.frames:
                    if pred(f):
                        return f
                self.changed.clear()
                await self.changed.wait()


def _push(channel: str, **extra: object) -> Callable[[dict[str, Any]], bool]:
    def pred(m: dict[str, Any]) -> bool:
        return (
            m.get("arg", {}).get("channel") == channel
            and bool(m.get("data"))
            and all(m.get(k) == v for k, v in extra.items())
        )

    return pred


@pytest.fixture
def exchange_overrides() -> dict[str, Any]:
    # today's venue; the books snapshot push is switched on so its shape can be compared too
    return {"profile": "current", "venue": {"initial_snapshot": True}, "rate_limits": False}


async def _rest(
    s: Server, method: str, path: str, body: Any = None, account: tuple[str, str, str] = ACCOUNT
) -> Any:
    text = "" if body is None else json.dumps(body)
    h = rest_headers(account, method, path, text)
    r = await (
        s.http.get(path, headers=h)
        if method == "GET"
        else s.http.post(path, content=text, headers=h)
    )
    out = r.json()
    assert out["code"] == "0", out
    return out


@pytest.fixture
async def captured(server: Server) -> AsyncIterator[dict[str, Any]]:
    """One of every response and message with a fixture, from one trading session."""
    got: dict[str, Any] = {}
    pub_box, prv_box = _Inbox(), _Inbox()
    async with (
        websockets.connect(server.ws + "/public") as pub,
        websockets.connect(server.ws + "/private") as prv,
    ):
        readers = [
            asyncio.create_task(pub_box.read(pub)),
            asyncio.create_task(prv_box.read(prv)),
        ]
        try:
            await _session(server, pub, prv, pub_box, prv_box, got)
            yield got
        finally:
            for t in readers:
                t.cancel()


async def _session(
    s: Server,
    pub: websockets.ClientConnection,
    prv: websockets.ClientConnection,
    pub_box: _Inbox,
    prv_box: _Inbox,
    got: dict[str, Any],
) -> None:
    spot, swap = "BTC-USDT", "BTC-USDT-SWAP"
    await pub.send(
        json.dumps(
            {"id": "1512", "op": "subscribe", "args": [{"channel": "tickers", "instId": spot}]}
        )
    )
    got["ws/subscribe.response.json"] = await pub_box.first(lambda m: m.get("event") == "subscribe")
    args = [{"channel": c, "instId": spot} for c in ("books", "books5", "bbo-tbt", "trades")]
    args.append({"channel": "mark-price", "instId": swap})
    await pub.send(json.dumps({"op": "subscribe", "args": args}))
    await pub.send(json.dumps({"id": "1512", "op": "subscribe", "argss": args}))
    got["ws/error.response.json"] = await pub_box.first(lambda m: m.get("event") == "error")
    key, secret, _ = ACCOUNT
    bad = {"op": "login", "args": [ws_login_args((key, secret, "wrong passphrase"))]}
    await prv.send(json.dumps(bad))
    got["ws/login.error.json"] = await prv_box.first(lambda m: m.get("event") == "error")
    await prv.send(json.dumps({"op": "login", "args": [ws_login_args(ACCOUNT)]}))
    got["ws/login.response.json"] = await prv_box.first(lambda m: m.get("event") == "login")
    await prv.send(
        json.dumps(
            {
                "op": "subscribe",
                "args": [
                    {"channel": "account"},
                    {"channel": "positions", "instType": "ANY"},
                    {"channel": "balance_and_position"},
                    {"channel": "orders", "instType": "ANY"},
                ],
            }
        )
    )
    await prv_box.first(lambda m: m.get("event") == "subscribe" and m["arg"]["channel"] == "orders")
    book = (await s.http.get(f"/api/v5/market/books?instId={spot}&sz=1")).json()["data"][0]
    far = str(round(float(book["bids"][0][0]) * 0.9, 1))
    rest = await _rest(
        s,
        "POST",
        "/api/v5/trade/order",
        {
            "instId": spot,
            "tdMode": "cash",
            "side": "buy",
            "ordType": "limit",
            "px": far,
            "sz": "0.001",
        },
    )
    resting = rest["data"][0]["ordId"]
    swap_mkt = await _rest(
        s,
        "POST",
        "/api/v5/trade/order",
        {"instId": swap, "tdMode": "cross", "side": "buy", "ordType": "market", "sz": "1"},
    )
    filled = await _rest(
        s,
        "POST",
        "/api/v5/trade/order",
        {
            "instId": spot,
            "tdMode": "cash",
            "side": "buy",
            "ordType": "market",
            "sz": "100",
            "tgtCcy": "quote_ccy",
        },
    )
    spot_ord = filled["data"][0]["ordId"]
    low = str(round(float(book["bids"][0][0]) * 0.99, 1))
    await _rest(  # a marketable limit: the orders channel example is a filled limit order
        s,
        "POST",
        "/api/v5/trade/order",
        {
            "instId": spot,
            "tdMode": "cash",
            "side": "sell",
            "ordType": "limit",
            "px": low,
            "sz": "0.001",
        },
    )
    await s.admin("/admin/step", {"n": 20})
    # WS trade ops on today's venue go by instIdCode
    codes = {
        i["instId"]: i["instIdCode"]
        for i in (await s.http.get("/api/v5/public/instruments?instType=SPOT")).json()["data"]
    }
    await prv.send(
        json.dumps(
            {
                "id": "1512",
                "op": "order",
                "args": [
                    {
                        "instIdCode": codes[spot],
                        "tdMode": "cash",
                        "side": "buy",
                        "ordType": "limit",
                        "px": far,
                        "sz": "0.001",
                    }
                ],
            }
        )
    )
    placed = await prv_box.first(lambda m: m.get("op") == "order")
    got["ws/op_order.response.json"] = placed
    ws_ord = placed["data"][0]["ordId"]
    await prv.send(
        json.dumps(
            {
                "id": "1513",
                "op": "amend-order",
                "args": [
                    {
                        "instIdCode": codes[spot],
                        "ordId": ws_ord,
                        "newSz": "0.002",
                        "reqId": "b12344",
                    }
                ],
            }
        )
    )
    got["ws/op_amend-order.response.json"] = await prv_box.first(
        lambda m: m.get("op") == "amend-order"
    )
    await prv.send(
        json.dumps(
            {
                "id": "1514",
                "op": "cancel-order",
                "args": [{"instIdCode": codes[spot], "ordId": ws_ord}],
            }
        )
    )
    got["ws/op_cancel-order.response.json"] = await prv_box.first(
        lambda m: m.get("op") == "cancel-order"
    )
    await prv.send(
        json.dumps(
            {
                "id": "1515",
                "op": "order",
                "args": [],  # not a list of orders: the format error
            }
        )
    )
    got["ws/op_order.format_error.json"] = await prv_box.first(lambda m: m.get("id") == "1515")
    await _batch_ops(prv, prv_box, codes[spot], far, got)
    # pushes
    got["ws/tickers.push.json"] = await pub_box.first(_push("tickers"))
    got["ws/books.snapshot.json"] = await pub_box.first(_push("books", action="snapshot"))
    got["ws/books.update.json"] = await pub_box.first(_push("books", action="update"))
    got["ws/books5.push.json"] = await pub_box.first(_push("books5"))
    got["ws/bbo-tbt.push.json"] = await pub_box.first(_push("bbo-tbt"))
    got["ws/trades.push.json"] = await pub_box.first(_push("trades"))
    got["ws/mark-price.push.json"] = await pub_box.first(_push("mark-price"))
    got["ws/account.push.json"] = await prv_box.first(_push("account"))
    got["ws/positions.push.json"] = await prv_box.first(
        lambda m: _push("positions")(m) and any(p["instId"] == swap for p in m["data"])
    )
    got["ws/balance_and_position.push.json"] = await prv_box.first(
        lambda m: _push("balance_and_position")(m) and bool(m["data"][0]["posData"])
    )
    got["ws/orders.push.json"] = await prv_box.first(
        lambda m: (
            _push("orders")(m)
            and (m["data"][0]["state"], m["data"][0]["ordType"]) == ("filled", "limit")
        )
    )
    await pub.send(
        json.dumps({"op": "unsubscribe", "args": [{"channel": "tickers", "instId": spot}]})
    )
    got["ws/unsubscribe.response.json"] = await pub_box.first(
        lambda m: m.get("event") == "unsubscribe"
    )
    # REST reads
    reads = {
        "rest/get_account_balance.response.json": "account/balance",
        "rest/get_account_positions.response.json": "account/positions",
        "rest/get_market_books.response.json": f"market/books?instId={spot}",
        "rest/get_market_ticker.response.json": f"market/ticker?instId={spot}",
        "rest/get_public_instruments_spot.response.json": "public/instruments?instType=SPOT",
        "rest/get_public_mark_price.response.json": f"public/mark-price?instType=SWAP&instId={swap}",  # noqa: E501
        "rest/get_trade_fills.response.json": f"trade/fills?instId={spot}",
        "rest/get_trade_order.response.json": f"trade/order?instId={spot}&ordId={spot_ord}",
        "rest/get_trade_orders_pending.response.json": f"trade/orders-pending?instId={spot}",
    }
    for name, path in reads.items():
        got[name] = await _rest(s, "GET", "/api/v5/" + path)
    swap_id = swap_mkt["data"][0]["ordId"]
    got["swap market order"] = await _rest(
        s, "GET", f"/api/v5/trade/order?instId={swap}&ordId={swap_id}"
    )
    assert got["rest/get_trade_orders_pending.response.json"]["data"][0]["ordId"] == resting


async def _batch_ops(
    prv: websockets.ClientConnection, box: _Inbox, code: int, far: str, got: dict[str, Any]
) -> None:
    """Every trade op's success, partial and all-failed answer."""
    n = 0

    async def op(name: str, args: list[dict[str, Any]]) -> dict[str, Any]:
        nonlocal n
        n += 1
        req_id = str(1600 + n)  # OKX's examples use digits
        await prv.send(json.dumps({"id": req_id, "op": name, "args": args}))
        return await box.first(lambda m: m.get("id") == req_id)

    def place(cid: str, sz: str = "0.001") -> dict[str, Any]:
        # 900 BTC at the far price is more USDT than the account has: 51008
        base = {"instIdCode": code, "tdMode": "cash", "side": "buy", "ordType": "limit"}
        return {**base, "px": far, "sz": sz, "clOrdId": cid}

    def ref(cid: str, **kw: str) -> dict[str, Any]:
        if cid.startswith("nope"):  # an order that does not exist, named by ordId as OKX's
            return {"instIdCode": code, "ordId": cid.replace("nope", "2510789768709"), **kw}
        return {"instIdCode": code, "clOrdId": cid, **kw}

    poor = "900"
    got["ws/op_batch-orders.response.json"] = await op("batch-orders", [place("b1"), place("b2")])
    got["ws/op_batch-orders.partial.json"] = await op(
        "batch-orders", [place("b3"), place("b4", poor)]
    )
    got["ws/op_batch-orders.all_failed.json"] = await op(
        "batch-orders", [place("b5", poor), place("b6", poor)]
    )
    got["ws/op_order.all_failed.json"] = await op("order", [place("b7", poor)])
    amend = [ref("b1", newSz="0.002", reqId="r1"), ref("b2", newSz="0.002", reqId="r2")]
    got["ws/op_batch-amend-orders.response.json"] = await op("batch-amend-orders", amend)
    got["ws/op_batch-amend-orders.partial.json"] = await op(
        "batch-amend-orders", [ref("b1", newSz="0.003"), ref("nope1", newSz="0.003")]
    )
    got["ws/op_batch-amend-orders.all_failed.json"] = await op(
        "batch-amend-orders", [ref("nope1", newSz="0.003"), ref("nope2", newSz="0.003")]
    )
    got["ws/op_amend-order.all_failed.json"] = await op(
        "amend-order", [ref("nope1", newSz="0.003", reqId="r3")]
    )
    got["ws/op_batch-cancel-orders.response.json"] = await op(
        "batch-cancel-orders", [ref("b1"), ref("b2")]
    )
    got["ws/op_batch-cancel-orders.partial.json"] = await op(
        "batch-cancel-orders", [ref("b3"), ref("nope1")]
    )
    got["ws/op_batch-cancel-orders.all_failed.json"] = await op(
        "batch-cancel-orders", [ref("nope1"), ref("nope2")]
    )
    got["ws/op_cancel-order.all_failed.json"] = await op("cancel-order", [ref("nope1")])
    for name in (
        "batch-orders.partial",
        "batch-amend-orders.partial",
        "batch-cancel-orders.partial",
    ):
        assert got[f"ws/op_{name}.json"]["code"] == "2", got[f"ws/op_{name}.json"]
    for name in ("batch-orders", "order", "batch-amend-orders", "amend-order"):
        assert got[f"ws/op_{name}.all_failed.json"]["code"] == "1"
    assert got["ws/op_batch-cancel-orders.all_failed.json"]["code"] == "1"
    assert got["ws/op_cancel-order.all_failed.json"]["code"] == "1"


FIXTURES = [
    "rest/get_account_balance.response.json",
    "rest/get_account_positions.response.json",
    "rest/get_market_books.response.json",
    "rest/get_market_ticker.response.json",
    "rest/get_public_instruments_spot.response.json",
    "rest/get_public_mark_price.response.json",
    "rest/get_trade_fills.response.json",
    "rest/get_trade_order.response.json",
    "rest/get_trade_orders_pending.response.json",
    "ws/account.push.json",
    "ws/positions.push.json",
    "ws/balance_and_position.push.json",
    "ws/orders.push.json",
    "ws/books.snapshot.json",
    "ws/books.update.json",
    "ws/books5.push.json",
    "ws/bbo-tbt.push.json",
    "ws/tickers.push.json",
    "ws/trades.push.json",
    "ws/mark-price.push.json",
    "ws/subscribe.response.json",
    "ws/unsubscribe.response.json",
    "ws/error.response.json",
    "ws/login.response.json",
    "ws/op_order.response.json",
    "ws/op_order.format_error.json",
    "ws/op_amend-order.response.json",
    "ws/op_cancel-order.response.json",
    "ws/login.error.json",
    *(
        f"ws/op_{op}.{kind}.json"
        for op, kinds in {
            "batch-orders": ("response", "partial", "all_failed"),
            "order": ("all_failed",),
            "batch-amend-orders": ("response", "partial", "all_failed"),
            "amend-order": ("all_failed",),
            "batch-cancel-orders": ("response", "partial", "all_failed"),
            "cancel-order": ("all_failed",),
        }.items()
        for kind in kinds
    ),
]


async def test_shapes_match_okx(captured: dict[str, Any], okx_fixtures: Path) -> None:
    """All at once: one session serves every fixture (a session per fixture would cost ~30x)."""
    problems: dict[str, list[str]] = {}
    for name in FIXTURES:
        theirs = json.loads((okx_fixtures / name).read_text())
        diff = shape_diff(name, captured[name], theirs)
        if diff:
            problems[name] = list(dict.fromkeys(diff))  # one line per key, not per list item
    assert not problems, json.dumps(problems, indent=1)
    assert _allow_entries() <= _USED, (
        f"allow-list entries nothing needs: {_allow_entries() - _USED}"
    )


async def test_values_okx_prints_as_numbers(captured: dict[str, Any]) -> None:
    """Where OKX prints a number for a cross SWAP position we do too; prices at OKX's precision."""
    pos = captured["rest/get_account_positions.response.json"]["data"][0]
    assert pos["instId"] == "BTC-USDT-SWAP"
    for key in ("mgnRatio", "bePx", "avgPx", "mmr", "imr", "notionalUsd"):
        assert _NUM.match(pos[key]), (key, pos[key])
    assert float(pos["bePx"]) > float(pos["avgPx"])  # a long that paid fees
    assert pos["liqPx"] == ""  # 1M USDT behind a 0.01 BTC long: never liquidated
    assert len(pos["avgPx"].partition(".")[2]) <= 1  # tickSz 0.1
    bal = captured["rest/get_account_balance.response.json"]["data"][0]
    assert _NUM.match(bal["mgnRatio"])
    assert float(bal["mgnRatio"]) > 1
    order = captured["swap market order"]["data"][0]
    assert (order["ordType"], order["state"], order["px"]) == ("market", "filled", "")
    fill = captured["rest/get_trade_fills.response.json"]["data"][0]
    assert (fill["instType"], fill["posSide"]) == ("SPOT", "net")


async def test_a_short_has_a_liquidation_price_above_the_mark(server: Server) -> None:
    swap = "BTC-USDT-SWAP"
    body = {"instId": swap, "tdMode": "cross", "side": "sell", "ordType": "market", "sz": "1"}
    await _rest(server, "POST", "/api/v5/trade/order", body, OTHER)
    (pos,) = (await _rest(server, "GET", "/api/v5/account/positions", account=OTHER))["data"]
    assert pos["pos"] == "-1"
    assert _NUM.match(pos["liqPx"])
    assert float(pos["liqPx"]) > float(pos["markPx"])


_SZ_MISSING = {"instId": "BTC-USDT", "tdMode": "cash", "side": "buy", "ordType": "market"}


@pytest.mark.parametrize(
    ("method", "path", "body", "name"),
    [
        ("GET", "/api/v5/public/instruments", None, "instType"),
        ("GET", "/api/v5/market/books", None, "instId"),
        ("GET", "/api/v5/market/ticker", None, "instId"),
        ("GET", "/api/v5/market/tickers", None, "instType"),
        ("GET", "/api/v5/public/mark-price", None, "instType"),
        ("GET", "/api/v5/public/price-limit", None, "instId"),
        ("GET", "/api/v5/account/trade-fee", None, "instType"),
        ("GET", "/api/v5/trade/order?ordId=1", None, "instId"),
        ("GET", "/api/v5/trade/fills-history", None, "instType"),
        ("POST", "/api/v5/trade/order", _SZ_MISSING, "sz"),
        ("POST", "/api/v5/trade/batch-orders", [_SZ_MISSING], "sz"),
        ("POST", "/api/v5/trade/cancel-all-after", {"tag": "x"}, "timeOut"),
    ],
)
async def test_missing_required_parameter_is_50014(
    server: Server, method: str, path: str, body: Any, name: str
) -> None:
    text = "" if body is None else json.dumps(body)
    h = rest_headers(ACCOUNT, method, path, text)
    r = await (
        server.http.get(path, headers=h)
        if method == "GET"
        else server.http.post(path, content=text, headers=h)
    )
    assert (r.status_code, r.json()["code"], r.json()["msg"]) == (
        400,
        "50014",
        f"Parameter {name} can not be empty.",
    )


async def test_ws_op_missing_parameter_is_50014_per_item(server: Server) -> None:
    async with websockets.connect(server.ws + "/private") as ws:
        await ws.send(json.dumps({"op": "login", "args": [ws_login_args(ACCOUNT)]}))
        box = _Inbox()
        reader = asyncio.create_task(box.read(ws))
        try:
            await box.first(lambda m: m.get("event") == "login")
            code = (await server.http.get("/api/v5/public/instruments?instType=SPOT")).json()[
                "data"
            ][0]["instIdCode"]
            arg = {**_SZ_MISSING, "instIdCode": code, "clOrdId": "c1"}
            await ws.send(json.dumps({"id": "9", "op": "order", "args": [arg]}))
            r = await box.first(lambda m: m.get("id") == "9")
        finally:
            reader.cancel()
    item = r["data"][0]
    assert (r["code"], item["sCode"], item["sMsg"], item["clOrdId"]) == (
        "1",
        "50014",
        "Parameter sz can not be empty.",
        "c1",
    )


@pytest.mark.parametrize(
    ("ours", "theirs", "want"),
    [
        ({"a": "1"}, {"a": "2"}, []),
        ({"a": ""}, {"a": "2"}, ["a: '' where OKX gives a number ('2')"]),
        ({"a": "1", "b": 1}, {"a": "2"}, ["extra 'b'"]),
        ({}, {"a": "x"}, ["missing 'a'"]),
        ({"a": [{"b": "1"}]}, {"a": [{"b": "1", "c": True}]}, ["missing 'c'"]),
        ({"a": 1}, {"a": "1"}, ["where OKX gives a number"]),
        ({"a": False}, {"a": "false"}, ["bool"]),
    ],
)
def test_shape_diff_finds_differences(ours: Any, theirs: Any, want: list[str]) -> None:
    got = shape_diff("x", ours, theirs)
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert w in g
