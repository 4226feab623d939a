"""InventorySkew and Volatility against the worked numbers of reference §4."""

from __future__ import annotations

from decimal import Decimal

from strategies.base import inventory_limited_counts
from strategies.params import StrategyParams
from strategies.skew import InventorySkew, Volatility, skew_of, volatility_of
from tests.strategies.helpers import view

D = Decimal
PORT = StrategyParams(  # the port's defaults (§7.2)
    step_pct=0.001,
    num_orders_per_side=5,
    skew_factor=0.5,
    max_skew_pct=0.005,
    max_net_buy=D(100),
    max_net_sell=D(100),
    single_order_size=D("0.001"),
)


def pxs(quotes: tuple[object, ...]) -> list[str]:
    return [str(q.px) for q in quotes]  # type: ignore[attr-defined]


def test_inventory_skew_reference_example() -> None:
    v = view("50000", "50010", tick="0.1", lot="0.0001", min_sz="0.0001", net="40")
    assert skew_of(D(40), PORT) == D("0.001")
    d = InventorySkew().decide(v, PORT)
    assert d.estimates["skewed_mid"] == 49954.995
    assert d.estimates["half_step"] == 49.954995
    assert pxs(d.bids) == ["49905.0", "49855.1"]  # n_buy = int(5 × 0.4) = 2
    assert pxs(d.asks) == ["50004.9", "50054.9", "50104.9", "50154.8", "50204.8"]
    assert {str(q.sz) for q in d.bids + d.asks} == {"0.0010"}


def test_volatility_reference_example() -> None:
    mids = tuple(D(m) for m in ("50000", "50050", "49980", "50100", "50020", "50060"))
    vol = volatility_of(mids, 5)
    assert vol is not None
    assert round(vol, 10) == D("0.0015244316")
    params = PORT.model_copy(
        update={
            "volatility_lookback": 5,
            "volatility_multiplier": 2.0,
            "min_spread_pct": 0.001,
            "max_spread_pct": 0.01,
            "num_orders_per_side": 3,
        }
    )
    v = view("50000", "50010", lot="0.0001", min_sz="0.0001", net="-20", mids=mids)
    d = Volatility().decide(v, params)
    assert round(d.estimates["spread_pct"], 10) == 0.0030488632
    assert d.estimates["skewed_mid"] == 50030.0025
    assert pxs(d.bids) == ["49953.7", "49877.5", "49801.2"]
    assert pxs(d.asks) == ["50106.3", "50182.5"]  # n_sell = int(3 × 0.8) = 2


def test_volatility_without_history_uses_min_spread() -> None:
    d = Volatility().decide(view("50000", "50010", lot="0.0001", min_sz="0.0001"), PORT)
    assert d.estimates["spread_pct"] == 0.001
    assert d.estimates["vol"] == -1.0


def test_volatility_halts_above_three_max_spreads() -> None:
    mids = (D(100), D(110), D(95), D(120))
    p = PORT.model_copy(update={"volatility_lookback": 3})
    d = Volatility().decide(view("100", "100.1", lot="0.0001", min_sz="0.0001", mids=mids), p)
    assert d.halt.startswith("volatility above")


def test_weak_spot_10_2_5_volatility_ladder_never_crosses_the_book() -> None:
    # §4: default settings, no history, net +40 → the port's first sell is 49980.0 < bid 50000
    v = view("50000", "50010", lot="0.0001", min_sz="0.0001", net="40")
    crossing = Volatility().decide(v, PORT.model_copy(update={"allow_cross": True}))
    assert pxs(crossing.asks)[0] == "49980.0"
    guarded = Volatility().decide(v, PORT)
    assert pxs(guarded.asks)[0] == "50000.1"
    assert all(q.px > D(50000) for q in guarded.asks)
    assert all(q.px < D(50010) for q in guarded.bids)


def test_weak_spot_10_2_6_no_level_on_the_growing_side_at_the_limit() -> None:
    assert inventory_limited_counts(5, D(100), D(100), D(100), D("1.5")) == (0, 5)
    assert inventory_limited_counts(5, D(90), D(100), D(100), D("1.5")) == (1, 5)  # port: ≥ 1
    assert inventory_limited_counts(5, D(-100), D(100), D(100), D(1)) == (5, 0)
    d = InventorySkew().decide(
        view("50000", "50010", lot="0.0001", min_sz="0.0001", net="100"), PORT
    )
    assert d.bids == ()
    assert len(d.asks) == 5


def test_size_below_min_drops_levels() -> None:
    p = PORT.model_copy(update={"single_order_size": D("0.00001")})
    d = InventorySkew().decide(view("50000", "50010", lot="0.0001", min_sz="0.001"), p)
    assert d.bids == ()
    assert d.asks == ()
