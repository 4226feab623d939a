"""Strategy ↔ router: session (Hello/Welcome/Heartbeat/Bye), order commands and their
replies, the order lifecycle a strategy sees, and its status.

Part of :mod:`engine.messages` (import from there); the class name is the wire tag."""

# ruff: noqa: RUF012 — Msg is a msgspec.Struct (copies mutable defaults); ruff cannot see
# that across modules
from __future__ import annotations

from decimal import Decimal

from engine.messages.base import Level, Msg, OrderState, OrdType, Side, TradingState

__all__ = [
    "Ack",
    "Amend",
    "Bye",
    "Cancel",
    "CancelAll",
    "Fenced",
    "Heartbeat",
    "Hello",
    "NewOrder",
    "OrderEvent",
    "Reject",
    "StrategyLimits",
    "StrategyStatus",
    "Welcome",
]


# ------------------------------------------------------------------------------ order commands
class StrategyLimits(Msg, frozen=True):
    """What the router allows a strategy; sent in ``Welcome``."""

    max_order_sz: Decimal
    max_order_notional: Decimal
    max_open_orders: int
    price_band_bps: int
    trading_state: TradingState = TradingState.ACTIVE


class Hello(Msg, frozen=True):
    """First command of a strategy; ``epoch`` must match the routing id ``S:<name>:<epoch>``."""

    strategy: str
    epoch: int
    inst: str
    pid: int = 0


class Welcome(Msg, frozen=True):
    """Router's answer to Hello: the short id for clOrdIds and the limits in force."""

    strategy: str
    epoch: int
    short_id: str
    limits: StrategyLimits
    heartbeat_ms: int = 50
    dead_after_ms: int = 150


class Heartbeat(Msg, frozen=True):
    """Application heartbeat, sent every 50 ms from the strategy's event loop."""

    strategy: str


class NewOrder(Msg, frozen=True):
    """Place one order; ``cl_ord_id`` comes from ``engine.orders.clordid`` (strategy + epoch)."""

    cl_ord_id: str
    inst: str
    side: Side
    ord_type: OrdType
    sz: Decimal
    px: Decimal | None = None
    td_mode: str = "cross"
    pos_side: str = ""
    reduce_only: bool = False
    ccy: str = ""  # MARGIN orders: the margin currency (OKX ``ccy``); else ""


class Amend(Msg, frozen=True):
    """Move a live order: new price and/or new *total* size (OKX ``newSz``)."""

    cl_ord_id: str
    inst: str
    new_px: Decimal | None = None
    new_sz: Decimal | None = None


class Cancel(Msg, frozen=True):
    """Cancel one order by clOrdId."""

    cl_ord_id: str
    inst: str


class CancelAll(Msg, frozen=True):
    """Cancel every order of ``strategy`` (empty: the sender), optionally of one instrument."""

    strategy: str = ""
    inst: str = ""
    reason: str = ""


class Bye(Msg, frozen=True):
    """Orderly goodbye: the router fences the strategy and cancels its orders."""

    strategy: str
    reason: str = ""


class Ack(Msg, frozen=True):
    """Router accepted command ``cmd_seq`` (the envelope seq of the command)."""

    cmd_seq: int
    cl_ord_id: str = ""
    detail: str = ""


class Reject(Msg, frozen=True):
    """Router or venue refused command ``cmd_seq``; ``code`` is the OKX code when there is one."""

    cmd_seq: int
    reason: str
    cl_ord_id: str = ""
    code: str = ""


class Fenced(Msg, frozen=True):
    """The strategy's epoch is fenced: every later command of that epoch is refused."""

    strategy: str
    epoch: int
    reason: str


# ----------------------------------------------------------------------------- order lifecycle
class OrderEvent(Msg, frozen=True):
    """A strategy order's lifecycle step (topic ``ord|<strategy>|``), from the router."""

    strategy: str
    epoch: int
    cl_ord_id: str
    inst: str
    side: Side
    state: OrderState
    sz: Decimal
    px: Decimal | None
    acc_fill_sz: Decimal
    ord_id: str = ""
    avg_px: Decimal | None = None
    fill_px: Decimal | None = None
    fill_sz: Decimal | None = None
    trade_id: str = ""
    fee: Decimal | None = None
    fee_ccy: str = ""
    reason: str = ""
    code: str = ""
    ts_ms: int = 0


class StrategyStatus(Msg, frozen=True):
    """What a worker is doing and why (topic ``strat|<strategy>|``), relayed by the router.

    ``estimates`` carries live model values (A–S sigma, kappa, reservation price...)."""

    strategy: str
    inst: str
    state: str
    quoting: bool
    reason: str = ""
    bids: list[Level] = []
    asks: list[Level] = []
    net_position: Decimal = Decimal(0)
    fills: int = 0
    estimates: dict[str, float] = {}
    pnl: Decimal = Decimal(0)  # trading P&L since the worker started, quote ccy, after fees
    open_orders: int = 0
    volume: Decimal = Decimal(0)  # filled size since start, order-size units
    epoch: int = 0
