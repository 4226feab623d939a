"""Reference data and risk inputs: instrument rules, reference prices, trading state, limits. Pure.

From ``md.pub``: mark prices and tickers/books (the reference price for the price band, mark
first), instrument rules. From ``risk.pub``: trading state per scope (account ``*``, instrument,
strategy) and notional limits that tighten the configured ones. A transition to HALTED cancels
every open order in its scope.
"""

from __future__ import annotations

from decimal import Decimal

from loguru import logger

from engine.messages import (
    AnyMsg,
    BookState,
    BookTop,
    InstrumentInfo,
    MarkPrice,
    RiskLimits,
    RiskState,
    Ticker,
    TradingState,
)
from engine.router.config import RouterConfig
from engine.router.effects import Effect
from engine.router.orders import OrderDesk
from engine.router.pretrade import InstrumentRules, OrderLimits

__all__ = ["Market"]

_SEVERITY = {TradingState.ACTIVE: 0, TradingState.REDUCING: 1, TradingState.HALTED: 2}


class Market:
    """What the router knows of instruments, prices and risk's verdicts."""

    def __init__(self, cfg: RouterConfig, desk: OrderDesk, *, require_risk: bool) -> None:
        self.desk = desk
        self.rules: dict[str, InstrumentRules] = {}
        self.mark: dict[str, Decimal] = {}
        self.mid: dict[str, Decimal] = {}
        self.risk_states: dict[tuple[str, str], TradingState] = {}
        self.risk_notional: dict[tuple[str, str], Decimal] = {}
        self.risk_alive = not require_risk
        self.base_limits = OrderLimits(
            max_order_sz=Decimal(cfg.max_order_sz),
            max_order_notional=Decimal(cfg.max_order_notional),
            max_open_orders=cfg.max_open_orders,
            price_band_bps=cfg.price_band_bps,
        )

    def trading_state(self, strategy: str, inst: str) -> TradingState:
        """The most severe state of the account, the instrument and the strategy."""
        worst = TradingState.ACTIVE
        for key in (("account", "*"), ("inst", inst), ("strategy", strategy)):
            st = self.risk_states.get(key, TradingState.ACTIVE)
            if _SEVERITY[st] > _SEVERITY[worst]:
                worst = st
        return worst

    def limits_for(self, strategy: str, inst: str) -> OrderLimits:
        base = self.base_limits
        notional = base.max_order_notional
        for key in (("account", "*"), ("inst", inst), ("strategy", strategy)):
            lim = self.risk_notional.get(key)
            if lim is not None and lim < notional:
                notional = lim
        return OrderLimits(
            max_order_sz=base.max_order_sz,
            max_order_notional=notional,
            max_open_orders=base.max_open_orders,
            price_band_bps=base.price_band_bps,
            trading_state=self.trading_state(strategy, inst),
        )

    def ref_px(self, inst: str) -> Decimal | None:
        return self.mark.get(inst) or self.mid.get(inst)

    def on_message(self, out: list[Effect], msg: AnyMsg) -> None:
        if isinstance(msg, MarkPrice):
            self.mark[msg.inst] = msg.mark_px
        elif isinstance(msg, BookTop):
            mid = msg.mid() if msg.state is BookState.VALID else None
            if mid is not None:
                self.mid[msg.inst] = mid
        elif isinstance(msg, Ticker):
            if msg.bid_px and msg.ask_px:
                self.mid[msg.inst] = (msg.bid_px + msg.ask_px) / 2
        elif isinstance(msg, InstrumentInfo):
            self.rules[msg.inst] = InstrumentRules.from_info(msg)
        elif isinstance(msg, RiskState):
            self._on_risk_state(out, msg)
        elif isinstance(msg, RiskLimits):
            key = (msg.scope, msg.key)
            if msg.max_notional_usd is None:
                self.risk_notional.pop(key, None)
            else:
                self.risk_notional[key] = msg.max_notional_usd

    def _on_risk_state(self, out: list[Effect], msg: RiskState) -> None:
        key = (msg.scope, msg.key)
        before = self.risk_states.get(key, TradingState.ACTIVE)
        self.risk_states[key] = msg.state
        if msg.state is TradingState.HALTED and before is not TradingState.HALTED:
            reason = f"risk halted {msg.scope}:{msg.key}: {msg.reason}"
            logger.error("risk halt: cancelling", scope=msg.scope, key=msg.key, reason=msg.reason)
            # the mono time is not known here; the overdue check only needs a recent value
            for order in self.desk.own.open_orders():
                hit = (
                    msg.scope == "account"
                    or (msg.scope == "inst" and order.inst == msg.key)
                    or (msg.scope == "strategy" and order.strategy == msg.key)
                )
                if hit:
                    self.desk.request_cancel(out, order, order.since_ns, reason)
