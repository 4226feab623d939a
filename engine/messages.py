"""Every bus message, defined once.

Wire form: a PUB frame is ``[topic, body]``, a ROUTER sees ``[routing_id, body]``; ``body`` is the
msgpack encoding of one :class:`Envelope`: ``[v, src, epoch, seq, ts_ns, msg]`` where ``msg`` is an
array-like, tagged Struct ``[tag, field1, field2, ...]``. Plain msgpack: any client can read it.

Evolution rules (msgspec "schema evolution"): append new fields at the end of a Struct,
always with a default; never reorder, rename, retype or remove a field. ``v`` bumps only
on a breaking change.
Prices and sizes are ``Decimal`` (encoded as strings): exact wherever they are compared or summed.
Empty optional values are ``None``; a Decimal field that OKX sends as ``""`` becomes ``None``.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

import msgspec

__all__ = [
    "PROTOCOL_VERSION",
    "AccountUpdate",
    "Ack",
    "ActorStatus",
    "Amend",
    "AnyMsg",
    "BalanceDetail",
    "BookLevel",
    "BookState",
    "BookStatus",
    "BookTop",
    "Bye",
    "Cancel",
    "CancelAll",
    "CtlReply",
    "CtlRequest",
    "Envelope",
    "Fenced",
    "Fill",
    "GetSnapshot",
    "Heartbeat",
    "Hello",
    "InstrumentInfo",
    "Level",
    "MarkPrice",
    "Msg",
    "NewOrder",
    "OrdType",
    "OrderEvent",
    "OrderState",
    "OrderUpdate",
    "Position",
    "PubHeartbeat",
    "Reject",
    "RiskLimits",
    "RiskSnapshot",
    "RiskState",
    "Side",
    "SnapshotEnd",
    "StrategyLimits",
    "StrategyStatus",
    "StreamStatus",
    "Ticker",
    "Trade",
    "TradingState",
    "Welcome",
]

PROTOCOL_VERSION = 1


# --------------------------------------------------------------------------------------- enums
class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


class OrdType(StrEnum):
    LIMIT = "limit"
    MARKET = "market"
    POST_ONLY = "post_only"
    IOC = "ioc"
    FOK = "fok"


class BookState(StrEnum):
    """A published book is only trusted while VALID."""

    VALID = "VALID"
    RESYNCING = "RESYNCING"


class OrderState(StrEnum):
    """StrategyOrder lifecycle states (the FSM lives in ``engine.orders.fsm``)."""

    PENDING = "PENDING"
    SENT = "SENT"
    ACK = "ACK"
    LIVE = "LIVE"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    AMEND_PENDING = "AMEND_PENDING"
    CANCEL_PENDING = "CANCEL_PENDING"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    REJECTED = "REJECTED"


class TradingState(StrEnum):
    """What risk allows: everything, only position-reducing orders, or only cancels."""

    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"
    HALTED = "HALTED"


class Msg(msgspec.Struct, frozen=True, tag=True, array_like=True, omit_defaults=False):
    """Base of every bus message; the class name is the tag."""


Level = tuple[Decimal, Decimal]
"""One book level: (price, size)."""

BookLevel = tuple[str, str]
"""One level of a published book: OKX's own ``(px, sz)`` strings, exact decimal text.

