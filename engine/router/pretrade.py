"""Pre-trade checks: tick/lot alignment, size, notional, price band, open orders, risk state. Pure.

Each check returns ``None`` (pass) or a short reason for the ``Reject``. The caller supplies the
instrument rules, the reference price (mark, else mid) and the trading state risk publishes.

Rules:
- HALTED rejects every new order and amend (cancels always pass, they never reach here).
- REDUCING accepts only ``reduce_only`` orders, and amends that do not increase the size.
- Unknown instrument rules reject (we cannot check tick/lot). A missing reference price rejects
  only when ``require_reference`` (live trading), otherwise the band check is skipped.
- Notional: spot ``sz·px``; linear derivatives ``sz·ctVal·px``; inverse ``sz·ctVal`` (USD).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from engine.instruments import Instrument
from engine.messages import NewOrder, OrdType, TradingState

__all__ = ["InstrumentRules", "OrderLimits", "check_amend", "check_new_order", "notional"]

_BPS = Decimal(10_000)
_PRICED = frozenset({OrdType.LIMIT, OrdType.POST_ONLY, OrdType.IOC, OrdType.FOK})


InstrumentRules = Instrument  # what the router checks orders against: the shared model


@dataclass(frozen=True, slots=True)
class OrderLimits:
    """Limits in force for one strategy (config, tightened by risk)."""

    max_order_sz: Decimal
    max_order_notional: Decimal
    max_open_orders: int
    price_band_bps: int
    trading_state: TradingState = TradingState.ACTIVE


def notional(rules: InstrumentRules, sz: Decimal, px: Decimal) -> Decimal:
    """Quote (USD for inverse) value of ``sz`` at ``px``."""
    if rules.ct_val is None or rules.inst_type in ("SPOT", "MARGIN"):
        return sz * px
    if rules.inverse:
        return sz * rules.ct_val
    return sz * rules.ct_val * px


def _multiple(value: Decimal, step: Decimal) -> bool:
    return step <= 0 or value % step == 0


def _check_px_sz(
    rules: InstrumentRules,
    limits: OrderLimits,
    sz: Decimal,
    px: Decimal | None,
    ref_px: Decimal | None,
    require_reference: bool,
) -> str | None:
    if not sz.is_finite() or sz <= 0:
        return "size must be positive"
    if sz < rules.min_sz:
        return f"size {sz} below minimum {rules.min_sz}"
    if not _multiple(sz, rules.lot_sz):
        return f"size {sz} not a multiple of lot {rules.lot_sz}"
    if sz > limits.max_order_sz:
        return f"size {sz} above max {limits.max_order_sz}"
    if px is not None:
        if not px.is_finite() or px <= 0:
            return "price must be positive"
        if not _multiple(px, rules.tick_sz):
            return f"price {px} not a multiple of tick {rules.tick_sz}"
    if ref_px is None:
        if require_reference:
            return "no reference price (mark/mid) for the band check"
    elif px is not None:
        dev_bps = abs(px - ref_px) / ref_px * _BPS
        if dev_bps > limits.price_band_bps:
            return f"price {px} outside band {limits.price_band_bps} bps of {ref_px}"
    value_px = px if px is not None else ref_px
    if value_px is not None and notional(rules, sz, value_px) > limits.max_order_notional:
        return f"notional above max {limits.max_order_notional}"
    if value_px is None and require_reference:
        return "cannot value a market order without a reference price"
    return None


def check_new_order(
    order: NewOrder,
    rules: InstrumentRules | None,
    limits: OrderLimits,
    open_orders: int,
    ref_px: Decimal | None,
    *,
    require_reference: bool,
) -> str | None:
    """Why ``order`` must be rejected, or None."""
    if limits.trading_state is TradingState.HALTED:
        return "risk halted: only cancels accepted"
    if limits.trading_state is TradingState.REDUCING and not order.reduce_only:
        return "risk reducing: only reduce-only orders accepted"
    if rules is None:
        return f"unknown instrument {order.inst}"
    if not rules.live:
        return f"instrument {order.inst} not live"
    if order.ord_type in _PRICED and order.px is None:
        return f"{order.ord_type.value} order needs px"
    if order.ord_type is OrdType.MARKET and order.px is not None:
        return "market order must not carry px"
    if open_orders >= limits.max_open_orders:
        return f"max open orders {limits.max_open_orders} reached"
    return _check_px_sz(rules, limits, order.sz, order.px, ref_px, require_reference)


def check_amend(
    cur_sz: Decimal,
    cur_px: Decimal | None,
    acc_fill_sz: Decimal,
    new_sz: Decimal | None,
    new_px: Decimal | None,
    rules: InstrumentRules | None,
    limits: OrderLimits,
    ref_px: Decimal | None,
    *,
    require_reference: bool,
) -> str | None:
    """Why an amend to (``new_sz``, ``new_px``) must be rejected, or None."""
    if new_sz is None and new_px is None:
        return "amend changes nothing"
    if limits.trading_state is TradingState.HALTED:
        return "risk halted: only cancels accepted"
    if limits.trading_state is TradingState.REDUCING and new_sz is not None and new_sz > cur_sz:
        return "risk reducing: size may not increase"
    if rules is None:
        return "unknown instrument"
    if new_sz is not None and new_sz <= acc_fill_sz:
        return "new size not above the filled size"
    if cur_px is None and new_px is not None:
        return "cannot reprice a market order"
    sz = new_sz if new_sz is not None else cur_sz
    px = new_px if new_px is not None else cur_px
    return _check_px_sz(rules, limits, sz, px, ref_px, require_reference)
