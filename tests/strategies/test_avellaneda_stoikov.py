"""Avellaneda–Stoikov: formulas with worked numbers, estimators, inventory limits."""

from __future__ import annotations

import math
from dataclasses import replace
from decimal import Decimal

from engine.messages import Side
from strategies.avellaneda_stoikov import (
    AvellanedaStoikov,
    as_quotes,
    estimate_intensity,
    estimate_kappa,
    estimate_sigma,
)
from strategies.params import StrategyParams
from strategies.series import TapeTrade
from tests.strategies.helpers import view

D = Decimal
NS = 1_000_000_000
P = StrategyParams(
    as_gamma=10.0,
    as_horizon_sec=60.0,
    as_kappa=2000.0,
    as_sigma_default=0.0002,
    min_spread_pct=0.0001,
    max_spread_pct=0.01,
    num_orders_per_side=2,
    step_pct=0.001,
    single_order_size=D(1),
    max_net_buy=D(5),
    max_net_sell=D(5),
)


def test_reservation_price_and_optimal_spread_worked_example() -> None:
    # γσ²τ = 10 × 0.0002² × 60 = 2.4e-5; r = 50000 × (1 − 2 × 2.4e-5) = 49997.6
    # spread = 2.4e-5 + (2/10)·ln(1 + 10/2000) = 0.00102150830...
    r, spread, raw = as_quotes(
        mid=50000.0,
        sigma=0.0002,
        kappa=2000.0,
        gamma=10.0,
        horizon=60.0,
        q=2.0,
        min_spread=0.0001,
        max_spread=0.01,
    )
    assert math.isclose(r, 49997.6, rel_tol=1e-12)
    assert math.isclose(raw, 2.4e-5 + 0.2 * math.log(1.005), rel_tol=1e-12)
    assert spread == raw
    _, clamped, _ = as_quotes(
        mid=50000.0,
        sigma=0.0002,
        kappa=2000.0,
        gamma=10.0,
        horizon=60.0,
        q=2.0,
        min_spread=0.002,
        max_spread=0.01,
    )
    assert clamped == 0.002


def test_ladder_worked_example() -> None:
    v = view("49999.5", "50000.5", lot="1", min_sz="1", net="2")
    d = AvellanedaStoikov().decide(v, P)
    # bid1 = r(1 − s/2) = 49972.0635 → floor 49972.0; ask1 = 50023.1365 → ceil 50023.2
    assert [str(q.px) for q in d.bids] == ["49972.0", "49922.0"]
    assert [str(q.px) for q in d.asks] == ["50023.2", "50073.2"]
    assert d.estimates["q"] == 2.0
    assert math.isclose(d.estimates["reservation_px"], 49997.6)
    assert d.estimates["sigma_estimated"] == 0.0
    assert {"sigma", "kappa", "A", "spread_pct", "gamma", "horizon_s"} <= set(d.estimates)


def test_long_inventory_shifts_quotes_down() -> None:
    flat = AvellanedaStoikov().decide(view("49999.5", "50000.5", lot="1", min_sz="1"), P)
    long = AvellanedaStoikov().decide(view("49999.5", "50000.5", lot="1", min_sz="1", net="4"), P)
    assert long.bids[0].px < flat.bids[0].px
    assert long.asks[0].px < flat.asks[0].px


def test_inventory_limits_drop_the_growing_side() -> None:
    d = AvellanedaStoikov().decide(view("49999.5", "50000.5", lot="1", min_sz="1", net="5"), P)
    assert d.bids == ()
    assert len(d.asks) == 2
    d = AvellanedaStoikov().decide(view("49999.5", "50000.5", lot="1", min_sz="1", net="-5"), P)
    assert d.asks == ()


def test_never_crosses_the_book() -> None:
    huge = P.model_copy(update={"as_gamma": 1000.0, "as_sigma_default": 0.01})
    d = AvellanedaStoikov().decide(view("49999.5", "50000.5", lot="1", min_sz="1", net="4"), huge)
    assert all(q.px < D("50000.5") for q in d.bids)
    assert all(q.px > D("49999.5") for q in d.asks)


def test_sigma_estimate_per_root_second() -> None:
    # mids alternate ±1 % every 2 s: r² / Δt = ln(1.01)² / 2 (and the return back)
    mids = [D(100), D(101), D(100), D(101), D(100)]
    samples = [(i * 2 * NS, m) for i, m in enumerate(mids)]
    sigma = estimate_sigma(samples, 3)
    assert sigma is not None
    up, down = math.log(1.01) ** 2 / 2, math.log(100 / 101) ** 2 / 2
    assert math.isclose(sigma, math.sqrt((up + down) / 2))
    assert estimate_sigma(samples[:2], 3) is None


def test_kappa_and_intensity_from_trades() -> None:
    # relative distances 0.001 and 0.003 → mean 0.002 → κ = 500; 2 trades over 4 s → A = 0.5
    trades = [
        TapeTrade(0, D("100.1"), D(1), Side.BUY, D(100)),
        TapeTrade(4 * NS, D("99.7"), D(1), Side.SELL, D(100)),
    ]
    kappa = estimate_kappa(trades, 2, D("0.01"))
    assert kappa is not None
    assert math.isclose(kappa, 500.0)
    assert estimate_kappa(trades, 3, D("0.01")) is None
    assert math.isclose(estimate_intensity(trades, 4 * NS, 300.0), 0.5)


def test_estimates_used_once_enough_data() -> None:
    v = view("99.99", "100.01", tick="0.01", lot="1", min_sz="1")
    samples = tuple((i * NS, D(100) + D(i % 2) / 100) for i in range(20))
    trades = tuple(TapeTrade(i * NS, D("100.05"), D(1), Side.BUY, D(100)) for i in range(25))
    v = replace(v, mid_samples=samples, trades=trades, now_ns=25 * NS)
    est = AvellanedaStoikov().estimates(v, P.model_copy(update={"as_kappa": None}))
    assert est.sigma_estimated
    assert est.kappa_estimated
    assert math.isclose(est.kappa, 2000.0)  # mean distance 0.0005
    assert est.intensity > 0
