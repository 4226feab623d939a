"""private-gw as a real process against the local exchange; orders placed with python-okx on
the same account show up on the bus; state matches the exchange's admin read-out."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import zmq.asyncio
from okx import Trade as OkxTrade

from engine.bus.subscriber import Subscriber
from engine.clock import SystemClock
from engine.config import BusConfig
from engine.messages import (
    AccountConfig,
    AccountUpdate,
    Fill,
    OrderUpdate,
    Position,
    StreamStatus,
)
from ops.exchange.testing import DEMO_ACCOUNT, RunningExchange, running_exchange
from tests.gateway.harness import Tap, actor_process, ctl, write_config

pytestmark = pytest.mark.slow

INST = "BTC-USDT-SWAP"


@pytest.fixture
async def ctx() -> AsyncIterator[zmq.asyncio.Context]:
    c = zmq.asyncio.Context()
    yield c
    c.destroy(linger=0)


async def _tap(ctx: zmq.asyncio.Context, bus: BusConfig, prefixes: list[str] | None = None) -> Tap:
    sub = Subscriber(
        ctx,
        bus.connect_endpoint("acct.pub"),
        snap_endpoint=bus.connect_endpoint("acct.snap"),
        prefixes=prefixes or ["acct|", "pos|", "order|", "fill|", "stream|"],
        name="test-acct-tap",
        clock=SystemClock(),
    )
    tap = Tap(sub)
    await tap.start()
    return tap


def _up(tap: Tap, start: int = 0) -> bool:
    return any(isinstance(d.env.msg, StreamStatus) and d.env.msg.up for d in tap.deliveries[start:])


def _trade_api(ex: RunningExchange) -> Any:
    key, secret, phrase = DEMO_ACCOUNT
    return OkxTrade.TradeAPI(key, secret, phrase, flag="1", domain=ex.rest_url, debug=False)


async def _best_ask(ex: RunningExchange) -> Decimal:
    book = await ex.admin(f"/admin/book?instId={INST}&depth=1")
    return Decimal(book["asks"][0][0])


async def test_orders_fills_balances_positions_reach_the_bus(
    ctx: zmq.asyncio.Context, bus_config: BusConfig, tmp_path: Path, free_port: int
) -> None:
    async with running_exchange(tmp_path, port=free_port) as ex:
        cfg = write_config(tmp_path, bus_config, ex, instruments=[INST])
        async with actor_process("gateway.private_gw", cfg, tmp_path) as proc:
            tap = await _tap(ctx, bus_config)
            apis: list[Any] = []
            try:
                await tap.until(lambda: _up(tap), 20, "private stream up (reconciled)")
                api = _trade_api(ex)
                apis.append(api)
                ask = await _best_ask(ex)
                rest_px = str(ask - 500)
                r = await asyncio.to_thread(
                    api.place_order,
                    INST,
                    "cross",
                    "buy",
                    "post_only",
                    "1",
                    clOrdId="gwrest1",
                    px=rest_px,
                )
                assert r["code"] == "0", r
                take_px = str(ask + 50)
                r = await asyncio.to_thread(
                    api.place_order,
                    INST,
                    "cross",
                    "buy",
                    "limit",
                    "2",
                    clOrdId="gwtake1",
                    px=take_px,
                )
                assert r["code"] == "0", r

                def order_states(cid: str) -> list[str]:
                    return [m.state for m in tap.msgs(OrderUpdate) if m.cl_ord_id == cid]

                await tap.until(lambda: "live" in order_states("gwrest1"), 10, "resting order live")
                await tap.until(lambda: "filled" in order_states("gwtake1"), 10, "taker filled")
                r = await asyncio.to_thread(api.cancel_order, INST, clOrdId="gwrest1")
                assert r["code"] == "0", r
                await tap.until(lambda: "canceled" in order_states("gwrest1"), 10, "canceled")

                # fills: once per tradeId, exactly the exchange's
                venue_fills = await asyncio.to_thread(api.get_fills, instType="SWAP", instId=INST)
                venue_ids = {f["tradeId"] for f in venue_fills["data"] if f["clOrdId"] == "gwtake1"}
                assert venue_ids
                await tap.until(
                    lambda: {f.trade_id for f in tap.msgs(Fill)} >= venue_ids, 10, "every fill"
                )
                fills = [f for f in tap.msgs(Fill) if f.cl_ord_id == "gwtake1"]
                assert len(fills) == len({f.trade_id for f in fills}) == len(venue_ids)
                assert sum(f.sz for f in fills) == Decimal(2)
                assert all(f.fee < 0 for f in fills)  # taker fee charged (OKX sign)

                # balances and positions equal the exchange's admin read-out
                key = DEMO_ACCOUNT[0]
                positions = await ex.admin(f"/admin/positions?apiKey={key}")
                balances = (await ex.admin(f"/admin/balances?apiKey={key}"))["balances"]
                venue_pos = _venue_pos(positions)

                def pos_matches() -> bool:
                    ps = [p for p in tap.msgs(Position) if p.inst == INST]
                    return bool(ps) and ps[-1].pos == venue_pos

                await tap.until(pos_matches, 10, f"position {venue_pos} on the bus")
                assert venue_pos == Decimal(2)

                def cash_matches() -> bool:
                    accts = tap.msgs(AccountUpdate)
                    if not accts:
                        return False
                    cash = {d.ccy: d.cash_bal for d in accts[-1].details}
                    return all(
                        cash.get(ccy, Decimal(0)) == Decimal(str(v["cash"]))
                        for ccy, v in balances.items()
                    )

                await tap.until(cash_matches, 10, f"balances {balances} on the bus")

                # a reconnect reconciles by REST and publishes no fill twice
                n_fills = len(tap.msgs(Fill))
                mark = len(tap.deliveries)
                await ex.faults(drop_ws="private")
                await tap.until(lambda: _up(tap, mark), 20, "stream up again after reconnect")
                assert len(tap.msgs(Fill)) == n_fills
                status = (
                    await ctl(ctx, bus_config.connect_endpoint("ctl.private-gw"), "status")
                ).status
                assert int(status["reconciles"]) >= 2
                assert int(status["fills_duplicate"]) >= 1  # REST fills seen again, dropped
                assert status["open_orders"] == 0
            finally:
                for a in apis:
                    a.close()  # python-okx clients are httpx.Clients
                await tap.close()
        assert proc.returncode == 0  # SIGTERM: orderly stop


async def test_account_config_is_published_retained(
    ctx: zmq.asyncio.Context, bus_config: BusConfig, tmp_path: Path, free_port: int
) -> None:
    """The account's mode (acctLv, posMode) is loaded by REST and retained on ``acctcfg|``: a
    subscriber that joins after the stream is up gets it from the Clone snapshot."""
    modes = {"acct_lv": 3, "pos_mode": "long_short_mode"}
    async with running_exchange(tmp_path, port=free_port, config=modes) as ex:
        cfg = write_config(tmp_path, bus_config, ex, instruments=[INST])
        async with actor_process("gateway.private_gw", cfg, tmp_path):
            tap = await _tap(ctx, bus_config)
            try:
                await tap.until(lambda: _up(tap), 20, "private stream up (reconciled)")
            finally:
                await tap.close()
            late = await _tap(ctx, bus_config, ["acctcfg|"])
            try:
                await late.until(lambda: bool(late.msgs(AccountConfig)), 10, "account config")
                got = late.msgs(AccountConfig)[-1]
                assert (got.acct_lv, got.pos_mode) == (3, "long_short_mode")
                assert got.uid
            finally:
                await late.close()


def _venue_pos(positions: Any) -> Decimal:
    rows = (
        positions
        if isinstance(positions, list)
        else positions.get("positions", positions.get("data", []))
    )
    total = Decimal(0)
    for p in rows:
        if p.get("instId") == INST:
            total += Decimal(str(p.get("pos", "0")))
    return total


async def test_wrong_credentials_log_one_clear_line_per_attempt_and_retry(
    ctx: zmq.asyncio.Context, bus_config: BusConfig, tmp_path: Path, free_port: int
) -> None:
    async with running_exchange(tmp_path, port=free_port) as ex:
        cfg = write_config(tmp_path, bus_config, ex, instruments=[INST])
        bad = {
            "OKX_API_KEY": DEMO_ACCOUNT[0],
            "OKX_API_SECRET": "definitely-wrong-secret",
            "OKX_API_PASSPHRASE": DEMO_ACCOUNT[2],
        }
        async with actor_process("gateway.private_gw", cfg, tmp_path, env=bad) as proc:
            tap = await _tap(ctx, bus_config)
            try:

                def refusals() -> list[StreamStatus]:
                    return [
                        m for m in tap.msgs(StreamStatus) if m.reason.startswith("login refused")
                    ]

                def logged_refusals() -> list[str]:
                    text = "\n".join(
                        f.read_text(errors="replace")
                        for f in (tmp_path / "log").rglob("*")
                        if f.is_file()
                    )
                    return [line for line in text.splitlines() if "login refused" in line]

                # attempts are counted in the log (one line each): the bus carries the stream's
                # state, and a tap may see one publication twice (snapshot and stream)
                await tap.until(lambda: len(refusals()) >= 1, 30, "a refused login on the bus")
                deadline = asyncio.get_running_loop().time() + 30
                while len(logged_refusals()) < 2:
                    assert asyncio.get_running_loop().time() < deadline, "no second attempt"
                    await asyncio.sleep(0.1)  # polling a log file: no event to wait on
                assert not any(m.up for m in tap.msgs(StreamStatus))
                ctl_ep = bus_config.connect_endpoint("ctl.private-gw")
                status = (await ctl(ctx, ctl_ep, "status")).status
                assert status["ws_last_error_code"].startswith("600"), status
                assert status["reconciling"] is True
                assert refusals()[0].reason.endswith(status["ws_last_error_code"])
                assert proc.returncode is None  # retrying with backoff, not crashing
            finally:
                await tap.close()
        logs = "\n".join(p.read_text() for p in (tmp_path / "log").rglob("*") if p.is_file())
        refused = [line for line in logs.splitlines() if "login refused" in line]
        assert len(refused) >= 2
        assert all(status["ws_last_error_code"] in line for line in refused)
        assert "definitely-wrong-secret" not in logs


async def test_venue_clock_45s_ahead_is_measured_and_login_succeeds(
    ctx: zmq.asyncio.Context, bus_config: BusConfig, tmp_path: Path, free_port: int
) -> None:
    """OKX refuses timestamps more than 30 s off (50102 / 60006): the gateway syncs its clock
    offset from ``public/time`` first, so it logs in and reconciles anyway."""
    config = {"faults": {"clock_offset_ms": 45_000}}
    async with running_exchange(tmp_path, port=free_port, config=config) as ex:
        cfg = write_config(tmp_path, bus_config, ex, instruments=[INST])
        async with actor_process("gateway.private_gw", cfg, tmp_path):
            tap = await _tap(ctx, bus_config)
            try:
                await tap.until(lambda: _up(tap), 20, "private stream up despite the clock skew")
                assert tap.msgs(AccountUpdate), "reconciled balance published"
            finally:
                await tap.close()
