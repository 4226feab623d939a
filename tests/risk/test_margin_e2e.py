"""Issue 16's acceptance, end to end: the whole engine (``okxmm up``: md-feed, private-gw,
router, risk, the margin actor and two ``sample_mm`` workers, each a real process) on a margin
account of the local exchange, long BTC-USDT-SWAP and ETH-USDT-SWAP, both quoted by a worker.

A crash driven through the admin API, in three steps, takes the margin ratio into warning,
danger and then close to liquidation. At every step the ``MarginState`` on ``margin|`` equals
the exchange's REST ``account/balance`` (adjEq, MMR, margin ratio) within rounding; risk goes
REDUCING at danger and HALTED near liquidation, with the margin reason on ``riskstate|``; the
workers' orders are cancelled (none live at the venue) and the venue liquidates nothing: no
liquidation event, no ``cancelSource`` 3, and the positions move only by the workers' fills.

Once for multi-currency margin (``acctLv`` 3) and once for portfolio margin (4). The market is
static (``realtime: false``): prices move only by the test's shocks, so REST and the bus see
one market; the workers and risk are told a quiet book is not a stale one.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
import zmq.asyncio

from bench.system import REPO, clean_env, until
from engine.config import BusConfig
from engine.messages import AnyMsg, MarginState, RiskState, TradingState
from engine.orders.clordid import decode
from ops.exchange.testing import RunningExchange, running_exchange
from tests.ops.test_up import _okxmm

from .tap import RiskTap
from .test_margin_process import MarginTap, _balance, _rest, _same

pytestmark = [pytest.mark.slow, pytest.mark.timeout(150)]
D = Decimal
BTC, ETH = "BTC-USDT-SWAP", "ETH-USDT-SWAP"
ACCOUNT = ("margin-e2e-key", "margin-e2e-SECRET-1", "margin-e2e-PASS-1")
# warning at 500 %, danger (reduce) at 300 %, halt at 150 %, the venue liquidates at 100 %
MARGIN = {"thresholds": {"warning": "5", "danger": "3", "liquidation": "1"}, "halt_ratio": "1.5"}
TIERS = {
    "discount": {"BTC": [{"max_amt": "20", "rate": "0.95"}, {"rate": "0.8"}],
                 "ETH": [{"max_amt": "500", "rate": "0.9"}, {"rate": "0.7"}]},
    "position": {u: [{"max_size": s, "mmr": "0.015", "imr": "0.03"}, {"mmr": "0.03", "imr": "0.06"}]
                 for u, s in (("BTC", "50"), ("ETH", "1000"))},
    "liq_fee_rate": "0.0005",
}  # fmt: skip
# portfolio margin: MR1 ±3 %, MR6 half the loss at ±5 %, MR7 the position tier's MMR
PORTFOLIO = {"spot_shock_pct": "3", "grid_points": 3, "extreme_move_pct": "5",
             "extreme_factor": "0.5"}  # fmt: skip
# USDT so that each account starts near a 600 % margin ratio with 1 BTC and 10 ETH long
START_USDT = {3: "8400", 4: "24300"}
# quotes 0.1 % and 0.2 % from the touch, one lot each: sweeps of them do not move the ratio
PARAMS = {
    "step_pct": 0.001,
    "num_orders_per_side": 2,
    "single_size_as_multiple_of_lot_size": 1,
    "max_net_buy": 1000,
    "max_net_sell": 1000,
    "orderbook_max_delay_sec": 600,  # the book moves only by the shocks
}
# (ratio aimed at, status, action) for each crash step
STEPS = [("4", "warning", ""), ("2.2", "danger", "reduce"), ("1.25", "danger", "halt")]


def _exchange(acct_lv: int) -> dict[str, Any]:
    return {
        "acct_lv": acct_lv,
        "realtime": False,
        "leverage": "50",
        "start_balances": {"USDT": START_USDT[acct_lv]},
        "margin_tiers": TIERS,
        "portfolio": PORTFOLIO,
    }


def _start_up(tmp_path: Path, bus: BusConfig, port: int, acct_lv: int) -> subprocess.Popen[bytes]:
    params = tmp_path / "mm.yaml"
    params.write_text(yaml.safe_dump(PARAMS))
    cfg = {
        "venue": {"kind": "local"},
        "exchange": {"port": port, **_exchange(acct_lv)},
        "bus": {"transport": "ipc", "ipc_dir": bus.ipc_dir},
        "instruments": [BTC, ETH],
        "strategies": [
            {"name": "mm-btc", "strategy": "sample_mm", "inst": BTC, "params": str(params)},
            {"name": "mm-eth", "strategy": "sample_mm", "inst": ETH, "params": str(params)},
        ],
        "supervisor": {"start_exchange": False, "backoff_initial_s": 0.2},
        "margin": MARGIN,
        "risk": {"md_stale_ms": 600_000},  # the book moves only by the shocks
        "log_dir": str(tmp_path / "logs"),
        "var_dir": str(tmp_path / "var"),
    }
    cfg_path = tmp_path / "okxmm.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg))
    env = clean_env()
    env.update(zip(("OKX_API_KEY", "OKX_API_SECRET", "OKX_API_PASSPHRASE"), ACCOUNT, strict=True))
    with (tmp_path / "up.out").open("wb") as out:
        return subprocess.Popen(
            [*_okxmm(), "up", "--config", str(cfg_path), "--no-status"],
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def _buy(ex: RunningExchange, inst: str, mark: str, sz: str) -> None:
    px = (D(mark) * D("1.01")).quantize(D("0.1"))
    order = {"instId": inst, "tdMode": "cross", "side": "buy", "ordType": "ioc",
             "px": str(px), "sz": sz}  # fmt: skip
    placed = await _rest(ex, "POST", "/api/v5/trade/order", order)
    assert placed["data"][0]["sCode"] == "0", placed


async def _positions(ex: RunningExchange) -> dict[str, Decimal]:
    rows = (await _rest(ex, "GET", "/api/v5/account/positions"))["data"]
    return {p["instId"]: D(p["pos"]) for p in rows}


async def _fills_net(ex: RunningExchange) -> dict[str, Decimal]:
    totals = await ex.admin(f"/admin/fill-totals?apiKey={ACCOUNT[0]}")
    return {k: D(t["net"]) for k, t in totals.items()}


def _worker_orders(orders: list[dict[str, Any]]) -> dict[str, int]:
    """instId → how many live orders a worker (a decodable clOrdId) has there."""
    out: dict[str, int] = {}
    for o in orders:
        if decode(o.get("clOrdId", "")) is not None:
            out[o["instId"]] = out.get(o["instId"], 0) + 1
    return out


def _async(f: Callable[[], bool | None]) -> Callable[[], Awaitable[bool | None]]:
    async def probe() -> bool | None:
        return f()

    return probe


def _shock_for(bal: dict[str, Any], target: Decimal) -> Decimal:
    """The move (in %) of every price that brings the account's ratio to ``target``.

    Only USDT and linear longs: a move y changes adjEq by notional × y and scales the margin
    requirement (adjEq / ratio: MMR and liquidation fees, or the stressed loss) by 1 + y."""
    adj, notional = D(bal["adjEq"]), D(bal["notionalUsd"])
    need = adj / D(bal["mgnRatio"])
    y = (target * need - adj) / (notional - target * need)
    return (y * 100).quantize(D("0.001"))


def _margin_reason(state: TradingState, words: str) -> Any:
    def pred(m: AnyMsg) -> bool:
        return (
            isinstance(m, RiskState)
            and (m.scope, m.key, m.state) == ("account", "*", state)
            and m.reason.startswith("margin: margin ratio")
            and words in m.reason
        )

    return pred


async def _matches_rest(tap: MarginTap, ex: RunningExchange, what: str) -> MarginState:
    """A MarginState equal to the venue's REST numbers (within rounding). REST is read again
    while the bus has not caught up: the workers' requotes after a shock may fill and move
    the venue's numbers after a read."""
    last: dict[str, Any] = {}

    async def probe() -> MarginState | None:
        bal = await _balance(ex)
        last.update(bal)

        def same(m: MarginState) -> bool:
            # all four numbers from one read: a requote's fill between the REST read and the
            # push moves MMR and notional by less than the ratio's tolerance
            return (
                _same(m.mgn_ratio, bal["mgnRatio"])
                # the bus carries avgPx rounded to the tick: ≤ half a tick per unit of position
                and abs(m.adj_eq - D(bal["adjEq"])) <= D("0.2")
                and _same(m.mmr, bal["mmr"], "1e-9")
                and _same(m.notional_usd, bal["notionalUsd"], "1e-9")
            )

        if tap.last is not None and same(tap.last):
            return tap.last
        try:
            return await tap.expect(same, what, timeout_s=1.0)
        except AssertionError:
            return None

    try:
        st = await until(what, probe, 30, every_s=0.01)
    except AssertionError:
        raise AssertionError(f"{what}: bus {tap.last}, REST {last}") from None
    return st


