"""Parity: the live engine against the exchange replaying a recorded market, and the backtest
on the same file, same params and latencies, agree on the quotes and fills (tolerances and why
in docs/backtest.md, "Parity with the live engine").

The exchange (replay mode) pushes the shipped recording's frames at their recorded times and
fills our orders with the backtest's queue model; ``okxmm up`` runs the real md-feed, router,
private-gw, risk and one ``sample_mm`` worker process against it. The backtest's latencies are
the ones the live run measured (the router's order round trip)."""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
from collections import Counter
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
import zmq.asyncio
from loguru import logger

from bench.system import clean_env, until
from engine.config import BusConfig
from ops.backtest.data import frames_of, instrument_info, latency_samples
from ops.backtest.engine import Backtest, BacktestConfig
from ops.exchange.testing import running_exchange
from ops.marketdata.rawfile import RawFrame
from strategies.params import StrategyParams
from tests.gateway.harness import ctl

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

REPO = Path(__file__).resolve().parents[3]
DATA = REPO / "tests" / "fixtures" / "marketdata" / "btc-usdt-swap-20s.okxraw.gz"
INST = "BTC-USDT-SWAP"
ACCOUNT = ("parity-key-3c1d", "parity-SECRET-8a2f", "parity-PASS-5b7e")
PARAMS: dict[str, Any] = {
    "step_pct": 0.00002,
    "num_orders_per_side": 2,
    "single_size_as_multiple_of_lot_size": 10,
    "max_net_buy": 5,
    "max_net_sell": 5,
    "min_requote_interval_ms": 50,
    "orderbook_max_delay_sec": 5,
}
CT_VAL = Decimal("0.01")
# the book's path (exchange → md-feed → worker) has fewer hops than an order's round trip
# (worker → router → exchange → private-gw → worker); docs/backtest.md says why it matters
MD_LATENCY_NS = 500_000


def _quoting_before_the_replay(frames: list[RawFrame]) -> list[RawFrame]:
    """The live worker quotes on the first recorded book for as long as the engine takes to
    start, before the replay pushes the next frame: the backtest gets the same head start (the
    frames up to the first book snapshot move 1 s earlier)."""
    k = next(i for i, f in enumerate(frames) if f.stream.startswith("rest:books:"))
    early = [RawFrame(f.recv_ns - 1_000_000_000, f.stream, f.text) for f in frames[: k + 1]]
    return early + frames[k + 1 :]


