"""The risk actor as a real process on a real bus: publishers stand in for md-feed, private-gw
and the router (OKX-shaped messages over ipc sockets); the test watches risk.pub and drives
ctl.risk like ``okxmm halt`` / ``okxmm resume``."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
import zmq
import zmq.asyncio

from engine import topics
from engine.bus.ctl import ctl_call
from engine.bus.publisher import Publisher
from engine.clock import SystemClock
from engine.config import BusConfig
from engine.messages import (
    AnyMsg,
    CtlReply,
    CtlRequest,
    Fill,
    OrderEvent,
    RiskSnapshot,
    RiskState,
    TradingState,
)

from .msgs import BTC_SWAP_INFO, ETH_SWAP_INFO, account, book, fill, mark, position
from .tap import RiskTap

pytestmark = pytest.mark.slow
D = Decimal
CLOCK = SystemClock()


@pytest.fixture
async def ctx() -> AsyncIterator[zmq.asyncio.Context]:
    c = zmq.asyncio.Context()
    yield c
    c.destroy(linger=0)


def write_config(tmp_path: Path, bus: BusConfig) -> Path:
    path = tmp_path / "okxmm.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "bus": {"transport": "ipc", "ipc_dir": bus.ipc_dir},
                "log_dir": str(tmp_path / "log"),
                "var_dir": str(tmp_path / "var"),
                "instruments": ["BTC-USDT-SWAP", "ETH-USDT-SWAP"],
                "strategies": [
                    {"name": "mm-btc", "strategy": "sample_mm", "inst": "BTC-USDT-SWAP"}
                ],
                "risk": {
                    "state_path": str(tmp_path / "risk.state"),
                    "loss_limit_usd": "100",
                    "publish_interval_ms": 50,
                    "md_stale_ms": 60000,
                },
            }
        )
    )
    return path


class Venue:
    """The three publishers risk listens to."""

    def __init__(self, ctx: zmq.asyncio.Context, bus: BusConfig) -> None:
        def pub(name: str) -> Publisher:
            return Publisher(
                ctx,
                bus.bind_endpoint(f"{name}.pub"),
                src=name,
                epoch=1,
                clock=CLOCK,
                snap_endpoint=bus.bind_endpoint(f"{name}.snap"),
                heartbeat_ms=20,
            )

        self.md, self.acct, self.ord = pub("md"), pub("acct"), pub("ord")

    async def start(self) -> None:
        for p in (self.md, self.acct, self.ord):
            await p.start()

    async def close(self) -> None:
        for p in (self.md, self.acct, self.ord):
            await p.close()

    def send(self, msg: AnyMsg) -> None:
        name = type(msg).__name__
        if name == "InstrumentInfo":
            self.md.publish(topics.instrument(msg.inst), msg)  # type: ignore[union-attr]
        elif name == "MarkPrice":
            self.md.publish(topics.mark(msg.inst), msg)  # type: ignore[union-attr]
        elif name == "BookTop":
            self.md.publish(topics.book(msg.inst), msg)  # type: ignore[union-attr]
        elif name == "AccountUpdate":
            self.acct.publish(topics.ACCOUNT, msg)
        elif name == "Position":
            self.acct.publish(topics.position(msg.inst), msg)  # type: ignore[union-attr]
        elif isinstance(msg, Fill):
            self.acct.publish(topics.fill(msg.inst), msg, retain=False)
        elif isinstance(msg, OrderEvent):
            self.ord.publish(topics.order_event(msg.strategy), msg)
        else:
            raise AssertionError(name)


def state_is(scope: str, key: str, state: TradingState) -> Callable[[AnyMsg], bool]:
    return lambda m: (
        isinstance(m, RiskState) and (m.scope, m.key) == (scope, key) and m.state == state
    )


def pnl_is(value: str) -> Callable[[AnyMsg], bool]:
    return lambda m: isinstance(m, RiskSnapshot) and m.pnl_in_usd_since_running == D(value)


async def ctl(ctx: zmq.asyncio.Context, bus: BusConfig, cmd: str, **args: str) -> CtlReply:
    return await ctl_call(
        ctx,
        bus.connect_endpoint("ctl.risk"),
        CtlRequest(cmd=cmd, args=args),
        clock=CLOCK,
        timeout_s=5.0,
    )


async def okxmm_cli(cfg_path: Path, *args: str) -> tuple[int, str]:
    """Run ``okxmm <args> --config F`` (the operator's command) and return (code, output)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ops.cli",
        *args,
        "--config",
        str(cfg_path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 30)
    return proc.returncode or 0, out.decode()


def spawn(cfg_path: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "risk.monitor", "--config", str(cfg_path)],
        stderr=subprocess.PIPE,
        text=True,
    )


def stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return err


async def risk_sub(ctx: zmq.asyncio.Context, bus: BusConfig) -> RiskTap:
    return await RiskTap(ctx, bus).start()


async def test_risk_actor_measures_halts_on_loss_and_keeps_state_across_restart(
    ctx: zmq.asyncio.Context, bus_config: BusConfig, tmp_path: Path
) -> None:
    cfg_path = write_config(tmp_path, bus_config)
    venue = Venue(ctx, bus_config)
    await venue.start()
    try:
        await _scenario(ctx, bus_config, cfg_path, venue)
    finally:
        await venue.close()


