"""Venue profiles (issue 15): ``current`` is today's OKX, ``legacy`` early-2026 OKX; each
difference is a named switch. Real in-process server, real WebSocket client."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from dataclasses import fields
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import websockets

from ops.exchange.profile import PROFILES, VenueRules, describe, resolve
from ops.exchange.testing import running_exchange
from tests.ops.exchange.bookcheck import BookChecker
from tests.ops.exchange.conftest import ACCOUNT, Server
from tests.ops.exchange.wsutil import channel_is, login, recv_until, subscribe

SWAP = "BTC-USDT-SWAP"
CURRENT = {"profile": "current"}


def _order(cl: str, px: str = "40000", **inst: Any) -> dict[str, Any]:
    return {"tdMode": "cross", "side": "buy", "ordType": "limit", "px": px, "sz": "0.1",
            "clOrdId": cl, **inst}  # fmt: skip


async def _op(ws: websockets.ClientConnection, req_id: str, op: str, args: Any) -> dict[str, Any]:
    await ws.send(json.dumps({"id": req_id, "op": op, "args": args}))
    return await recv_until(ws, lambda m: m.get("id") == req_id and "op" in m)


async def _code(server: Server) -> int:
    r = await server.http.get("/api/v5/public/instruments", params={"instType": "SWAP"})
    (row,) = [i for i in r.json()["data"] if i["instId"] == SWAP]
    return int(row["instIdCode"])


def test_every_difference_is_a_named_switch_with_help() -> None:
    cur, leg = PROFILES["current"], PROFILES["legacy"]
    assert cur.ws_ops_need_inst_id_code
    assert not leg.ws_ops_need_inst_id_code
    assert (cur.initial_snapshot, cur.checksum_mode) == (False, "zero")
    assert (leg.initial_snapshot, leg.checksum_mode) == (True, "crc32")
    assert cur.max_amends_in_flight == 3
    text = describe()
    for name in cur.__dataclass_fields__:
        assert name in text
    assert resolve("current", {"initial_snapshot": "true"}).initial_snapshot
    with pytest.raises(ValueError, match="unknown venue switch"):
        resolve("current", {"no_such": 1})
    with pytest.raises(ValueError, match="true/false"):
        resolve("current", {"initial_snapshot": "maybe"})
    with pytest.raises(ValueError, match="unknown venue profile"):
        resolve("2019", None)


@pytest.mark.parametrize("exchange_overrides", [CURRENT])
async def test_current_refuses_ws_ops_without_inst_id_code_as_okx_does(server: Server) -> None:
    code = await _code(server)
    async with websockets.connect(server.ws + "/private") as ws:
        await login(ws, ACCOUNT)
        r = await _op(ws, "p1", "order", [_order("a1", instId=SWAP)])
        assert r["code"] == "1"
        (item,) = r["data"]
        assert (item["sCode"], item["sMsg"]) == ("50014", "Parameter instIdCode can not be empty.")
        assert item["clOrdId"] == "a1"
        # with the code it is placed, and a wrong instId beside it is ignored
        r = await _op(ws, "p2", "order", [_order("a2", instIdCode=code, instId="ETH-USDT")])
        assert (r["code"], r["data"][0]["sCode"]) == ("0", "0")
        live = (await server.admin(f"/admin/orders?apiKey={ACCOUNT[0]}"))["orders"]
        assert [(o["clOrdId"], o["instId"]) for o in live] == [("a2", SWAP)]
        r = await _op(ws, "c1", "cancel-order", [{"instId": SWAP, "clOrdId": "a2"}])
        assert r["data"][0]["sCode"] == "50014"
        r = await _op(ws, "c2", "cancel-order", [{"instIdCode": code, "clOrdId": "a2"}])
        assert r["data"][0]["sCode"] == "0"
    # REST keeps instId (okx-v5.md §8)
    assert (await _code(server)) == code


async def test_legacy_takes_inst_id_on_ws(server: Server) -> None:
    async with websockets.connect(server.ws + "/private") as ws:
        await login(ws, ACCOUNT)
        r = await _op(ws, "p1", "order", [_order("b1", instId=SWAP)])
        assert (r["code"], r["data"][0]["sCode"]) == ("0", "0")


@pytest.mark.parametrize("exchange_overrides", [CURRENT])
async def test_current_books_have_no_snapshot_and_checksum_zero(server: Server) -> None:
    async with websockets.connect(server.ws + "/public") as ws:
        await subscribe(ws, {"channel": "books", "instId": SWAP})
        step = asyncio.create_task(_step_until_cancelled(server))
        try:
            pushes = [await recv_until(ws, channel_is("books")) for _ in range(5)]
        finally:
            step.cancel()
    assert all(p.get("action") == "update" for p in pushes), [p.get("action") for p in pushes]
    assert all(p["data"][0]["checksum"] == 0 for p in pushes)


async def _step_until_cancelled(server: Server) -> None:
    while True:
        await server.admin("/admin/step", {"n": 1})
        await asyncio.sleep(0.02)  # paces the synthetic market, not a synchronisation


@pytest.mark.parametrize("exchange_overrides", [{**CURRENT, "venue": {"max_amends_in_flight": 2}}])
async def test_amends_over_the_in_progress_limit_get_51513(server: Server) -> None:
    code = await _code(server)
    async with websockets.connect(server.ws + "/private") as ws:
        await login(ws, ACCOUNT)
        r = await _op(ws, "p", "order", [_order("m1", instIdCode=code)])
        assert r["data"][0]["sCode"] == "0"
        await server.admin("/admin/faults", {"ack_delay_ms": 300})
        for i, px in enumerate(("40001", "40002", "40003")):
            amend = {"instIdCode": code, "clOrdId": "m1", "newPx": px, "reqId": f"r{i}"}
            await ws.send(json.dumps({"id": f"a{i}", "op": "amend-order", "args": [amend]}))
        replies: dict[str, dict[str, Any]] = {}
        while len(replies) < 3:
            m = await recv_until(ws, lambda m: str(m.get("id", "")).startswith("a"))
            replies[m["id"]] = m
    assert replies["a2"]["data"][0]["sCode"] == "51513"  # the third while two are in progress
    assert replies["a2"]["data"][0]["reqId"] == "r2"
    assert [replies[k]["data"][0]["sCode"] for k in ("a0", "a1")] == ["0", "0"]


@pytest.mark.parametrize("exchange_overrides", [{"venue": {"order_push_repeat_rate": 1.0}}])
async def test_order_pushes_repeat_with_a_later_utime(server: Server) -> None:
    async with websockets.connect(server.ws + "/private") as ws:
        await login(ws, ACCOUNT)
        await subscribe(ws, {"channel": "orders", "instType": "SWAP"})
        await _op(ws, "p", "order", [_order("d1", instId=SWAP)])
        first = await recv_until(ws, channel_is("orders"))
        second = await recv_until(ws, channel_is("orders"))
    a, b = first["data"][0], second["data"][0]
    assert (a["ordId"], a["state"]) == (b["ordId"], b["state"])
    assert int(b["uTime"]) == int(a["uTime"]) + 1


@pytest.mark.parametrize("exchange_overrides", [{"venue": {"phantom_delete_rate": 1.0}}])
async def test_books_delete_levels_the_client_never_saw_and_stay_consistent(
    server: Server,
) -> None:
    """Like OKX, updates delete price levels that were never sent (here one tick inside the
    spread); a client that ignores them keeps a book whose checksum matches every update."""
    checker = BookChecker()
    phantoms = 0
    async with websockets.connect(server.ws + "/public", max_queue=None) as ws:
        await subscribe(ws, {"channel": "books", "instId": SWAP})
        snap = await recv_until(ws, lambda m: m.get("action") == "snapshot")
        checker.on_message(snap)
        step = asyncio.create_task(_step_until_cancelled(server))
        try:
            while checker.checked < 20:
                m = await recv_until(ws, channel_is("books"))
                for side, book in (("bids", checker.bids), ("asks", checker.asks)):
                    rows = m["data"][0][side]
                    prices = [r[0] for r in rows]
                    assert len(prices) == len(set(prices)), f"a price listed twice: {rows}"
                    phantoms += sum(1 for r in rows if r[1] == "0" and Decimal(r[0]) not in book)
                checker.on_message(m)  # verifies the CRC-32 after applying
        finally:
            step.cancel()
    assert phantoms >= 10, (phantoms, checker.checked)


async def test_fields_we_do_not_implement_are_refused_not_dropped(server: Server) -> None:
    """A take-profit/stop-loss attached to an order is refused (51000 naming it) instead of
    'Order placed' with the stop silently dropped; the order without it is placed."""
    tpsl = [{"tpTriggerPx": "45000", "tpOrdPx": "-1", "slTriggerPx": "35000", "slOrdPx": "-1"}]
    async with websockets.connect(server.ws + "/private") as ws:
        await login(ws, ACCOUNT)
        r = await _op(ws, "p1", "order", [_order("t1", instId=SWAP, attachAlgoOrds=tpsl)])
        item = r["data"][0]
        assert (item["sCode"], item["sMsg"]) == ("51000", "Parameter attachAlgoOrds error")
        r = await _op(ws, "p2", "order", [_order("t2", instId=SWAP, slTriggerPx="35000")])
        assert r["data"][0]["sMsg"] == "Parameter slTriggerPx error"
        r = await _op(ws, "p3", "order", [_order("t3", instId=SWAP, attachAlgoOrds=[])])
        assert r["data"][0]["sCode"] == "0"  # empty means absent
        amend = {"instId": SWAP, "clOrdId": "t3", "newPx": "40001", "newSlTriggerPx": "1"}
        r = await _op(ws, "a1", "amend-order", [amend])
        assert r["data"][0]["sMsg"] == "Parameter newSlTriggerPx error"
    live = (await server.admin(f"/admin/orders?apiKey={ACCOUNT[0]}"))["orders"]
    assert [o["clOrdId"] for o in live] == ["t3"]
    assert live[0]["px"] == "40000"


def test_okxmm_exchange_help_lists_every_switch_with_its_value_per_profile() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "ops.cli", "exchange", "--help"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    text = " ".join(out.split())  # help wraps lines
    for f in fields(VenueRules):
        assert f"{f.name}:" in text
    assert "[current=True, legacy=False]" in text  # the values survive the formatter
    assert "KEY:SECRET:PASSPHRASE" in text


def test_a_bad_switch_on_the_command_line_is_one_clear_line() -> None:
    for args, words in (
        (["--switch", "no_such_switch=1"], "unknown venue switch 'no_such_switch'"),
        (["--switch", "max_amends_in_flight=lots"], "max_amends_in_flight"),
        (["--switch", "oops"], "NAME=VALUE"),
    ):
        r = subprocess.run(
            [sys.executable, "-m", "ops.cli", "exchange", "--port", "1", *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        assert r.returncode == 2, r
        assert words in r.stderr
        assert "Traceback" not in r.stderr


async def test_profile_and_switches_from_the_command_line_rule_the_running_exchange(
    tmp_path: Path, free_port: int
) -> None:
    args = ["--profile", "legacy", "--switch", "max_amends_in_flight=5"]
    async with running_exchange(tmp_path, port=free_port, extra_args=args) as ex:
        health = await ex.admin("/admin/health")
    assert health["profile"] == "legacy"
    assert health["venue"]["max_amends_in_flight"] == 5
    assert health["venue"]["initial_snapshot"] is True  # the rest is legacy's
