"""The backtest end to end on a small market recorded from the local exchange (shipped in
tests/fixtures/marketdata): the live worker core quotes and gets filled, the same inputs give
the same bytes, latency and fees act as they should, and a data gap pulls the quotes."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from engine.messages import AnyMsg, BookTop
from ops.backtest.data import frames_of, instrument_info
from ops.backtest.engine import Backtest, BacktestConfig
from ops.backtest.report import summarize, write_report
from ops.marketdata.rawfile import RawFrame
from strategies.params import StrategyParams

REPO = Path(__file__).resolve().parents[3]
DATA = REPO / "tests" / "fixtures" / "marketdata" / "btc-usdt-swap-20s.okxraw.gz"
INST = "BTC-USDT-SWAP"
PARAMS = StrategyParams(
    step_pct=0.00002,
    num_orders_per_side=2,
    single_size_as_multiple_of_lot_size=10,
    max_net_buy=5,
    max_net_sell=5,
    min_requote_interval_ms=50,
    orderbook_max_delay_sec=5,
)


@pytest.fixture(scope="module")
def frames() -> list[RawFrame]:
    return list(frames_of([DATA]))


def _cfg(frames: list[RawFrame], **kw: object) -> BacktestConfig:
    base = BacktestConfig(INST, "sample_mm", PARAMS, instrument_info(INST, frames))
    return replace(base, **kw)  # type: ignore[arg-type]


def _run(frames: list[RawFrame], **kw: object) -> Backtest:
    bt = Backtest(_cfg(frames, **kw))
    bt.run(frames)
    return bt


def test_the_recorded_rules_and_a_run_that_quotes_and_fills(frames: list[RawFrame]) -> None:
    info = instrument_info(INST, frames)
    assert (info.tick_sz, info.lot_sz, info.ct_val) == (
        Decimal("0.1"),
        Decimal("0.01"),
        Decimal("0.01"),
    )
    bt = _run(frames)
    s = summarize(bt)
    assert s["fills"] > 10
    assert s["maker_fills"] > 0
    assert s["quote_uptime_bid"] > 0.5
    assert s["book_valid_share"] > 0.9
    # every fill is priced on the book's grid and paid the fee its side says
    for f in bt.fills:
        assert f.px % info.tick_sz == 0
        rate = Decimal("-0.0002") if f.maker else Decimal("-0.0005")
        assert f.fee == rate * f.sz * Decimal("0.01") * f.px
    assert Decimal(str(s["fees"])) == pytest.approx(sum(f.fee for f in bt.fills))
    # the position is what the fills add up to
    net = sum((f.sz if f.side == "buy" else -f.sz) for f in bt.fills)
    assert bt.position == net


def test_same_inputs_same_bytes(frames: list[RawFrame], tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    write_report(_run(frames), a)
    write_report(_run(frames), b)
    for name in ("summary.json", "fills.csv", "orders.csv"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_slower_order_entry_costs_fills_or_price(frames: list[RawFrame]) -> None:
    fast = summarize(_run(frames, order_latency_ns=1_000_000))
    slow = summarize(_run(frames, order_latency_ns=400_000_000))
    assert (slow["fills"], slow["pnl"]) != (fast["fills"], fast["pnl"])
    assert slow["settings"]["order_latency_ms"] == 400


def test_a_gap_in_the_data_is_reported_and_pulls_the_quotes(frames: list[RawFrame]) -> None:
    books = [i for i, f in enumerate(frames) if '"books"' in f.text[:60] and '"action"' in f.text]
    cut = books[len(books) // 3]
    holed = frames[:cut] + frames[cut + 1 :]  # one book update lost: the next one does not chain
    bt = _run(holed)
    s = summarize(bt)
    assert s["gaps"], "the gap was bridged silently"
    assert "gap" in s["gaps"][0]["reason"]
    assert s["book_valid_share"] < 1
    gap_at = s["gaps"][0]["at_ns"]
    healed = s["gaps"][0]["healed_ns"] or frames[-1].recv_ns
    during = [x for x in bt.samples if gap_at + 500_000_000 < x["ts_ns"] < healed]
    assert during, "the gap is too short to see"
    assert not any(x["bid_up"] or x["ask_up"] for x in during)  # quotes pulled while invalid
    # the venue goes on matching while we are blind: only once our cancels landed are we safe
    assert not any(gap_at + 500_000_000 < f.ts_ns < healed for f in bt.fills)


def test_the_cli_writes_the_report(tmp_path: Path) -> None:
    out = tmp_path / "report"
    r = subprocess.run(
        [sys.executable, "-m", "ops.cli", "backtest", "--data", str(DATA), "--strategy",
         "sample_mm", "--inst", INST, "--out", str(out), "--no-rate-limits"],
        capture_output=True, text=True, timeout=120, cwd=REPO, check=False,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["inst"] == INST
    assert summary["settings"]["rate_limits"] is False  # the flag is applied, not dropped
    assert summary["events"] > 500
    assert "report:" in r.stdout
    for png in ("pnl.png", "inventory.png", "quotes.png", "markouts.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png
    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 4  # self-contained
    assert "sample_mm on BTC-USDT-SWAP" in page
    bad = subprocess.run(
        [sys.executable, "-m", "ops.cli", "backtest", "--data", str(tmp_path / "nope.okxraw.gz"),
         "--strategy", "sample_mm", "--inst", INST, "--out", str(out)],
        capture_output=True, text=True, timeout=120, cwd=REPO, check=False,
    )  # fmt: skip
    assert bad.returncode == 2
    assert "does not exist" in bad.stderr
    assert "Traceback" not in bad.stderr
    empty = subprocess.run(
        [sys.executable, "-m", "ops.cli", "backtest", "--data", str(DATA), "--strategy",
         "sample_mm", "--inst", INST, "--out", str(out), "--from", "2030-01-01T00:00"],
        capture_output=True, text=True, timeout=120, cwd=REPO, check=False,
    )  # fmt: skip
    assert empty.returncode == 2
    assert "no data in that window" in empty.stderr


def test_a_grid_sweep_runs_every_combination_and_sorts_them(
    frames: list[RawFrame], tmp_path: Path
) -> None:
    from ops.backtest.sweep import parse_grid, run_sweep

    grid = parse_grid(["step_pct=0.00002,0.0001", "num_orders_per_side=1,2"])
    assert len(grid) == 4
    rows = run_sweep([DATA], _cfg(frames), grid, sort="fills", workers=2)
    assert sorted(tuple(sorted(r["params"].items())) for r in rows) == sorted(
        tuple(sorted(g.items())) for g in grid
    )
    assert [r["fills"] for r in rows] == sorted((r["fills"] for r in rows), reverse=True)
    one = next(
        r for r in rows if r["params"] == {"step_pct": "0.00002", "num_orders_per_side": "2"}
    )
    alone = summarize(_run(frames))  # PARAMS: the same values, run alone in this process
    assert (one["fills"], one["pnl"]) == (alone["fills"], alone["pnl"])
    with pytest.raises(Exception, match="not a strategy parameter"):
        parse_grid(["no_such=1"])


def test_a_sweep_on_a_dask_cluster_gives_the_process_pool_s_table(
    frames: list[RawFrame],
) -> None:
    pytest.importorskip("distributed")  # a dev dependency: installed by make venv
    from ops.backtest.sweep import parse_grid, run_sweep

    grid = parse_grid(["step_pct=0.00002,0.0001", "num_orders_per_side=1,2"])
    pool = run_sweep([DATA], _cfg(frames), grid, sort="fills", workers=2)
    dask = run_sweep([DATA], _cfg(frames), grid, sort="fills", workers=2, cluster="local")
    assert len(dask) == 4
    assert json.dumps(dask, sort_keys=True) == json.dumps(pool, sort_keys=True)
    assert len({r["fills"] for r in dask}) > 1  # the grid changed something


def test_the_risk_actor_s_loss_limit_halts_the_run(frames: list[RawFrame]) -> None:
    from risk.config import RiskConfig

    free = _run(frames)
    assert min(s["equity"] for s in free.samples) < free.cfg.start_cash  # a drawdown to trip on
    bt = _run(frames, risk=RiskConfig(loss_limit_usd=0.01))
    halts = [c for c in bt.risk_changes if c[3] == "HALTED"]
    assert halts, bt.risk_changes
    at = halts[0][0]
    assert "loss limit" in halts[0][4]
    # after the router's cancels landed nothing rests and nothing fills; new orders are refused
    settled = at + bt.cfg.order_latency_ns
    assert not any(f.ts_ns > settled for f in bt.fills)
    assert not any(x["bid_up"] or x["ask_up"] for x in bt.samples if x["ts_ns"] > settled)
    assert all(o.placed_ns <= at or o.state == "refused" for o in bt.orders.values())
    assert len(bt.fills) < len(free.fills)


def test_the_risk_actor_s_position_limit_reduces(frames: list[RawFrame]) -> None:
    from risk.config import RiskConfig

    free = _run(frames)
    limit = Decimal("0.002")  # base: two fills of 0.1 contract x 0.01
    bt = _run(frames, risk=RiskConfig(max_position_base={INST: limit}))
    states = [c[3] for c in bt.risk_changes if c[1] == "inst"]
    assert "REDUCING" in states
    assert "ACTIVE" in states  # a REDUCE breach clears by itself once back under the limit
    worst_free = max(abs(x["position"]) for x in free.samples)
    worst = max(abs(x["position"]) for x in bt.samples)
    assert worst * Decimal("0.01") > limit  # resting orders may still fill over it ...
    assert worst < worst_free  # ... but it no longer builds up as it did


class _Watching(Backtest):
    """Records the book times the worker is given, in delivery order."""

    seen: list[int]

    def _deliver(self, msg: AnyMsg) -> bool:
        if isinstance(msg, BookTop):
            self.seen.append(msg.ts_ms)
        return super()._deliver(msg)


def test_md_latency_drawn_from_recorded_samples_keeps_the_stream_in_order(
    frames: list[RawFrame], tmp_path: Path
) -> None:
    from ops.backtest.data import latency_samples

    f = tmp_path / "md.txt"
    f.write_text("# w01: market data delivery, ms\n0.2\n0.5\n40\n")
    samples = latency_samples(f, "--md-latency-file")
    assert samples == (200_000, 500_000, 40_000_000)
    bt = _Watching(_cfg(frames, md_latency_samples_ns=samples, seed=1))
    bt.seen = []
    bt.run(frames)
    assert len(bt.seen) > 150
    assert bt.seen == sorted(bt.seen)  # a fast draw never overtakes a slow one: one stream
    # the draws matter (the worker sees each book at another time: another run of events) ...
    slow = (200_000, 500_000, 4_000_000)
    runs = [
        summarize(_run(frames, md_latency_samples_ns=slow, seed=seed, order_latency_ns=1_500_000,
                       response_latency_ns=1_500_000))
        for seed in (1, 1, 2)
    ]  # fmt: skip
    assert json.dumps(runs[0], sort_keys=True) == json.dumps(runs[1], sort_keys=True)
    assert runs[0]["events"] != runs[2]["events"]
    assert runs[0]["settings"]["md_latency_samples"] == 3
    # ... and one sample is the constant latency
    one = summarize(_run(frames, md_latency_samples_ns=(1_000_000,)))
    const = summarize(_run(frames, md_latency_ns=1_000_000))
    assert (one["fills"], one["pnl"]) == (const["fills"], const["pnl"])
    bad = tmp_path / "bad.txt"
    bad.write_text("0.5\n-3\n")
    with pytest.raises(Exception, match=r"--md-latency-file.*bad.txt:2"):
        latency_samples(bad, "--md-latency-file")


def test_latency_drawn_from_recorded_samples(frames: list[RawFrame], tmp_path: Path) -> None:
    from ops.backtest.data import latency_samples

    f = tmp_path / "rtt.txt"
    f.write_text("# router ack latencies, ms\n1.5\n2.5\n400\n")
    samples = latency_samples(f)
    assert samples == (1_500_000, 2_500_000, 400_000_000)
    a = summarize(_run(frames, latency_samples_ns=samples, seed=1))
    b = summarize(_run(frames, latency_samples_ns=samples, seed=1))
    c = summarize(_run(frames, latency_samples_ns=samples, seed=2))
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)  # same seed, same run
    assert (a["fills"], a["pnl"]) != (c["fills"], c["pnl"])  # the draws matter
    fast = summarize(_run(frames, latency_samples_ns=(2_000_000,)))
    const = summarize(_run(frames, order_latency_ns=1_000_000, response_latency_ns=1_000_000))
    assert (fast["fills"], fast["pnl"]) == (const["fills"], const["pnl"])  # one sample: constant
    bad = tmp_path / "bad.txt"
    bad.write_text("1.0\nfast\n")
    with pytest.raises(Exception, match=r"bad.txt:2"):
        latency_samples(bad)


def test_a_fill_reported_before_its_book_does_not_requote_across_the_spread(
    frames: list[RawFrame],
) -> None:
    """Market data slower than the venue's answers: each own fill's report reaches the worker
    before the book showing its trade. Requoting then, off the old book, crossed the spread
    (~106 taker fills on this recording); the worker holds such a decision until the book
    catches up, so the run is the one with fast market data, fill for fill."""
    fast = _run(
        frames, md_latency_ns=500_000, order_latency_ns=1_000_000, response_latency_ns=1_000_000
    )
    slow = _run(
        frames, md_latency_ns=3_000_000, order_latency_ns=1_000_000, response_latency_ns=1_000_000
    )
    assert slow.core is not None
    assert slow.core.counters["held_for_book"] > 50  # the report came first, often
    assert [f for f in slow.fills if not f.maker] == []
    assert len(slow.fills) == len(fast.fills)


class _Counting(Backtest):
    """Records when each order command reaches the venue, per operation."""

    arrived: dict[str, list[int]]

    def _at_venue(self, payload: tuple[int, AnyMsg], now: int) -> None:
        _, msg = payload
        kind = type(msg).__name__
        self.arrived.setdefault(kind, []).append(now)
        super()._at_venue(payload, now)


def _busiest_2s(times: list[int]) -> int:
    """The most of ``times`` (ns, sorted) inside any 2 s window."""
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while t - times[lo] >= 2_000_000_000:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def test_the_router_s_rate_limits_hold_what_the_venue_would_refuse(
    frames: list[RawFrame],
) -> None:
    """20 levels a side requoted on every book: more amends than OKX takes (300 orders per 2 s
    per instrument in batches). The backtest's router holds batches until tokens are there, as
    the live one does, so no 2 s window carries more; without the limits, many do."""
    greedy = PARAMS.model_copy(
        update={"num_orders_per_side": 20, "min_requote_interval_ms": 0, "max_net_buy": 50,
                "max_net_sell": 50}
    )  # fmt: skip
    runs = {}
    for limited in (True, False):
        bt = _Counting(_cfg(frames, params=greedy, rate_limits=limited))
        bt.arrived = {}
        bt.run(frames)
        runs[limited] = bt
    limited, free = runs[True], runs[False]
    assert _busiest_2s(free.arrived["Amend"]) > 300  # the scenario does exceed the limit
    assert _busiest_2s(limited.arrived["Amend"]) <= 300
    assert _busiest_2s(limited.arrived["NewOrder"]) <= 300
    assert limited.rate_waits > 0
    assert summarize(limited)["settings"]["rate_limits"] is True
    assert summarize(limited)["rate_waits"] == limited.rate_waits