async def _venue_ratio_pushed(tap: MarginTap, ex: RunningExchange, what: str) -> None:
    """The venue's own ratio reached the bus (its account push, through private-gw)."""
    bal = await _balance(ex)
    await tap.expect(lambda m: _same(m.venue_mgn_ratio, bal["mgnRatio"], "1e-4"), what, 10.0)


@pytest.mark.parametrize("acct_lv", [3, 4], ids=["multi-currency", "portfolio"])
async def test_a_crash_reduces_then_halts_and_the_venue_never_liquidates(
    tmp_path: Path, free_port: int, bus_config: BusConfig, acct_lv: int
) -> None:
    ctx = zmq.asyncio.Context()
    async with running_exchange(
        tmp_path, port=free_port, seed=5, accounts=[ACCOUNT], config=_exchange(acct_lv)
    ) as ex:
        marks = (await ex.step(0))["marks"]
        await _buy(ex, BTC, marks[BTC], "100")  # 1 BTC
        await _buy(ex, ETH, marks[ETH], "100")  # 10 ETH
        pos0, fills0 = await _positions(ex), await _fills_net(ex)
        assert pos0 == {BTC: D(100), ETH: D(100)}, pos0
        up = await asyncio.to_thread(_start_up, tmp_path, bus_config, free_port, acct_lv)
        tap = MarginTap(ctx, bus_config)
        risk = RiskTap(ctx, bus_config)
        try:
            await tap.sub.start()
            await risk.start()

            async def both_quoting() -> dict[str, int] | None:
                assert up.poll() is None, (tmp_path / "up.out").read_text()[-3000:]
                n = _worker_orders(await ex.live_orders(ACCOUNT[0]))
                return n if n.get(BTC) and n.get(ETH) else None

            await until("both workers quoting", both_quoting, 60, every_s=0.05)
            st = await _matches_rest(tap, ex, "the venue's numbers before the crash")
            assert (st.acct_lv, st.status, st.action) == (acct_lv, "healthy", ""), st
            # the venue's own ratio, pushed on its account channel, through private-gw
            assert _same(st.venue_mgn_ratio, str(st.mgn_ratio), "1e-4"), st
            assert st.mgn_ratio is not None
            assert 5 < st.mgn_ratio < 7, st  # as START_USDT was chosen
            # multi-currency: the tiers' 1.5 % MMR; portfolio: the stressed loss, MR1 (3 %)
            # + MR7 (the tier's 1.5 %) of the long notional
            rate = {3: D("0.015"), 4: D("0.045")}[acct_lv]
            assert abs(st.mmr - rate * st.notional_usd) < D("0.01"), st

            before: list[str] = []  # the orders live when the last shock comes
            for target, status, action in STEPS:
                if action == "halt":
                    live = _worker_orders(await ex.live_orders(ACCOUNT[0]))
                    assert live, "no worker order left to cancel"  # the halt must cancel some
                    before = [o["ordId"] for o in await ex.live_orders(ACCOUNT[0])]
                shock = _shock_for(await _balance(ex), D(target))
                await ex.admin("/admin/faults", {"shock_pct": float(shock)})
                st = await _matches_rest(tap, ex, f"the venue's numbers after {shock} %")
                await _venue_ratio_pushed(tap, ex, f"the venue's pushed ratio after {shock} %")
                assert (st.status, st.action) == (status, action), (target, st)
                assert st.mgn_ratio is not None
                assert abs(st.mgn_ratio - D(target)) < D("0.05"), (target, st)
                if action == "reduce":
                    red = await risk.expect(
                        _margin_reason(TradingState.REDUCING, "danger at 300 %"),
                        "risk REDUCING for the margin",
                        20.0,
                    )
                    assert isinstance(red, RiskState)
                    assert st.liq_px is not None
                    assert st.price is not None
                    assert st.liq_px < st.price
            await risk.expect(
                _margin_reason(TradingState.HALTED, "halt at 150 %"), "risk HALTED", 20.0
            )

            async def none_live() -> bool | None:
                return True if not await ex.live_orders(ACCOUNT[0]) else None

            await until("no live order at the venue", none_live, 10, every_s=0.05)

            def router_halt_logged() -> bool | None:
                log = (tmp_path / "logs" / "router.jsonl").read_text()
                hits = [ln for ln in log.splitlines() if "risk halt: cancelling" in ln]
                return True if any("margin: margin ratio" in ln for ln in hits) else None

            await until("the router's cancel on the margin halt", _async(router_halt_logged), 5)
            for ord_id in before:
                got = await _rest(ex, "GET", f"/api/v5/trade/order?instId={BTC}&ordId={ord_id}")
                if not got["data"]:
                    got = await _rest(ex, "GET", f"/api/v5/trade/order?instId={ETH}&ordId={ord_id}")
                (o,) = got["data"]
                assert o["state"] in ("canceled", "filled"), o
                assert o["cancelSource"] != "3", o  # not the venue's risk cancellation

            # the venue liquidated nothing: still above its level, no liquidation, and the
            # positions moved only by the workers' own fills
            bal = await _balance(ex)
            assert D(bal["mgnRatio"]) > 1, bal
            events = await ex.admin("/admin/events?kind=liquidation")
            assert events["events"] == [], events
            pos, fills = await _positions(ex), await _fills_net(ex)
            for inst in (BTC, ETH):
                moved = fills.get(inst, D(0)) - fills0.get(inst, D(0))
                assert pos[inst] == pos0[inst] + moved, (inst, pos, pos0, moved)
            assert pos[BTC] >= pos0[BTC]
            assert pos[ETH] >= pos0[ETH]

            up.send_signal(signal.SIGTERM)
            code = await asyncio.to_thread(up.wait, 60)
            assert code == 0, (tmp_path / "up.out").read_text()[-3000:]
        finally:
            if up.poll() is None:
                up.kill()
                await asyncio.to_thread(up.wait, 10)
            await risk.close()
            await tap.sub.close()
            ctx.destroy(linger=0)
