"""Acceptance against the local exchange: the real md-feed, private-gw, router and risk
processes; this test plays a strategy (the real CommandClient) and the operator (ctl.risk).

1. After fills on both default instruments (market frozen), the published P&L and exposures
   equal a calculation from the exchange's own balances and positions (``/admin``).
2. A market shock through the exchange breaches the loss limit: risk goes HALTED, the router
   cancels every resting order within 250 ms and rejects new orders until ``resume``.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from decimal import ROUND_DOWN, ROUND_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
import zmq
import zmq.asyncio
from loguru import logger

from engine.bus.command import CommandClient
from engine.clock import SystemClock
from engine.config import BusConfig
from engine.messages import (
    Ack,
    AnyMsg,
    Heartbeat,
    Hello,
    NewOrder,
    OrdType,
    Reject,
    RiskSnapshot,
    RiskState,
    Side,
    StrategyStatus,
    TradingState,
    Welcome,
)
from engine.orders.clordid import ClOrdIdSequence
from ops.exchange.testing import RunningExchange, running_exchange

from .tap import RiskTap
from .test_monitor_process import ctl, okxmm_cli, state_is, stop

pytestmark = pytest.mark.slow
D = Decimal
CLOCK = SystemClock()
BTC, ETH = "BTC-USDT-SWAP", "ETH-USDT-SWAP"
CT_VAL = {BTC: D("0.01"), ETH: D("0.1")}
TICK = {BTC: D("0.1"), ETH: D("0.01")}
ACTORS = ["gateway.md_feed", "gateway.private_gw", "ops.router", "risk.monitor"]


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
                "instruments": [BTC, ETH],
                "strategies": [],
                "router": {"journal_path": str(tmp_path / "router.journal")},
                "risk": {
                    "state_path": str(tmp_path / "risk.state"),
                    "loss_limit_usd": "100",
                    "publish_interval_ms": 50,
                },
            }
        )
    )
    return path


@contextlib.contextmanager
def actors(cfg_path: Path, tmp_path: Path) -> Iterator[list[subprocess.Popen[str]]]:
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
        yield procs
    finally:
        for p in reversed(procs):
            stop(p)


def dec(x: Any) -> Decimal:
    return D(str(x)) if x not in ("", None) else D(0)


async def venue_state(ex: RunningExchange) -> tuple[dict[str, Decimal], dict[str, dict[str, Any]]]:
    key = ex.accounts[0][0]
    bal = (await ex.admin(f"/admin/balances?apiKey={key}"))["balances"]
    pos = (await ex.admin(f"/admin/positions?apiKey={key}"))["positions"]
    return {c: dec(b["cash"]) for c, b in bal.items()}, {p["instId"]: p for p in pos}


def expected(
    cash0: dict[str, Decimal],
    cash: dict[str, Decimal],
    positions: dict[str, dict[str, Any]],
    price: dict[str, Decimal],
) -> tuple[Decimal, dict[str, Decimal], dict[str, Decimal]]:
    """The original's P&L for a start without positions, from the venue's own numbers:
    Σ_ccy (cash now − cash then) × price + Σ upl (USDT-settled swaps: price 1)."""
    pnl = sum(
        (
            (cash.get(c, D(0)) - cash0.get(c, D(0))) * price.get(c, D(0))
            for c in set(cash) | set(cash0)
        ),
        D(0),
    )
    pnl += sum((dec(p["upl"]) for p in positions.values()), D(0))
    base = {i: dec(p["pos"]) * CT_VAL[i] for i, p in positions.items()}
    quote = {i: base[i] * dec(p["markPx"]) for i, p in positions.items()}
    return pnl, base, quote


class Strategy:
    """This test as a strategy: Hello, heartbeats every 50 ms, orders."""

    def __init__(self, ctx: zmq.asyncio.Context, bus: BusConfig, inst: str) -> None:
        self.epoch = CLOCK.now_ns()
        self.name = "risk-it"
        self.client = CommandClient(
            ctx,
            bus.connect_endpoint("ord.cmd"),
            identity=f"S:{self.name}:{self.epoch}".encode(),
            src=self.name,
            epoch=self.epoch,
            clock=CLOCK,
        )
        self.inst = inst
        self.ids: ClOrdIdSequence | None = None
        self._hb: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.client.start()
        await self.client.wait_connected(20.0)
        env = await self.client.request(
            Hello(strategy=self.name, epoch=self.epoch, inst=self.inst), 10.0
        )
        assert isinstance(env.msg, Welcome), env.msg
        self.ids = ClOrdIdSequence(env.msg.short_id, self.epoch)
        # as a worker does: a status naming its epoch (retained by the router for late joiners)
        self.client.send(
            StrategyStatus(
                strategy=self.name, inst=self.inst, state="quoting", quoting=True, epoch=self.epoch
            )
        )
        self._hb = asyncio.get_running_loop().create_task(self._beat())

    async def _beat(self) -> None:
        while True:
            self.client.send(Heartbeat(strategy=self.name))
            await asyncio.sleep(0.05)  # the heartbeat period itself, not a synchronisation

    async def order(self, inst: str, side: Side, ord_type: OrdType, sz: str, px: Decimal) -> AnyMsg:
        assert self.ids is not None
        tick = TICK[inst]
        px = (px / tick).quantize(D(1), ROUND_DOWN if side is Side.BUY else ROUND_UP) * tick
        env = await self.client.request(
            NewOrder(
                cl_ord_id=self.ids.next(), inst=inst, side=side, ord_type=ord_type, sz=D(sz), px=px
            ),
            10.0,
        )
        return env.msg

    async def close(self) -> None:
        if self._hb is not None:
            self._hb.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._hb
        await self.client.close()


async def _count_live(ex: RunningExchange, ok: Any) -> bool:
    return bool(ok(len(await ex.live_orders())))


async def poll_until(check: Any, timeout_s: float, what: str, period_s: float = 0.01) -> None:
    """Poll the venue's admin API (it has no push) until ``check()``; fail after timeout_s."""
    try:
        async with asyncio.timeout(timeout_s):
            while True:
                if await check():
                    return
                await asyncio.sleep(period_s)
    except TimeoutError:
        raise AssertionError(f"venue never showed: {what}") from None


