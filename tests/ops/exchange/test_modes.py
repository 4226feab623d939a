"""Account and position modes against a real in-process server: ``account/config``,
``set-position-mode``, the tdMode/posSide/ccy rules of a place (REST and WS, single and batch)
and long/short legs in positions, pushes and fills."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import websockets

from ops.exchange.config import ExchangeConfig
from ops.exchange.events import Reject
from ops.exchange.instruments import Instrument
from ops.exchange.modes import check_place
from ops.exchange.testing import rest_headers
from tests.ops.exchange.conftest import ACCOUNT, OTHER, Server
from tests.ops.exchange.wsutil import channel_is, login, recv_until, subscribe

SWAP = "BTC-USDT-SWAP"
SPOT = "BTC-USDT"
SPOT1 = ("sp1", "ss1", "pp1")  # acctLv 1 (spot mode)
MCM3 = ("mc3", "ms3", "mp3")  # acctLv 3 (multi-currency margin)


@pytest.fixture
def exchange_overrides() -> dict[str, Any]:
    # ACCOUNT: futures mode in long/short mode; OTHER: the defaults (2, net_mode)
    lk, ls, lp = ACCOUNT
    return {
        "rate_limits": False,  # set-position-mode allows 5 per 2 s; these tests send more
        "accounts": [
            {"api_key": lk, "secret": ls, "passphrase": lp, "pos_mode": "long_short_mode"},
            {"api_key": SPOT1[0], "secret": SPOT1[1], "passphrase": SPOT1[2], "acct_lv": 1},
            {"api_key": MCM3[0], "secret": MCM3[1], "passphrase": MCM3[2], "acct_lv": 3},
        ],
    }


async def _get(s: Server, path: str, acct: tuple[str, str, str] = ACCOUNT) -> Any:
    r = await s.http.get(path, headers=rest_headers(acct, "GET", path))
    return r.json()


async def _post(s: Server, path: str, body: Any, acct: tuple[str, str, str] = ACCOUNT) -> Any:
    text = json.dumps(body)
    r = await s.http.post(path, content=text, headers=rest_headers(acct, "POST", path, text))
    return r.status_code, r.json()


def _o(cl: str, **kw: str) -> dict[str, str]:
    d = {"instId": SWAP, "tdMode": "cross", "side": "buy", "ordType": "limit", "px": "50000"}
    d.update(sz="0.1", clOrdId=cl)
    d.update(kw)
    return d


async def _place(s: Server, acct: tuple[str, str, str], *orders: dict[str, str]) -> list[str]:
    _, body = await _post(s, "/api/v5/trade/batch-orders", list(orders), acct)
    return [str(x["sCode"]) for x in body["data"]]


async def test_account_config_is_per_account(server: Server) -> None:
    modes = {}
    for acct in (ACCOUNT, OTHER, SPOT1, MCM3):
        d = (await _get(server, "/api/v5/account/config", acct))["data"][0]
        modes[acct[0]] = (d["acctLv"], d["posMode"])
    assert modes == {
        ACCOUNT[0]: ("2", "long_short_mode"),
        OTHER[0]: ("2", "net_mode"),
        SPOT1[0]: ("1", "net_mode"),
        MCM3[0]: ("3", "net_mode"),
    }


async def test_set_position_mode(server: Server) -> None:
    path = "/api/v5/account/set-position-mode"
    status, body = await _post(server, path, {"posMode": "long_short_mode"}, OTHER)
    assert (status, body) == (
        200,
        {"code": "0", "msg": "", "data": [{"posMode": "long_short_mode"}]},
    )
    cfg = (await _get(server, "/api/v5/account/config", OTHER))["data"][0]
    assert cfg["posMode"] == "long_short_mode"
    status, body = await _post(server, path, {"posMode": "hedge"}, OTHER)
    assert (status, body["code"], body["msg"]) == (400, "51000", "Parameter posMode error")
    status, body = await _post(server, path, {}, OTHER)
    assert (status, body["code"]) == (400, "50014")
    status, body = await _post(server, path, {"posMode": "net_mode"}, SPOT1)
    assert body["code"] == "51010"
    # a pending derivative order blocks the change; the same mode again is no change
    assert await _place(server, OTHER, _o("p1", posSide="long")) == ["0"]
    status, body = await _post(server, path, {"posMode": "net_mode"}, OTHER)
    assert body["code"] == "59000"
    assert body["msg"].startswith("Settings failed")
    _, body = await _post(server, path, {"posMode": "long_short_mode"}, OTHER)
    assert body["code"] == "0"
    await _post(server, "/api/v5/trade/cancel-order", {"instId": SWAP, "clOrdId": "p1"}, OTHER)
    # an open position blocks it too; a spot order does not
    assert await _place(server, OTHER, _o("m1", ordType="market", posSide="long", px="")) == ["0"]
    _, body = await _post(server, path, {"posMode": "net_mode"}, OTHER)
    assert body["code"] == "59000"
    assert await _place(
        server, OTHER, _o("m2", ordType="market", side="sell", posSide="long", px="")
    ) == ["0"]
    assert await _place(server, OTHER, _o("s1", instId=SPOT, tdMode="cash", px="1000")) == ["0"]
    _, body = await _post(server, path, {"posMode": "net_mode"}, OTHER)
    assert body["code"] == "0"
    acct = server.venue.account(OTHER[0])
    assert acct is not None
    assert acct.positions == {}  # the flat long leg left with long/short mode


async def test_spot_mode_trades_spot_cash_only(server: Server) -> None:
    codes = await _place(
        server,
        SPOT1,
        _o("a", instId=SPOT, tdMode="cash", px="1000"),
        _o("b", instId=SPOT, tdMode="cross", ccy="USDT", px="1000"),
        _o("c", instId=SPOT, tdMode="isolated", ccy="BTC", px="1000"),
        _o("d"),
    )
    assert codes == ["0", "51010", "51010", "51010"]


async def test_margin_ccy_rules(server: Server) -> None:
    # futures mode (2): every MARGIN order names its margin currency, base or quote
    codes = await _place(
        server,
        OTHER,
        _o("a", instId=SPOT, tdMode="cross", px="1000"),
        _o("b", instId=SPOT, tdMode="cross", ccy="ETH", px="1000"),
        _o("c", instId=SPOT, tdMode="cross", ccy="BTC", px="1000"),
        _o("d", instId=SPOT, tdMode="isolated", ccy="USDT", side="sell", px="99000"),
        _o("e", instId=SPOT, tdMode="cash", ccy="USDT", px="1000"),
        _o("f", ccy="USDT"),
        _o("g", instId=SPOT, tdMode="spot_isolated", px="1000"),
    )
    assert codes == ["50014", "51000", "0", "0", "51000", "51000", "51074"]
    pending = await _get(server, f"/api/v5/trade/order?instId={SPOT}&clOrdId=c", OTHER)
    assert (pending["data"][0]["tdMode"], pending["data"][0]["ccy"]) == ("cross", "BTC")
    # multi-currency margin (3): cross MARGIN without ccy, isolated still needs it
    codes = await _place(
        server,
        MCM3,
        _o("a", instId=SPOT, tdMode="cross", px="1000"),
        _o("b", instId=SPOT, tdMode="isolated", px="1000"),
        _o("c", instId=SPOT, tdMode="isolated", ccy="BTC", px="1000"),
    )
    assert codes == ["0", "50014", "0"]


async def test_derivative_td_mode_and_pos_side(server: Server) -> None:
    net = await _place(
        server,
        OTHER,
        _o("a", tdMode="cash"),
        _o("b", posSide="long"),
        _o("c", posSide="net"),
        _o("d", tdMode="isolated"),
        _o("e", instId=SPOT, tdMode="cash", posSide="long", px="1000"),
    )
    assert net == ["51000", "51000", "0", "0", "51000"]
    _, body = await _post(server, "/api/v5/trade/order", _o("z", tdMode="cash"), OTHER)
    assert body["data"][0]["sMsg"] == "Parameter tdMode error"
    ls = await _place(
        server,
        ACCOUNT,
        _o("a"),
        _o("b", posSide="net"),
        _o("c", posSide="long"),
        _o("d", posSide="short", side="sell", px="70000"),
        _o("e", posSide="long", reduceOnly="true"),
        _o("f", instId=SPOT, tdMode="cash", px="1000"),
    )
    assert ls == ["51000", "51000", "0", "0", "51170", "0"]
    _, body = await _post(server, "/api/v5/trade/order", _o("y"))
    assert (body["code"], body["data"][0]["sMsg"]) == ("1", "Parameter posSide error")


async def _market(s: Server, cl: str, side: str, pos_side: str, sz: str) -> dict[str, Any]:
    _, body = await _post(
        s,
        "/api/v5/trade/order",
        _o(cl, ordType="market", side=side, posSide=pos_side, sz=sz, px=""),
    )
    return dict(body["data"][0])


async def _legs(s: Server) -> dict[str, tuple[str, str]]:
    data = (await _get(s, f"/api/v5/account/positions?instId={SWAP}"))["data"]
    return {d["posSide"]: (d["pos"], d["availPos"]) for d in data}


async def test_long_and_short_legs(server: Server) -> None:
    assert (await _market(server, "l1", "buy", "long", "0.5"))["sCode"] == "0"
    assert (await _market(server, "s1", "sell", "short", "0.3"))["sCode"] == "0"
    assert await _legs(server) == {"long": ("0.5", "0.5"), "short": ("0.3", "0.3")}
    # closing more than the leg holds, or a leg that is not there, is refused
    r = await _market(server, "x1", "sell", "long", "0.6")
    assert (r["sCode"], r["sMsg"]) == (
        "51112",
        "Close order size exceeds available size for this position.",
    )
    # a resting close claims part of the leg: availPos drops, a second close must fit the rest
    codes = await _place(
        server,
        ACCOUNT,
        _o("c1", side="buy", posSide="short", sz="0.2", px="40000"),
        _o("c2", side="buy", posSide="short", sz="0.2", px="40000"),
        _o("c3", side="buy", posSide="short", sz="0.1", px="40000"),
    )
    assert codes == ["0", "51112", "0"]
    assert await _legs(server) == {"long": ("0.5", "0.5"), "short": ("0.3", "0")}
    # growing a resting close beyond the leg is refused too; shrinking it is fine
    _, body = await _post(
        server, "/api/v5/trade/amend-order", {"instId": SWAP, "clOrdId": "c1", "newSz": "0.3"}
    )
    assert body["data"][0]["sCode"] == "51112"
    _, body = await _post(
        server, "/api/v5/trade/amend-order", {"instId": SWAP, "clOrdId": "c1", "newSz": "0.1"}
    )
    assert body["data"][0]["sCode"] == "0"
    assert await _legs(server) == {"long": ("0.5", "0.5"), "short": ("0.3", "0.1")}
    # closes settle against their own leg only
    assert (await _market(server, "l2", "sell", "long", "0.2"))["sCode"] == "0"
    assert await _legs(server) == {"long": ("0.3", "0.3"), "short": ("0.3", "0.1")}
    fills = (await _get(server, f"/api/v5/trade/fills?instId={SWAP}"))["data"]
    assert {(f["clOrdId"], f["posSide"]) for f in fills} == {
        ("l1", "long"),
        ("s1", "short"),
        ("l2", "long"),
    }
    order = (await _get(server, f"/api/v5/trade/order?instId={SWAP}&clOrdId=c1"))["data"][0]
    assert (order["posSide"], order["side"]) == ("short", "buy")
    # closing a leg that is flat: 51169
    assert (await _market(server, "l3", "sell", "long", "0.3"))["sCode"] == "0"
    r = await _market(server, "l4", "sell", "long", "0.1")
    assert r["sCode"] == "51169"


async def test_ws_place_and_pushes_carry_pos_side(server: Server) -> None:
    async with websockets.connect(server.ws + "/private") as ws:
        assert (await login(ws, ACCOUNT))["code"] == "0"
        await subscribe(ws, {"channel": "positions", "instType": "SWAP"})
        await recv_until(ws, channel_is("positions"))
        await subscribe(ws, {"channel": "balance_and_position"})
        await recv_until(ws, channel_is("balance_and_position"))
        await subscribe(ws, {"channel": "orders", "instType": "SWAP"})
        args = [
            _o("w1", posSide="long"),
            _o("w2"),  # no posSide in long/short mode
            _o("w3", ordType="market", side="sell", posSide="short", px=""),
        ]
        await ws.send(json.dumps({"id": "b1", "op": "batch-orders", "args": args}))
        r = await recv_until(ws, lambda m: m.get("id") == "b1")
        assert [x["sCode"] for x in r["data"]] == ["0", "51000", "0"]
        got: dict[str, dict[str, Any]] = {}
        async with asyncio.timeout(5):
            while not {"positions", "balance_and_position"} <= set(got) or "filled" not in got:
                m = await recv_until(ws, lambda m: "data" in m)
                if m["arg"]["channel"] == "orders":
                    d = m["data"][0]
                    got.setdefault(d["state"], d)
                else:
                    got[m["arg"]["channel"]] = m
        assert (got["live"]["clOrdId"], got["live"]["posSide"]) == ("w1", "long")
        assert (got["filled"]["clOrdId"], got["filled"]["posSide"]) == ("w3", "short")
        pos = got["positions"]["data"][0]
        assert (pos["posSide"], pos["pos"]) == ("short", "0.1")
        bp = got["balance_and_position"]["data"][0]["posData"][0]
        assert (bp["posSide"], bp["pos"]) == ("short", "0.1")
        await ws.send(json.dumps({"id": "o2", "op": "order", "args": [_o("w4", tdMode="cash")]}))
        r = await recv_until(ws, lambda m: m.get("id") == "o2")
        assert r["data"][0]["sCode"] == "51000"


def _inst(kind: str) -> Instrument:
    spec = next(s for s in ExchangeConfig().instruments if s.inst_type == kind)
    return Instrument(spec, 1)


@pytest.mark.parametrize(
    ("acct_lv", "pos_mode", "kind", "td", "pos_side", "ccy", "side", "want"),
    [
        (4, "net_mode", "SPOT", "cross", "", "", "buy", ""),  # portfolio margin: no ccy needed
        (4, "net_mode", "SPOT", "isolated", "", "", "buy", "50014"),
        (4, "net_mode", "SPOT", "isolated", "", "USDT", "sell", ""),
        (4, "long_short_mode", "SWAP", "isolated", "short", "", "sell", "short"),
        (3, "net_mode", "SWAP", "cross", "", "", "buy", "net"),
        (2, "net_mode", "SWAP", "hedged", "", "", "buy", "51000"),
        (1, "net_mode", "SPOT", "cash", "", "", "sell", ""),
        (1, "net_mode", "SWAP", "cross", "", "", "sell", "51010"),
    ],
)
def test_check_place_table(
    acct_lv: int,
    pos_mode: str,
    kind: str,
    td: str,
    pos_side: str,
    ccy: str,
    side: str,
    want: str,
) -> None:
    got = check_place(
        acct_lv=acct_lv,
        pos_mode=pos_mode,
        inst=_inst(kind),
        td_mode=td,
        pos_side=pos_side,
        ccy=ccy,
        side=side,
        reduce_only=False,
    )
    assert (got.code if isinstance(got, Reject) else got) == want
