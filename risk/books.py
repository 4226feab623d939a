"""P&L of every (strategy, instrument) book of the fill ledger, in USD (beyond the original),
and the ``RiskSnapshot`` message that reports them with the original's measurement.

Unrealised P&L is taken at the instrument's mark, else its mid (:mod:`risk.pnl` for the
average-cost method); fills no strategy claims are reported under ``unattributed``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from engine.messages import RiskSnapshot
from risk.caches import MarketCache
from risk.fills import FillTotals
from risk.inputs import ZERO
from risk.measurement import Measurement
from risk.pnl import PnlLedger, pnl_ccy
from risk.prices import PriceSource
from risk.snapshot import RiskSnap

__all__ = ["UNATTRIBUTED", "StrategyPnl", "snapshot_message", "strategy_books", "strategy_net"]

UNATTRIBUTED = "unattributed"


@dataclass(frozen=True, slots=True)
class StrategyPnl:
    """Realised/unrealised P&L and fees of one (strategy, instrument) book, in USD."""

    strategy: str
    inst: str
    realised_usd: Decimal
    unrealised_usd: Decimal
    fees_usd: Decimal

    @property
    def net_usd(self) -> Decimal:
        return self.realised_usd + self.unrealised_usd + self.fees_usd


def strategy_books(
    ledger: PnlLedger, market: MarketCache, prices: PriceSource
) -> list[StrategyPnl]:
    """Every book of ``ledger`` valued in USD, sorted by (strategy, instId)."""
    out = []
    for (strategy, inst), book in sorted(ledger.books(market.instrument).items()):
        spec = market.instrument(inst)
        ccy = pnl_ccy(inst, spec)
        mark = market.marks.get(inst) or market.mid(inst)
        p = prices.usd(ccy)
        fees = sum((amt * prices.usd(c) for c, amt in book.fees.items()), ZERO)
        out.append(
            StrategyPnl(
                strategy or UNATTRIBUTED,
                inst,
                book.realised * p,
                book.unrealised(mark) * p,
                fees,
            )
        )
    return out


def strategy_net(ledger: PnlLedger, market: MarketCache) -> dict[str, Decimal]:
    """Net USD P&L per strategy (summed over its instruments)."""
    out: dict[str, Decimal] = {}
    for sp in strategy_books(ledger, market, PriceSource(market)):
        out[sp.strategy] = out.get(sp.strategy, ZERO) + sp.net_usd
    return out


def snapshot_message(
    m: Measurement,
    snap: RiskSnap,
    books: list[StrategyPnl],
    fees: dict[str, Decimal],
    totals: dict[str, FillTotals],
    peak_pnl_usd: Decimal,
) -> RiskSnapshot:
    """The published numbers: measurement ``m`` of ``snap``, the books, fees and counters."""
    by_strategy: dict[str, Decimal] = {}
    by_inst: dict[str, Decimal] = {}
    for sp in books:
        by_strategy[sp.strategy] = by_strategy.get(sp.strategy, ZERO) + sp.net_usd
        by_inst[sp.inst] = by_inst.get(sp.inst, ZERO) + sp.net_usd
    return RiskSnapshot(
        pnl_in_usd_since_running=m.pnl_in_usd_since_running,
        asset_value_change_in_usd_since_running=m.asset_value_change_in_usd_since_running,
        inception_ts_ms=m.inception_ts_ms,
        current_ts_ms=m.current_ts_ms,
        exposures_base={i: e.in_base for i, e in m.exposures.items()},
        exposures_quote={i: e.in_quote for i, e in m.exposures.items() if e.in_quote is not None},
        net_filled_qty={i: t.net_filled_qty for i, t in totals.items()},
        trading_volume={i: t.trading_volume for i, t in totals.items()},
        fees_by_ccy=fees,
        realized_pnl_usd=sum((b.realised_usd for b in books), ZERO),
        unrealized_pnl_usd=sum((b.unrealised_usd for b in books), ZERO),
        peak_pnl_usd=peak_pnl_usd,
        price_usd=dict(snap.price),
        pnl_by_strategy_usd=by_strategy,
        pnl_by_inst_usd=by_inst,
        buy_filled_qty={i: t.buy_filled_qty for i, t in totals.items()},
        sell_filled_qty={i: t.sell_filled_qty for i, t in totals.items()},
        asset_usd_value=snap.asset_usd_value,
        delta_usd_value=snap.delta_usd,
        pnl_by_ccy=dict(m.pnl_by_ccy),
    )