async def latest_snapshot(
    sub: RiskTap, what: str, pred: Any, timeout_s: float = 15.0
) -> RiskSnapshot:
    msg = await sub.expect(lambda m: isinstance(m, RiskSnapshot) and pred(m), what, timeout_s)
    assert isinstance(msg, RiskSnapshot)
    return msg


async def test_pnl_matches_venue_and_loss_limit_halts_router_until_resume(
    ctx: zmq.asyncio.Context, bus_config: BusConfig, tmp_path: Path, free_port: int
) -> None:
    async with running_exchange(tmp_path, port=free_port, seed=11) as ex:
        cfg_path = write_config(tmp_path, bus_config, free_port)
        cash0, pos0 = await venue_state(ex)
        assert pos0 == {}  # a fresh account: the inception holds no positions
        with actors(cfg_path, tmp_path):
            sub = await RiskTap(ctx, bus_config).start()
            strat = Strategy(ctx, bus_config, BTC)
            try:
                await _scenario(ex, ctx, bus_config, cfg_path, sub, strat, cash0)
            finally:
                await strat.close()
                await sub.close()


async def _scenario(
    ex: RunningExchange,
    ctx: zmq.asyncio.Context,
    bus: BusConfig,
    cfg_path: Path,
    sub: RiskTap,
    strat: Strategy,
    cash0: dict[str, Decimal],
) -> None:
    await latest_snapshot(sub, "inception", lambda s: s.pnl_in_usd_since_running == 0, 40.0)
    for scope, key in (("account", "*"), ("inst", BTC), ("inst", ETH)):
        await sub.expect(state_is(scope, key, TradingState.ACTIVE), f"{scope}:{key} ACTIVE", 20.0)
    await strat.start()

    # 1. Fills on both instruments: IOC orders through the touch.
    marks = (await ex.step(0))["marks"]
    got = await strat.order(BTC, Side.BUY, OrdType.IOC, "10", D(marks[BTC]) * D("1.01"))
    assert isinstance(got, Ack), got
    got = await strat.order(ETH, Side.SELL, OrdType.IOC, "20", D(marks[ETH]) * D("0.99"))
    assert isinstance(got, Ack), got
    await latest_snapshot(
        sub,
        "both fills",
        lambda s: (
            s.net_filled_qty.get(BTC) == 10
            and s.net_filled_qty.get(ETH) == -20
            and s.exposures_base.get(BTC) == D("0.1")
            and s.exposures_base.get(ETH) == D(-2)
        ),
    )
    await ex.faults(freeze=True)
    cash, positions = await venue_state(ex)
    assert set(positions) == {BTC, ETH}

    def matches(s: RiskSnapshot) -> bool:
        pnl, base, quote = expected(cash0, cash, positions, s.price_usd)
        return (
            s.pnl_in_usd_since_running == pnl
            and s.exposures_base == base
            and s.exposures_quote == quote
            and s.price_usd.get("BTC") == dec(positions[BTC]["markPx"])
            # the router's order events (which name the strategy) may trail the fills
            and set(s.pnl_by_strategy_usd) == {"risk-it"}
        )

    last: list[RiskSnapshot] = []

    def matches_logged(s: RiskSnapshot) -> bool:
        last[:] = [s]
        return matches(s)

    try:
        snap = await latest_snapshot(sub, "P&L and exposure equal to the venue's", matches_logged)
    except AssertionError:
        s = last[0] if last else None
        want = expected(cash0, cash, positions, s.price_usd) if s else None
        status = (await ctl(ctx, bus, "risk")).status
        raise AssertionError(
            f"last snapshot {s!r}\nexpected {want!r}\nvenue {positions!r}\nrisk status {status!r}"
        ) from None
    fees = sum((dec(p["fee"]) for p in positions.values()), D(0))
    assert fees < 0
    assert snap.fees_by_ccy == {"USDT": fees}
    assert snap.buy_filled_qty == {BTC: D(10), ETH: D(0)}
    assert snap.sell_filled_qty == {BTC: D(0), ETH: D(20)}
    assert snap.trading_volume == {BTC: D(10), ETH: D(20)}
    # Beyond the original: the fill ledger of the strategy (realised + unrealised + fees) tells
    # the same story as the account-level P&L, since only this strategy traded from flat.
    assert set(snap.pnl_by_strategy_usd) == {"risk-it"}
    assert snap.pnl_by_strategy_usd["risk-it"] == snap.pnl_in_usd_since_running
    assert snap.realized_pnl_usd == 0
    assert snap.unrealized_pnl_usd + fees == snap.pnl_in_usd_since_running

    # 2. Resting orders far from the touch, then a −5 % shock on BTC: 0.1 BTC loses ~300 USD.
    for i in range(3):
        got = await strat.order(
            BTC, Side.SELL, OrdType.POST_ONLY, "1", D(marks[BTC]) * (D("1.02") + D("0.002") * i)
        )
        assert isinstance(got, Ack), got
        got = await strat.order(
            ETH, Side.BUY, OrdType.POST_ONLY, "1", D(marks[ETH]) * (D("0.98") - D("0.002") * i)
        )
        assert isinstance(got, Ack), got
    await poll_until(lambda: _count_live(ex, lambda n: n >= 6), 10.0, "6 resting orders")
    await ex.admin("/admin/faults", {"shock_pct": -5, "instId": BTC})
    halted = await sub.expect(state_is("account", "*", TradingState.HALTED), "loss halt")
    t_halt = CLOCK.monotonic_ns()
    assert isinstance(halted, RiskState)
    assert halted.reason.startswith("loss limit: pnl -")
    await poll_until(lambda: _count_live(ex, lambda n: n == 0), 5.0, "no live orders", 0.005)
    cancel_ms = (CLOCK.monotonic_ns() - t_halt) / 1e6
    logger.info("cancel-all after HALTED", ms=round(cancel_ms, 1))
    assert cancel_ms <= 250, f"router took {cancel_ms:.0f} ms to cancel after HALTED"
    got = await strat.order(ETH, Side.BUY, OrdType.POST_ONLY, "1", D(marks[ETH]) * D("0.97"))
    assert isinstance(got, Reject), got

    # 3. `okxmm resume` → ACTIVE; new orders accepted again.
    code, out = await okxmm_cli(cfg_path, "resume")
    assert code == 0, out
    await sub.expect(state_is("account", "*", TradingState.ACTIVE), "ACTIVE after resume")
    async with asyncio.timeout(10):
        while True:
            got = await strat.order(
                ETH, Side.BUY, OrdType.POST_ONLY, "1", D(marks[ETH]) * D("0.97")
            )
            if isinstance(got, Ack):
                break
            await asyncio.sleep(0.05)  # the router may not have seen ACTIVE yet
