"""The synthetic background market: per instrument a seeded random-walk fair price, a deep
ladder of resting liquidity around it and Poisson taker flow that trades against every resting
order, ours included.

Deterministic: one ``random.Random`` per instrument seeded from (seed, instId); the same seed
and the same sequence of ``step`` calls give the same books. Pure: time comes in as arguments.
Liquidity is real orders of a synthetic account, so queue priority and fills are the matching
engine's; level sizes depend only on the price so unchanged levels do not churn.
"""

from __future__ import annotations

import math
import random
from decimal import Decimal

from ops.exchange.accounts import Account
from ops.exchange.config import MarketSpec
from ops.exchange.instruments import Instrument
from ops.exchange.matching import Exchange
from ops.exchange.orders import Order

__all__ = ["InstrumentMarket", "Market"]

MAKER_KEY = "__synthetic-maker__"
TAKER_KEY = "__synthetic-taker__"


class InstrumentMarket:
    """Fair price, ladder and flow of one instrument."""

    def __init__(
        self,
        ex: Exchange,
        inst: Instrument,
        spec: MarketSpec,
        seed: int,
        maker: Account,
        taker: Account,
    ) -> None:
        self.ex = ex
        self.inst = inst
        self.spec = spec
        self.rng = random.Random(f"{seed}:{inst.inst_id}")  # noqa: S311 - simulation, not crypto
        self.fair = float(inst.start_tick)
        self.maker = maker
        self.taker = taker
        self.resting: dict[tuple[bool, int], Order] = {}
        self._tops: dict[bool, int] = {}
        self._size_salt = self.rng.getrandbits(32)
        self.trades = 0

    def _level_lots(self, ticks: int) -> int:
        s = self.spec
        span = max(s.level_size_max_lots - s.level_size_min_lots, 0) + 1
        k = s.level_size_min_lots + ((ticks * 2654435761) ^ self._size_salt) % span
        return max(k, 1) * max(self.inst.min_lots, 1)

    def shock(self, pct: float) -> None:
        """Move the fair price by ``pct`` percent at once."""
        self.fair = max(self.fair * (1 + pct / 100), 1.0)

    def step(self, dt_ms: int, now_ms: int, *, frozen: bool) -> None:
        """Advance ``dt_ms`` of simulated time."""
        if not frozen:
            sigma = self.fair * self.spec.volatility_bps / 10_000 * math.sqrt(dt_ms / 1000)
            self.fair = max(self.fair + self.rng.gauss(0.0, sigma), 10.0)
        self.requote(now_ms)
        if not frozen:
            self.flow(dt_ms, now_ms)
        self.ex.marks[self.inst.inst_id] = self.inst.px(round(self.fair))

    def requote(self, now_ms: int) -> None:
        """Bring the synthetic ladder to its target around the fair price.

        Incremental: only levels that left or entered the ladder, and consumed ones, are touched.
        """
        s = self.spec
        center = round(self.fair)
        gap = max(s.level_gap_ticks, 1)
        span = (s.levels - 1) * gap
        new = {True: center - s.half_spread_ticks, False: center + s.half_spread_ticks}
        refill = self.ex.synthetic_filled.pop(self.inst.inst_id, [])
        # cancel first: new bids must not meet stale synthetic asks
        for buy in (True, False):
            old = self._tops.get(buy)
            top = new[buy]
            if old is None or (old - top) % gap:
                for key in [k for k in self.resting if k[0] == buy]:
                    self._drop(key, now_ms)
                continue
            lo_new, hi_new = (top - span, top) if buy else (top, top + span)
            lo_old, hi_old = (old - span, old) if buy else (old, old + span)
            if hi_old < lo_new or lo_old > hi_new:
                gone = range(lo_old, hi_old + 1, gap)
            elif lo_old < lo_new:
                gone = range(lo_old, lo_new, gap)
            else:
                gone = range(hi_new + gap, hi_old + 1, gap)
            for t in gone:
                self._drop((buy, t), now_ms)
        for o in refill:
            key = (o.side == "buy", o.ticks)
            if self.resting.get(key) is o:
                del self.resting[key]
        inst = self.inst
        for buy in (True, False):
            top = new[buy]
            old = self._tops.get(buy)
            step = -gap if buy else gap
            todo: list[int] = []
            if old is None or (old - top) % gap or abs(old - top) > span:
                todo = [top + i * step for i in range(s.levels)]
            elif top != old:
                # levels between the new top and the old top (or bottom) are new
                if (top > old) == buy:  # the ladder moved towards the spread: new best levels
                    todo = list(range(top, old, step))
                else:  # moved away: new deep levels
                    deep_old = old + span * (-1 if buy else 1)
                    deep_new = top + span * (-1 if buy else 1)
                    todo = list(range(deep_new, deep_old, -step))
            todo.extend(o.ticks for o in refill if (o.side == "buy") == buy)
            for ticks in todo:
                if ticks <= 0 or (buy, ticks) in self.resting:
                    continue
                if (top - ticks) * (1 if buy else -1) < 0 or abs(top - ticks) > span:
                    continue
                placed = self.ex.new_order(
                    self.maker,
                    inst,
                    side="buy" if buy else "sell",
                    ord_type="limit",
                    ticks=ticks,
                    lots=self._level_lots(ticks),
                    now_ms=now_ms,
                )
                if isinstance(placed, Order) and placed.live:
                    self.resting[(buy, ticks)] = placed
            self._tops[buy] = top

    def _drop(self, key: tuple[bool, int], now_ms: int) -> None:
        o = self.resting.pop(key, None)
        if o is not None and o.live:
            self.ex.cancel(self.maker, o, now_ms)

    def _poisson(self, lam: float) -> int:
        if lam <= 0:
            return 0
        limit = math.exp(-lam)
        k, p = 0, self.rng.random()
        while p > limit:
            k += 1
            p *= self.rng.random()
        return k

    def flow(self, dt_ms: int, now_ms: int) -> None:
        """Synthetic takers: IOC orders a few ticks through the touch."""
        s = self.spec
        n = self._poisson(s.taker_rate_per_s * dt_ms / 1000)
        center = round(self.fair)
        reach = s.half_spread_ticks + 3 * max(s.level_gap_ticks, 1)
        for _ in range(n):
            buy = self.rng.random() < 0.5
            k = self.rng.randint(
                s.taker_size_min_lots, max(s.taker_size_max_lots, s.taker_size_min_lots)
            )
            lots = k * max(self.inst.min_lots, 1)
            ticks = center + reach if buy else max(center - reach, 1)
            self.ex.new_order(
                self.taker,
                self.inst,
                side="buy" if buy else "sell",
                ord_type="ioc",
                ticks=ticks,
                lots=lots,
                now_ms=now_ms,
            )
            self.trades += 1


class Market:
    """Every instrument's synthetic market."""

    def __init__(self, ex: Exchange, seed: int, now_ms: int) -> None:
        self.ex = ex
        self.sim_ms = 0
        big = {c: Decimal(10) ** 15 for c in ("USDT", "BTC", "ETH")}
        maker = ex.add_account(MAKER_KEY, big, now_ms, synthetic=True)
        taker = ex.add_account(TAKER_KEY, big, now_ms, synthetic=True)
        cfg = ex.cfg
        self.by_inst: dict[str, InstrumentMarket] = {
            k: InstrumentMarket(
                ex, inst, cfg.market_overrides.get(k, cfg.market), seed, maker, taker
            )
            for k, inst in ex.instruments.items()
        }

    def step(self, dt_ms: int, now_ms: int, *, frozen: bool = False) -> None:
        self.sim_ms += dt_ms
        for m in self.by_inst.values():
            m.step(dt_ms, now_ms, frozen=frozen)

    def shock(self, pct: float, inst_id: str | None = None) -> None:
        for k, m in self.by_inst.items():
            if inst_id in (None, "", k):
                m.shock(pct)
