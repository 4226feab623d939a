"""The venue's multi-currency margin (:mod:`ops.exchange.okx_margin`, from OKX's field
definitions and its published tier rows) and the engine's (:mod:`risk.margin`) agree on random
accounts: cash that may be negative, long and short swaps settled in USDT or in a coin,
tiered discounts and position tiers."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from ops.exchange.margin import discount_details, position_tier_rows_of
from ops.exchange.okx_margin import CrossPosition, okx_margin
from risk.margin.multicurrency import MarginInputs, PositionIn, compute
from risk.margin.tiers import DiscountTier, PositionTier, TierTable

CCYS = ("USDT", "BTC", "ETH", "SOL")
ULYS = ("BTC", "ETH", "SOL")


def _dec(lo: int, hi: int, places: int) -> st.SearchStrategy[Decimal]:
    return st.integers(lo * 10**places, hi * 10**places).map(lambda n: Decimal(n).scaleb(-places))


@st.composite
def tier_tables(draw: st.DrawFn) -> TierTable:
    discount: dict[str, list[DiscountTier]] = {}
    for ccy in draw(st.sets(st.sampled_from(CCYS))):
        bounds = sorted(draw(st.sets(_dec(1, 1000, 2), max_size=3)))
        rates = sorted(draw(st.lists(_dec(0, 1, 3), min_size=len(bounds) + 1,
                                     max_size=len(bounds) + 1)), reverse=True)  # fmt: skip
        maxes: list[Decimal | None] = [*bounds, None] if draw(st.booleans()) else list(bounds)
        discount[ccy] = [
            DiscountTier(max_amt=m, rate=r) for m, r in zip(maxes, rates[: len(maxes)], strict=True)
        ]
        if not discount[ccy]:
            del discount[ccy]
    position: dict[str, list[PositionTier]] = {}
    for uly in draw(st.sets(st.sampled_from(ULYS))):
        bounds = sorted(draw(st.sets(_dec(1, 30, 0), max_size=3)))
        n = len(bounds) + 1
        mmrs = sorted(draw(st.lists(_dec(1, 99, 3).map(lambda d: d / 100), min_size=n, max_size=n)))
        tiers = [
            PositionTier(max_size=m, mmr=r, imr=min(r * 2, Decimal(1)))
            for m, r in zip([*bounds, None], mmrs, strict=True)
        ]
        position[uly] = tiers
    return TierTable(
        discount=discount,
        position=position,
        default_discount=draw(_dec(0, 1, 2)),
        liq_fee_rate=draw(_dec(0, 1, 4).map(lambda d: d / 100)),
    )


@st.composite
def accounts(draw: st.DrawFn, bounds: list[Decimal]) -> MarginInputs:
    """Random holdings; some position sizes sit exactly on a tier bound (``bounds``)."""
    cash = {c: draw(_dec(-5000, 100_000, 4)) for c in draw(st.sets(st.sampled_from(CCYS)))}
    prices = {c: draw(_dec(1, 70_000, 2)) for c in ULYS}
    prices["USDT"] = Decimal(1)
    positions = []
    for i in range(draw(st.integers(0, 4))):
        uly = draw(st.sampled_from(ULYS))
        settle = draw(st.sampled_from(("USDT", uly)))
        mark = prices[uly] if settle == "USDT" else Decimal(1)  # coin-settled: in coins
        positions.append(
            PositionIn(
                inst=f"{uly}-{settle}-SWAP-{i}",
                uly=uly,
                settle=settle,
                pos=draw(st.one_of(_dec(-800, 800, 3), st.sampled_from(bounds)))
                * draw(st.sampled_from((1, -1))),
                avg_px=draw(_dec(1, 70_000, 2)),
                mark_px=mark * draw(_dec(1, 2, 3)),
            )
        )
    return MarginInputs(cash=cash, prices=prices, positions=positions)


@settings(max_examples=300, deadline=None)
@given(data=st.data(), tiers=tier_tables())
def test_the_venues_numbers_equal_the_engines(data: st.DataObject, tiers: TierTable) -> None:
    bounds = [t.max_size for ts in tiers.position.values() for t in ts if t.max_size is not None]
    inp = data.draw(accounts(bounds or [Decimal(1)]))
    ours = compute(inp, tiers)
    venue = okx_margin(
        inp.cash,
        inp.prices,
        [CrossPosition(p.inst, p.uly, p.settle, p.pos, p.avg_px, p.mark_px) for p in inp.positions],
        discount_rows=lambda c: discount_details(tiers, c),
        position_rows=lambda u: position_tier_rows_of(tiers, u, "SWAP"),
        liq_fee_rate=tiers.liq_fee_rate,
    )
    assert set(venue.ccys) == set(ours.ccys)
    for c, v in venue.ccys.items():
        o = ours.ccys[c]
        assert (v.eq, v.eq_usd, v.dis_eq, v.liab) == (o.eq, o.eq_usd, o.dis_eq, o.liab), c
    for vp, op in zip(venue.positions, ours.positions, strict=True):
        assert (vp.notional_usd, vp.mmr, vp.imr, vp.liq_fee) == (
            op.notional_usd,
            op.mmr,
            op.imr,
            op.liq_fee,
        )
    assert (venue.adj_eq, venue.total_eq) == (ours.adj_eq, ours.total_eq)
    assert (venue.imr, venue.mmr, venue.liq_fees) == (ours.imr, ours.mmr, ours.liq_fees)
    assert venue.notional_usd == ours.notional_usd
    assert venue.mgn_ratio == ours.mgn_ratio
