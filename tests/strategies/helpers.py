"""Builders shared by the strategy tests."""

from __future__ import annotations

from decimal import Decimal

from engine.messages import OrderState, Side
from strategies.base import MarketView
from strategies.orders import WorkerOrder

D = Decimal


def view(
    bid: str | None,
    ask: str | None,
    *,
    tick: str = "0.1",
    lot: str = "1",
    min_sz: str = "1",
    net: str = "0",
    mids: tuple[Decimal, ...] = (),
    inst_type: str = "SWAP",
) -> MarketView:
    return MarketView(
        inst="BTC-USDT-SWAP",
        inst_type=inst_type,
        tick=D(tick),
        lot=D(lot),
        min_sz=D(min_sz),
        best_bid=D(bid) if bid is not None else None,
        best_ask=D(ask) if ask is not None else None,
        net=D(net),
        mids=mids,
    )


def order(
    cid: str,
    side: Side,
    px: str,
    sz: str = "2",
    filled: str = "0",
    state: OrderState = OrderState.LIVE,
) -> WorkerOrder:
    return WorkerOrder(cid, side, D(px), D(sz), state=state, filled=D(filled))
