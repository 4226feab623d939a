"""USD price of each currency: the original's ``usdt_price``, ``rate`` and ``usd_price`` (§6.2).

``usdt_price(c)``: 1 for USDT; else the mid of the ``c-USDT`` ticker; else the first ``q`` of
``CROSS_CCYS`` with both ``c-q`` and ``q-USDT`` quoted → ``mid(c-q) × mid(q-USDT)``; else 0.
Beyond the original (which returned 0 and so priced the currency at nothing): the mark of
``c-USDT-SWAP`` (then ``c-USDT`` margin mark) and the book mid of ``c-USDT-SWAP``, so an engine
that only streams swaps still prices its coins; an unquoted risk-free stablecoin (USDC, DAI) is
worth 1. ``USD`` is worth ``1/rate`` USDT.

``rate`` (USD per USDT) = ``mark(BTC-USD-SWAP) / mark(BTC-USDT-SWAP)`` when both marks are known,
else 1. The original inverted this test: it was always 1, and raised when neither mark was cached
(§10.1 #6). ``usd_price(c) = usdt_price(c) × rate``.
"""

from __future__ import annotations

from decimal import Decimal

from risk.caches import MarketCache
from risk.inputs import ZERO

__all__ = ["CROSS_CCYS", "RISK_FREE_CCYS", "PriceSource", "usd_rate", "usdt_price"]

ONE = Decimal(1)
RISK_FREE_CCYS = frozenset({"USDT", "USDC", "DAI"})
CROSS_CCYS = ("USDC", "BTC", "ETH", "DAI", "OKB", "DOT", "EURT")
USD_MARK = "BTC-USD-SWAP"
USDT_MARK = "BTC-USDT-SWAP"


class PriceSource:
    """Prices of one market state; memoised per instance (build one per snapshot)."""

    def __init__(self, market: MarketCache) -> None:
        self._m = market
        self._usdt: dict[str, Decimal] = {}
        self._rate: Decimal | None = None

    @property
    def rate(self) -> Decimal:
        if self._rate is None:
            self._rate = usd_rate(self._m)
        return self._rate

    def usdt(self, ccy: str) -> Decimal:
        px = self._usdt.get(ccy)
        if px is None:
            px = self._usdt[ccy] = usdt_price(self._m, ccy, self.rate)
        return px

    def usd(self, ccy: str) -> Decimal:
        return self.usdt(ccy) * self.rate


def usd_rate(market: MarketCache) -> Decimal:
    """USD per USDT from the two BTC swap marks; 1 when either is missing."""
    usd = market.marks.get(USD_MARK)
    usdt = market.marks.get(USDT_MARK)
    if usd is None or usdt is None or usdt == 0:
        return ONE
    return usd / usdt


def usdt_price(market: MarketCache, ccy: str, rate: Decimal = ONE) -> Decimal:
    """Price of ``ccy`` in USDT, or 0 when nothing quotes it."""
    if ccy == "USDT":
        return ONE
    if ccy == "USD":
        return ONE / rate if rate else ONE
    direct = market.mid(f"{ccy}-USDT")
    if direct is not None:
        return direct
    for q in CROSS_CCYS:
        if q == ccy:
            continue
        leg = market.mid(f"{ccy}-{q}")
        usdt_leg = market.mid(f"{q}-USDT")
        if leg is not None and usdt_leg is not None:
            return leg * usdt_leg
    for inst in (f"{ccy}-USDT-SWAP", f"{ccy}-USDT"):
        mark = market.marks.get(inst)
        if mark is not None:
            return mark
    swap_mid = market.mid(f"{ccy}-USDT-SWAP")
    if swap_mid is not None:
        return swap_mid
    if ccy in RISK_FREE_CCYS:
        return ONE  # an unquoted stablecoin is worth its peg, not nothing
    return ZERO