Books are the hottest message on the bus and a ``Decimal`` per level cost five times the rest
of the message to decode (measured: 20 levels ≈ 3 µs of 4 µs); strings are exact and nearly free,
and consumers read a level or two as ``Decimal`` through the accessors below."""


# --------------------------------------------------------------------------------- market data
class BookTop(Msg, frozen=True):
    """Self-contained top-N book of one instrument (topic ``book|<inst>|``), best level first.

    Compare or compute with prices only through :meth:`best_bid`, :meth:`best_ask`, :meth:`mid`
    or :meth:`levels` (``Decimal``): the raw ``bids``/``asks`` are strings."""

    inst: str
    state: BookState
    seq_id: int
    ts_ms: int  # exchange timestamp of the last applied update
    bids: list[BookLevel]
    asks: list[BookLevel]
    checksum: int = 0

    def best_bid(self) -> Decimal | None:
        return Decimal(self.bids[0][0]) if self.bids else None

    def best_ask(self) -> Decimal | None:
        return Decimal(self.asks[0][0]) if self.asks else None

    def mid(self) -> Decimal | None:
        """(best bid + best ask) / 2, or None when a side is empty."""
        if not self.bids or not self.asks:
            return None
        return (Decimal(self.bids[0][0]) + Decimal(self.asks[0][0])) / 2

    def levels(self, side: Side) -> list[Level]:
        """One side as exact ``Decimal`` ``(px, sz)`` pairs, best first."""
        rows = self.bids if side is Side.BUY else self.asks
        return [(Decimal(px), Decimal(sz)) for px, sz in rows]


class BookStatus(Msg, frozen=True):
    """The book's sync state changed (topic ``bookstate|<inst>|``)."""

    inst: str
    state: BookState
    reason: str = ""


class Trade(Msg, frozen=True):
    """A public trade (topic ``trade|<inst>|``)."""

    inst: str
    trade_id: str
    px: Decimal
    sz: Decimal
    side: Side
    ts_ms: int


class Ticker(Msg, frozen=True):
    """Ticker (topic ``ticker|<inst>|``)."""

    inst: str
    last: Decimal | None
    bid_px: Decimal | None
    bid_sz: Decimal | None
    ask_px: Decimal | None
    ask_sz: Decimal | None
    ts_ms: int
    inst_type: str = ""


class MarkPrice(Msg, frozen=True):
    """Mark price (topic ``mark|<inst>|``)."""

    inst: str
    mark_px: Decimal
    ts_ms: int
    inst_type: str = ""


class InstrumentInfo(Msg, frozen=True):
    """Static trading rules of an instrument (topic ``inst|<inst>|``)."""

    inst: str
    inst_type: str
    tick_sz: Decimal
    lot_sz: Decimal
    min_sz: Decimal
    state: str
    ct_val: Decimal | None = None
    ct_mult: Decimal | None = None
    ct_type: str = ""
    settle_ccy: str = ""
    base_ccy: str = ""
    quote_ccy: str = ""
    ct_val_ccy: str = ""


class PubHeartbeat(Msg, frozen=True):
    """Publisher liveness (topic ``hb|``), every 100 ms; carries the latest seq per topic."""

    actor: str
    seq_by_topic: dict[str, int] = {}


# ------------------------------------------------------------------------------------- account
class BalanceDetail(Msg, frozen=True):
    """One currency of the account (OKX ``account`` details)."""

    ccy: str
    cash_bal: Decimal
    eq: Decimal | None = None
    avail_bal: Decimal | None = None
    avail_eq: Decimal | None = None
    frozen_bal: Decimal | None = None
    eq_usd: Decimal | None = None
    u_time_ms: int = 0
    upl: Decimal | None = None


class AccountUpdate(Msg, frozen=True):
    """Account equity and balances (topic ``acct|``); ``details`` holds the changed currencies."""

    total_eq: Decimal | None
    u_time_ms: int
    details: list[BalanceDetail]
    snapshot: bool = False  # True: details is the whole account


class Position(Msg, frozen=True):
    """One position as OKX reports it (topic ``pos|<inst>|``); flat positions have ``pos == 0``."""

    inst: str
    inst_type: str
    mgn_mode: str
    pos_side: str
    pos: Decimal
    avg_px: Decimal | None
    u_time_ms: int
    mark_px: Decimal | None = None
    upl: Decimal | None = None
    margin: Decimal | None = None
    liab: Decimal | None = None
    pos_ccy: str = ""
    ccy: str = ""
    opt_val: Decimal | None = None
    delta_bs: Decimal | None = None
    delta_pa: Decimal | None = None
    realized_pnl: Decimal | None = None
    fee: Decimal | None = None
    funding_fee: Decimal | None = None
    lever: Decimal | None = None
    liq_px: Decimal | None = None
    pos_id: str = ""


