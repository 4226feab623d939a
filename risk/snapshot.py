"""The original's risk snapshot (§6.3) and per-position value and exposure (§6.4), corrected.

A :class:`RiskSnap` is what the account, positions and market say at one moment:
- ``asset_usd_value``: the account's ``totalEq``;
- ``price[ccy]``: USD price (:mod:`risk.prices`) of every balance currency and of each
  position's value, exposure and quote currency;
- ``cash[ccy]``: ``cashBal``;
- ``delta_usd``: Σ cash × price over non-risk-free currencies + Σ position exposure × price;
- ``positions[key]``: value (in the value currency) and exposure (in the base currency);
- ``mark[instId]``: the position's ``markPx``.

Per position (``m`` = ``mult`` = ``ctMult × ctVal``; ``pos`` signed by ``posSide``):

| type | value ccy | value | exposure (base) |
|---|---|---|---|
| MARGIN | ``ccy`` | upl + margin | posCcy base: pos; quote: liab (+ margin if ccy = base) |
| SWAP/FUTURES linear | settleCcy | upl + margin | pos × mult |
| SWAP/FUTURES inverse | settleCcy | upl + margin | pos × mult / avgPx (markPx if avgPx empty) |
| OPTION | settleCcy | optVal + margin | deltaPA (coins); deltaBS / price(base) without it |

Corrections of the original (§10.1): #5 the quote currency's price is stored under the quote
currency (the original overwrote the exposure currency's price); #9 ``posSide=short`` counts as
short; #10 option delta in coins (deltaPA, not the USD deltaBS) and quote-posCcy MARGIN exposure
is the (negative) base liability, not the quote amount; #12 an empty avgPx never divides by zero.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from decimal import Decimal

from risk.caches import MarketCache
from risk.inputs import (
    ZERO,
    BalanceRow,
    InstrumentSpec,
    PositionKey,
    PositionRow,
    base_of,
    quote_of,
)
from risk.prices import RISK_FREE_CCYS, PriceSource

__all__ = [
    "PositionValue",
    "RiskSnap",
    "at_latest_mark",
    "build_snapshot",
    "position_exposure",
    "position_value",
]


@dataclass(frozen=True, slots=True)
class PositionValue:
    """One position in a snapshot: its value and exposure, plus what revaluation needs."""

    row: PositionRow
    spec: InstrumentSpec | None
    value_ccy: str
    asset_value: Decimal
    exposure_ccy: str
    exposure: Decimal

    @property
    def key(self) -> PositionKey:
        return self.row.key


@dataclass(frozen=True, slots=True)
class RiskSnap:
    """The original's ``RiskSnapShot`` (prices in USD, values in their own currencies)."""

    ts_ms: int
    asset_usd_value: Decimal
    price: dict[str, Decimal]
    cash: dict[str, Decimal]
    delta_usd: Decimal
    positions: dict[PositionKey, PositionValue]
    mark: dict[str, Decimal]
    missing_instruments: frozenset[str] = field(default_factory=frozenset)

    def exposure_of(self, inst: str) -> Decimal:
        """Σ exposure of the positions of exactly ``inst`` (the original matched substrings)."""
        return sum((pv.exposure for pv in self.positions.values() if pv.row.inst == inst), ZERO)


def _kind(row: PositionRow, spec: InstrumentSpec | None) -> str:
    if row.inst_type:
        return row.inst_type
    return spec.inst_type if spec is not None else ""


def position_value(row: PositionRow, spec: InstrumentSpec | None) -> tuple[str, Decimal]:
    """(value currency, asset value) of one position (table in the module docstring)."""
    kind = _kind(row, spec)
    if kind == "MARGIN":
        return row.ccy or quote_of(row.inst), row.upl + row.margin
    settle = spec.settle_ccy if spec is not None and spec.settle_ccy else row.ccy
    if kind == "OPTION":
        return settle, row.opt_val + row.margin
    return settle, row.upl + row.margin


def position_exposure(
    row: PositionRow, spec: InstrumentSpec | None, base_usd: Decimal = ZERO
) -> tuple[str, Decimal]:
    """(exposure currency = base, exposure in base units) of one position."""
    base = base_of(row.inst)
    kind = _kind(row, spec)
    if kind == "MARGIN":
        quote = quote_of(row.inst)
        if row.pos_ccy and row.pos_ccy == quote:
            # Holding the quote currency against a base-currency loan: short the base.
            margin_in_base = row.margin if row.ccy == base else ZERO
            if row.liab != 0:
                return base, row.liab + margin_in_base
            px = row.mark_px or row.avg_px
            return base, (-abs(row.pos) / px if px else ZERO) + margin_in_base
        return base, row.signed_pos
    if spec is None:
        return base, ZERO
    if kind == "OPTION":
        if row.delta_pa is not None:
            return base, row.delta_pa
        return base, row.delta_bs / base_usd if base_usd else ZERO
    if spec.inverse:
        px = row.avg_px or row.mark_px
        if row.pos == 0 or px == 0:
            return base, ZERO
        return base, row.signed_pos * spec.multiplier / px
    return base, row.signed_pos * spec.multiplier


