"""Avellaneda–Stoikov (2008) quoting, in relative price units, with live estimates.

Model: mid follows a driftless diffusion with volatility σ; market orders hit a quote at
distance δ with intensity λ(δ) = A·e^(−κδ). With inventory q and risk aversion γ over a horizon
τ = T − t (rolling: ``as_horizon_sec``), the reservation price and the optimal total spread are

    r = s · (1 − q·γ·σ²·τ)
    δ_bid + δ_ask = γ·σ²·τ + (2/γ)·ln(1 + γ/κ)          (as a fraction of s)

Units: σ is the stdev of log mid returns per √second, δ and the spread are fractions of the mid,
κ is per unit of relative distance, A is trades per second, q = position / order size.
Estimates: σ from time-sampled mids, κ = 1/mean(|trade px − mid|/mid) (the MLE of an exponential
distance), A = trade rate; defaults until ``as_min_samples`` / ``as_min_trades`` are seen.
Quotes: bid at r·(1 − spread/2) floored to the tick, ask at r·(1 + spread/2) ceiled, more levels
``step_pct`` apart; spread clamped to [min_spread_pct, max_spread_pct]; never crossing the book;
no bids at the long limit, no asks at the short limit. Every estimate is published on the bus.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from engine.messages import Side
from strategies.base import BaseStrategy, Desired, MarketView, Quote, clamp_no_cross, port_size
from strategies.grid import ceil_to_step, floor_to_step
from strategies.params import StrategyParams
from strategies.series import TapeTrade

__all__ = [
    "ASEstimates",
    "AvellanedaStoikov",
    "as_quotes",
    "estimate_intensity",
    "estimate_kappa",
    "estimate_sigma",
]

_NS = 1_000_000_000


def estimate_sigma(samples: Sequence[tuple[int, Decimal]], min_samples: int) -> float | None:
    """σ per √s from (ns, mid) samples: sqrt(mean(r_k² / Δt_k)), r_k the log returns."""
    if len(samples) < max(2, min_samples):
        return None
    acc = 0.0
    n = 0
    for (t0, m0), (t1, m1) in itertools.pairwise(samples):
        dt = (t1 - t0) / _NS
        if dt <= 0 or m0 <= 0 or m1 <= 0:
            continue
        r = math.log(float(m1) / float(m0))
        acc += r * r / dt
        n += 1
    if n == 0:
        return None
    return math.sqrt(acc / n)


def estimate_kappa(trades: Sequence[TapeTrade], min_trades: int, tick: Decimal) -> float | None:
    """κ = 1 / mean relative distance of trades from the mid (at least half a tick)."""
    if len(trades) < min_trades:
        return None
    total = 0.0
    for t in trades:
        if t.mid <= 0:
            continue
        floor = float(tick) / 2 / float(t.mid)
        total += max(abs(float(t.px) - float(t.mid)) / float(t.mid), floor)
    mean = total / len(trades)
    return 1.0 / mean if mean > 0 else None


def estimate_intensity(trades: Sequence[TapeTrade], now_ns: int, window_sec: float) -> float:
    """A: trades per second over the window (or since the first trade, if shorter)."""
    if not trades:
        return 0.0
    span = min(window_sec, max((now_ns - trades[0].ts_ns) / _NS, 1e-3))
    return len(trades) / span


@dataclass(frozen=True, slots=True)
class ASEstimates:
    sigma: float
    kappa: float
    intensity: float
    q: float
    reservation: float
    spread_pct: float
    sigma_estimated: bool
    kappa_estimated: bool

    def as_dict(self, params: StrategyParams) -> dict[str, float]:
        return {
            "sigma": self.sigma,
            "kappa": self.kappa,
            "A": self.intensity,
            "q": self.q,
            "reservation_px": self.reservation,
            "spread_pct": self.spread_pct,
            "gamma": params.as_gamma,
            "horizon_s": params.as_horizon_sec,
            "sigma_estimated": float(self.sigma_estimated),
            "kappa_estimated": float(self.kappa_estimated),
        }


def as_quotes(
    *,
    mid: float,
    sigma: float,
    kappa: float,
    gamma: float,
    horizon: float,
    q: float,
    min_spread: float,
    max_spread: float,
) -> tuple[float, float, float]:
    """(reservation price, total spread fraction, unclamped spread fraction)."""
    var_term = gamma * sigma * sigma * horizon
    reservation = mid * (1.0 - q * var_term)
    raw = var_term + (2.0 / gamma) * math.log(1.0 + gamma / kappa)
    return reservation, min(max(raw, min_spread), max_spread), raw


class AvellanedaStoikov(BaseStrategy):
    """Reservation price and optimal spread from live σ, κ, A."""

    name = "avellaneda_stoikov"
    uses_mids = True
    uses_trades = True

    def estimates(self, view: MarketView, params: StrategyParams) -> ASEstimates:
        mid = view.mid
        assert mid is not None
        sigma = estimate_sigma(view.mid_samples, params.as_min_samples)
        kappa = params.as_kappa or estimate_kappa(view.trades, params.as_min_trades, view.tick)
        size = port_size(params, view.lot, view.min_sz) or params.order_size(view.lot)
        q = float(view.net / size) if size > 0 else 0.0
        s = sigma if sigma is not None else params.as_sigma_default
        k = kappa if kappa is not None else params.as_kappa_default
        r, spread, _ = as_quotes(
            mid=float(mid),
            sigma=s,
            kappa=k,
            gamma=params.as_gamma,
            horizon=params.as_horizon_sec,
            q=q,
            min_spread=params.min_spread_pct,
            max_spread=params.max_spread_pct,
        )
        return ASEstimates(
            sigma=s,
            kappa=k,
            intensity=estimate_intensity(view.trades, view.now_ns, params.as_window_sec),
            q=q,
            reservation=r,
            spread_pct=spread,
            sigma_estimated=sigma is not None,
            kappa_estimated=params.as_kappa is None and kappa is not None,
        )

    def ladder(self, view: MarketView, params: StrategyParams) -> Desired:
        assert view.best_bid is not None
        assert view.best_ask is not None
        assert view.mid is not None
        est = self.estimates(view, params)
        size = port_size(params, view.lot, view.min_sz)
        if size is None:
            return Desired.halted("order size below minSz", est.as_dict(params))
        mid = float(view.mid)
        n = params.num_orders_per_side
        n_buy = 0 if view.net >= params.max_net_buy else n
        n_sell = 0 if -view.net >= params.max_net_sell else n
        step = mid * params.step_pct
        bids: list[Quote] = []
        asks: list[Quote] = []
        for i in range(n_buy):
            raw = est.reservation * (1 - est.spread_pct / 2) - step * i
            px = clamp_no_cross(
                floor_to_step(raw, view.tick), Side.BUY, view.best_bid, view.best_ask, view.tick
            )
            if bids and px >= bids[-1].px:
                px = bids[-1].px - view.tick
            if px <= 0:
                break
            bids.append(Quote(Side.BUY, px, size))
        for i in range(n_sell):
            raw = est.reservation * (1 + est.spread_pct / 2) + step * i
            px = clamp_no_cross(
                ceil_to_step(raw, view.tick), Side.SELL, view.best_bid, view.best_ask, view.tick
            )
            if asks and px <= asks[-1].px:
                px = asks[-1].px + view.tick
            asks.append(Quote(Side.SELL, px, size))
        return Desired(bids=tuple(bids), asks=tuple(asks), estimates=est.as_dict(params))