async def _scenario(
    ctx: zmq.asyncio.Context, bus_config: BusConfig, cfg_path: Path, venue: Venue
) -> None:
    for m in (
        BTC_SWAP_INFO,
        ETH_SWAP_INFO,
        mark("BTC-USDT-SWAP", "40100", 1),
        book("BTC-USDT-SWAP", "40099", "40101", 1),
        book("ETH-USDT-SWAP", "1999", "2001", 1),
        account("28070", 1, BTC="0.2", USDT="20000"),
        position("BTC-USDT-SWAP", "50", "40000", "40100", "50", 1),
    ):
        venue.send(m)
    proc = spawn(cfg_path)
    sub = await risk_sub(ctx, bus_config)
    try:
        await sub.expect(pnl_is("0"), "inception snapshot with pnl 0")
        await sub.expect(state_is("account", "*", TradingState.ACTIVE), "account ACTIVE")

        # §6.10: 30 contracts bought at 40150, fee 6.0225, marks to 40300.
        current: list[AnyMsg] = [
            mark("BTC-USDT-SWAP", "40300", 2),
            book("BTC-USDT-SWAP", "40299", "40301", 2),
            account("28248.9775", 2, BTC="0.2", USDT="19993.9775"),
            position("BTC-USDT-SWAP", "80", "40056.25", "40300", "195", 2),
            fill("BTC-USDT-SWAP", "t1", "buy", "40150", "30", "-6.0225", 2),
        ]
        for msg in current:
            venue.send(msg)
        snap = await sub.expect(pnl_is("38.9775"), "pnl 38.9775 of the worked example")
        assert isinstance(snap, RiskSnapshot)
        assert snap.exposures_base["BTC-USDT-SWAP"] == D("0.3")
        assert snap.exposures_quote["BTC-USDT-SWAP"] == D(12090)
        assert snap.fees_by_ccy == {"USDT": D("-6.0225")}

        # USDT 19855: pnl 19855 + 195 − 20000 − 150 = −100, 138.98 below the peak → HALTED.
        venue.send(account("28110", 3, BTC="0.2", USDT="19855"))
        halted = await sub.expect(state_is("account", "*", TradingState.HALTED), "loss halt")
        assert isinstance(halted, RiskState)
        assert halted.reason.startswith("loss limit: pnl -100.00 USD is 138.98 below peak 38.98")

        reply = await ctl(ctx, bus_config, "resume")
        assert reply.ok
        await sub.expect(state_is("account", "*", TradingState.ACTIVE), "ACTIVE after resume")

        code, out = await okxmm_cli(cfg_path, "halt", "--reason", "fat finger")
        assert code == 0, out
        assert "HALTED" in out
        killed = await sub.expect(state_is("account", "*", TradingState.HALTED), "kill switch")
        assert isinstance(killed, RiskState)
        assert killed.reason == "kill switch: fat finger"
        status = await ctl(ctx, bus_config, "risk")
        assert status.status["inception"] is True
    finally:
        err = stop(proc)
        await sub.close()
    assert proc.returncode == 0, err[-3000:]

    # Restarted: still HALTED, still measuring from the same inception.
    proc = spawn(cfg_path)
    sub = await risk_sub(ctx, bus_config)
    try:
        again = await sub.expect(
            state_is("account", "*", TradingState.HALTED), "HALTED after restart"
        )
        assert isinstance(again, RiskState)
        assert again.reason == "kill switch: fat finger"
        snap = await sub.expect(lambda m: isinstance(m, RiskSnapshot), "a snapshot")
        assert isinstance(snap, RiskSnapshot)
        assert snap.inception_ts_ms < snap.current_ts_ms
        assert snap.pnl_in_usd_since_running == D(-100)
        assert snap.peak_pnl_usd == D(-100)  # re-based at resume
        reply = await ctl(ctx, bus_config, "resume")
        assert reply.ok
        await sub.expect(state_is("account", "*", TradingState.ACTIVE), "ACTIVE after resume")
    finally:
        err = stop(proc)
        await sub.close()
    assert proc.returncode == 0, err[-3000:]


async def test_unreadable_state_file_starts_halted_and_is_kept_aside(
    ctx: zmq.asyncio.Context, bus_config: BusConfig, tmp_path: Path
) -> None:
    """Starting from scratch would silently forget a kill switch: refuse to trade instead."""
    cfg_path = write_config(tmp_path, bus_config)
    (tmp_path / "risk.state").write_text('{"version": 1, "halts": [')
    proc = spawn(cfg_path)
    sub = await risk_sub(ctx, bus_config)
    try:
        msg = await sub.expect(state_is("account", "*", TradingState.HALTED), "HALTED")
        assert isinstance(msg, RiskState)
        assert msg.reason.startswith("risk state file unreadable (kept as risk.state.corrupt-")
        assert len(list(tmp_path.glob("risk.state.corrupt-*"))) == 1
    finally:
        err = stop(proc)
        await sub.close()
    assert proc.returncode == 0, err[-3000:]
