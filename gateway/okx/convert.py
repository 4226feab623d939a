"""The one place OKX strings become numbers: DTOs (``gateway.okx.schemas``) → bus messages and
the router's venue events (``engine.router.events``), and the router's requests → OKX bodies.

Rules: prices and sizes become ``Decimal`` from the exact OKX string (never via float); ``""``
becomes ``None`` for optional values; millisecond timestamps become ``int`` (``""`` → 0).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from engine.errors import RemoteProtocolError, VenueError
from engine.messages import (
    AccountConfig,
    AccountUpdate,
    BalanceDetail,
    Fill,
    InstrumentInfo,
    MarkPrice,
    OrderUpdate,
    OrdType,
    Position,
    Side,
    Ticker,
    Trade,
)
from engine.router.events import (
    CancelReq,
    PlaceReq,
    VenueAck,
    VenueFailure,
    VenueFill,
    VenueOrder,
    VenueReq,
)
from gateway.okx import codes
from gateway.okx.results import TradeResult
from gateway.okx.schemas import (
    AccountConfig as AccountConfigData,
)
from gateway.okx.schemas import (
    AmendOrderReq,
    Balance,
    BalanceData,
    BalanceDetailData,
    CancelOrderReq,
    FillData,
    InstrumentData,
    MarkPriceData,
    OrderData,
    PlaceOrderReq,
    PosData,
    PositionData,
    TickerData,
    TradeData,
)

__all__ = [
    "account_config",
    "account_update",
    "balance_data_update",
    "dec",
    "dec_or_none",
    "fill_from_order",
    "fill_from_rest",
    "inst_type_of",
    "instrument_info",
    "mark_price",
    "ms",
    "okx_request",
    "order_update",
    "pos_data_position",
    "position",
    "side",
    "ticker",
    "trade",
    "venue_acks",
    "venue_failure",
    "venue_fill",
    "venue_order",
]

_ZERO = Decimal(0)


def dec_or_none(s: str) -> Decimal | None:
    """``""`` → None, otherwise the exact Decimal; garbage → None (counted by nobody: OKX sends
    only canonical decimals, §conventions)."""
    if not s:
        return None
    try:
        return Decimal(s)
    except InvalidOperation:
        return None


def dec(s: str, default: Decimal = _ZERO) -> Decimal:
    """Like :func:`dec_or_none` with a default for required numbers."""
    v = dec_or_none(s)
    return default if v is None else v


def ms(s: str) -> int:
    """Millisecond timestamp string → int (``""`` → 0)."""
    return int(s) if s.isdigit() else 0


def inst_type_of(inst: str) -> str:
    """OKX instType from an instId: ``-SWAP`` → SWAP, ``BTC-USD-250328`` → FUTURES, else SPOT."""
    parts = inst.split("-")
    if parts[-1] == "SWAP":
        return "SWAP"
    if len(parts) >= 3 and parts[2].isdigit():
        return "OPTION" if len(parts) > 3 else "FUTURES"
    return "SPOT"


def side(s: str) -> Side:
    return Side.SELL if s == "sell" else Side.BUY


def instrument_info(d: InstrumentData) -> InstrumentInfo:
    return InstrumentInfo(
        inst=d.instId,
        inst_type=d.instType,
        tick_sz=dec(d.tickSz),
        lot_sz=dec(d.lotSz),
        min_sz=dec(d.minSz),
        state=d.state,
        ct_val=dec_or_none(d.ctVal),
        ct_mult=dec_or_none(d.ctMult),
        ct_type=d.ctType,
        settle_ccy=d.settleCcy,
        base_ccy=d.baseCcy,
        quote_ccy=d.quoteCcy,
        ct_val_ccy=d.ctValCcy,
        inst_id_code=d.instIdCode,
    )


def ticker(d: TickerData) -> Ticker:
    return Ticker(
        inst=d.instId,
        last=dec_or_none(d.last),
        bid_px=dec_or_none(d.bidPx),
        bid_sz=dec_or_none(d.bidSz),
        ask_px=dec_or_none(d.askPx),
        ask_sz=dec_or_none(d.askSz),
        ts_ms=ms(d.ts),
        inst_type=d.instType,
    )


def mark_price(d: MarkPriceData) -> MarkPrice:
    return MarkPrice(inst=d.instId, mark_px=dec(d.markPx), ts_ms=ms(d.ts), inst_type=d.instType)


def trade(d: TradeData) -> Trade:
    return Trade(
        inst=d.instId,
        trade_id=d.tradeId,
        px=dec(d.px),
        sz=dec(d.sz),
        side=side(d.side),
        ts_ms=ms(d.ts),
    )


def _detail(d: BalanceDetailData) -> BalanceDetail:
    return BalanceDetail(
        ccy=d.ccy,
        cash_bal=dec(d.cashBal),
        eq=dec_or_none(d.eq),
        avail_bal=dec_or_none(d.availBal),
        avail_eq=dec_or_none(d.availEq),
        frozen_bal=dec_or_none(d.frozenBal),
        eq_usd=dec_or_none(d.eqUsd),
        u_time_ms=ms(d.uTime),
        upl=dec_or_none(d.upl),
        dis_eq=dec_or_none(d.disEq),
        liab=dec_or_none(d.liab),
    )


def account_update(d: Balance, *, snapshot: bool) -> AccountUpdate:
    """REST balance or WS ``account`` item; ``snapshot`` = details list the whole account."""
    return AccountUpdate(
        total_eq=dec_or_none(d.totalEq),
        u_time_ms=ms(d.uTime),
        details=[_detail(x) for x in d.details],
        snapshot=snapshot,
        adj_eq=dec_or_none(d.adjEq),
        imr=dec_or_none(d.imr),
        mmr=dec_or_none(d.mmr),
        mgn_ratio=dec_or_none(d.mgnRatio),
        notional_usd=dec_or_none(d.notionalUsd),
    )


def balance_data_update(items: list[BalanceData], p_time: str) -> AccountUpdate:
    """``balance_and_position`` balances: only ``cashBal`` is known; equity left unknown."""
    return AccountUpdate(
        total_eq=None,
        u_time_ms=ms(p_time),
        details=[
            BalanceDetail(ccy=b.ccy, cash_bal=dec(b.cashBal), u_time_ms=ms(b.uTime)) for b in items
        ],
        snapshot=False,
    )


def account_config(d: AccountConfigData) -> AccountConfig:
    """OKX ``account/config``; an acctLv or posMode this engine does not know is an error (the
    orders it would build could be wrong in every field)."""
    if d.acctLv not in ("1", "2", "3", "4") or d.posMode not in ("net_mode", "long_short_mode"):
        raise RemoteProtocolError(
            f"account/config: unknown acctLv {d.acctLv!r} or posMode {d.posMode!r}"
        )
    return AccountConfig(acct_lv=int(d.acctLv), pos_mode=d.posMode, uid=d.uid)


def position(d: PositionData) -> Position:
    return Position(
        inst=d.instId,
        inst_type=d.instType,
        mgn_mode=d.mgnMode,
        pos_side=d.posSide or "net",
        pos=dec(d.pos),
        avg_px=dec_or_none(d.avgPx),
        u_time_ms=ms(d.uTime),
        mark_px=dec_or_none(d.markPx),
        upl=dec_or_none(d.upl),
        margin=dec_or_none(d.margin),
        liab=dec_or_none(d.liab),
        pos_ccy=d.posCcy,
        ccy=d.ccy,
        opt_val=dec_or_none(d.optVal),
        delta_bs=dec_or_none(d.deltaBS),
        delta_pa=dec_or_none(d.deltaPA),
        realized_pnl=dec_or_none(d.realizedPnl),
        fee=dec_or_none(d.fee),
        funding_fee=dec_or_none(d.fundingFee),
        lever=dec_or_none(d.lever),
        liq_px=dec_or_none(d.liqPx),
        pos_id=d.posId,
    )


def pos_data_position(d: PosData) -> Position:
    """``balance_and_position`` position: the core fields only."""
    return Position(
        inst=d.instId,
        inst_type=d.instType,
        mgn_mode=d.mgnMode,
        pos_side=d.posSide or "net",
        pos=dec(d.pos),
        avg_px=dec_or_none(d.avgPx),
        u_time_ms=ms(d.uTime),
        pos_ccy=d.posCcy,
        ccy=d.ccy,
        pos_id=d.posId,
    )


def order_update(d: OrderData) -> OrderUpdate:
    return OrderUpdate(
        inst=d.instId,
        inst_type=d.instType,
        ord_id=d.ordId,
        cl_ord_id=d.clOrdId,
        side=side(d.side),
        ord_type=d.ordType,
        px=dec_or_none(d.px),
        sz=dec(d.sz),
        state=d.state,
        acc_fill_sz=dec(d.accFillSz),
        avg_px=dec_or_none(d.avgPx),
        u_time_ms=ms(d.uTime),
        fill_px=dec_or_none(d.fillPx),
        fill_sz=dec_or_none(d.fillSz),
        fill_fee=dec_or_none(d.fillFee),
        fill_fee_ccy=d.fillFeeCcy,
        trade_id=d.tradeId,
        fee=dec_or_none(d.fee),
        fee_ccy=d.feeCcy,
        exec_type=d.execType,
        cancel_source=d.cancelSource,
        amend_result=d.amendResult,
        req_id=d.reqId,
        code=d.code,
        msg=d.msg,
        reduce_only=d.reduceOnly == "true",
        tag=d.tag,
        c_time_ms=ms(d.cTime),
        pos_side=d.posSide,
        td_mode=d.tdMode,
        fill_time_ms=ms(d.fillTime),
    )


def fill_from_order(d: OrderData) -> Fill | None:
    """The execution carried by an ``orders`` push, if any (``tradeId`` and ``fillSz`` > 0)."""
    fill_sz = dec(d.fillSz)
    if not d.tradeId or fill_sz <= 0:
        return None
    return Fill(
        inst=d.instId,
        trade_id=d.tradeId,
        ord_id=d.ordId,
        cl_ord_id=d.clOrdId,
        side=side(d.side),
        px=dec(d.fillPx),
        sz=fill_sz,
        fee=dec(d.fillFee),
        fee_ccy=d.fillFeeCcy or d.feeCcy,
        ts_ms=ms(d.fillTime) or ms(d.uTime),
        exec_type=d.execType,
        inst_type=d.instType,
        pos_side=d.posSide,
    )


def fill_from_rest(d: FillData) -> Fill:
    return Fill(
        inst=d.instId,
        trade_id=d.tradeId,
        ord_id=d.ordId,
        cl_ord_id=d.clOrdId,
        side=side(d.side),
        px=dec(d.fillPx),
        sz=dec(d.fillSz),
        fee=dec(d.fee),
        fee_ccy=d.feeCcy,
        ts_ms=ms(d.fillTime) or ms(d.ts),
        exec_type=d.execType,
        inst_type=d.instType,
        pos_side=d.posSide,
    )


# ---------------------------------------------------------------------------- router events
def _ord_type(s: str) -> OrdType:
    try:
        return OrdType(s)
    except ValueError:
        return OrdType.LIMIT


def venue_order(d: OrderData) -> VenueOrder:
    """An OKX order object (push, query, pending list) as the router's :class:`VenueOrder`."""
    return VenueOrder(
        inst=d.instId,
        cl_ord_id=d.clOrdId,
        ord_id=d.ordId,
        state=d.state,
        side=side(d.side),
        ord_type=_ord_type(d.ordType),
        sz=dec(d.sz),
        px=dec_or_none(d.px),
        acc_fill_sz=dec(d.accFillSz),
        avg_px=dec_or_none(d.avgPx),
        fill_px=dec_or_none(d.fillPx),
        fill_sz=dec(d.fillSz),
        fill_fee=dec_or_none(d.fillFee),
        fee_ccy=d.fillFeeCcy or d.feeCcy,
        trade_id=d.tradeId,
        fill_time_ms=ms(d.fillTime),
        u_time_ms=ms(d.uTime),
        amend_result=d.amendResult,
        cancel_source=d.cancelSource,
        td_mode=d.tdMode,
        pos_side=d.posSide,
        reduce_only=d.reduceOnly == "true",
        ccy=d.ccy,
    )


