"""Acceptance: the official python-okx SDK, unmodified, against the exchange with ``--tls``.

REST place / amend / cancel / batch place / batch cancel, balance, positions, orders-pending;
public WS books subscription; private WS login and the orders channel.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from ops.exchange.checksum import book_checksum
from ops.exchange.testing import running_exchange

pytestmark = pytest.mark.slow

ACCT = ("pyokx-key", "pyokx-secret", "pyokx-pass")
SWAP = "BTC-USDT-SWAP"


def _ok(resp: dict[str, Any]) -> list[dict[str, Any]]:
    assert resp["code"] == "0", resp
    return resp["data"]


async def _wait(
    queue: asyncio.Queue[dict[str, Any]], pred: Any, within: float = 10.0
) -> dict[str, Any]:
    async with asyncio.timeout(within):
        while True:
            msg = await queue.get()
            if pred(msg):
                return msg


async def test_python_okx_rest_and_ws(
    tmp_path: Path, free_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    okx = pytest.importorskip("okx")
    from okx import Account, Trade
    from okx.websocket.WsPrivateAsync import WsPrivateAsync
    from okx.websocket.WsPublicAsync import WsPublicAsync

    assert okx is not None
    # the early-2026 book stream (snapshot + CRC-32) this test checks: the legacy profile
    legacy = {"profile": "legacy"}
    async with running_exchange(
        tmp_path, port=free_port, accounts=[ACCT], tls=True, config=legacy
    ) as ex:
        assert ex.cert_path is not None
        monkeypatch.setenv("SSL_CERT_FILE", str(ex.cert_path))
        domain = f"https://127.0.0.1:{free_port}"
        trade = Trade.TradeAPI(*ACCT, flag="1", domain=domain)
        account = Account.AccountAPI(*ACCT, flag="1", domain=domain)

        # private WS first so the orders channel sees the REST activity
        priv: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        ws_priv = WsPrivateAsync(ACCT[0], ACCT[2], ACCT[1], ex.ws_private)
        await ws_priv.start()
        await ws_priv.subscribe(
            [{"channel": "orders", "instType": "ANY"}], lambda m: priv.put_nowait(json.loads(m))
        )
        login = await _wait(priv, lambda m: m.get("event") in ("login", "error"))
        assert login["code"] == "0", login
        await _wait(priv, lambda m: m.get("event") == "subscribe")

        pub: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        ws_pub = WsPublicAsync(ex.ws_public)
        await ws_pub.start()
        await ws_pub.subscribe(
            [{"channel": "books", "instId": SWAP}], lambda m: pub.put_nowait(json.loads(m))
        )
        snap = await _wait(pub, lambda m: m.get("action") == "snapshot")
        book = snap["data"][0]
        assert len(book["bids"]) == 400
        assert book["checksum"] == book_checksum(
            [(b[0], b[1]) for b in book["bids"]], [(a[0], a[1]) for a in book["asks"]]
        )
        await _wait(pub, lambda m: m.get("action") == "update")

        mark = float(book["bids"][0][0])
        px = f"{round(mark * 0.98, 1)}"
        placed = await asyncio.to_thread(
            trade.place_order,
            instId=SWAP,
            tdMode="cross",
            side="buy",
            ordType="limit",
            px=px,
            sz="1",
            clOrdId="py1",
        )
        ord_id = _ok(placed)[0]["ordId"]
        live_push = await _wait(
            priv,
            lambda m: (
                m.get("arg", {}).get("channel") == "orders" and m["data"][0]["clOrdId"] == "py1"
            ),
        )
        assert live_push["data"][0]["state"] == "live"

        amended = await asyncio.to_thread(trade.amend_order, instId=SWAP, ordId=ord_id, newSz="2")
        assert _ok(amended)[0]["sCode"] == "0"
        pending = _ok(await asyncio.to_thread(trade.get_order_list, instType="SWAP"))
        assert [(o["ordId"], o["sz"]) for o in pending] == [(ord_id, "2")]

        canceled = await asyncio.to_thread(trade.cancel_order, instId=SWAP, ordId=ord_id)
        assert _ok(canceled)[0]["sCode"] == "0"
        cancel_push = await _wait(
            priv,
            lambda m: (
                m.get("arg", {}).get("channel") == "orders"
                and m["data"][0]["ordId"] == ord_id
                and m["data"][0]["state"] == "canceled"
            ),
        )
        assert cancel_push["data"][0]["cancelSource"] == "1"

        batch = [
            {
                "instId": SWAP,
                "tdMode": "cross",
                "side": "buy",
                "ordType": "limit",
                "px": px,
                "sz": "1",
                "clOrdId": f"pb{i}",
            }
            for i in range(3)
        ]
        placed_b = _ok(await asyncio.to_thread(trade.place_multiple_orders, batch))
        assert [d["sCode"] for d in placed_b] == ["0", "0", "0"]
        canceled_b = _ok(
            await asyncio.to_thread(
                trade.cancel_multiple_orders,
                [{"instId": SWAP, "ordId": d["ordId"]} for d in placed_b],
            )
        )
        assert [d["sCode"] for d in canceled_b] == ["0", "0", "0"]
        assert await ex.live_orders(ACCT[0]) == []

        # a taker buy creates a position
        taker = _ok(
            await asyncio.to_thread(
                trade.place_order, instId=SWAP, tdMode="cross", side="buy", ordType="market", sz="1"
            )
        )
        assert taker[0]["sCode"] == "0"
        positions = _ok(await asyncio.to_thread(account.get_positions, instType="SWAP"))
        assert [(p["instId"], p["pos"], p["posSide"]) for p in positions] == [(SWAP, "1", "net")]
        balance = _ok(await asyncio.to_thread(account.get_account_balance))
        ccys = {d["ccy"] for d in balance[0]["details"]}
        assert "USDT" in ccys

        await ws_pub.stop()
        await ws_priv.stop()
        trade.close()
        account.close()


async def test_python_okx_ws_orders_need_inst_id_code_on_todays_venue(
    tmp_path: Path, free_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """python-okx's own WS order ops against the default (current) profile: with instId only
    an order is refused as OKX refuses it today; with instIdCode it is placed, amended and
    cancelled."""
    pytest.importorskip("okx")
    from okx.websocket.WsPrivateAsync import WsPrivateAsync

    async with running_exchange(tmp_path, port=free_port, accounts=[ACCT], tls=True) as ex:
        assert ex.cert_path is not None
        monkeypatch.setenv("SSL_CERT_FILE", str(ex.cert_path))  # python-okx speaks wss only
        r = await ex.client.get(ex.rest_url + "/api/v5/public/instruments?instType=SWAP")
        code = next(int(i["instIdCode"]) for i in r.json()["data"] if i["instId"] == SWAP)
        got: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        ws = WsPrivateAsync(ACCT[0], ACCT[2], ACCT[1], ex.ws_private)
        await ws.start()
        try:
            await ws.subscribe(
                [{"channel": "orders", "instType": "ANY"}], lambda m: got.put_nowait(json.loads(m))
            )
            login = await _wait(got, lambda m: m.get("event") in ("login", "error"))
            assert login["code"] == "0", login

            def reply(req_id: str) -> Any:
                return lambda m: m.get("id") == req_id and "op" in m

            order = {"tdMode": "cross", "side": "buy", "ordType": "limit", "px": "30000",
                     "sz": "1", "clOrdId": "pyws1"}  # fmt: skip
            await ws.place_order([{**order, "instId": SWAP}], id="p1")
            refused = await _wait(got, reply("p1"))
            assert refused["code"] == "1"
            assert refused["data"][0]["sCode"] == "50014"
            assert refused["data"][0]["sMsg"] == "Parameter instIdCode can not be empty."
            await ws.place_order([{**order, "instIdCode": code}], id="p2")
            placed = await _wait(got, reply("p2"))
            assert placed["data"][0]["sCode"] == "0", placed
            await ws.amend_order([{"instIdCode": code, "clOrdId": "pyws1", "newSz": "2"}], id="a1")
            assert (await _wait(got, reply("a1")))["data"][0]["sCode"] == "0"
            live = await ex.live_orders(ACCT[0])
            assert [(o["clOrdId"], o["sz"]) for o in live] == [("pyws1", "2")]
            await ws.cancel_order([{"instIdCode": code, "clOrdId": "pyws1"}], id="c1")
            assert (await _wait(got, reply("c1")))["data"][0]["sCode"] == "0"
            assert await ex.live_orders(ACCT[0]) == []
        finally:
            await ws.stop()


async def test_python_okx_long_short_mode(
    tmp_path: Path, free_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """python-okx switches the account to long/short mode, opens a long and a short leg on a
    swap and reads both positions back, each with its posSide and a positive ``pos``."""
    pytest.importorskip("okx")
    from okx import Account, Trade

    async with running_exchange(tmp_path, port=free_port, accounts=[ACCT], tls=True) as ex:
        assert ex.cert_path is not None
        monkeypatch.setenv("SSL_CERT_FILE", str(ex.cert_path))
        domain = f"https://127.0.0.1:{free_port}"
        trade = Trade.TradeAPI(*ACCT, flag="1", domain=domain)
        account = Account.AccountAPI(*ACCT, flag="1", domain=domain)
        try:
            cfg = _ok(await asyncio.to_thread(account.get_account_config))
            assert cfg[0]["posMode"] == "net_mode"
            mode = _ok(await asyncio.to_thread(account.set_position_mode, "long_short_mode"))
            assert mode == [{"posMode": "long_short_mode"}]
            cfg = _ok(await asyncio.to_thread(account.get_account_config))
            assert cfg[0]["posMode"] == "long_short_mode"
            for side, pos_side, sz in (("buy", "long", "2"), ("sell", "short", "3")):
                placed = _ok(
                    await asyncio.to_thread(
                        trade.place_order,
                        instId=SWAP,
                        tdMode="cross",
                        side=side,
                        ordType="market",
                        sz=sz,
                        posSide=pos_side,
                    )
                )
                assert placed[0]["sCode"] == "0", placed
            refused = await asyncio.to_thread(
                trade.place_order, instId=SWAP, tdMode="cross", side="buy", ordType="market", sz="1"
            )
            assert refused["data"][0]["sCode"] == "51000"  # no posSide in long/short mode
            positions = _ok(await asyncio.to_thread(account.get_positions, instType="SWAP"))
            legs = {(p["instId"], p["posSide"]): p["pos"] for p in positions}
            assert legs == {(SWAP, "long"): "2", (SWAP, "short"): "3"}
        finally:
            trade.close()
            account.close()
