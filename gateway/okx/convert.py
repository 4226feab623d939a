"""The one place OKX strings become numbers: DTOs (``gateway.okx.schemas``) → bus messages.

Rules: prices and sizes become ``Decimal`` from the exact OKX string (never via float); ``""``
becomes ``None`` for optional values; millisecond timestamps become ``int`` (``""`` → 0).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from engine.messages import (
    AccountUpdate,
    BalanceDetail,
    Fill,
    InstrumentInfo,
    MarkPrice,
    OrderUpdate,
    Position,
    Side,
    Ticker,
    Trade,
)
from gateway.okx.schemas import (
    Balance,
    BalanceData,
    BalanceDetailData,
    FillData,
    InstrumentData,
    MarkPriceData,
    OrderData,
    PosData,
    PositionData,
    TickerData,
    TradeData,
)

__all__ = [
    "account_update",
    "balance_data_update",
    "dec",
    "dec_or_none",
    "fill_from_order",
    "fill_from_rest",
    "instrument_info",
    "mark_price",
    "ms",
    "order_update",
    "pos_data_position",
    "position",
    "side",
    "ticker",
    "trade",
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
    )


def account_update(d: Balance, *, snapshot: bool) -> AccountUpdate:
    """REST balance or WS ``account`` item; ``snapshot`` = details list the whole account."""
    return AccountUpdate(
        total_eq=dec_or_none(d.totalEq),
        u_time_ms=ms(d.uTime),
        details=[_detail(x) for x in d.details],
        snapshot=snapshot,
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
