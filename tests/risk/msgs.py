"""Bus-message builders (OKX-shaped, as the gateway and router publish them)."""

from __future__ import annotations

from decimal import Decimal

from engine.messages import (
    AccountUpdate,
    BalanceDetail,
    BookState,
    BookTop,
    Fill,
    InstrumentInfo,
    MarkPrice,
    OrderEvent,
    OrderState,
    Position,
    Side,
    Ticker,
)

D = Decimal

BTC_SWAP_INFO = InstrumentInfo(
    inst="BTC-USDT-SWAP",
    inst_type="SWAP",
    tick_sz=D("0.1"),
    lot_sz=D(1),
    min_sz=D(1),
    state="live",
    ct_val=D("0.01"),
    ct_mult=D(1),
    ct_type="linear",
    settle_ccy="USDT",
    ct_val_ccy="BTC",
)
ETH_SWAP_INFO = InstrumentInfo(
    inst="ETH-USDT-SWAP",
    inst_type="SWAP",
    tick_sz=D("0.01"),
    lot_sz=D(1),
    min_sz=D(1),
    state="live",
    ct_val=D("0.1"),
    ct_mult=D(1),
    ct_type="linear",
    settle_ccy="USDT",
    ct_val_ccy="ETH",
)


def account(total_eq: str, t: int, **cash: str) -> AccountUpdate:
    return AccountUpdate(
        total_eq=D(total_eq),
        u_time_ms=t,
        details=[
            BalanceDetail(ccy=c, cash_bal=D(v), eq=D(v), avail_bal=D(v), avail_eq=D(v), u_time_ms=t)
            for c, v in cash.items()
        ],
        snapshot=True,
    )


def position(
    inst: str, pos: str, avg: str, mark: str, upl: str, t: int, side: str = "net"
) -> Position:
    return Position(
        inst=inst,
        inst_type="SWAP",
        mgn_mode="cross",
        pos_side=side,
        pos=D(pos),
        avg_px=D(avg) if avg else None,
        u_time_ms=t,
        mark_px=D(mark),
        upl=D(upl),
    )


def mark(inst: str, px: str, t: int) -> MarkPrice:
    return MarkPrice(inst=inst, mark_px=D(px), ts_ms=t)


def ticker(inst: str, bid: str, ask: str, t: int) -> Ticker:
    return Ticker(
        inst=inst, last=None, bid_px=D(bid), bid_sz=D(1), ask_px=D(ask), ask_sz=D(1), ts_ms=t
    )


def book(inst: str, bid: str, ask: str, t: int, state: BookState = BookState.VALID) -> BookTop:
    return BookTop(
        inst=inst, state=state, seq_id=t, ts_ms=t, bids=[(D(bid), D(1))], asks=[(D(ask), D(1))]
    )


def fill(inst: str, tid: str, side: str, px: str, sz: str, fee: str, t: int, cl: str = "") -> Fill:
    return Fill(
        inst=inst,
        trade_id=tid,
        ord_id=f"o{tid}",
        cl_ord_id=cl,
        side=Side(side),
        px=D(px),
        sz=D(sz),
        fee=D(fee),
        fee_ccy="USDT",
        ts_ms=t,
    )


def order_event(
    strategy: str,
    cl: str,
    inst: str,
    side: str,
    state: OrderState,
    sz: str,
    acc: str = "0",
    px: str = "40000",
) -> OrderEvent:
    return OrderEvent(
        strategy=strategy,
        epoch=1,
        cl_ord_id=cl,
        inst=inst,
        side=Side(side),
        state=state,
        sz=D(sz),
        px=D(px),
        acc_fill_sz=D(acc),
    )
