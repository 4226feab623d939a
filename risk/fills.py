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

Orders are keyed by clOrdId (else ordId); orders that never filled are not stored.
"""

from __future__ import annotations

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


class FillCounters:
    """Per-order ``accFillSz`` high-water marks → counters per instrument and per strategy."""

    def __init__(self) -> None:
        self.orders: dict[str, OrderFillState] = {}
        self._strategy_of: dict[str, str] = {}

    @staticmethod
    def order_key(cl_ord_id: str, ord_id: str) -> str:
        return cl_ord_id or f"ord:{ord_id}"

    def on_order(
        self,
        cl_ord_id: str,
        ord_id: str,
        inst: str,
        side: str,
        acc_fill_sz: Decimal,
        strategy: str = "",
    ) -> bool:
        """Record an order update; returns True when a counter changed."""
        key = self.order_key(cl_ord_id, ord_id)
        if strategy:
            self._strategy_of[key] = strategy
        state = self.orders.get(key)
        if state is None:
            if acc_fill_sz <= 0:
                return False
            self.orders[key] = OrderFillState(inst, side, acc_fill_sz, strategy)
            return True
        changed = False
        if strategy and state.strategy != strategy:
            state.strategy = strategy
            changed = True
        if acc_fill_sz > state.acc_fill_sz:
            state.acc_fill_sz = acc_fill_sz
            changed = True
        return changed

    def strategy_of(self, cl_ord_id: str) -> str:
        return self._strategy_of.get(cl_ord_id, "")

    def by_inst(self) -> dict[str, FillTotals]:
        out: dict[str, FillTotals] = {}
        for st in self.orders.values():
            out[st.inst] = out.get(st.inst, FillTotals()).plus(st.side, st.acc_fill_sz)
        return out

    def by_strategy(self) -> dict[str, FillTotals]:
        out: dict[str, FillTotals] = {}
        for key, st in self.orders.items():
            name = st.strategy or self._strategy_of.get(key, "")
            out[name] = out.get(name, FillTotals()).plus(st.side, st.acc_fill_sz)
        return out

    def by_strategy_inst(self) -> dict[tuple[str, str], FillTotals]:
        out: dict[tuple[str, str], FillTotals] = {}
        for key, st in self.orders.items():
            k = (st.strategy or self._strategy_of.get(key, ""), st.inst)
            out[k] = out.get(k, FillTotals()).plus(st.side, st.acc_fill_sz)
        return out
