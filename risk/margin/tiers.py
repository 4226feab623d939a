"""Tier tables: collateral discount rates and position maintenance/initial margin rates.

OKX publishes both as tables (``public/discount-rate-interest-free-quota``,
``public/position-tiers``). A discount table is piecewise: each slice of a currency's equity is
valued at its tier's rate. A position tier is not: the whole position takes the rates of the
tier its size falls in. One :class:`TierTable` config feeds the margin math, the margin actor
and the local exchange, so all three compute the same numbers.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "DiscountTier",
    "PositionTier",
    "TierTable",
    "discount_rate",
    "discounted_equity_usd",
    "position_tier",
]

_ZERO = Decimal(0)


class DiscountTier(BaseModel):
    """Equity (in coins) up to ``max_amt`` (``None``: no bound) is valued at ``rate``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_amt: Decimal | None = None
    rate: Decimal = Field(ge=0, le=1)


class PositionTier(BaseModel):
    """A position of size (base currency) up to ``max_size`` takes these rates (all of it)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_size: Decimal | None = None
    mmr: Decimal = Field(gt=0, lt=1)  # maintenance margin rate
    imr: Decimal = Field(gt=0, le=1)  # initial margin rate = 1 / max leverage


class TierTable(BaseModel):
    """Discount tiers per currency, position tiers per underlying (``BTC``, not an instId).

    A currency without tiers counts at ``default_discount``; an underlying without tiers
    takes ``default_position_tier``. ``liq_fee_rate`` is the liquidation fee on notional."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    discount: dict[str, list[DiscountTier]] = {}
    position: dict[str, list[PositionTier]] = {}
    default_discount: Decimal = Field(Decimal(0), ge=0, le=1)
    stable_ccys: list[str] = ["USDT", "USDC", "USD"]  # discount 1 unless tiers say otherwise
    default_position_tier: PositionTier = PositionTier(mmr=Decimal("0.004"), imr=Decimal("0.01"))
    liq_fee_rate: Decimal = Field(Decimal("0.0005"), ge=0)

    def discount_tiers(self, ccy: str) -> list[DiscountTier]:
        if ccy in self.discount:
            return self.discount[ccy]
        rate = Decimal(1) if ccy in self.stable_ccys else self.default_discount
        return [DiscountTier(rate=rate)]

    def position_tiers(self, uly: str) -> list[PositionTier]:
        return self.position.get(uly) or [self.default_position_tier]


def discounted_equity_usd(eq: Decimal, price_usd: Decimal, tiers: list[DiscountTier]) -> Decimal:
    """``disEq``: each slice of positive equity times its tier's rate; a negative equity (a
    liability) counts in full — it is owed whatever the haircut."""
    if eq <= 0:
        return eq * price_usd
    out, low = _ZERO, _ZERO
    for t in tiers:
        high = eq if t.max_amt is None else min(eq, t.max_amt)
        if high > low:
            out += (high - low) * t.rate
            low = high
        if low >= eq:
            break
    return out * price_usd  # equity above the last bounded tier counts 0


def discount_rate(eq: Decimal, price_usd: Decimal, tiers: list[DiscountTier]) -> Decimal:
    """The blended rate ``disEq / eqUsd`` the seeds' collateral table shows."""
    eq_usd = eq * price_usd
    if eq_usd <= 0:
        return Decimal(1)
    return discounted_equity_usd(eq, price_usd, tiers) / eq_usd


def position_tier(size: Decimal, tiers: list[PositionTier]) -> PositionTier:
    """The tier an absolute position size falls in (the last one beyond every bound)."""
    size = abs(size)
    for t in tiers:
        if t.max_size is None or size <= t.max_size:
            return t
    return tiers[-1]
