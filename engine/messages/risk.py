"""Risk: trading state, limits and measurements per scope.

Part of :mod:`engine.messages` (import from there); the class name is the wire tag."""

# ruff: noqa: RUF012 — Msg is a msgspec.Struct (copies mutable defaults); ruff cannot see
# that across modules
from __future__ import annotations

from decimal import Decimal

from engine.messages.base import Msg, TradingState

__all__ = ["RiskLimits", "RiskSnapshot", "RiskState"]


# ---------------------------------------------------------------------------------------- risk
class RiskState(Msg, frozen=True):
    """Trading state for a scope (topic ``riskstate|<scope>|<key>|``).

    ``scope`` is ``account`` (key ``*``), ``inst`` (key = instId) or ``strategy`` (key = name)."""

    scope: str
    key: str
    state: TradingState
    reason: str = ""


class RiskLimits(Msg, frozen=True):
    """Limits risk pushes to the router for a scope (topic ``risklimits|<scope>|<key>|``)."""

    scope: str
    key: str
    max_position: Decimal | None = None
    max_notional_usd: Decimal | None = None


class RiskSnapshot(Msg, frozen=True):
    """Risk measurement (topic ``risk|``), named as the original's StrategyMeasurement."""

    pnl_in_usd_since_running: Decimal
    asset_value_change_in_usd_since_running: Decimal
    inception_ts_ms: int
    current_ts_ms: int
    exposures_base: dict[str, Decimal] = {}
    exposures_quote: dict[str, Decimal] = {}
    net_filled_qty: dict[str, Decimal] = {}
    trading_volume: dict[str, Decimal] = {}
    fees_by_ccy: dict[str, Decimal] = {}
    realized_pnl_usd: Decimal = Decimal(0)
    unrealized_pnl_usd: Decimal = Decimal(0)
    peak_pnl_usd: Decimal = Decimal(0)
    price_usd: dict[str, Decimal] = {}
    pnl_by_strategy_usd: dict[str, Decimal] = {}
    pnl_by_inst_usd: dict[str, Decimal] = {}
    # appended by risk: the rest of the original's measurement and snapshot
    buy_filled_qty: dict[str, Decimal] = {}
    sell_filled_qty: dict[str, Decimal] = {}
    asset_usd_value: Decimal = Decimal(0)
    delta_usd_value: Decimal = Decimal(0)
    pnl_by_ccy: dict[str, Decimal] = {}
