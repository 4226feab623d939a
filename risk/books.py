"""P&L of every (strategy, instrument) book of the fill ledger, in USD (beyond the original).

Unrealised P&L is taken at the instrument's mark, else its mid (:mod:`risk.pnl` for the
average-cost method); fills no strategy claims are reported under ``unattributed``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from risk.caches import MarketCache
from risk.inputs import ZERO
from risk.pnl import PnlLedger, pnl_ccy
from risk.prices import PriceSource

__all__ = ["UNATTRIBUTED", "StrategyPnl", "strategy_books", "strategy_net"]

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