def at_latest_mark(
    row: PositionRow, spec: InstrumentSpec | None, mark: Decimal | None
) -> PositionRow:
    """The row with ``upl`` recomputed at the market's latest mark.

    Beyond the original: OKX pushes positions on account events (and only every few seconds
    otherwise), so the pushed ``upl`` and ``markPx`` go stale while the mark moves; the original
    used them as pushed. For SWAP/FUTURES the pushed upl moves with the mark (OKX's formula:
    linear ``pos × mult × (m − avgPx)``, inverse ``pos × mult × (1/avgPx − 1/m)``), taken as
    a difference from the pushed ``markPx`` so the rounded ``avgPx`` does not enter."""
    kind = row.inst_type or (spec.inst_type if spec is not None else "")
    if (
        mark is None
        or mark == row.mark_px
        or spec is None
        or row.avg_px == 0
        or kind not in ("SWAP", "FUTURES")
    ):
        return row
    pos = row.signed_pos
    m0 = row.mark_px
    if m0:
        # move the venue's own upl by the mark's move: exact whatever the avgPx precision
        # (OKX shows avgPx rounded to the tick, so recomputing from it drifts by up to half a
        # tick per contract value)
        if spec.inverse:
            upl = row.upl + pos * spec.multiplier * (1 / m0 - 1 / mark)
        else:
            upl = row.upl + pos * spec.multiplier * (mark - m0)
    elif spec.inverse:
        upl = pos * spec.multiplier * (1 / row.avg_px - 1 / mark)
    else:
        upl = pos * spec.multiplier * (mark - row.avg_px)
    return replace(row, mark_px=mark, upl=upl)


def build_snapshot(
    ts_ms: int,
    total_eq: Decimal,
    balances: Iterable[BalanceRow],
    positions: Iterable[PositionRow],
    market: MarketCache,
    prices: PriceSource | None = None,
    extra_ccys: Iterable[str] = (),
    revalue_at_mark: bool = True,
) -> RiskSnap:
    """Build the snapshot in the original's order (§6.3), with its bugs fixed.

    ``extra_ccys`` (e.g. base and quote of every traded instrument) are priced too, so the
    measurement can express exposures of instruments the account holds nothing of.
    ``revalue_at_mark``: see :func:`at_latest_mark`."""
    px = prices or PriceSource(market)
    price: dict[str, Decimal] = {}
    cash: dict[str, Decimal] = {}
    delta_usd = ZERO
    for bal in balances:
        price[bal.ccy] = px.usd(bal.ccy)
        cash[bal.ccy] = bal.cash_bal
        if bal.ccy not in RISK_FREE_CCYS:
            delta_usd += bal.cash_bal * price[bal.ccy]
    values: dict[PositionKey, PositionValue] = {}
    mark: dict[str, Decimal] = {}
    missing: set[str] = set()
    for row in positions:
        spec = market.instrument(row.inst)
        if revalue_at_mark:
            row = at_latest_mark(row, spec, market.marks.get(row.inst))
        if spec is None and row.inst_type != "MARGIN":
            missing.add(row.inst)
        vccy, value = position_value(row, spec)
        base = base_of(row.inst)
        if base not in price:
            price[base] = px.usd(base)
        eccy, expo = position_exposure(row, spec, price[base])
        values[row.key] = PositionValue(row, spec, vccy, value, eccy, expo)
        mark[row.inst] = row.mark_px
        if vccy and vccy not in price:
            price[vccy] = px.usd(vccy)  # the original left out the USDT→USD rate here
        delta_usd += expo * price[eccy]
        quote = quote_of(row.inst)
        if quote and quote not in price:
            price[quote] = px.usd(quote)  # the original stored this under the exposure ccy
    for ccy in extra_ccys:
        if ccy and ccy not in price:
            price[ccy] = px.usd(ccy)
    return RiskSnap(
        ts_ms=ts_ms,
        asset_usd_value=total_eq,
        price=price,
        cash=cash,
        delta_usd=delta_usd,
        positions=values,
        mark=mark,
        missing_instruments=frozenset(missing),
    )
