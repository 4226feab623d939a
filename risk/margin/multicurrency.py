"""Multi-currency margin (``acctLv`` 3): per-currency equity, haircut collateral, position
margins and the margin ratio, as OKX's help centre defines them ("Multi-currency margin mode:
cross margin trading"):

- currency equity ``eq`` = cash balance + unrealised P&L of the positions settled in it −
  accrued interest; a negative equity is a liability (``liab``);
- ``disEq`` = Σ slice × tier discount × USD price (:mod:`risk.margin.tiers`); adjusted equity
  ``adjEq`` = Σ ``disEq``;
- a position's maintenance margin = notional × the MMR rate of its size's tier (initial margin
  likewise with the IMR rate); liquidation fee = notional × ``liq_fee_rate``;
- margin ratio = ``adjEq`` / (Σ MMR + Σ liquidation fees); the account is liquidated when it
  reaches 1 (100 %).

Positions are linear (USDT-margined swaps and futures, spot-like margin) in base currency;
inverse contracts are not modelled.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal

from risk.margin.tiers import TierTable, discounted_equity_usd, position_tier

__all__ = [
    "AccountMargin",
    "CcyMargin",
    "MarginInputs",
    "PositionIn",
    "PositionMargin",
    "compute",
    "shocked",
]

_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class PositionIn:
    """A cross-margined linear position: ``pos`` in base currency, + long / − short."""

    inst: str
    uly: str  # underlying currency, e.g. BTC
    settle: str  # settle currency, e.g. USDT
    pos: Decimal
    avg_px: Decimal
    mark_px: Decimal

    @property
    def upl(self) -> Decimal:
        return self.pos * (self.mark_px - self.avg_px)

    @property
    def notional(self) -> Decimal:
        return abs(self.pos) * self.mark_px


@dataclass(frozen=True, slots=True)
class MarginInputs:
    """Cash balances and accrued interest per currency (coins), USD prices, positions."""

    cash: dict[str, Decimal]
    prices: dict[str, Decimal]
    positions: list[PositionIn] = field(default_factory=list)
    interest: dict[str, Decimal] = field(default_factory=dict)

    def price(self, ccy: str) -> Decimal:
        return self.prices.get(ccy, _ZERO)


@dataclass(frozen=True, slots=True)
class CcyMargin:
    ccy: str
    eq: Decimal
    eq_usd: Decimal
    dis_eq: Decimal
    liab: Decimal
    interest: Decimal

    @property
    def discount(self) -> Decimal:
        return self.dis_eq / self.eq_usd if self.eq_usd > 0 else Decimal(1)


@dataclass(frozen=True, slots=True)
class PositionMargin:
    inst: str
    uly: str
    pos: Decimal
    avg_px: Decimal
    mark_px: Decimal
    notional_usd: Decimal
    upl: Decimal
    mmr: Decimal
    imr: Decimal
    liq_fee: Decimal


@dataclass(frozen=True, slots=True)
class AccountMargin:
    total_eq: Decimal  # Σ eqUsd (before haircuts)
    adj_eq: Decimal
    imr: Decimal
    mmr: Decimal
    liq_fees: Decimal
    notional_usd: Decimal
    ccys: dict[str, CcyMargin]
    positions: list[PositionMargin]

    @property
    def mgn_ratio(self) -> Decimal | None:
        """adjEq / (MMR + liquidation fees); ``None`` without any margin requirement."""
        need = self.mmr + self.liq_fees
        return self.adj_eq / need if need > 0 else None


def _position(p: PositionIn, tiers: TierTable, usd: Decimal) -> PositionMargin:
    t = position_tier(p.pos, tiers.position_tiers(p.uly))
    notional = p.notional * usd
    return PositionMargin(
        inst=p.inst,
        uly=p.uly,
        pos=p.pos,
        avg_px=p.avg_px,
        mark_px=p.mark_px,
        notional_usd=notional,
        upl=p.upl,
        mmr=notional * t.mmr,
        imr=notional * t.imr,
        liq_fee=notional * tiers.liq_fee_rate,
    )


def compute(inp: MarginInputs, tiers: TierTable) -> AccountMargin:
    """Every number of ``account/balance`` and ``account/positions`` the monitors show."""
    eq: dict[str, Decimal] = dict(inp.cash)
    for p in inp.positions:
        eq[p.settle] = eq.get(p.settle, _ZERO) + p.upl
    for ccy, i in inp.interest.items():
        eq[ccy] = eq.get(ccy, _ZERO) - i
    ccys: dict[str, CcyMargin] = {}
    for ccy, e in sorted(eq.items()):
        px = inp.price(ccy)
        ccys[ccy] = CcyMargin(
            ccy=ccy,
            eq=e,
            eq_usd=e * px,
            dis_eq=discounted_equity_usd(e, px, tiers.discount_tiers(ccy)),
            liab=-e if e < 0 else _ZERO,
            interest=inp.interest.get(ccy, _ZERO),
        )
    positions = [_position(p, tiers, inp.price(p.settle)) for p in inp.positions]
    return AccountMargin(
        total_eq=sum((c.eq_usd for c in ccys.values()), _ZERO),
        adj_eq=sum((c.dis_eq for c in ccys.values()), _ZERO),
        imr=sum((p.imr for p in positions), _ZERO),
        mmr=sum((p.mmr for p in positions), _ZERO),
        liq_fees=sum((p.liq_fee for p in positions), _ZERO),
        notional_usd=sum((p.notional_usd for p in positions), _ZERO),
        ccys=ccys,
        positions=positions,
    )


def shocked(inp: MarginInputs, uly: str, factor: Decimal) -> MarginInputs:
    """The same account with ``uly``'s spot price and every mark on it times ``factor``."""
    prices = dict(inp.prices)
    if uly in prices:
        prices[uly] = prices[uly] * factor
    positions = [
        replace(p, mark_px=p.mark_px * factor) if p.uly == uly else p for p in inp.positions
    ]
    return replace(inp, prices=prices, positions=positions)