class OrderUpdate(Msg, frozen=True):
    """One venue order update as OKX pushed it (topic ``order|<inst>|``)."""

    inst: str
    inst_type: str
    ord_id: str
    cl_ord_id: str
    side: Side
    ord_type: str
    px: Decimal | None
    sz: Decimal
    state: str  # OKX state: live, partially_filled, filled, canceled, mmp_canceled
    acc_fill_sz: Decimal
    avg_px: Decimal | None
    u_time_ms: int
    fill_px: Decimal | None = None
    fill_sz: Decimal | None = None
    fill_fee: Decimal | None = None
    fill_fee_ccy: str = ""
    trade_id: str = ""
    fee: Decimal | None = None
    fee_ccy: str = ""
    exec_type: str = ""
    cancel_source: str = ""
    amend_result: str = ""
    req_id: str = ""
    code: str = ""
    msg: str = ""
    reduce_only: bool = False
    tag: str = ""
    c_time_ms: int = 0
    pos_side: str = ""
    td_mode: str = ""
    fill_time_ms: int = 0


class Fill(Msg, frozen=True):
    """One execution, de-duplicated by ``(inst, trade_id)`` (topic ``fill|<inst>|``)."""

    inst: str
    trade_id: str
    ord_id: str
    cl_ord_id: str
    side: Side
    px: Decimal
    sz: Decimal
    fee: Decimal
    fee_ccy: str
    ts_ms: int
    exec_type: str = ""
    inst_type: str = ""
    pos_side: str = ""


class StreamStatus(Msg, frozen=True):
    """State of a venue stream (topic ``stream|<name>|``): up, reconciling, down."""

    stream: str
    up: bool
    reason: str = ""


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


# --------------------------------------------------------------------------- snapshots and ctl
class GetSnapshot(Msg, frozen=True):
    """Ask a state owner's ``*.snap`` ROUTER for every topic starting with ``prefix``."""

    prefix: str = ""


class SnapshotEnd(Msg, frozen=True):
    """Last frame of a snapshot: the publisher's seq per topic at the time of the snapshot."""

    seq_by_topic: dict[str, int]


class CtlRequest(Msg, frozen=True):
    """Control request: ping, status, pause, resume, reload, stop, halt, ..."""

    cmd: str
    args: dict[str, str] = {}


class CtlReply(Msg, frozen=True):
    """Control reply; ``status`` holds counters and states for ``status``."""

    cmd: str
    ok: bool
    detail: str = ""
    status: dict[str, str | int | float | bool] = {}


class ActorStatus(Msg, frozen=True):
    """An actor's liveness and counters, published by the supervisor (topic ``actor|<name>|``)."""

    name: str
    pid: int
    state: str
    restarts: int = 0
    detail: str = ""


class RecentFills(Msg, frozen=True):
    """One slot of private-gw's bounded ring of the account's recent fills (topic
    ``recentfills|<slot>|``, retained), so a subscriber that was down replays them from the
    Clone snapshot; fills are de-duplicated by ``(inst, trade_id)`` like every ``Fill``."""

    slot: int
    fills: list[Fill]


AnyMsg = (
    BookTop
    | BookStatus
    | Trade
    | Ticker
    | MarkPrice
    | InstrumentInfo
    | PubHeartbeat
    | BalanceDetail
    | AccountUpdate
    | Position
    | OrderUpdate
    | Fill
    | StreamStatus
    | StrategyLimits
    | Hello
    | Welcome
    | Heartbeat
    | NewOrder
    | Amend
    | Cancel
    | CancelAll
    | Bye
    | Ack
    | Reject
    | Fenced
    | OrderEvent
    | StrategyStatus
    | RiskState
    | RiskLimits
    | RiskSnapshot
    | GetSnapshot
    | SnapshotEnd
    | CtlRequest
    | CtlReply
    | ActorStatus
    | RecentFills
)


class Envelope(msgspec.Struct, frozen=True, array_like=True):
    """The header every body carries: version, sender, sender epoch, per-topic seq, send time."""

    v: int
    src: str
    epoch: int
    seq: int
    ts_ns: int
    msg: AnyMsg
