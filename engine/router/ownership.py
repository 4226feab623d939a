"""Every order the router owns: clOrdId → strategy, epoch, venue state. Pure.

Invariants:
- A clOrdId is owned by exactly one (strategy, epoch) for the router's lifetime (and, through the
  journal, across restarts); a second NewOrder with the same id is refused by the caller.
- ``state`` is only changed through :meth:`OwnedOrder.apply`, i.e. the shared table of
  ``engine.orders.fsm``.
- Terminal orders stay (for late pushes and fill de-duplication) until :meth:`Ownership.prune`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from engine.messages import OrderEvent, OrderState, OrdType, Side
from engine.orders.fsm import OrderTrigger, advance, is_terminal
from engine.router.records import JOrder

__all__ = ["OwnedOrder", "Ownership", "Waiter"]

_ZERO = Decimal(0)


@dataclass(slots=True)
class Waiter:
    """A command waiting for the venue's answer: reply to ``identity`` with ``cmd_seq``."""

    identity: bytes
    cmd_seq: int


@dataclass(slots=True)
class OwnedOrder:
    """One order and what the router knows and wants of it.

    ``spec`` is the order as it was placed and journalled (:class:`JOrder`, the same object the
    journal holds: no copy); everything else is what changed since. ``sz``/``px`` start as the
    spec's and follow amends."""

    spec: JOrder
    sz: Decimal
    px: Decimal | None
    state: OrderState = OrderState.PENDING
    ord_id: str = ""
    acc_fill_sz: Decimal = _ZERO
    avg_px: Decimal | None = None
    venue_seen: bool = False  # the venue answered the place or pushed it: it knows the order
    want_cancel: bool = False
    cancel_in_flight: bool = False
    cancel_attempts: int = 0
    cancel_refilled_ns: int | None = None  # when the cancel budget was last refilled
    place_attempts: int = 0
    query_in_flight: bool = False
    queries: int = 0
    since_ns: int = 0  # monotonic time of the last state change or request
    terminal_ns: int = 0
    place_waiter: Waiter | None = None
    cancel_waiters: list[Waiter] = field(default_factory=list)
    amend_waiter: Waiter | None = None
    pending_amend: tuple[Decimal | None, Decimal | None] | None = None
    trade_ids: set[str] = field(default_factory=set)

    # the placed order's fields, read through (one record, no copy)
    @property
    def cl_ord_id(self) -> str:
        return self.spec.cl_ord_id

    @property
    def strategy(self) -> str:
        return self.spec.strategy

    @property
    def epoch(self) -> int:
        return self.spec.epoch

    @property
    def inst(self) -> str:
        return self.spec.inst

    @property
    def side(self) -> Side:
        return self.spec.side

    @property
    def ord_type(self) -> OrdType:
        return self.spec.ord_type

    @property
    def td_mode(self) -> str:
        return self.spec.td_mode

    @property
    def pos_side(self) -> str:
        return self.spec.pos_side

    @property
    def reduce_only(self) -> bool:
        return self.spec.reduce_only

    @property
    def ccy(self) -> str:
        return self.spec.ccy

    def apply(self, trigger: OrderTrigger, now_ns: int) -> bool:
        """Advance through the FSM table; True if the state changed. Raises
        IllegalTransitionError for a pair with no row (caller resolves by a query)."""
        new = advance(self.state, trigger, filled=self.acc_fill_sz)
        changed = new is not self.state
        self.state = new
        if changed:
            self.since_ns = now_ns
            if is_terminal(new):
                self.terminal_ns = now_ns
        return changed

    @property
    def terminal(self) -> bool:
        return is_terminal(self.state)

    def event(
        self,
        *,
        reason: str = "",
        code: str = "",
        fill_px: Decimal | None = None,
        fill_sz: Decimal | None = None,
        trade_id: str = "",
        fee: Decimal | None = None,
        fee_ccy: str = "",
        ts_ms: int = 0,
    ) -> OrderEvent:
        """The lifecycle message for ``ord|<strategy>|...``."""
        return OrderEvent(
            strategy=self.strategy,
            epoch=self.epoch,
            cl_ord_id=self.cl_ord_id,
            inst=self.inst,
            side=self.side,
            state=self.state,
            sz=self.sz,
            px=self.px,
            acc_fill_sz=self.acc_fill_sz,
            ord_id=self.ord_id,
            avg_px=self.avg_px,
            fill_px=fill_px,
            fill_sz=fill_sz,
            trade_id=trade_id,
            fee=fee,
            fee_ccy=fee_ccy,
            reason=reason,
            code=code,
            ts_ms=ts_ms,
        )


class Ownership:
    """The order table, indexed by clOrdId and by strategy name."""

    def __init__(self) -> None:
        self._orders: dict[str, OwnedOrder] = {}
        self._by_strategy: dict[str, set[str]] = {}
        self._by_ord_id: dict[str, str] = {}
        # open orders per strategy, cleaned lazily: keeps open_count O(open), not O(history)
        self._open: dict[str, set[str]] = {}

    def __contains__(self, cl_ord_id: str) -> bool:
        return cl_ord_id in self._orders

    def __len__(self) -> int:
        return len(self._orders)

    def add(self, order: OwnedOrder) -> None:
        if order.cl_ord_id in self._orders:
            raise ValueError(f"duplicate clOrdId {order.cl_ord_id}")
        self._orders[order.cl_ord_id] = order
        self._by_strategy.setdefault(order.strategy, set()).add(order.cl_ord_id)
        if not order.terminal:
            self._open.setdefault(order.strategy, set()).add(order.cl_ord_id)
        if order.ord_id:
            self._by_ord_id[order.ord_id] = order.cl_ord_id

    def get(self, cl_ord_id: str) -> OwnedOrder | None:
        return self._orders.get(cl_ord_id)

    def by_ord_id(self, ord_id: str) -> OwnedOrder | None:
        cid = self._by_ord_id.get(ord_id)
        return None if cid is None else self._orders.get(cid)

    def set_ord_id(self, order: OwnedOrder, ord_id: str) -> None:
        if ord_id and order.ord_id != ord_id:
            order.ord_id = ord_id
            self._by_ord_id[ord_id] = order.cl_ord_id

    def all(self) -> list[OwnedOrder]:
        return list(self._orders.values())

    def on_state(self, order: OwnedOrder) -> None:
        """Call after ``order.state`` changed (keeps the open index exact)."""
        if order.terminal:
            ids = self._open.get(order.strategy)
            if ids is not None:
                ids.discard(order.cl_ord_id)

    def open_orders(self, strategy: str | None = None, inst: str = "") -> list[OwnedOrder]:
        """Non-terminal orders, of one strategy (any epoch) and/or instrument."""
        names = list(self._open) if strategy is None else [strategy]
        out = []
        for name in names:
            for cid in list(self._open.get(name, ())):
                o = self._orders[cid]
                if o.terminal:  # defensive: a state set without on_state()
                    self._open[name].discard(cid)
                elif not inst or o.inst == inst:
                    out.append(o)
        return out

    def open_count(self, strategy: str) -> int:
        return len(self._open.get(strategy, ()))

    def prune(self, now_ns: int, keep_ns: int) -> int:
        """Drop terminal orders older than ``keep_ns``; returns how many."""
        old = [o for o in self._orders.values() if o.terminal and now_ns - o.terminal_ns > keep_ns]
        for o in old:
            del self._orders[o.cl_ord_id]
            self._by_strategy.get(o.strategy, set()).discard(o.cl_ord_id)
            if o.ord_id:
                self._by_ord_id.pop(o.ord_id, None)
        return len(old)