def venue_fill(d: FillData) -> VenueFill:
    """A REST ``trade/fills`` item as the router's :class:`VenueFill`."""
    return VenueFill(
        inst=d.instId,
        trade_id=d.tradeId,
        cl_ord_id=d.clOrdId,
        ord_id=d.ordId,
        px=dec(d.fillPx),
        sz=dec(d.fillSz),
        fee=dec(d.fee),
        fee_ccy=d.feeCcy,
        ts_ms=ms(d.fillTime),
    )


def venue_acks(result: TradeResult) -> list[VenueAck]:
    """The per-item answers of a trade request, in request order, with their meaning."""
    return [
        VenueAck(i.clOrdId, codes.outcome(i.sCode), i.sCode, i.sMsg, i.ordId) for i in result.items
    ]


def venue_failure(err: VenueError) -> VenueFailure:
    """A request-level error (nothing per item is known) with its meaning."""
    return VenueFailure(codes.failure_outcome(err), err.code, err.msg)


def okx_request(
    r: VenueReq, *, code: int | None = None, stp_mode: str = ""
) -> PlaceOrderReq | CancelOrderReq | AmendOrderReq:
    """One of the router's requests as the OKX request body item. ``code``: the instrument's
    ``instIdCode``, which today's WS order ops require (``instId`` is then ignored, okx-v5.md
    §8); ``stp_mode``: self-trade prevention on places (``cancel_maker`` …, "" = account's)."""
    if isinstance(r, PlaceReq):
        return PlaceOrderReq(
            instIdCode=code,
            stpMode=stp_mode,
            instId=r.inst,
            tdMode=r.td_mode,
            side=r.side.value,
            ordType=r.ord_type.value,
            sz=str(r.sz),
            px="" if r.px is None else str(r.px),
            clOrdId=r.cl_ord_id,
            tag=r.tag,
            posSide=r.pos_side,
            reduceOnly=r.reduce_only,
            ccy=r.ccy,
        )
    if isinstance(r, CancelReq):
        return CancelOrderReq(instId=r.inst, clOrdId=r.cl_ord_id, instIdCode=code)
    return AmendOrderReq(
        instIdCode=code,
        instId=r.inst,
        clOrdId=r.cl_ord_id,
        newSz="" if r.new_sz is None else str(r.new_sz),
        newPx="" if r.new_px is None else str(r.new_px),
    )
