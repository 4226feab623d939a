"""What a strategy is: a pure decision from a market view to desired quotes.

A strategy never sees sockets, clocks or the order table. ``decide(view, params)`` returns a
``Desired`` ladder (best level first on each side) or a ``halt`` reason, which makes the worker
cancel its quotes. The diff step (``strategies.diff``) turns Desired + live orders into actions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Protocol

from engine.messages import Side
from strategies.grid import ceil_to_step, floor_to_step
from strategies.params import StrategyParams
from strategies.series import TapeTrade

__all__ = [
    "BaseStrategy",
    "Desired",
    "MarketView",
    "Quote",
    "StrategyProtocol",
    "clamp_no_cross",
    "inventory_limited_counts",
    "port_size",
]


@dataclass(frozen=True, slots=True)
class Quote:
    """One desired resting order."""

    side: Side
    px: Decimal
    sz: Decimal


@dataclass(frozen=True, slots=True)
class Desired:
    """The ladder a strategy wants now; ``halt`` non-empty means: quote nothing, say why."""

    bids: tuple[Quote, ...] = ()
    asks: tuple[Quote, ...] = ()
    halt: str = ""
    estimates: dict[str, float] = field(default_factory=dict)

    @classmethod
    def halted(cls, reason: str, estimates: dict[str, float] | None = None) -> Desired:
        return cls(halt=reason, estimates=estimates or {})


@dataclass(frozen=True, slots=True)
class MarketView:
    """Everything a decision may use, frozen at one instant."""

    inst: str
    inst_type: str
    tick: Decimal
    lot: Decimal
    min_sz: Decimal
    best_bid: Decimal | None
    best_ask: Decimal | None
    net: Decimal  # position in order-size units (contracts / base ccy)
    now_ns: int = 0
    mids: tuple[Decimal, ...] = ()  # sampled mids, oldest first
    mid_samples: tuple[tuple[int, Decimal], ...] = ()
    trades: tuple[TapeTrade, ...] = ()
    contract_value: Decimal = Decimal(1)  # quote value of one size unit per unit of price

    @property
    def mid(self) -> Decimal | None:
        if self.best_bid is None or self.best_ask is None:
            return None
        return (self.best_bid + self.best_ask) / 2


class StrategyProtocol(Protocol):
    """A pure decision function."""

    name: str

    def decide(self, view: MarketView, params: StrategyParams) -> Desired: ...


class BaseStrategy:
    """Shared guards every strategy gets before its own formula: a two-sided book and the
    position-value limit (the port only logged it, §6.11)."""

    name = "base"
    uses_mids = False  # the view carries the sampled mids only for strategies that read them
    uses_trades = False

    def decide(self, view: MarketView, params: StrategyParams) -> Desired:
        if view.best_bid is None or view.best_ask is None:
            # the original raised on a one-sided book and cycled cancel-all/20 s (§3.2, §10.1-16)
            return Desired.halted("one-sided book")
        desired = self.ladder(view, params)
        return self._value_limit(view, params, desired)

    def ladder(self, view: MarketView, params: StrategyParams) -> Desired:
        raise NotImplementedError

    @staticmethod
    def _value_limit(view: MarketView, params: StrategyParams, desired: Desired) -> Desired:
        limit = params.max_position_value_usd
        mid = view.mid
        if limit is None or mid is None or desired.halt:
            return desired
        value = abs(view.net) * view.contract_value * mid
        if value < limit:
            return desired
        # at the limit: keep only the side that reduces the position
        if view.net > 0:
            return Desired(bids=(), asks=desired.asks, estimates=desired.estimates)
        return Desired(bids=desired.bids, asks=(), estimates=desired.estimates)


def port_size(params: StrategyParams, lot: Decimal, min_sz: Decimal) -> Decimal | None:
    """Port sizing (§3.6): size rounded half-even to the lot; None when below minSz."""
    raw = params.order_size(lot)
    units = int((raw / lot).to_integral_value(rounding=ROUND_HALF_EVEN))
    size = Decimal(units) * lot
    return size if size >= min_sz and size > 0 else None


def inventory_limited_counts(
    n: int, net: Decimal, max_buy: Decimal, max_sell: Decimal, factor: Decimal
) -> tuple[int, int]:
    """Port level counts (§3.6/§4): truncation, at least one level... except beyond the limit.

    The port kept one level on the position-increasing side up to its halt (§10.2-6); here the
    side that would grow a position already at its limit gets no level, the other side quotes."""
    n_buy = n_sell = n
    if net > 0:
        n_buy = 0 if net >= max_buy else max(1, int(n * (1 - factor * net / max_buy)))
    elif net < 0:
        n_sell = 0 if -net >= max_sell else max(1, int(n * (1 - factor * abs(net) / max_sell)))
    return n_buy, n_sell


def clamp_no_cross(
    px: Decimal, side: Side, best_bid: Decimal, best_ask: Decimal, tick: Decimal
) -> Decimal:
    """Keep a maker quote on its side of the book: buys below the ask, sells above the bid.

    The port's mid-based ladders could put a sell below the best bid (§4, §10.2-5)."""
    if side is Side.BUY:
        limit = floor_to_step(best_ask - tick, tick)
        return min(px, limit)
    limit = ceil_to_step(best_bid + tick, tick)
    return max(px, limit)
