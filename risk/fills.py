"""Fill counters of the original (§5.3), made exact and order-free.

The original added ``Δ = accFillSz − filled_size`` once per loop to ``net_filled_qty`` (± by
side), ``buy_filled_qty`` / ``sell_filled_qty`` and ``trading_volume``, in order-size units
(contracts for SWAP/FUTURES/OPTION, base currency for SPOT/MARGIN). Here each order keeps the
largest ``accFillSz`` ever reported for it (accFillSz only grows), and the counters are sums over
orders — so a repeated, late or reordered order update cannot double count, and the counters
are the same whatever order the updates arrive in:

    buy_filled_qty  = Σ accFillSz of buy orders      sell_filled_qty = Σ accFillSz of sells
    net_filled_qty  = buy_filled_qty − sell_filled_qty
    trading_volume  = buy_filled_qty + sell_filled_qty

Orders are keyed by clOrdId (else ordId); orders that never filled are not stored; terminal
orders are folded into totals (see :class:`FillCounters`). The account's own fills count too:
an order's size filled is the larger of its reported ``accFillSz`` and the sum of its distinct
fills, so fills recovered after a restart (whose order updates are gone) are counted.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from decimal import Decimal

from risk.inputs import ZERO

__all__ = ["FillCounters", "FillTotals", "OrderFillState"]


@dataclass(frozen=True, slots=True)
class FillTotals:
    """The original's counters for one instrument or strategy."""

    buy_filled_qty: Decimal = ZERO
    sell_filled_qty: Decimal = ZERO

    @property
    def net_filled_qty(self) -> Decimal:
        return self.buy_filled_qty - self.sell_filled_qty

    @property
    def trading_volume(self) -> Decimal:
        return self.buy_filled_qty + self.sell_filled_qty

    def plus(self, side: str, qty: Decimal) -> FillTotals:
        if side == "buy":
            return FillTotals(self.buy_filled_qty + qty, self.sell_filled_qty)
        return FillTotals(self.buy_filled_qty, self.sell_filled_qty + qty)


@dataclass(slots=True)
class OrderFillState:
    """What is known of one order's fills."""

    inst: str
    side: str
    acc_fill_sz: Decimal
    strategy: str = ""
    fill_sum: Decimal = ZERO  # Σ sz of the distinct fills seen of this order


class FillCounters:
    """Per-order ``accFillSz`` high-water marks → counters per instrument and per strategy.

    Open orders are kept one by one; a terminal order is folded into per (strategy, instrument)
    totals and remembered in a bounded window, so a late update of it can still correct its
    strategy or fill size without the table growing with every order ever seen.
    Bounded: at most ``max_open`` open orders (beyond, the oldest is folded as if terminal: its
    terminal update was missed) and ``closed_window`` closed ones."""

    def __init__(self, closed_window: int = 5_000, max_open: int = 20_000) -> None:
        self.orders: dict[str, OrderFillState] = {}
        self.closed: OrderedDict[str, OrderFillState] = OrderedDict()
        self.base: dict[tuple[str, str], FillTotals] = {}
        self._closed_window = closed_window
        self._max_open = max_open

    @staticmethod
    def order_key(cl_ord_id: str, ord_id: str) -> str:
        return cl_ord_id or f"ord:{ord_id}"

    def _add(self, strategy: str, st: OrderFillState, qty: Decimal) -> None:
        k = (strategy, st.inst)
        self.base[k] = self.base.get(k, FillTotals()).plus(st.side, qty)

    def on_order(
        self,
        cl_ord_id: str,
        ord_id: str,
        inst: str,
        side: str,
        acc_fill_sz: Decimal,
        strategy: str = "",
        terminal: bool = False,
    ) -> bool:
        """Record an order update; returns True when a counter changed."""
        key = self.order_key(cl_ord_id, ord_id)
        closed = self.closed.get(key)
        if closed is not None:
            return self._on_closed(closed, acc_fill_sz, strategy)
        state = self.orders.get(key)
        changed = False
        if state is None:
            if acc_fill_sz > 0:
                state = self.orders[key] = OrderFillState(inst, side, acc_fill_sz, strategy)
                changed = True
        else:
            if strategy and state.strategy != strategy:
                state.strategy = strategy
                changed = True
            if acc_fill_sz > state.acc_fill_sz:
                state.acc_fill_sz = acc_fill_sz
                changed = True
        if terminal and state is not None:
            self._close(key, state)
        elif len(self.orders) > self._max_open:
            oldest = next(iter(self.orders))
            self._close(oldest, self.orders[oldest])
        return changed

    def _close(self, key: str, state: OrderFillState) -> None:
        del self.orders[key]
        self._add(state.strategy, state, state.acc_fill_sz)
        self.closed[key] = state
        if len(self.closed) > self._closed_window:
            self.closed.popitem(last=False)

    def on_fill(self, cl_ord_id: str, ord_id: str, inst: str, side: str, sz: Decimal) -> bool:
        """One distinct fill of the account (the caller de-duplicates by tradeId); True when
        a counter changed."""
        key = self.order_key(cl_ord_id, ord_id)
        closed = self.closed.get(key)
        st = closed if closed is not None else self.orders.get(key)
        if st is None:
            st = self.orders[key] = OrderFillState(inst, side, ZERO)
        st.fill_sum += sz
        if st.fill_sum <= st.acc_fill_sz:
            return False
        if closed is not None:
            self._add(st.strategy, st, st.fill_sum - st.acc_fill_sz)
        st.acc_fill_sz = st.fill_sum
        if closed is None and len(self.orders) > self._max_open:
            oldest = next(iter(self.orders))
            self._close(oldest, self.orders[oldest])
        return True

    def _on_closed(self, st: OrderFillState, acc_fill_sz: Decimal, strategy: str) -> bool:
        changed = False
        if strategy and st.strategy != strategy:
            self._add(st.strategy, st, -st.acc_fill_sz)
            self._add(strategy, st, st.acc_fill_sz)
            st.strategy = strategy
            changed = True
        if acc_fill_sz > st.acc_fill_sz:
            self._add(st.strategy, st, acc_fill_sz - st.acc_fill_sz)
            st.acc_fill_sz = acc_fill_sz
            changed = True
        return changed

    def by_strategy_inst(self) -> dict[tuple[str, str], FillTotals]:
        out = dict(self.base)
        for st in self.orders.values():
            k = (st.strategy, st.inst)
            out[k] = out.get(k, FillTotals()).plus(st.side, st.acc_fill_sz)
        return out

    def by_inst(self) -> dict[str, FillTotals]:
        out: dict[str, FillTotals] = {}
        for (_, inst), t in self.by_strategy_inst().items():
            o = out.get(inst, FillTotals())
            out[inst] = FillTotals(
                o.buy_filled_qty + t.buy_filled_qty, o.sell_filled_qty + t.sell_filled_qty
            )
        return out

    def by_strategy(self) -> dict[str, FillTotals]:
        out: dict[str, FillTotals] = {}
        for (name, _), t in self.by_strategy_inst().items():
            o = out.get(name, FillTotals())
            out[name] = FillTotals(
                o.buy_filled_qty + t.buy_filled_qty, o.sell_filled_qty + t.sell_filled_qty
            )
        return out
