"""The port's InventorySkew and Volatility strategies (reference §4), with a no-cross guard.

Shared: mid = (bid + ask)/2; skew = clamp(skew_factor × net/max_pos × max_skew_pct, ±max_skew_pct)
with max_pos = max(max_net_buy, max_net_sell); skewed_mid = mid × (1 − skew); prices rounded
half-even to the tick; sizes as the port's grid (§3.6); buys at or below 0 dropped.

* InventorySkew: half = skewed_mid × step_pct; level i at skewed_mid ∓ half·i; counts
  max(1, int(N × (1 − 1.5·|net|/max))) on the side that grows the position.
* Volatility: vol = population stdev of the last L simple returns of sampled mids; spread =
  clamp(vol × multiplier, min_spread_pct, max_spread_pct) (min when unknown); half = skewed_mid ×
  spread/2; counts as the grid (factor 1); halt when vol > 3 × max_spread_pct.

Improvements, each tested by name: quotes are clamped so a buy never reaches the ask and a sell
never reaches the bid (``allow_cross`` restores the port, §10.2-5); the position-growing side has
no level once the position is at its limit (§10.2-6); mids are sampled on a time grid so the
lookback is in time, not in book updates (§10.2-7, ``strategies.series``).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from engine.messages import Side
from strategies.base import (
    BaseStrategy,
    Desired,
    MarketView,
    Quote,
    clamp_no_cross,
    inventory_limited_counts,
    port_size,
)
from strategies.grid import round_to_step
from strategies.params import StrategyParams

__all__ = ["InventorySkew", "Volatility", "skew_of", "symmetric_ladder", "volatility_of"]

ONE = Decimal(1)


def _d(x: float) -> Decimal:
    return Decimal(repr(x))


def skew_of(net: Decimal, params: StrategyParams) -> Decimal:
    """clamp(skew_factor × net/max_pos × max_skew_pct, −max_skew_pct, +max_skew_pct)."""
    max_pos = max(params.max_net_buy, params.max_net_sell)
    if max_pos <= 0:
        return Decimal(0)
    cap = _d(params.max_skew_pct)
    raw = _d(params.skew_factor) * net / max_pos * cap
    return max(-cap, min(cap, raw))


def volatility_of(mids: Sequence[Decimal], lookback: int) -> Decimal | None:
    """Population stdev of the last ``lookback`` simple returns; None with too few mids."""
    if len(mids) < lookback + 1:
        return None
    window = list(mids)[-(lookback + 1) :]
    rets = [window[k] / window[k - 1] - 1 for k in range(1, len(window))]
    mean = sum(rets, Decimal(0)) / len(rets)
    var = sum(((r - mean) ** 2 for r in rets), Decimal(0)) / len(rets)
    return var.sqrt()


def symmetric_ladder(
    view: MarketView,
    params: StrategyParams,
    center: Decimal,
    half: Decimal,
    n_buy: int,
    n_sell: int,
) -> tuple[tuple[Quote, ...], tuple[Quote, ...]]:
    """Levels at center ∓ half·i, half-even to the tick, guarded against crossing."""
    size = port_size(params, view.lot, view.min_sz)
    if size is None:
        return (), ()
    assert view.best_bid is not None
    assert view.best_ask is not None
    bids: list[Quote] = []
    asks: list[Quote] = []
    for i in range(1, n_buy + 1):
        px = round_to_step(center - half * i, view.tick)
        if not params.allow_cross:
            px = clamp_no_cross(px, Side.BUY, view.best_bid, view.best_ask, view.tick)
        if px <= 0:
            continue
        bids.append(Quote(Side.BUY, px, size))
    for i in range(1, n_sell + 1):
        px = round_to_step(center + half * i, view.tick)
        if not params.allow_cross:
            px = clamp_no_cross(px, Side.SELL, view.best_bid, view.best_ask, view.tick)
        asks.append(Quote(Side.SELL, px, size))
    return tuple(bids), tuple(asks)


class InventorySkew(BaseStrategy):
    """Ladder around a mid skewed against the position."""

    name = "inventory_skew"

    def ladder(self, view: MarketView, params: StrategyParams) -> Desired:
        mid = view.mid
        assert mid is not None
        skew = skew_of(view.net, params)
        center = mid * (ONE - skew)
        half = center * _d(params.step_pct)
        n_buy, n_sell = inventory_limited_counts(
            params.num_orders_per_side,
            view.net,
            params.max_net_buy,
            params.max_net_sell,
            Decimal("1.5"),
        )
        bids, asks = symmetric_ladder(view, params, center, half, n_buy, n_sell)
        est = {"skew": float(skew), "skewed_mid": float(center), "half_step": float(half)}
        return Desired(bids=bids, asks=asks, estimates=est)


class Volatility(BaseStrategy):
    """Ladder whose spacing follows recent volatility."""

    name = "volatility"
    uses_mids = True

    def ladder(self, view: MarketView, params: StrategyParams) -> Desired:
        mid = view.mid
        assert mid is not None
        vol = volatility_of(view.mids, params.volatility_lookback)
        lo, hi = _d(params.min_spread_pct), _d(params.max_spread_pct)
        if vol is None:
            spread = lo
        else:
            if vol > 3 * hi:
                return Desired.halted("volatility above 3 × max_spread_pct", {"vol": float(vol)})
            spread = max(lo, min(hi, vol * _d(params.volatility_multiplier)))
        skew = skew_of(view.net, params)
        center = mid * (ONE - skew)
        half = center * spread / 2
        n_buy, n_sell = inventory_limited_counts(
            params.num_orders_per_side, view.net, params.max_net_buy, params.max_net_sell, ONE
        )
        bids, asks = symmetric_ladder(view, params, center, half, n_buy, n_sell)
        est = {
            "vol": float(vol) if vol is not None else -1.0,
            "spread_pct": float(spread),
            "skew": float(skew),
            "skewed_mid": float(center),
        }
        return Desired(bids=bids, asks=asks, estimates=est)
