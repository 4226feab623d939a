"""OKX WebSocket protocol without I/O: text frames in, typed events out; requests built as bytes.

:class:`WsParser` turns one received frame into one :data:`WsEvent`. It never raises: a frame it
cannot read becomes :class:`UnknownFrame` (and is counted). Pushes are dispatched on
``arg.channel``; control events on ``event``; trade-op responses on ``op`` + ``id``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from gateway.okx.results import TradeResult
from gateway.okx.schemas import (
    Balance,
    BalanceAndPosition,
    BookData,
    MarkPriceData,
    OrderAck,
    OrderData,
    PositionData,
    PushArg,
    TickerData,
    TradeData,
    WsFrame,
)

__all__ = [
    "BOOK_CHANNELS",
    "TRADE_OPS",
    "AccountPush",
    "BalanceAndPositionPush",
    "BooksPush",
    "ChannelConnCount",
    "Connected",
    "Disconnected",
    "LoginAck",
    "MarkPricePush",
    "Notice",
    "OpResponse",
    "OrdersPush",
    "Pong",
    "PositionsPush",
    "SubscribeAck",
    "TickersPush",
    "TradesPush",
    "UnknownFrame",
    "UnsubscribeAck",
    "WsError",
    "WsEvent",
    "WsParser",
    "encode_login",
    "encode_op",
    "encode_subscribe",
]

BOOK_CHANNELS = frozenset({"books", "books5", "bbo-tbt", "books-l2-tbt", "books50-l2-tbt"})
TRADE_OPS = frozenset(
    {
        "order",
        "batch-orders",
        "cancel-order",
        "batch-cancel-orders",
        "amend-order",
        "batch-amend-orders",
        "mass-cancel",
    }
)


# ---------------------------------------------------------------------------------- events
@dataclass(frozen=True, slots=True)
class Pong:
    """The text ``pong`` answering our keep-alive ``ping``."""


@dataclass(frozen=True, slots=True)
class LoginAck:
    conn_id: str


@dataclass(frozen=True, slots=True)
class SubscribeAck:
    arg: PushArg
    id: str = ""


@dataclass(frozen=True, slots=True)
class UnsubscribeAck:
    arg: PushArg
    id: str = ""


@dataclass(frozen=True, slots=True)
class WsError:
    """``event:error`` (bad request, login failure, wrong channel...)."""

    code: str
    msg: str
    id: str = ""


@dataclass(frozen=True, slots=True)
class Notice:
    """``event:notice``, e.g. ``64008`` reconnect before a service upgrade."""

    code: str
    msg: str


@dataclass(frozen=True, slots=True)
class ChannelConnCount:
    channel: str
    count: int
    error: bool = False


@dataclass(frozen=True, slots=True)
class OpResponse:
    """Response to a trade op; ``result.code`` not in 0/1/2 is a request-level failure."""

    id: str
    op: str
    result: TradeResult


class BooksPush(msgspec.Struct, frozen=True, gc=False):
    """A ``books*`` push. A msgspec ``Struct``, not a dataclass like its siblings: it is built
    for every book frame, and a frozen dataclass costs ~0.5 µs to build, a Struct ~0.06 µs
    (``gc=False``: it only holds decoded data, never a cycle, so the GC need not track it)."""

    inst: str
    channel: str
    action: str  # "snapshot" | "update" | "" (books5, bbo-tbt)
    data: list[BookData]


@dataclass(frozen=True, slots=True)
class TradesPush:
    inst: str
    data: list[TradeData]


@dataclass(frozen=True, slots=True)
class TickersPush:
    inst: str
    data: list[TickerData]


@dataclass(frozen=True, slots=True)
class MarkPricePush:
    inst: str
    data: list[MarkPriceData]


@dataclass(frozen=True, slots=True)
class AccountPush:
    event_type: str
    data: list[Balance]


@dataclass(frozen=True, slots=True)
class PositionsPush:
    event_type: str
    data: list[PositionData]


@dataclass(frozen=True, slots=True)
class BalanceAndPositionPush:
    data: list[BalanceAndPosition]


@dataclass(frozen=True, slots=True)
class OrdersPush:
    data: list[OrderData]


@dataclass(frozen=True, slots=True)
class UnknownFrame:
    """A frame we could not read or do not know; ``reason`` says why."""

    reason: str
    text: str


@dataclass(frozen=True, slots=True)
class Connected:
    """Emitted by the connection manager once a session is open (logged in, subscribed)."""

    session: int


@dataclass(frozen=True, slots=True)
class Disconnected:
    """Emitted by the connection manager when a session ends; every stream may have gaps."""

    session: int
    reason: str


WsEvent = (
    Pong
    | LoginAck
    | SubscribeAck
    | UnsubscribeAck
    | WsError
    | Notice
    | ChannelConnCount
    | OpResponse
    | BooksPush
    | TradesPush
    | TickersPush
    | MarkPricePush
    | AccountPush
    | PositionsPush
    | BalanceAndPositionPush
    | OrdersPush
    | UnknownFrame
    | Connected
    | Disconnected
)

_PONG = Pong()
# OKX writes pushes as {"arg":{"channel":...},...}: book pushes (the hot path) can be decoded in
# one typed pass; anything else (or a surprise) takes the general two-pass route.
_BOOKS_PREFIX = '{"arg":{"channel":"books'
_BOOKS_PREFIX_B = _BOOKS_PREFIX.encode()


class _BookArg(msgspec.Struct, frozen=True, gc=False):
    """Just what a book push's ``arg`` needs (other keys are skipped, not decoded)."""

    channel: str
    inst: str = msgspec.field(default="", name="instId")


