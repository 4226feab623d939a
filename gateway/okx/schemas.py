"""OKX v5 DTOs: msgspec Structs decoded straight from OKX JSON, field names verbatim.

Numbers stay the strings OKX sent (``"0.1"``, ``""`` when inapplicable); ``gateway.okx.convert``
is the one place that turns them into ``Decimal``/``int``. Unknown fields are ignored, so new OKX
fields never break decoding. Request bodies (``*Req``) encode compactly and omit unset fields.
"""

from __future__ import annotations

from typing import Generic, TypeVar

import msgspec

__all__ = [
    "AccountConfig",
    "AmendOrderReq",
    "Balance",
    "BalanceAndPosition",
    "BalanceData",
    "BalanceDetailData",
    "BookData",
    "CancelAllAfterData",
    "CancelOrderReq",
    "FillData",
    "InstrumentData",
    "MarkPriceData",
    "OrderAck",
    "OrderData",
    "PlaceOrderReq",
    "PosData",
    "PositionData",
    "PushArg",
    "RestResponse",
    "ServerTime",
    "SystemStatusData",
    "TickerData",
    "TradeData",
    "WsFrame",
]

T = TypeVar("T")


class _Dto(msgspec.Struct, frozen=True, kw_only=True):
    """Base of OKX payload objects (ignore unknown fields)."""


class RestResponse(msgspec.Struct, Generic[T], kw_only=True):
    """The REST envelope ``{"code","msg","data":[...]}``; ``data`` is absent on auth/429 errors."""

    code: str
    msg: str = ""
    data: list[T] = []
    inTime: str = ""
    outTime: str = ""


# ------------------------------------------------------------------------------------ public
class ServerTime(_Dto, frozen=True, kw_only=True):
    ts: str


class SystemStatusData(_Dto, frozen=True, kw_only=True):
    state: str = ""
    begin: str = ""
    end: str = ""
    title: str = ""
    serviceType: str = ""


class InstrumentData(_Dto, frozen=True, kw_only=True):
    instId: str
    instType: str
    tickSz: str
    lotSz: str
    minSz: str
    state: str = ""
    ctVal: str = ""
    ctMult: str = ""
    ctValCcy: str = ""
    ctType: str = ""
    settleCcy: str = ""
    baseCcy: str = ""
    quoteCcy: str = ""
    instFamily: str = ""
    uly: str = ""
    maxLmtSz: str = ""
    maxMktSz: str = ""
    lever: str = ""
    listTime: str = ""
    expTime: str = ""
    instIdCode: int | None = None


class BookData(_Dto, frozen=True, kw_only=True):
    """One book message (REST ``market/books`` item or WS ``books*`` data item).

    Levels are ``[px, sz, "0", numOrders]`` strings, kept verbatim for the checksum."""

    asks: list[list[str]] = []
    bids: list[list[str]] = []
    ts: str = "0"
    checksum: int = 0
    prevSeqId: int = -1
    seqId: int = -1
    instId: str = ""


class TickerData(_Dto, frozen=True, kw_only=True):
    instId: str
    instType: str = ""
    last: str = ""
    lastSz: str = ""
    askPx: str = ""
    askSz: str = ""
    bidPx: str = ""
    bidSz: str = ""
    open24h: str = ""
    high24h: str = ""
    low24h: str = ""
    vol24h: str = ""
    volCcy24h: str = ""
    ts: str = "0"


class MarkPriceData(_Dto, frozen=True, kw_only=True):
    instId: str
    markPx: str
    instType: str = ""
    ts: str = "0"


class TradeData(_Dto, frozen=True, kw_only=True):
    instId: str
    tradeId: str
    px: str
    sz: str
    side: str
    ts: str = "0"
    count: str = ""
    source: str = ""
    seqId: int | None = None


# ----------------------------------------------------------------------------------- account
class AccountConfig(_Dto, frozen=True, kw_only=True):
    uid: str = ""
    acctLv: str = ""
    posMode: str = ""
    acctStpMode: str = ""
    kycLv: str = ""  # identity verification level; OKX places need 2 (59113 below)


class BalanceDetailData(_Dto, frozen=True, kw_only=True):
    ccy: str
    cashBal: str = ""
    eq: str = ""
    availBal: str = ""
    availEq: str = ""
    frozenBal: str = ""
    ordFrozen: str = ""
    eqUsd: str = ""
    upl: str = ""
    uTime: str = ""
    disEq: str = ""
    liab: str = ""


class Balance(_Dto, frozen=True, kw_only=True):
    """REST ``account/balance`` item and WS ``account`` data item."""

    totalEq: str = ""
    adjEq: str = ""
    availEq: str = ""
    imr: str = ""
    mmr: str = ""
    mgnRatio: str = ""
    upl: str = ""
    uTime: str = ""
    details: list[BalanceDetailData] = []
    notionalUsd: str = ""


class PositionData(_Dto, frozen=True, kw_only=True):
    """REST ``account/positions`` item and WS ``positions`` data item."""

    instId: str
    instType: str = ""
    mgnMode: str = ""
    posSide: str = ""
    pos: str = "0"
    availPos: str = ""
    avgPx: str = ""
    markPx: str = ""
    upl: str = ""
    uplRatio: str = ""
    lever: str = ""
    liqPx: str = ""
    margin: str = ""
    imr: str = ""
    mmr: str = ""
    liab: str = ""
    notionalUsd: str = ""
    realizedPnl: str = ""
    fee: str = ""
    fundingFee: str = ""
    optVal: str = ""
    deltaBS: str = ""
    deltaPA: str = ""
    posId: str = ""
    posCcy: str = ""
    ccy: str = ""
    tradeId: str = ""
    cTime: str = ""
    uTime: str = ""
    pTime: str = ""


