"""Portfolio margin (``acctLv`` 4), simplified: the maintenance margin is the stressed loss of
each risk unit (one per underlying), after OKX's stress modules:

    MMR = max(MR1 + MR2 + MR4, MR6) + MR7          (per risk unit, summed over units)

- MR1 spot shock: the worst loss of the unit's spot collateral and positions over a grid of
  price moves within ±``spot_shock_pct``. As OKX's, but the grid is uniform and there are no
  options, so no combined price × volatility scenarios.
- MR2 volatility shock: simplified to |vega| × ``vol_shock_pts`` with a per-unit vega the caller
  gives (0 for a linear book); OKX revalues options on a shocked volatility surface.
- MR4 basis: simplified to ``basis_rate`` × the hedged notional (the part of the long and short
  legs that offset); OKX shocks the futures' basis per tenor.
- MR6 extreme move: the loss at ±``extreme_move_pct`` times ``extreme_factor``.
- MR7 liquidation cost: |net delta| notional × the tiered rate of :mod:`risk.margin.tiers`
  (the position tier's MMR), the part OKX scales with position size.
- MR3 (vega term structure), MR5 (interest rate) and MR8 (borrowing) are not modelled: 0.

Margin ratio = adjEq / MMR, as in multi-currency mode; adjEq is the same haircut equity.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from risk.margin.multicurrency import MarginInputs, compute, shocked
from risk.margin.tiers import TierTable, position_tier

__all__ = ["PortfolioMargin", "PortfolioParams", "RiskUnit", "portfolio_margin"]

_ZERO = Decimal(0)


class PortfolioParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    spot_shock_pct: Decimal = Field(Decimal(15), gt=0)
    grid_points: int = Field(7, ge=1)  # per side, 0 excluded
    vol_shock_pts: Decimal = Field(Decimal(0), ge=0)
    basis_rate: Decimal = Field(Decimal("0.002"), ge=0)
    extreme_move_pct: Decimal = Field(Decimal(30), gt=0)
    extreme_factor: Decimal = Field(Decimal("0.5"), ge=0)


@dataclass(frozen=True, slots=True)
class RiskUnit:
    uly: str
    delta: Decimal  # coins: spot equity + Σ positions
    mr1: Decimal
    mr2: Decimal
    mr4: Decimal
    mr6: Decimal
    mr7: Decimal

    @property
    def mmr(self) -> Decimal:
        return max(self.mr1 + self.mr2 + self.mr4, self.mr6) + self.mr7


@dataclass(frozen=True, slots=True)
class PortfolioMargin:
    adj_eq: Decimal
    units: list[RiskUnit]

    @property
    def mmr(self) -> Decimal:
        return sum((u.mmr for u in self.units), _ZERO)

    @property
    def mgn_ratio(self) -> Decimal | None:
        return self.adj_eq / self.mmr if self.mmr > 0 else None


def _loss(inp: MarginInputs, uly: str, tiers: TierTable, pct: Decimal, eq0: Decimal) -> Decimal:
    """Loss (≥ 0) of the whole account's total equity when only ``uly`` moves by ``pct``."""
    return max(_ZERO, eq0 - compute(shocked(inp, uly, 1 + pct / 100), tiers).total_eq)


def portfolio_margin(
    inp: MarginInputs,
    tiers: TierTable,
    params: PortfolioParams,
    vega: dict[str, Decimal] | None = None,
) -> PortfolioMargin:
    base = compute(inp, tiers)
    eq0 = base.total_eq
    units = []
    for uly in sorted({p.uly for p in inp.positions}):
        spot = base.ccys[uly].eq if uly in base.ccys else _ZERO
        legs = [spot] + [p.pos for p in inp.positions if p.uly == uly]
        delta = sum(legs, _ZERO)
        longs = sum((x for x in legs if x > 0), _ZERO)
        shorts = -sum((x for x in legs if x < 0), _ZERO)
        px = inp.price(uly)
        n = params.grid_points
        grid = [params.spot_shock_pct * k / n for k in range(1, n + 1)]
        mr1 = max(_loss(inp, uly, tiers, s * g, eq0) for g in grid for s in (1, -1))
        ext = params.extreme_move_pct
        mr6 = params.extreme_factor * max(_loss(inp, uly, tiers, s * ext, eq0) for s in (1, -1))
        tier = position_tier(delta, tiers.position_tiers(uly))
        units.append(
            RiskUnit(
                uly=uly,
                delta=delta,
                mr1=mr1,
                mr2=abs((vega or {}).get(uly, _ZERO)) * params.vol_shock_pts,
                mr4=params.basis_rate * min(longs, shorts) * px,
                mr6=mr6,
                mr7=abs(delta) * px * tier.mmr,
            )
        )
    return PortfolioMargin(adj_eq=base.adj_eq, units=units)