class _BooksFrame(msgspec.Struct, frozen=True, gc=False):
    arg: _BookArg
    data: list[BookData]
    action: str = ""


class WsParser:
    """Frame → event. Build once per connection (decoders are reused)."""

    def __init__(self) -> None:
        self._frame = msgspec.json.Decoder(WsFrame)
        self._books_frame = msgspec.json.Decoder(_BooksFrame)
        self._books = msgspec.json.Decoder(list[BookData])
        self._trades = msgspec.json.Decoder(list[TradeData])
        self._tickers = msgspec.json.Decoder(list[TickerData])
        self._marks = msgspec.json.Decoder(list[MarkPriceData])
        self._account = msgspec.json.Decoder(list[Balance])
        self._positions = msgspec.json.Decoder(list[PositionData])
        self._balpos = msgspec.json.Decoder(list[BalanceAndPosition])
        self._orders = msgspec.json.Decoder(list[OrderData])
        self._acks = msgspec.json.Decoder(list[OrderAck])
        self.bad_frames = 0

    def parse(self, frame: str | bytes) -> WsEvent:
        """One received frame → one event. Never raises."""
        if frame == "pong" or frame == b"pong":
            return _PONG
        if (
            frame.startswith(_BOOKS_PREFIX)
            if isinstance(frame, str)
            else frame.startswith(_BOOKS_PREFIX_B)
        ):
            try:
                bf = self._books_frame.decode(frame)
            except (msgspec.DecodeError, msgspec.ValidationError):
                pass  # not the usual shape: the general path decides
            else:
                return BooksPush(bf.arg.inst, bf.arg.channel, bf.action, bf.data)
        try:
            f = self._frame.decode(frame)
            return self._dispatch(f)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            self.bad_frames += 1
            text = frame if isinstance(frame, str) else frame.decode(errors="replace")
            return UnknownFrame(f"undecodable: {exc}", text[:500])

    def _dispatch(self, f: WsFrame) -> WsEvent:
        arg = f.arg
        if f.event:
            return self._event(f)
        if f.op:
            items = self._acks.decode(f.data)
            return OpResponse(f.id, f.op, TradeResult(f.code, f.msg, items, f.inTime, f.outTime))
        if arg is None:
            return UnknownFrame("no event, op or arg", "")
        ch = arg.channel
        if ch in BOOK_CHANNELS:
            return BooksPush(arg.instId, ch, f.action, self._books.decode(f.data))
        if ch == "trades" or ch == "trades-all":
            return TradesPush(arg.instId, self._trades.decode(f.data))
        if ch == "tickers":
            return TickersPush(arg.instId, self._tickers.decode(f.data))
        if ch == "mark-price":
            return MarkPricePush(arg.instId, self._marks.decode(f.data))
        if ch == "orders":
            return OrdersPush(self._orders.decode(f.data))
        if ch == "account":
            return AccountPush(f.eventType, self._account.decode(f.data))
        if ch == "positions":
            return PositionsPush(f.eventType, self._positions.decode(f.data))
        if ch == "balance_and_position":
            return BalanceAndPositionPush(self._balpos.decode(f.data))
        return UnknownFrame(f"unknown channel {ch}", "")

    def _event(self, f: WsFrame) -> WsEvent:
        ev = f.event
        if ev == "login":
            if f.code in ("", "0"):
                return LoginAck(f.connId)
            return WsError(f.code, f.msg, f.id)
        if ev == "subscribe" and f.arg is not None:
            return SubscribeAck(f.arg, f.id)
        if ev == "unsubscribe" and f.arg is not None:
            return UnsubscribeAck(f.arg, f.id)
        if ev == "error":
            return WsError(f.code, f.msg, f.id)
        if ev == "notice":
            return Notice(f.code, f.msg)
        if ev in ("channel-conn-count", "channel-conn-count-error"):
            count = int(f.connCount) if f.connCount.isdigit() else 0
            return ChannelConnCount(f.channel, count, ev.endswith("error"))
        return UnknownFrame(f"unknown event {ev}", "")


# -------------------------------------------------------------------------------- requests
_ENC = msgspec.json.Encoder()


def encode_subscribe(args: Sequence[PushArg], op: str = "subscribe", req_id: str = "") -> bytes:
    """``{"op":"subscribe","args":[...]}`` (or ``unsubscribe``)."""
    msg: dict[str, Any] = {"op": op, "args": list(args)}
    if req_id:
        msg = {"id": req_id, **msg}
    return _ENC.encode(msg)


def encode_login(login_args: dict[str, str]) -> bytes:
    return _ENC.encode({"op": "login", "args": [login_args]})


def encode_op(req_id: str, op: str, args: Sequence[Any], exp_time_ms: int | None = None) -> bytes:
    """A trade op request; ``args`` are request Structs (``PlaceOrderReq``...)."""
    msg: dict[str, Any] = {"id": req_id, "op": op, "args": list(args)}
    if exp_time_ms is not None:
        msg["expTime"] = str(exp_time_ms)
    return _ENC.encode(msg)
