"""The per-account ``kyc_level`` knob: below 2 placing orders is refused with OKX's 59113 (REST
and WS), everything else works, and ``account/config`` shows the level as ``kycLv``."""

from __future__ import annotations

import json
from typing import Any

import pytest
import websockets

from ops.exchange.codes import msg
from ops.exchange.testing import rest_headers
from tests.ops.exchange.conftest import ACCOUNT, OTHER, Server
from tests.ops.exchange.wsutil import login, recv_until

KYC2 = msg("59113")
ORDER = {
    "instId": "BTC-USDT-SWAP",
    "tdMode": "cross",
    "side": "buy",
    "ordType": "limit",
    "px": "50000",
    "sz": "1",
}


@pytest.fixture
def exchange_overrides() -> dict[str, Any]:
    key, secret, phrase = ACCOUNT
    return {"accounts": [{"api_key": key, "secret": secret, "passphrase": phrase, "kyc_level": 1}]}


async def _rest(
    s: Server, account: tuple[str, str, str], method: str, path: str, body: Any = None
) -> Any:
    text = "" if body is None else json.dumps(body)
    h = rest_headers(account, method, path, text)
    r = await (
        s.http.get(path, headers=h)
        if method == "GET"
        else s.http.post(path, content=text, headers=h)
    )
    return r.json()


def test_59113_text_is_okx_s() -> None:
    assert KYC2.startswith("According to local laws and regulations")
    assert KYC2.endswith("please complete KYC2 verification.")


async def test_below_kyc_2_placing_is_refused_59113(server: Server) -> None:
    cfg = await _rest(server, ACCOUNT, "GET", "/api/v5/account/config")
    assert cfg["data"][0]["kycLv"] == "1"
    r = await _rest(server, ACCOUNT, "POST", "/api/v5/trade/order", {**ORDER, "clOrdId": "k1"})
    item = r["data"][0]
    assert (r["code"], item["sCode"], item["sMsg"], item["clOrdId"], item["ordId"]) == (
        "1",
        "59113",
        KYC2,
        "k1",
        "",
    )
    r = await _rest(server, ACCOUNT, "POST", "/api/v5/trade/batch-orders", [ORDER, ORDER])
    assert [i["sCode"] for i in r["data"]] == ["59113", "59113"]
    assert (await server.admin("/admin/orders?apiKey=" + ACCOUNT[0]))["orders"] == []
    # reads still work: it is the placing that needs the level
    assert (await _rest(server, ACCOUNT, "GET", "/api/v5/account/balance"))["code"] == "0"
    async with websockets.connect(server.ws + "/private") as ws:
        assert (await login(ws, ACCOUNT))["code"] == "0"
        await ws.send(json.dumps({"id": "w1", "op": "order", "args": [ORDER]}))
        r = await recv_until(ws, lambda m: m.get("id") == "w1")
        assert (r["code"], r["data"][0]["sCode"], r["data"][0]["sMsg"]) == ("1", "59113", KYC2)


async def test_the_default_level_3_places(server: Server) -> None:
    cfg = await _rest(server, OTHER, "GET", "/api/v5/account/config")
    assert cfg["data"][0]["kycLv"] == "3"
    r = await _rest(server, OTHER, "POST", "/api/v5/trade/order", ORDER)
    assert (r["code"], r["data"][0]["sCode"]) == ("0", "0")
