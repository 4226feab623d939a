"""The original's ``StrategyMeasurement`` (§6.6–6.8): P&L and exposure since inception.

The first snapshot becomes the inception; every later one is "current" and gives:

- ``asset_value_change_in_usd_since_running`` = current ``totalEq`` − inception ``totalEq``
  (includes the mark-up of what was already held);
- ``pnl_in_usd_since_running`` — trading P&L versus holding the inception portfolio::

      D[c] = cash_now[c] + Σ value_now of positions valued in c
           − cash_then[c] − Σ assumed value (risk.revalue) of inception positions valued in c
      pnl  = Σ_c D[c] × P(c),  P(c) = current price[c], or the price source when that is 0

  Fees, funding and interest are inside cashBal/upl and so inside this P&L.
- ``trading_instrument_exposure_in_base`` of instrument ``i`` (base ``e``, quote ``q``):
  SPOT: cash_now[e] − cash_then[e]; otherwise Σ exposure of the positions of exactly ``i`` now
  − the same at inception; ``..._in_quote`` = base × P(e) / P(q).

Corrections (§10.1): #7 an unpriced exposure currency or a missing SPOT cash entry no longer
raises (quote exposure is ``None`` when no price is known); #11 positions are matched by exact
instId (the original's substring test also counted ``BTC-USDT-SWAP`` for ``BTC-USDT``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from risk.caches import MarketCache
from risk.fills import FillTotals
from risk.inputs import ZERO, base_of, quote_of
from risk.prices import PriceSource
from risk.revalue import assumed_value, current_mark
from risk.snapshot import RiskSnap

__all__ = ["Exposure", "Measurement", "StrategyMeasurement", "measure", "pnl_by_ccy"]


@dataclass(frozen=True, slots=True)
class Exposure:
    """Exposure of one traded instrument since inception."""

    inst: str
    base_ccy: str
    quote_ccy: str
    in_base: Decimal
    in_quote: Decimal | None  # None: no price for the base or the quote currency


@dataclass(frozen=True, slots=True)
class Measurement:
    """The original's measurement fields for one current snapshot."""

    inception_ts_ms: int
    current_ts_ms: int
    asset_value_change_in_usd_since_running: Decimal
    pnl_in_usd_since_running: Decimal
    pnl_by_ccy: dict[str, Decimal]
    exposures: dict[str, Exposure]

    def trading_instrument_exposure_in_base(self, inst: str) -> Decimal:
        return self.exposures[inst].in_base

    def trading_instrument_exposure_in_quote(self, inst: str) -> Decimal | None:
        return self.exposures[inst].in_quote


@dataclass(frozen=True, slots=True)
class StrategyMeasurement:
    """The original's ``StrategyMeasurement`` of one trading instrument, field for field."""

    trading_instrument: str
    trading_instrument_type: str
    net_filled_qty: Decimal
    buy_filled_qty: Decimal
    sell_filled_qty: Decimal
    trading_volume: Decimal
    asset_value_change_in_usd_since_running: Decimal
    pnl_in_usd_since_running: Decimal
    trading_instrument_exposure_in_base: Decimal
    trading_instrument_exposure_in_quote: Decimal | None
    exposure_ccy: str
    quote_ccy: str
    inception_ts_ms: int
    current_ts_ms: int

    @classmethod
    def of(
        cls, m: Measurement, inst: str, inst_type: str, fills: FillTotals
    ) -> StrategyMeasurement:
        e = m.exposures[inst]
        return cls(
            trading_instrument=inst,
            trading_instrument_type=inst_type,
            net_filled_qty=fills.net_filled_qty,
            buy_filled_qty=fills.buy_filled_qty,
            sell_filled_qty=fills.sell_filled_qty,
            trading_volume=fills.trading_volume,
            asset_value_change_in_usd_since_running=m.asset_value_change_in_usd_since_running,
            pnl_in_usd_since_running=m.pnl_in_usd_since_running,
            trading_instrument_exposure_in_base=e.in_base,
            trading_instrument_exposure_in_quote=e.in_quote,
            exposure_ccy=e.base_ccy,
            quote_ccy=e.quote_ccy,
            inception_ts_ms=m.inception_ts_ms,
            current_ts_ms=m.current_ts_ms,
        )


def _price(ccy: str, current: RiskSnap, prices: PriceSource) -> Decimal:
    p = current.price.get(ccy, ZERO)
    return p if p != 0 else prices.usd(ccy)


def pnl_by_ccy(inception: RiskSnap, current: RiskSnap, market: MarketCache) -> dict[str, Decimal]:
    """``D[ccy]`` of §6.7: what changed in each currency beyond holding the inception book."""
    d: dict[str, Decimal] = defaultdict(Decimal)
    for ccy, amount in current.cash.items():
        d[ccy] += amount
    for pv in current.positions.values():
        d[pv.value_ccy] += pv.asset_value
    for ccy, amount in inception.cash.items():
        d[ccy] -= amount
    for pv in inception.positions.values():
        m = current_mark(pv.row.inst, current, market, pv.row.mark_px)
        d[pv.value_ccy] -= assumed_value(pv, m)
    return dict(d)


def _exposure(
    inst: str, inst_type: str, inception: RiskSnap, current: RiskSnap, prices: PriceSource
) -> Exposure:
    e, q = base_of(inst), quote_of(inst)
    if inst_type == "SPOT":
        base = current.cash.get(e, ZERO) - inception.cash.get(e, ZERO)
    else:
        base = current.exposure_of(inst) - inception.exposure_of(inst)
    pe, pq = _price(e, current, prices), _price(q, current, prices)
    quote = base * pe / pq if pe != 0 and pq != 0 else None
    if base == 0:
        quote = ZERO
    return Exposure(inst, e, q, base, quote)


def measure(
    inception: RiskSnap,
    current: RiskSnap,
    market: MarketCache,
    trading: Iterable[tuple[str, str]] = (),
    prices: PriceSource | None = None,
) -> Measurement:
    """Measure ``current`` against ``inception`` for each ``(instId, instType)`` in ``trading``."""
    px = prices or PriceSource(market)
    d = pnl_by_ccy(inception, current, market)
    pnl = sum((amount * _price(ccy, current, px) for ccy, amount in d.items()), ZERO)
    exposures = {inst: _exposure(inst, kind, inception, current, px) for inst, kind in trading}
    return Measurement(
        inception_ts_ms=inception.ts_ms,
        current_ts_ms=current.ts_ms,
        asset_value_change_in_usd_since_running=current.asset_usd_value - inception.asset_usd_value,
        pnl_in_usd_since_running=pnl,
        pnl_by_ccy=d,
        exposures=exposures,
    )
