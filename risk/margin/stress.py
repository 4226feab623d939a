"""Status, stress table and liquidation price: the margin ratio under moves of one underlying.

The seeds' report shocks the main underlying by −10 … −50 % and +20, +50 %, applied to spot
collateral in it and to the P&L of every perpetual on it, and finds the price at which the
projected ratio reaches the liquidation threshold. The projection re-runs the full margin
computation at each price (tiers, haircuts and MMR all move with the price), so the stress
table and the liquidation price agree with :func:`risk.margin.multicurrency.compute`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from risk.margin.multicurrency import AccountMargin, MarginInputs, compute, shocked
from risk.margin.tiers import TierTable

__all__ = [
    "LiquidationPoint",
    "MarginStatus",
    "MarginThresholds",
    "StressRow",
    "classify",
    "liquidation_price",
    "stress_table",
]

_ONE = Decimal(1)
_BISECT_STEPS = 40  # 2⁻⁴⁰ of a 1 % bracket: far below any price tick


class MarginStatus(StrEnum):
    HEALTHY = "healthy"
    WARNING = "warning"
    DANGER = "danger"
    LIQUIDATION = "liquidation"


class MarginThresholds(BaseModel):
    """Margin-ratio levels as ratios (1 = 100 %): at or below each, the status is reached."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    warning: Decimal = Field(Decimal(3), gt=0)
    danger: Decimal = Field(Decimal(2), gt=0)
    liquidation: Decimal = Field(Decimal(1), gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> MarginThresholds:
        if not self.warning > self.danger > self.liquidation:
            raise ValueError("thresholds must be warning > danger > liquidation")
        return self


def classify(ratio: Decimal | None, th: MarginThresholds) -> MarginStatus:
    """``None`` (no margin requirement) is healthy."""
    if ratio is None or ratio > th.warning:
        return MarginStatus.HEALTHY
    if ratio <= th.liquidation:
        return MarginStatus.LIQUIDATION
    if ratio <= th.danger:
        return MarginStatus.DANGER
    return MarginStatus.WARNING


@dataclass(frozen=True, slots=True)
class StressRow:
    shock_pct: Decimal
    price: Decimal
    spot_change_usd: Decimal  # Δ eqUsd of the underlying's own collateral
    perp_change_usd: Decimal  # Δ unrealised P&L of the positions on it (USD)
    net_change_usd: Decimal  # Δ total equity
    adj_eq: Decimal
    mgn_ratio: Decimal | None
    status: MarginStatus


def _perp_usd(m: AccountMargin, uly: str, inp: MarginInputs) -> Decimal:
    return sum(
        (
            p.upl * inp.price(q.settle)
            for p, q in zip(m.positions, inp.positions, strict=True)
            if p.uly == uly
        ),
        Decimal(0),
    )


def stress_table(
    inp: MarginInputs,
    uly: str,
    tiers: TierTable,
    th: MarginThresholds,
    shocks_pct: list[Decimal],
) -> list[StressRow]:
    """One row per shock of ``uly`` (in %, e.g. −20), in the order given."""
    base = compute(inp, tiers)
    spot0 = base.ccys[uly].eq_usd if uly in base.ccys else Decimal(0)
    perp0 = _perp_usd(base, uly, inp)
    rows = []
    for pct in shocks_pct:
        s_inp = shocked(inp, uly, _ONE + pct / 100)
        m = compute(s_inp, tiers)
        spot = m.ccys[uly].eq_usd if uly in m.ccys else Decimal(0)
        perp = _perp_usd(m, uly, s_inp)
        rows.append(
            StressRow(
                shock_pct=pct,
                price=s_inp.price(uly),
                spot_change_usd=spot - spot0,
                perp_change_usd=perp - perp0,
                net_change_usd=m.total_eq - base.total_eq,
                adj_eq=m.adj_eq,
                mgn_ratio=m.mgn_ratio,
                status=classify(m.mgn_ratio, th),
            )
        )
    return rows


@dataclass(frozen=True, slots=True)
class LiquidationPoint:
    price: Decimal
    move_pct: Decimal  # from the current price, − for a drop
    move_usd: Decimal


def _ratio_at(inp: MarginInputs, uly: str, tiers: TierTable, factor: Decimal) -> Decimal | None:
    return compute(shocked(inp, uly, factor), tiers).mgn_ratio


def liquidation_price(
    inp: MarginInputs,
    uly: str,
    tiers: TierTable,
    level: Decimal,
    *,
    down: bool = True,
    scan_pct: Decimal = Decimal(1),
    max_up: Decimal = Decimal(3),
) -> LiquidationPoint | None:
    """The nearest price of ``uly`` (below when ``down``, else above up to ``max_up`` × now) at
    which the projected margin ratio reaches ``level``; ``None`` if there is none in range.

    The ratio need not be monotone in the price (hedged books, tiered haircuts), so the range
    is scanned in ``scan_pct`` steps for the first crossing, then bisected within the step."""
    p0 = inp.price(uly)
    if p0 <= 0:
        return None

    def below(f: Decimal) -> bool:
        r = _ratio_at(inp, uly, tiers, f)
        return r is not None and r <= level

    if below(_ONE):
        return LiquidationPoint(p0, Decimal(0), Decimal(0))
    step = scan_pct / 100
    prev, f = _ONE, _ONE
    while True:
        f = f - step if down else f + step
        if (down and f <= 0) or (not down and f > max_up):
            return None
        if below(f):
            break
        prev = f
    ok, bad = prev, f  # ratio above the level at ``ok``, at or below at ``bad``
    for _ in range(_BISECT_STEPS):
        mid = (ok + bad) / 2
        if below(mid):
            bad = mid
        else:
            ok = mid
    price = p0 * bad
    return LiquidationPoint(price, (bad - _ONE) * 100, price - p0)
