"""The venue's own multi-currency margin numbers (``acctLv`` 3), field by field as OKX's help
centre defines them, from the tier rows the venue publishes — written apart from
:mod:`risk.margin` (the engine's), so that a test comparing the two, or an end-to-end test
comparing the margin actor with the venue, can catch a formula error in either.

Per currency (``account/balance`` ``details``):

- ``eq`` = cashBal + floating P&L of the cross positions settled in it − accrued interest;
- ``eqUsd`` = eq × the currency's USD price;
- ``disEq``: each row of ``public/discount-rate-interest-free-quota`` (``minAmt`` … ``maxAmt``
  coins at ``discountRate``) values the part of eq inside it; equity beyond the last bounded
  row counts 0; a negative eq is a debt and counts in full;
- ``liab`` = |min(0, eq)|.

Per position: notional (USD) = |size| × mark × the settle currency's USD price; the row of
``public/position-tiers`` whose (``minSz``, ``maxSz``] holds |size| (base currency) gives
``mmr`` and ``imr`` for all of it; the liquidation fee is notional × the liquidation penalty
rate. Account: ``adjEq`` = Σ disEq, ``totalEq`` = Σ eqUsd, ``mgnRatio`` = adjEq / (Σ MMR +
Σ liquidation fees), none without a requirement. Interest is not accrued (0).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

__all__ = [
    "CcyFields",
    "CrossPosition",
    "OkxMargin",
    "PositionFields",
    "okx_margin",
    "rate",
    "tier_row",
]

_ZERO = Decimal(0)
Rows = list[dict[str, object]]


@dataclass(frozen=True, slots=True)
class CrossPosition:
    """A cross-margined linear position; ``size`` in base currency, negative when short."""

    inst: str
    uly: str
    settle: str
    size: Decimal
    avg_px: Decimal
    mark_px: Decimal


@dataclass(frozen=True, slots=True)
class CcyFields:
    eq: Decimal
    eq_usd: Decimal
    dis_eq: Decimal
    liab: Decimal
    interest: Decimal = _ZERO


@dataclass(frozen=True, slots=True)
class PositionFields:
    notional_usd: Decimal
    mmr: Decimal
    imr: Decimal
    liq_fee: Decimal


@dataclass(frozen=True, slots=True)
class OkxMargin:
    ccys: dict[str, CcyFields]
    positions: list[PositionFields]  # in the order given
    adj_eq: Decimal
    total_eq: Decimal
    imr: Decimal
    mmr: Decimal
    liq_fees: Decimal
    notional_usd: Decimal
    mgn_ratio: Decimal | None


def rate(row: Mapping[str, object], key: str) -> Decimal | None:
    """A number field of a published row (``None`` when empty)."""
    v = str(row.get(key, ""))
    return Decimal(v) if v else None


def _dis_eq(eq: Decimal, usd: Decimal, rows: Rows) -> Decimal:
    if eq < 0:
        return eq * usd  # a debt is owed in full, whatever the haircut
    coins = _ZERO
    for row in rows:
        low = rate(row, "minAmt") or _ZERO
        high = rate(row, "maxAmt")
        top = eq if high is None else min(eq, high)
        if top > low:
            coins += (top - low) * (rate(row, "discountRate") or _ZERO)
    return coins * usd


def tier_row(size: Decimal, rows: Rows) -> Mapping[str, object]:
    """The position-tier row whose (minSz, maxSz] holds ``size`` (the last beyond them all)."""
    for row in rows:
        low = rate(row, "minSz") or _ZERO
        high = rate(row, "maxSz")
        if (size > low or low == 0) and (high is None or size <= high):
            return row
    return rows[-1]


def okx_margin(
    cash: Mapping[str, Decimal],
    usd: Mapping[str, Decimal],
    positions: Sequence[CrossPosition],
    *,
    discount_rows: Callable[[str], Rows],
    position_rows: Callable[[str], Rows],
    liq_fee_rate: Decimal,
) -> OkxMargin:
    """The account's fields; ``usd`` prices every currency held or settled in (missing: 0),
    ``discount_rows(ccy)`` / ``position_rows(uly)`` are the venue's published tier rows."""
    floating: dict[str, Decimal] = {}
    for p in positions:
        floating[p.settle] = floating.get(p.settle, _ZERO) + p.size * (p.mark_px - p.avg_px)
    ccys: dict[str, CcyFields] = {}
    for ccy in sorted(set(cash) | set(floating)):
        eq = cash.get(ccy, _ZERO) + floating.get(ccy, _ZERO)
        px = usd.get(ccy, _ZERO)
        ccys[ccy] = CcyFields(
            eq=eq,
            eq_usd=eq * px,
            dis_eq=_dis_eq(eq, px, discount_rows(ccy)),
            liab=max(-eq, _ZERO),
        )
    fields: list[PositionFields] = []
    for p in positions:
        notional = abs(p.size) * p.mark_px * usd.get(p.settle, _ZERO)
        row = tier_row(abs(p.size), position_rows(p.uly))
        fields.append(
            PositionFields(
                notional_usd=notional,
                mmr=notional * (rate(row, "mmr") or _ZERO),
                imr=notional * (rate(row, "imr") or _ZERO),
                liq_fee=notional * liq_fee_rate,
            )
        )
    adj_eq = sum((c.dis_eq for c in ccys.values()), _ZERO)
    mmr = sum((f.mmr for f in fields), _ZERO)
    fees = sum((f.liq_fee for f in fields), _ZERO)
    return OkxMargin(
        ccys=ccys,
        positions=fields,
        adj_eq=adj_eq,
        total_eq=sum((c.eq_usd for c in ccys.values()), _ZERO),
        imr=sum((f.imr for f in fields), _ZERO),
        mmr=mmr,
        liq_fees=fees,
        notional_usd=sum((f.notional_usd for f in fields), _ZERO),
        mgn_ratio=adj_eq / (mmr + fees) if mmr + fees > 0 else None,
    )
