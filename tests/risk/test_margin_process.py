"""The margin actor end to end against the local exchange: real md-feed, private-gw and margin
processes; the exchange's account in multi-currency margin (acctLv 3) with one 1 BTC long.

The ``MarginState`` on the bus equals the exchange's REST ``account/balance`` numbers, ``okxmm
margin --once --json`` prints the same numbers, and admin price crashes move the status
through warning (reduce nothing) to danger (reduce) while the venue liquidates nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
import zmq.asyncio

from engine import topics
from engine.bus.subscriber import Subscriber
from engine.clock import SystemClock
from engine.config import BusConfig
from engine.messages import (
    Ack,
    AnyMsg,
    MarginState,
    OrdType,
    PubHeartbeat,
    RiskState,
    Side,
    TradingState,
)
from ops.exchange.testing import RunningExchange, rest_headers, running_exchange

from .tap import RiskTap
from .test_exchange_integration import Strategy, poll_until
from .test_monitor_process import okxmm_cli, state_is, stop

pytestmark = pytest.mark.slow
D = Decimal
BTC = "BTC-USDT-SWAP"
ACTORS = [
    "gateway.md_feed",
    "gateway.private_gw",
    "ops.router",
    "risk.margin.monitor",
    "risk.monitor",
]
EXCHANGE: dict[str, Any] = {
    "acct_lv": 3,
    "realtime": False,  # prices move only by the test's shocks: REST and bus see one market
    "leverage": "50",
    "start_balances": {"USDT": "3000"},
    "margin_tiers": {"discount": {"BTC": [{"rate": "0.9"}]}, "liq_fee_rate": "0.0005"},
}
MARGIN = {"thresholds": {"warning": "5", "danger": "3", "liquidation": "1"}, "halt_ratio": "1.5"}


class MarginTap:
    """``margin|`` as a test sees it: awaited by predicate."""

    def __init__(self, ctx: zmq.asyncio.Context, bus: BusConfig) -> None:
        self.sub = Subscriber(
            ctx,
            bus.connect_endpoint("margin.pub"),
            snap_endpoint=bus.connect_endpoint("margin.snap"),
            prefixes=[topics.MARGIN],
            name="test.margin",
            clock=SystemClock(),
            snapshot_timeout_s=0.5,
        )
        self.last: MarginState | None = None

    async def expect(
        self, pred: Callable[[MarginState], bool], what: str, timeout_s: float = 30.0
    ) -> MarginState:
        try:
            async with asyncio.timeout(timeout_s):
                while True:
                    d = await self.sub.recv(0.05)
                    m: AnyMsg | None = None if d is None else d.env.msg
                    if isinstance(m, MarginState) and not isinstance(m, PubHeartbeat):
                        self.last = m
                        if pred(m):
                            return m
        except TimeoutError:
            raise AssertionError(f"margin.pub never showed: {what}; last {self.last}") from None


def _config(tmp_path: Path, bus: BusConfig, port: int) -> Path:
    path = tmp_path / "okxmm.yaml"
    exchange = {"host": "127.0.0.1", "port": port, **EXCHANGE}
    path.write_text(
        yaml.safe_dump(
            {
                "venue": {"kind": "local"},
                "exchange": exchange,
                "bus": {"transport": "ipc", "ipc_dir": bus.ipc_dir},
                "log_dir": str(tmp_path / "log"),
                "var_dir": str(tmp_path / "var"),
                "instruments": [BTC],
                "strategies": [],
                "margin": MARGIN,
                "risk": {"state_path": str(tmp_path / "risk.state")},
                "router": {"journal_path": str(tmp_path / "router.journal")},
            }
        )
    )
    return path


@contextlib.contextmanager
def _actors(cfg_path: Path, tmp_path: Path) -> Iterator[None]:
    procs = []
    try:
        for mod in ACTORS:
            with (tmp_path / f"{mod}.stderr").open("w") as err:
                procs.append(
                    subprocess.Popen(
                        [sys.executable, "-m", mod, "--config", str(cfg_path)],
                        stderr=err,
                        text=True,
                    )
                )
        yield
    finally:
        for p in reversed(procs):
            stop(p)


async def _rest(ex: RunningExchange, method: str, path: str, body: Any = None) -> Any:
    text = "" if body is None else json.dumps(body)
    headers = rest_headers(ex.accounts[0], method, path, text)
    url = ex.rest_url + path
    r = await (
        ex.client.get(url, headers=headers)
        if method == "GET"
        else ex.client.post(url, content=text, headers=headers)
    )
    return r.json()


async def _balance(ex: RunningExchange) -> dict[str, Any]:
    return dict((await _rest(ex, "GET", "/api/v5/account/balance"))["data"][0])


async def _count(ex: RunningExchange, n: int) -> bool:
    return len(await ex.live_orders()) == n


def _same(a: Decimal | None, b: str, rel: str = "1e-4") -> bool:
    """Equal within rounding: the bus carries OKX's ``avgPx`` rounded to the tick (0.1), so
    the recomputed equity may differ by up to 0.05 USD per BTC from the venue's exact one."""
    return a is not None and b != "" and abs(a - D(b)) <= abs(D(b)) * D(rel)