def _start_up(root: Path, port: int, bus: BusConfig) -> subprocess.Popen[bytes]:
    params = root / "params.yaml"
    params.write_text(yaml.safe_dump(PARAMS))
    cfg = {
        "venue": {"kind": "local"},
        "exchange": {"port": port},
        "bus": {"transport": bus.transport, "ipc_dir": bus.ipc_dir},
        "instruments": [INST],
        "strategies": [
            {"name": "w01", "strategy": "sample_mm", "inst": INST, "params": str(params)}
        ],
        "supervisor": {"start_exchange": False},
        "log_dir": str(root / "logs"),
        "var_dir": str(root / "var"),
    }
    path = root / "okxmm.yaml"
    path.write_text(yaml.safe_dump(cfg))
    env = clean_env()
    names = ("OKX_API_KEY", "OKX_API_SECRET", "OKX_API_PASSPHRASE")
    env.update(zip(names, ACCOUNT, strict=True))
    script = REPO / ".venv" / "bin" / "okxmm"
    with (root / "up.out").open("wb") as out:
        return subprocess.Popen(
            [str(script), "up", "--config", str(path), "--no-status"],
            cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip


def _save_latencies(root: Path, target: str, out: Path) -> subprocess.CompletedProcess[str]:
    script = REPO / ".venv" / "bin" / "okxmm"
    cmd = [
        str(script),
        "latencies",
        target,
        "--out",
        str(out),
        "--config",
        str(root / "okxmm.yaml"),
    ]
    return subprocess.run(
        cmd, cwd=REPO, env=clean_env(), capture_output=True, text=True, timeout=30
    )


def _pnl(fills: list[tuple[str, Decimal, Decimal]], mid: Decimal) -> Decimal:
    """Cash flow plus the position marked at ``mid`` (fees left out: both sides charge the same
    rates on the same fills)."""
    cash = sum((-sz if s == "buy" else sz) * px * CT_VAL for s, px, sz in fills)
    pos = sum((sz if s == "buy" else -sz) for s, px, sz in fills)
    return Decimal(cash) + Decimal(pos) * CT_VAL * mid


async def test_live_engine_and_backtest_agree_on_a_replayed_market(
    tmp_path: Path, free_port: int, bus_config: BusConfig
) -> None:
    exchange = {"replay": {"path": str(DATA), "inst_id": INST, "speed": 1.0}}
    async with running_exchange(
        tmp_path, port=free_port, accounts=[ACCOUNT], config=exchange
    ) as ex:
        up = await asyncio.to_thread(_start_up, tmp_path, free_port, bus_config)
        try:

            async def quoting() -> bool | None:
                if up.poll() is not None:
                    raise AssertionError(f"okxmm up exited {up.returncode}")
                return True if len(await ex.live_orders()) >= 2 else None

            # the worker quotes on the first recorded book before the replay starts
            await until("the worker quoting on the recorded book", quoting, 60)
            await ex.admin("/admin/replay", {})

            async def done() -> dict[str, Any] | None:
                st = await ex.admin("/admin/replay")
                return st if st["done"] else None

            live = await until("the replay to finish", done, 60)
            # the latencies the live run had, saved as a user would for a backtest
            rtt_file, md_file = tmp_path / "rtt.txt", tmp_path / "md.txt"
            for target, path in (("router", rtt_file), ("w01", md_file)):
                got = await asyncio.to_thread(_save_latencies, tmp_path, target, path)
                assert got.returncode == 0, got.stdout + got.stderr
            ctx = zmq.asyncio.Context()
            try:
                reply = await ctl(ctx, bus_config.connect_endpoint("ctl.router"), "status")
            finally:
                ctx.destroy(linger=0)
            ack_p50_us = float(reply.status.get("ack_p50_us") or 2000)
        finally:
            up.terminate()
            await asyncio.to_thread(up.wait, 30)

    # the backtest: same file, params and (measured) latencies
    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    frames = _quoting_before_the_replay(list(frames_of([DATA])))
    one_way = int(ack_p50_us * 1000 / 2)
    cfg = BacktestConfig(
        INST, "sample_mm", StrategyParams.model_validate(PARAMS), instrument_info(INST, frames),
        trace_frames=True,
    )  # fmt: skip
    cfg = replace(
        cfg, order_latency_ns=one_way, response_latency_ns=one_way, md_latency_ns=MD_LATENCY_NS
    )
    bt = Backtest(cfg)
    bt.run(frames)

    live_states = {int(t): (b, a) for t, b, a, _ in live["states"]}
    bt_states = {t: (b, a) for t, b, a, _ in bt.frame_states if t in live_states}
    assert len(bt_states) == len(live_states) > 300
    same = sum(1 for t, q in bt_states.items() if live_states[t] == q)
    quoted = sum(1 for q in live_states.values() if q != (None, None))
    share = same / len(bt_states)
    live_fills = [(s, Decimal(px), Decimal(sz)) for _, s, px, sz, _ in live["fills"]]
    bt_fills = [(f.side, f.px, f.sz) for f in bt.fills]
    mid = bt.mid()
    assert mid is not None
    pnl_live, pnl_bt = _pnl(live_fills, mid), _pnl(bt_fills, mid)
    same_fills = (Counter(live_fills) & Counter(bt_fills)).total()
    logger.warning(
        f"parity: quotes equal at {share:.1%} of {len(bt_states)} frames ({quoted} quoted), "
        f"fills live {len(live_fills)} backtest {len(bt_fills)}, "
        f"same fills {same_fills}, pnl live {pnl_live:.4f} backtest {pnl_bt:.4f}, "
        f"ack p50 {ack_p50_us:.0f} us"
    )
    # the live run's own latency distributions (okxmm latencies) drive a second backtest
    rtt, md = latency_samples(rtt_file), latency_samples(md_file, "--md-latency-file")
    assert len(rtt) > 20, rtt  # every order round trip of the run
    assert len(md) > 300, len(md)  # every book, trade, ticker and mark
    assert statistics.median(md) < statistics.median(rtt), (md, rtt)  # one bus hop vs. a venue trip
    drawn = Backtest(replace(cfg, latency_samples_ns=rtt, md_latency_samples_ns=md, seed=1))
    drawn.run(frames)
    assert len(drawn.fills) > 50  # (how many: docs/backtest.md, "Parity", on the two regimes)
    logger.warning(
        f"parity: with the recorded distributions (rtt p50 {statistics.median(rtt) / 1e6:.2f} ms,"
        f" md p50 {statistics.median(md) / 1e6:.2f} ms) the backtest fills {len(drawn.fills)}"
    )
    assert quoted > 0.8 * len(live_states)  # the live engine quoted through the replay
    assert share >= 0.9
    assert len(bt_fills) > 50
    assert abs(len(live_fills) - len(bt_fills)) <= max(3, len(bt_fills) // 20)
    # the same fills (side, price, size), up to a few: as multisets, since two fills caused by
    # one frame may come in either order
    assert same_fills >= 0.95 * len(bt_fills)
    notional = sum(sz for _, _, sz in bt_fills) * CT_VAL * mid
    assert abs(pnl_live - pnl_bt) <= Decimal("0.00001") * notional  # 0.1 bp of what was traded