class BalanceData(_Dto, frozen=True, kw_only=True):
    """``balance_and_position`` balance item."""

    ccy: str
    cashBal: str = "0"
    uTime: str = "0"


class PosData(_Dto, frozen=True, kw_only=True):
    """``balance_and_position`` position item."""

    instId: str
    instType: str = ""
    mgnMode: str = ""
    posSide: str = ""
    pos: str = "0"
    avgPx: str = ""
    ccy: str = ""
    posCcy: str = ""
    posId: str = ""
    tradeId: str = ""
    uTime: str = "0"


class BalanceAndPosition(_Dto, frozen=True, kw_only=True):
    pTime: str = "0"
    eventType: str = ""
    balData: list[BalanceData] = []
    posData: list[PosData] = []


# ------------------------------------------------------------------------------------- trade
class OrderData(_Dto, frozen=True, kw_only=True):
    """An order object: REST ``trade/order``/``orders-pending`` item and WS ``orders`` push.

    ``fill*``/``tradeId``/``execType`` describe this update only (push); ``accFillSz``/``fee``/
    ``avgPx`` are cumulative."""

    instId: str
    ordId: str
    instType: str = ""
    clOrdId: str = ""
    tag: str = ""
    px: str = ""
    sz: str = "0"
    ordType: str = ""
    side: str = ""
    posSide: str = ""
    tdMode: str = ""
    state: str = ""
    accFillSz: str = "0"
    ccy: str = ""
    avgPx: str = ""
    fillPx: str = ""
    fillSz: str = ""
    fillFee: str = ""
    fillFeeCcy: str = ""
    fillTime: str = ""
    tradeId: str = ""
    execType: str = ""
    fee: str = ""
    feeCcy: str = ""
    rebate: str = ""
    pnl: str = ""
    lever: str = ""
    reduceOnly: str = "false"
    cancelSource: str = ""
    amendResult: str = ""
    reqId: str = ""
    code: str = ""
    msg: str = ""
    category: str = ""
    cTime: str = ""
    uTime: str = ""


class FillData(_Dto, frozen=True, kw_only=True):
    """REST ``trade/fills`` item."""

    instId: str
    tradeId: str
    ordId: str
    side: str
    fillPx: str
    fillSz: str
    instType: str = ""
    clOrdId: str = ""
    billId: str = ""
    tag: str = ""
    posSide: str = ""
    fee: str = "0"
    feeCcy: str = ""
    feeRate: str = ""
    execType: str = ""
    subType: str = ""
    fillTime: str = ""
    ts: str = ""


class OrderAck(_Dto, frozen=True, kw_only=True):
    """Per-item result of place/cancel/amend (REST and WS): ``sCode`` ``"0"`` = accepted."""

    ordId: str = ""
    clOrdId: str = ""
    tag: str = ""
    ts: str = ""
    reqId: str = ""
    sCode: str = "0"
    sMsg: str = ""
    subCode: str = ""

    @property
    def ok(self) -> bool:
        return self.sCode == "0"


class CancelAllAfterData(_Dto, frozen=True, kw_only=True):
    triggerTime: str = "0"
    tag: str = ""
    ts: str = ""


# ---------------------------------------------------------------------------------- requests
class _Req(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Request body item: unset (default) fields are not sent."""


class PlaceOrderReq(_Req, frozen=True, kw_only=True):
    """One order for ``trade/order``, ``trade/batch-orders`` or the WS ``order`` ops."""

    instId: str = ""
    tdMode: str
    side: str
    ordType: str
    sz: str
    px: str = ""
    clOrdId: str = ""
    tag: str = ""
    posSide: str = ""
    reduceOnly: bool = False
    tgtCcy: str = ""
    ccy: str = ""
    stpMode: str = ""
    pxAmendType: str = ""
    instIdCode: int | None = None


class CancelOrderReq(_Req, frozen=True, kw_only=True):
    instId: str = ""
    ordId: str = ""
    clOrdId: str = ""
    instIdCode: int | None = None


class AmendOrderReq(_Req, frozen=True, kw_only=True):
    instId: str = ""
    ordId: str = ""
    clOrdId: str = ""
    newSz: str = ""
    newPx: str = ""
    reqId: str = ""
    cxlOnFail: bool = False
    pxAmendType: str = ""
    instIdCode: int | None = None


# ---------------------------------------------------------------------------------------- ws
class PushArg(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A subscription argument; also the ``arg`` of pushes and acks."""

    channel: str
    instId: str = ""
    instType: str = ""
    instFamily: str = ""
    ccy: str = ""
    uid: str = ""
    extraParams: str = ""


class WsFrame(msgspec.Struct, frozen=True, kw_only=True):
    """Any JSON frame from an OKX WS; ``data`` is left raw and decoded per channel/op."""

    event: str = ""
    code: str = ""
    msg: str = ""
    connId: str = ""
    id: str = ""
    op: str = ""
    arg: PushArg | None = None
    action: str = ""
    eventType: str = ""
    data: msgspec.Raw = msgspec.Raw(b"[]")
    inTime: str = ""
    outTime: str = ""
    channel: str = ""
    connCount: str = ""