async def test_margin_state_matches_the_venue_and_crashes_raise_the_status(
    bus_config: BusConfig, tmp_path: Path, free_port: int
) -> None:
    ctx = zmq.asyncio.Context()
    async with running_exchange(tmp_path, port=free_port, seed=5, config=EXCHANGE) as ex:
        marks = (await ex.step(0))["marks"]
        px = (D(marks[BTC]) * D("1.01")).quantize(D("0.1"))
        order = {"instId": BTC, "tdMode": "cross", "side": "buy", "ordType": "ioc",
                 "px": str(px), "sz": "100"}  # fmt: skip
        placed = await _rest(ex, "POST", "/api/v5/trade/order", order)
        assert placed["data"][0]["sCode"] == "0", placed
        cfg_path = _config(tmp_path, bus_config, free_port)
        tap = MarginTap(ctx, bus_config)
        risk = RiskTap(ctx, bus_config)
        strat = Strategy(ctx, bus_config, BTC)
        try:
            with _actors(cfg_path, tmp_path):
                await tap.sub.start()
                await risk.start()
                bal = await _balance(ex)
                st = await tap.expect(
                    lambda m: _same(m.mgn_ratio, bal["mgnRatio"]), "the venue's margin ratio"
                )
                assert abs(st.adj_eq - D(bal["adjEq"])) <= D("0.05")
                assert _same(st.mmr, bal["mmr"], "0")
                assert _same(st.venue_mgn_ratio, bal["mgnRatio"], "0")  # via private-gw
                assert (st.status, st.action, st.acct_lv) == ("healthy", "", 3)
                for scope, key in (("account", "*"), ("inst", BTC)):
                    await risk.expect(
                        state_is(scope, key, TradingState.ACTIVE), f"{scope} ACTIVE", 30.0
                    )
                # a resting sell through the router (it reduces the long: allowed when REDUCING)
                await strat.start()
                got = await strat.order(BTC, Side.SELL, OrdType.LIMIT, "10", px * D("1.02"))
                assert isinstance(got, Ack), got
                await poll_until(
                    lambda: _count(ex, 1), 10.0, "the sell resting on the venue", period_s=0.05
                )
                code, out = await okxmm_cli(cfg_path, "margin", "--once", "--json")
                assert code == 0, out
                report = json.loads(out[out.index("{") :])
                assert _same(st.adj_eq, report["summary"]["adj_eq"], "0")  # the actor's own
                assert D(report["summary"]["mgn_ratio_pct"]) == st.mgn_ratio * 100  # type: ignore[operator]

                await ex.admin("/admin/faults", {"shock_pct": -3})
                bal = await _balance(ex)
                warn = await tap.expect(
                    lambda m: _same(m.mgn_ratio, bal["mgnRatio"]), "the ratio after −3 %"
                )
                assert (warn.status, warn.action) == ("warning", ""), warn

                await ex.admin("/admin/faults", {"shock_pct": -1})
                bal = await _balance(ex)
                danger = await tap.expect(
                    lambda m: _same(m.mgn_ratio, bal["mgnRatio"]), "the ratio after −1 % more"
                )
                assert (danger.status, danger.action) == ("danger", "reduce"), danger
                red = await risk.expect(
                    lambda m: (
                        state_is("account", "*", TradingState.REDUCING)(m)
                        and isinstance(m, RiskState)
                        and m.reason.startswith("margin: margin ratio")
                    ),
                    "risk REDUCING for the margin (not a start-up reason)",
                    20.0,
                )
                assert isinstance(red, RiskState)
                assert "danger at 300 %" in red.reason
                assert danger.liq_px is not None
                assert danger.price is not None
                assert danger.liq_px < danger.price

                await ex.admin("/admin/faults", {"shock_pct": -0.4})  # ratio ≈ 1.3: halt at 1.5
                bal = await _balance(ex)
                near = await tap.expect(
                    lambda m: _same(m.mgn_ratio, bal["mgnRatio"]), "the ratio after −0.4 % more"
                )
                assert near.action == "halt", near
                assert near.mgn_ratio is not None
                assert near.mgn_ratio > 1  # not yet the venue's liquidation level
                halt = await risk.expect(
                    state_is("account", "*", TradingState.HALTED), "risk HALTED", 20.0
                )
                assert isinstance(halt, RiskState)
                assert "halt at 150 %" in halt.reason, halt
                await poll_until(
                    lambda: _count(ex, 0), 10.0, "the router cancels on HALTED", period_s=0.05
                )
                positions = (await _rest(ex, "GET", "/api/v5/account/positions"))["data"]
                assert [p["pos"] for p in positions] == ["100"]  # the venue liquidated nothing
        finally:
            await strat.close()
            await risk.close()
            await tap.sub.close()
            ctx.destroy(linger=0)
