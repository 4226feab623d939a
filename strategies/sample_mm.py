"""SampleMM: the original sample market maker's grid (reference §3.2), decision for decision.

size = max(multiple × lotSz, minSz) (or ``single_order_size`` when given), rounded half-even to
the lot; ``n`` levels a side, thinned by ``ceil(n × max(1 − net/max, 0))`` on the side that grows
the position; buy i = floor_to_tick(bid × (1 − step·i)), sell i = ceil_to_tick(ask × (1 + step·i))
computed in floats as the original did, then rendered on the tick grid (``Decimal`` with the
tick's exponent: tick 0.1 → ``26576.0``).

Improvements, each with a test named after the weak spot:
* a one-sided book pulls the quotes instead of raising into a cancel-all/20 s loop (§10.1-16);
* when the step is finer than the tick, neighbouring levels that round to the same price are
  pushed one tick further out instead of being placed twice (§10.1-16).
"""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal

from engine.messages import Side
from strategies.base import BaseStrategy, Desired, MarketView, Quote
from strategies.grid import ceil_to_step, floor_to_step, round_to_step
from strategies.params import StrategyParams

__all__ = ["SampleMM", "level_counts", "sample_ladder"]


def level_counts(n: int, net: Decimal, max_buy: Decimal, max_sell: Decimal) -> tuple[int, int]:
    """The original's thinning: ceil(n × max(1 − |net|/max, 0)) on the position-growing side."""
    n_buy = n_sell = n
    if net > 0:
        n_buy = int((n * max(1 - net / max_buy, Decimal(0))).to_integral_value(ROUND_CEILING))
    elif net < 0:
        n_sell = int((n * max(1 + net / max_sell, Decimal(0))).to_integral_value(ROUND_CEILING))
    return n_buy, n_sell


def sample_ladder(
    *,
    best_bid: Decimal,
    best_ask: Decimal,
    tick: Decimal,
    lot: Decimal,
    min_sz: Decimal,
    step_pct: float,
    n: int,
    size: Decimal,
    net: Decimal,
    max_net_buy: Decimal,
    max_net_sell: Decimal,
    spread_duplicates: bool = True,
) -> tuple[tuple[Quote, ...], tuple[Quote, ...]]:
    """The original's ladder; ``spread_duplicates=False`` reproduces its duplicate levels."""
    level_sz = round_to_step(max(size, min_sz), lot)
    n_buy, n_sell = level_counts(n, net, max_net_buy, max_net_sell)
    bid_f, ask_f = float(best_bid), float(best_ask)
    bids: list[Quote] = []
    for i in range(1, n_buy + 1):
        px = floor_to_step(bid_f * (1 - step_pct * i), tick)
        if spread_duplicates and bids and px >= bids[-1].px:
            px = bids[-1].px - tick
        if px <= 0:
            break
        bids.append(Quote(Side.BUY, px, level_sz))
    asks: list[Quote] = []
    for i in range(1, n_sell + 1):
        px = ceil_to_step(ask_f * (1 + step_pct * i), tick)
        if spread_duplicates and asks and px <= asks[-1].px:
            px = asks[-1].px + tick
        asks.append(Quote(Side.SELL, px, level_sz))
    return tuple(bids), tuple(asks)


class SampleMM(BaseStrategy):
    """The original grid."""

    name = "sample_mm"

    def ladder(self, view: MarketView, params: StrategyParams) -> Desired:
        assert view.best_bid is not None
        assert view.best_ask is not None
        bids, asks = sample_ladder(
            best_bid=view.best_bid,
            best_ask=view.best_ask,
            tick=view.tick,
            lot=view.lot,
            min_sz=view.min_sz,
            step_pct=params.step_pct,
            n=params.num_orders_per_side,
            size=params.order_size(view.lot),
            net=view.net,
            max_net_buy=params.max_net_buy,
            max_net_sell=params.max_net_sell,
        )
        return Desired(bids=bids, asks=asks)
