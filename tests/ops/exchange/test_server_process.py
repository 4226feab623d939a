"""The exchange as a real subprocess: readiness, REST auth and trading, WS, admin read-outs."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
import websockets

from ops.exchange.testing import ExchangeProcess, rest_headers, running_exchange, ws_login_args
from tests.ops.exchange.wsutil import recv_until

pytestmark = pytest.mark.slow

ACCT = ("tk1", "ts1", "tp1")


async def test_rest_and_ws_against_subprocess(tmp_path: Path, free_port: int) -> None:
    async with running_exchange(
        tmp_path, port=free_port, accounts=[ACCT], config={"realtime": False}
    ) as ex:
        async with httpx.AsyncClient(base_url=ex.rest_url) as c:
            r = await c.get("/api/v5/public/time")
            assert r.json()["code"] == "0"
            r = await c.get("/api/v5/public/instruments", params={"instType": "SWAP"})
            rows = r.json()["data"]
            code = next(int(i["instIdCode"]) for i in rows if i["instId"] == "BTC-USDT-SWAP")
            body = json.dumps(
                {
                    "instId": "BTC-USDT-SWAP",
                    "tdMode": "cross",
                    "side": "buy",
                    "ordType": "limit",
                    "px": "50000",
                    "sz": "1",
                    "clOrdId": "a1",
                }
            )
            r = await c.post(
                "/api/v5/trade/order",
                content=body,
                headers=rest_headers(ACCT, "POST", "/api/v5/trade/order", body),
            )
            assert r.status_code == 200
            item = r.json()["data"][0]
            assert item["sCode"] == "0", item
            assert "inTime" in r.json()
            bad = rest_headers(ACCT, "POST", "/api/v5/trade/order", body + " ")
            r = await c.post("/api/v5/trade/order", content=body, headers=bad)
            assert r.status_code == 401
            assert r.json() == {"msg": "Invalid signature.", "code": "50113"}
        live = await ex.live_orders(ACCT[0])
        assert [o["clOrdId"] for o in live] == ["a1"]
        async with websockets.connect(ex.ws_private + "?brokerId=9999") as ws:
            await ws.send(json.dumps({"op": "login", "args": [ws_login_args(ACCT)]}))
            login = await recv_until(ws, lambda m: m.get("event") in ("login", "error"))
            assert login["code"] == "0"
            await ws.send(
                json.dumps({"op": "subscribe", "args": [{"channel": "orders", "instType": "ANY"}]})
            )
            await recv_until(ws, lambda m: m.get("event") == "subscribe")
            await ws.send(
                json.dumps(
                    {
                        "id": "c1",
                        "op": "cancel-order",
                        # today's venue (the default profile) names it by instIdCode
                        "args": [{"instIdCode": code, "clOrdId": "a1"}],
                    }
                )
            )
            ack = await recv_until(ws, lambda m: m.get("id") == "c1")
            assert ack["code"] == "0"
            assert ack["data"][0]["sCode"] == "0"
            push = await recv_until(ws, lambda m: m.get("arg", {}).get("channel") == "orders")
            assert push["data"][0]["state"] == "canceled"
            assert push["data"][0]["cancelSource"] == "1"
        assert await ex.live_orders(ACCT[0]) == []
        stepped = await ex.step(5)
        assert stepped["simMs"] >= 500


def test_sync_variant(tmp_path: Path, free_port: int) -> None:
    with ExchangeProcess(tmp_path, port=free_port, config={"realtime": False}) as ex:
        health = ex.admin("/admin/health")
        assert health["ok"] is True
        assert "BTC-USDT-SWAP" in health["instruments"]


def test_parse_accounts() -> None:
    from ops.exchange.server import parse_accounts

    specs = parse_accounts(["k:s:p:with:colons"])
    assert (specs[0].api_key, specs[0].secret, specs[0].passphrase) == ("k", "s", "p:with:colons")
    with pytest.raises(ValueError, match="KEY:SECRET:PASSPHRASE"):
        parse_accounts(["only:two"])


def test_bad_account_argument_exits_2(tmp_path: Path) -> None:
    import subprocess
    import sys

    r = subprocess.run(
        [sys.executable, "-m", "ops.exchange", "--account", "nope", "--port", "1"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**__import__("os").environ, "OKXMM_LOG_DIR": str(tmp_path)},
    )
    assert r.returncode == 2
    assert "KEY:SECRET:PASSPHRASE" in r.stderr
