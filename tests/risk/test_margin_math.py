"""Margin math on hand-worked examples (numbers worked on paper in the comments)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from risk.margin.multicurrency import MarginInputs, PositionIn, compute
from risk.margin.portfolio import PortfolioParams, portfolio_margin
from risk.margin.stress import (
    MarginStatus,
    MarginThresholds,
    classify,
    liquidation_price,
    stress_table,
)
from risk.margin.tiers import (
    DiscountTier,
    PositionTier,
    TierTable,
    discount_rate,
    discounted_equity_usd,
    position_tier,
)

D = Decimal

BTC_TIERS = [
    DiscountTier(max_amt=D(20), rate=D("0.98")),
    DiscountTier(max_amt=D(50), rate=D("0.95")),
    DiscountTier(rate=D("0.9")),
]
TIERS = TierTable(
    discount={"BTC": [DiscountTier(rate=D("0.95"))]},
    default_position_tier=PositionTier(mmr=D("0.004"), imr=D("0.01")),
    liq_fee_rate=D("0.0005"),
)
TH = MarginThresholds(warning=D(3), danger=D(2), liquidation=D(1))


def _swap(pos: str, avg: str = "50000", mark: str = "50000") -> PositionIn:
    return PositionIn("BTC-USDT-SWAP", "BTC", "USDT", D(pos), D(avg), D(mark))


def test_discount_slices_are_valued_at_their_own_rates() -> None:
    # 100 BTC @ 60 000: 20 × 0.98 + 30 × 0.95 + 50 × 0.9 = 93.1 BTC → 5 586 000 USD
    assert discounted_equity_usd(D(100), D(60000), BTC_TIERS) == D("5586000")
    assert discount_rate(D(100), D(60000), BTC_TIERS) == D("0.931")
    # within the first tier only its rate applies
    assert discounted_equity_usd(D(10), D(60000), BTC_TIERS) == D("588000")


def test_a_liability_counts_in_full_and_equity_beyond_the_last_bound_counts_zero() -> None:
    assert discounted_equity_usd(D(-2), D(60000), BTC_TIERS) == D(-120000)
    bounded = [DiscountTier(max_amt=D(10), rate=D("0.5"))]
    assert discounted_equity_usd(D(12), D(100), bounded) == D(500)


def test_the_whole_position_takes_its_sizes_tier() -> None:
    tiers = [
        PositionTier(max_size=D(1), mmr=D("0.004"), imr=D("0.01")),
        PositionTier(max_size=D(5), mmr=D("0.01"), imr=D("0.02")),
    ]
    assert position_tier(D(-2), tiers).mmr == D("0.01")
    assert position_tier(D(1), tiers).mmr == D("0.004")
    assert position_tier(D(50), tiers).mmr == D("0.01")  # beyond every bound: the last


def test_a_hedged_account_margin_ratio() -> None:
    # 10 000 USDT + 1 BTC @ 50 000 (discount 0.95), short 2 BTC swap at 50 000:
    # adjEq = 10 000 + 47 500 = 57 500; notional 100 000 → MMR 400, IMR 1 000, fee 50
    inp = MarginInputs(
        cash={"USDT": D(10000), "BTC": D(1)},
        prices={"USDT": D(1), "BTC": D(50000)},
        positions=[_swap("-2")],
    )
    m = compute(inp, TIERS)
    assert (m.adj_eq, m.total_eq) == (D(57500), D(60000))
    assert (m.mmr, m.imr, m.liq_fees, m.notional_usd) == (D(400), D(1000), D(50), D(100000))
    assert m.mgn_ratio == D(57500) / D(450)
    assert m.ccys["BTC"].discount == D("0.95")


def test_a_loss_beyond_cash_is_a_liability() -> None:
    # 1 000 USDT, long 1 BTC from 50 000, mark 45 000: USDT eq = 1 000 − 5 000 = −4 000
    inp = MarginInputs(
        cash={"USDT": D(1000)},
        prices={"USDT": D(1), "BTC": D(45000)},
        positions=[_swap("1", mark="45000")],
        interest={"USDT": D(1)},
    )
    usdt = compute(inp, TIERS).ccys["USDT"]
    assert (usdt.eq, usdt.liab, usdt.interest) == (D(-4001), D(4001), D(1))


def test_stress_rows_split_spot_and_perp_and_reprice_margin() -> None:
    inp = MarginInputs(
        cash={"USDT": D(10000), "BTC": D(1)},
        prices={"USDT": D(1), "BTC": D(50000)},
        positions=[_swap("-2")],
    )
    (down, up) = stress_table(inp, "BTC", TIERS, TH, [D(-10), D(50)])
    # −10 %: BTC 45 000; spot −5 000, short +10 000; adjEq 20 000 + 42 750; need 90 000 × 0.0045
    assert (down.price, down.spot_change_usd, down.perp_change_usd) == (
        D(45000),
        D(-5000),
        D(10000),
    )
    assert down.net_change_usd == D(5000)
    assert down.adj_eq == D(62750)
    assert down.mgn_ratio == D(62750) / D(405)
    assert down.status is MarginStatus.HEALTHY
    # +50 %: 75 000; USDT 10 000 − 50 000 = −40 000; BTC 71 250 → adjEq 31 250; need 675
    assert up.adj_eq == D(31250)
    assert up.mgn_ratio == D(31250) / D(675)


def test_liquidation_price_of_a_long_is_where_the_ratio_hits_one() -> None:
    # 1 000 USDT, long 1 BTC at 50 000: adjEq = P − 49 000, need = 0.0045 P → P = 49 000 / 0.9955
    inp = MarginInputs(
        cash={"USDT": D(1000)}, prices={"USDT": D(1), "BTC": D(50000)}, positions=[_swap("1")]
    )
    pt = liquidation_price(inp, "BTC", TIERS, D(1))
    assert pt is not None
    assert pt.price == pytest.approx(D(49000) / D("0.9955"), abs=D("0.0001"))
    assert pt.move_usd == pytest.approx(pt.price - 50000, abs=D("0.0001"))
    assert pt.move_pct < 0
    rows = stress_table(inp, "BTC", TIERS, TH, [D(-10)])
    assert rows[0].status is MarginStatus.LIQUIDATION  # adjEq −4 000
    assert liquidation_price(inp, "BTC", TIERS, D(1), down=False) is None


def test_liquidation_price_of_a_short_is_above() -> None:
    # adjEq = 110 000 − 1.05 P, need = 0.009 P → P = 110 000 / 1.059
    inp = MarginInputs(
        cash={"USDT": D(10000), "BTC": D(1)},
        prices={"USDT": D(1), "BTC": D(50000)},
        positions=[_swap("-2")],
    )
    assert liquidation_price(inp, "BTC", TIERS, D(1)) is None  # falls only help a net short
    pt = liquidation_price(inp, "BTC", TIERS, D(1), down=False)
    assert pt is not None
    assert pt.price == pytest.approx(D(110000) / D("1.059"), abs=D("0.0001"))


def test_status_against_thresholds() -> None:
    assert classify(None, TH) is MarginStatus.HEALTHY
    assert classify(D("3.01"), TH) is MarginStatus.HEALTHY
    assert classify(D(3), TH) is MarginStatus.WARNING
    assert classify(D(2), TH) is MarginStatus.DANGER
    assert classify(D(1), TH) is MarginStatus.LIQUIDATION
    with pytest.raises(ValueError, match="warning > danger"):
        MarginThresholds(warning=D(1), danger=D(2), liquidation=D(1))


def test_portfolio_margin_of_a_hedged_and_an_open_book() -> None:
    params = PortfolioParams(
        spot_shock_pct=D(15), extreme_move_pct=D(40), extreme_factor=D("0.5"), basis_rate=D("0.002")
    )
    prices = {"USDT": D(1), "BTC": D(50000)}
    hedged = MarginInputs(cash={"USDT": D(0), "BTC": D(1)}, prices=prices, positions=[_swap("-1")])
    (u,) = portfolio_margin(hedged, TIERS, params).units
    # delta 0: no spot-shock loss, no liquidation cost; basis 0.002 × 50 000 on the hedge
    assert (u.delta, u.mr1, u.mr6, u.mr7, u.mr4) == (D(0), D(0), D(0), D(0), D(100))
    assert u.mmr == D(100)
    open_ = MarginInputs(cash={"USDT": D(20000)}, prices=prices, positions=[_swap("1")])
    pm = portfolio_margin(open_, TIERS, params)
    (u,) = pm.units
    # MR1 = 15 % of 50 000; MR6 = 0.5 × 40 % × 50 000 = 10 000; MR7 = 50 000 × 0.004
    assert (u.mr1, u.mr6, u.mr7, u.mr4) == (D(7500), D(10000), D(200), D(0))
    assert pm.mmr == D(10200)
    assert pm.mgn_ratio == D(20000) / D(10200)
