"""The margin math on the examples OKX publishes with numbers.

OKX's help centre article "Multi-currency margin mode: cross margin trading" (article
360054690531; https://www.okx.com/help/iv-multi-currency-margin-mode-cross-margin-trading)
defines every field; the worked numbers below are the ones its examples give. Where the copy
we could read was a third-party rendering of OKX's text, the test says so and cites both. Its
discount example (100 BTC at 60 000 USD → 5 785 500 USD adjusted) is not reproduced: the BTC
tier table it uses beyond the first tier (0–20 BTC: 0.98) was not in any copy we found.
"""

from __future__ import annotations

from decimal import Decimal

from risk.margin.multicurrency import MarginInputs, PositionIn, compute
from risk.margin.portfolio import PortfolioParams, portfolio_margin
from risk.margin.tiers import DiscountTier, TierTable, discounted_equity_usd

D = Decimal


def test_currency_equity_adds_the_upl_of_the_positions_settled_in_it() -> None:
    """OKX's currency-equity example: holding 2 BTC (100 000 USD/BTC), 6 000 SOL (200 USD/SOL)
    and 110 000 USDT with a 0.5 BTC USDT-margined perpetual long showing 10 000 USD PnL, the
    equities are BTC 2 (the PnL is not in BTC), SOL 6 000 and USDT 110 000 + 10 000 = 120 000.

    Source: OKX help centre, "Multi-currency margin mode: cross margin trading"
    (https://www.okx.com/help/iv-multi-currency-margin-mode-cross-margin-trading, the formula
    "Equity = Balance + Floating PnL (cross) + Options value − Accrued interest"); the example's
    numbers as rendered at https://www.open-lib.com/4291.html."""
    perp = PositionIn(
        inst="BTC-USDT-SWAP",
        uly="BTC",
        settle="USDT",
        pos=D("0.5"),
        avg_px=D(80_000),  # 0.5 × (100 000 − 80 000) = the example's 10 000 USD PnL
        mark_px=D(100_000),
    )
    assert perp.upl == D(10_000)
    inp = MarginInputs(
        cash={"BTC": D(2), "SOL": D(6000), "USDT": D(110_000)},
        prices={"BTC": D(100_000), "SOL": D(200), "USDT": D(1)},
        positions=[perp],
    )
    m = compute(inp, TierTable(default_discount=D(1)))
    assert {c: v.eq for c, v in m.ccys.items()} == {
        "BTC": D(2),
        "SOL": D(6000),
        "USDT": D(120_000),
    }
    assert m.total_eq == D(200_000) + D(1_200_000) + D(120_000)
    assert all(v.liab == 0 for v in m.ccys.values())


def test_usdt_collateral_is_valued_slice_by_slice() -> None:
    """OKX's tiered-discount example: 11 M USDT with tiers 0–5 M at 1, 5–10 M at 0.9 and above
    10 M at 0.8 count 5 M × 1 + 5 M × 0.9 + 1 M × 0.8 = 10.3 M USD.

    Source: OKX's discount-rate announcement ("OKX to adjust discount rates for LUNA in
    multi-currency margin mode", http://www.okxwebsite.com/en/latest-announcements/item/364.html,
    whose "Discount rates overview" section has the example); the numbers as rendered at
    https://ukcamo.com/6126.html."""
    tiers = [
        DiscountTier(max_amt=D(5_000_000), rate=D(1)),
        DiscountTier(max_amt=D(10_000_000), rate=D("0.9")),
        DiscountTier(rate=D("0.8")),
    ]
    assert discounted_equity_usd(D(11_000_000), D(1), tiers) == D(10_300_000)


def test_a_zero_discount_currency_adds_nothing_to_adjusted_equity() -> None:
    """The same announcement's first example: 1 BTC (50 000 USD index, discount 1) and 50 000
    ZRX at a discount rate of 0 give 50 000 × 1 × 1 = 50 000 USD of collateral: the ZRX counts
    for nothing. (Sources as in the test above.)"""
    inp = MarginInputs(
        cash={"BTC": D(1), "ZRX": D(50_000)},
        prices={"BTC": D(50_000), "ZRX": D("0.3")},
    )
    tiers = TierTable(discount={"BTC": [DiscountTier(rate=D(1))], "ZRX": [DiscountTier(rate=D(0))]})
    m = compute(inp, tiers)
    assert m.adj_eq == D(50_000)
    assert m.ccys["ZRX"].dis_eq == 0
    assert m.total_eq == D(50_000) + D(15_000)  # equity counts it, adjusted equity does not


def test_portfolio_margin_on_okxs_btc_scenario_grid() -> None:
    """OKX's portfolio-margin parameters for BTC (from January 2025): MR1 spot shock over price
    moves of ±0, 4, 8, 12 %, MR6 extreme move ±24 %. With them (our uniform grid of 3 points
    a side up to 12 % is exactly OKX's), a 1 BTC long perpetual at 60 000 USD and 20 000 USDT:
    MR1 = the loss at −12 % = 7 200; MR6 = factor × the loss at −24 % = 0.5 × 14 400 = 7 200
    (the factor is ours: OKX publishes the move, not how MR6 enters the sum); MR7 = the
    tier's 0.4 % of the 60 000 net delta = 240 → MMR = max(7 200, 7 200) + 240 = 7 440.

    Source: "OKX will further adjust portfolio margin parameters" (okx.com help centre,
    2 Jan 2025), as mirrored at
    https://okx-api.aperture.finance/help/okx-will-further-adjust-portfolio-margin-parameters.
    OKX gives the parameters, not a worked account: the MMR here is worked by hand."""
    params = PortfolioParams(
        spot_shock_pct=D(12), grid_points=3, extreme_move_pct=D(24), extreme_factor=D("0.5")
    )
    perp = PositionIn("BTC-USDT-SWAP", "BTC", "USDT", D(1), D(60_000), D(60_000))
    inp = MarginInputs(
        cash={"USDT": D(20_000)}, prices={"USDT": D(1), "BTC": D(60_000)}, positions=[perp]
    )
    pm = portfolio_margin(inp, TierTable(), params)
    (unit,) = pm.units
    assert (unit.mr1, unit.mr6, unit.mr7) == (D(7200), D(7200), D(240))
    assert pm.mmr == D(7440)
    assert pm.mgn_ratio == D(20_000) / D(7440)
