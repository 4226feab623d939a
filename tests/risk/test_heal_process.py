"""Healing after deaths, with real processes against the local exchange (md-feed, private-gw,
risk): fills made at the venue while risk or private-gw is dead (kill -9) reach risk after the
restart, so its net filled quantity, exposure and fill count equal the venue's — and no fill
is counted twice.

Orders go straight to the venue by REST (a silent risk or private stream makes the router
refuse new orders, so the fills of an outage are the account's other clients' or resting
orders'); market orders, so each may fill against several levels.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
import zmq
import zmq.asyncio

from engine.clock import SystemClock
from engine.config import BusConfig, Credentials
from engine.messages import RiskSnapshot
from gateway.okx.rest import OkxRestClient
from gateway.okx.schemas import FillData, PlaceOrderReq
from ops.exchange.testing import RunningExchange, running_exchange

from .tap import RiskTap
from .test_monitor_process import ctl, stop

pytestmark = pytest.mark.slow
D = Decimal
CLOCK = SystemClock()
BTC = "BTC-USDT-SWAP"
CT_VAL = D("0.01")


@pytest.fixture
async def ctx() -> AsyncIterator[zmq.asyncio.Context]:
    c = zmq.asyncio.Context()
    yield c
    c.destroy(linger=0)


def write_config(tmp_path: Path, bus: BusConfig, port: int) -> Path:
    path = tmp_path / "okxmm.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "venue": {"kind": "local"},
                "exchange": {"host": "127.0.0.1", "port": port},
                "bus": {"transport": "ipc", "ipc_dir": bus.ipc_dir},
                "log_dir": str(tmp_path / "log"),
                "var_dir": str(tmp_path / "var"),
                "instruments": [BTC],
                "strategies": [],
                "risk": {
                    "state_path": str(tmp_path / "risk.state"),
                    "loss_limit_usd": "100000",
                    "publish_interval_ms": 50,
                },
            }
        )
    )
    return path


class Actors:
    """One process per actor, each killable and restartable on its own."""

    def __init__(self, cfg_path: Path, tmp_path: Path) -> None:
        self.cfg_path, self.tmp_path = cfg_path, tmp_path
        self.procs: dict[str, subprocess.Popen[str]] = {}
        self.starts = 0

    def start(self, mod: str) -> None:
        self.starts += 1
        with (self.tmp_path / f"{mod}.{self.starts}.stderr").open("w") as err:
            self.procs[mod] = subprocess.Popen(
                [sys.executable, "-m", mod, "--config", str(self.cfg_path)],
                stderr=err,
                text=True,
            )

    def kill(self, mod: str) -> None:
        """kill -9: no stop handler runs, nothing is flushed."""
        p = self.procs.pop(mod)
        p.kill()
        p.wait(10)

    def stop_all(self) -> None:
        for p in reversed(list(self.procs.values())):
            stop(p)
        self.procs.clear()


@contextlib.contextmanager
def actors(cfg_path: Path, tmp_path: Path, mods: list[str]) -> Iterator[Actors]:
    a = Actors(cfg_path, tmp_path)
    try:
        for mod in mods:
            a.start(mod)
        yield a
    finally:
        a.stop_all()


async def market_orders(rest: OkxRestClient, sides: str) -> None:
    """One market order per letter (b = buy 3, s = sell 2 contracts)."""
    for c in sides:
        side, sz = ("buy", "3") if c == "b" else ("sell", "2")
        await rest.place_order(
            PlaceOrderReq(instId=BTC, tdMode="cross", side=side, ordType="market", sz=sz)
        )


async def venue_fills(rest: OkxRestClient) -> list[FillData]:
    fills = await rest.fills(inst_id=BTC, limit=100)
    assert len(fills) < 100, "the test must stay within one page of venue fills"
    return fills


async def venue_pos(ex: RunningExchange) -> Decimal:
    key = ex.accounts[0][0]
    rows = (await ex.admin(f"/admin/positions?apiKey={key}"))["positions"]
    return sum((D(str(p["pos"])) for p in rows if p["instId"] == BTC), D(0))


async def agrees(
    ex: RunningExchange,
    rest: OkxRestClient,
    tap: RiskTap,
    ctx: zmq.asyncio.Context,
    bus: BusConfig,
    what: str,
) -> None:
    """Risk's snapshot and fill count equal the venue's fills and position."""
    fills = await venue_fills(rest)
    net = sum((D(f.fillSz) * (1 if f.side == "buy" else -1) for f in fills), D(0))
    pos = await venue_pos(ex)
    assert pos == net  # one account, one instrument, net mode: the position is the fills' sum
    last: list[Any] = []

    def match(m: Any) -> bool:
        if not isinstance(m, RiskSnapshot):
            return False
        last[:] = [m]
        return m.net_filled_qty.get(BTC) == net and m.exposures_base.get(BTC) == pos * CT_VAL

    try:
        await tap.expect(match, what, 30.0)
    except AssertionError:
        s = last[0] if last else None
        got = (s.net_filled_qty, s.exposures_base) if s else None
        raise AssertionError(f"{what}: risk {got}, venue net {net} pos {pos}") from None
    status = (await ctl(ctx, bus, "risk")).status
    assert status["fills_booked"] == len(fills), (what, status, len(fills))


async def test_risk_and_private_gw_heal_fills_made_while_they_were_dead(
    ctx: zmq.asyncio.Context, bus_config: BusConfig, tmp_path: Path, free_port: int
) -> None:
    async with running_exchange(tmp_path, port=free_port, seed=7) as ex:
        cfg_path = write_config(tmp_path, bus_config, free_port)
        k, s, p = ex.accounts[0]
        creds = Credentials(api_key=k, secret=s, passphrase=p)
        mods = ["gateway.md_feed", "gateway.private_gw", "risk.monitor"]
        async with OkxRestClient(ex.rest_url, creds, simulated=True, clock=CLOCK) as rest:
            with actors(cfg_path, tmp_path, mods) as a:
                tap = await RiskTap(ctx, bus_config).start()
                try:
                    await tap.expect(
                        lambda m: isinstance(m, RiskSnapshot) and m.inception_ts_ms > 0,
                        "inception",
                        40.0,
                    )
                    await market_orders(rest, "bbs")
                    await agrees(ex, rest, tap, ctx, bus_config, "all up")

                    a.kill("risk.monitor")
                    await market_orders(rest, "bsbb")
                    a.start("risk.monitor")
                    await agrees(ex, rest, tap, ctx, bus_config, "after a risk kill")

                    a.kill("gateway.private_gw")
                    await market_orders(rest, "sbs")
                    a.start("gateway.private_gw")
                    await agrees(ex, rest, tap, ctx, bus_config, "after a private-gw kill")

                    a.kill("risk.monitor")
                    a.kill("gateway.private_gw")
                    await market_orders(rest, "bbss")
                    a.start("gateway.private_gw")
                    a.start("risk.monitor")
                    await agrees(ex, rest, tap, ctx, bus_config, "after both were killed")
                finally:
                    await tap.close()
