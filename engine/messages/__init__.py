"""Every bus message, defined once.

Wire form: a PUB frame is ``[topic, body]``, a ROUTER sees ``[routing_id, body]``; ``body`` is the
msgpack encoding of one :class:`Envelope`: ``[v, src, epoch, seq, ts_ns, msg]`` where ``msg`` is an
array-like, tagged Struct ``[tag, field1, field2, ...]``. Plain msgpack: any client can read it.

Evolution rules (msgspec "schema evolution"): append new fields at the end of a Struct,
always with a default; never reorder, rename, retype or remove a field. ``v`` bumps only
on a breaking change.
Prices and sizes are ``Decimal`` (encoded as strings): exact wherever they are compared or summed.
Empty optional values are ``None``; a Decimal field that OKX sends as ``""`` becomes ``None``.

The messages live by concept in ``base`` (enums, ``Msg``), ``md``, ``account``, ``commands``,
``risk``, ``margin`` and ``control``; this module re-exports every name and holds the one tagged
union (``AnyMsg``) and the ``Envelope``. Tags are the class names, so moving a class between
modules changes nothing on the wire.
"""

from __future__ import annotations

import msgspec

from engine.messages.account import (
    AccountConfig,
    AccountUpdate,
    BalanceDetail,
    Fill,
    OrderUpdate,
    Position,
    RecentFills,
    StreamStatus,
)
from engine.messages.base import (
    PROTOCOL_VERSION,
    BookLevel,
    BookState,
    Level,
    Msg,
    OrderState,
    OrdType,
    Side,
    TradingState,
)
from engine.messages.commands import (
    Ack,
    Amend,
    Bye,
    Cancel,
    CancelAll,
    Fenced,
    Heartbeat,
    Hello,
    NewOrder,
    OrderEvent,
    Reject,
    StrategyLimits,
    StrategyStatus,
    Welcome,
)
from engine.messages.control import (
    ActorStatus,
    CtlReply,
    CtlRequest,
    GetSnapshot,
    SnapshotEnd,
)
from engine.messages.margin import MarginState
from engine.messages.md import (
    BookStatus,
    BookTop,
    InstrumentInfo,
    MarkPrice,
    PubHeartbeat,
    Ticker,
    Trade,
)
from engine.messages.risk import (
    RiskLimits,
    RiskSnapshot,
    RiskState,
)

__all__ = [
    "PROTOCOL_VERSION",
    "AccountConfig",
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
    "MarginState",
    "MarkPrice",
    "Msg",
    "NewOrder",
    "OrdType",
    "OrderEvent",
    "OrderState",
    "OrderUpdate",
    "Position",
    "PubHeartbeat",
    "RecentFills",
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
    | AccountConfig
    | MarginState
)


class Envelope(msgspec.Struct, frozen=True, array_like=True):
    """The header every body carries: version, sender, sender epoch, per-topic seq, send time."""

    v: int
    src: str
    epoch: int
    seq: int
    ts_ns: int
    msg: AnyMsg
