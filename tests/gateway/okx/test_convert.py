"""REST fixtures decode into DTOs and convert into bus messages that encode on the bus."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import TypeVar

import msgspec
import pytest

from engine.codec import Codec
from engine.errors import RemoteProtocolError
from engine.messages import Side
from gateway.okx import convert
from gateway.okx.schemas import (
    AccountConfig,
    Balance,
    BookData,
    FillData,
    InstrumentData,
    MarkPriceData,
    OrderData,
    PositionData,
    RestResponse,
    TickerData,
)
from gateway.okx.ws_protocol import (
    AccountPush,
    BalanceAndPositionPush,
    OrdersPush,
    PositionsPush,
    TradesPush,
    WsParser,
)

T = TypeVar("T")


def _rest(okx_fixtures: Path, name: str, t: type[T]) -> list[T]:
    raw = (okx_fixtures / "rest" / name).read_bytes()
    env = msgspec.json.decode(raw, type=RestResponse[t])  # type: ignore[valid-type]
    assert env.code == "0"
    return env.data


def _roundtrip(msg: object) -> None:
    codec = Codec("test", 1, lambda: 0)
    env = codec.decode(codec.encode(msg, 1))  # type: ignore[arg-type]
    assert env is not None
    assert env.msg == msg


def test_instrument(okx_fixtures: Path) -> None:
    (d,) = _rest(okx_fixtures, "get_public_instruments_spot.response.json", InstrumentData)
    info = convert.instrument_info(d)
    assert info.tick_sz == Decimal("0.1")
    assert info.lot_sz == Decimal("0.00000001")
    assert info.ct_val is None
    assert info.base_ccy == "BTC"
    assert info.state == "live"
    _roundtrip(info)


def test_books_ticker_mark(okx_fixtures: Path) -> None:
    (b,) = _rest(okx_fixtures, "get_market_books.response.json", BookData)
    assert b.seqId == 3235851742
    assert b.asks[0][0] == "41006.8"
    (t,) = _rest(okx_fixtures, "get_market_ticker.response.json", TickerData)
    tk = convert.ticker(t)
    assert tk.bid_px == Decimal("8888.88")
    assert tk.ts_ms == 1597026383085
    _roundtrip(tk)
    (m,) = _rest(okx_fixtures, "get_public_mark_price.response.json", MarkPriceData)
    mp = convert.mark_price(m)
    assert mp.mark_px == Decimal(200)
    _roundtrip(mp)


def test_balance_positions(okx_fixtures: Path) -> None:
    (bal,) = _rest(okx_fixtures, "get_account_balance.response.json", Balance)
    acct = convert.account_update(bal, snapshot=True)
    assert acct.total_eq == Decimal("55837.43556134779")
    assert acct.snapshot
    assert acct.details[0].ccy == "USDT"
    assert acct.details[0].cash_bal == Decimal("4850.435693622894")
    _roundtrip(acct)
    (p,) = _rest(okx_fixtures, "get_account_positions.response.json", PositionData)
    pos = convert.position(p)
    assert pos.pos == Decimal("0.00190433573")
    assert pos.pos_side == "net"
    assert pos.fee is None
    _roundtrip(pos)


def test_orders_and_fills(okx_fixtures: Path) -> None:
    (o,) = _rest(okx_fixtures, "get_trade_order.response.json", OrderData)
    ou = convert.order_update(o)
    assert ou.state == "filled"
    assert ou.acc_fill_sz == Decimal("0.00192834")
    assert ou.px is None
    _roundtrip(ou)
    pending = _rest(okx_fixtures, "get_trade_orders_pending.response.json", OrderData)
    assert pending
    assert all(convert.order_update(x).state in ("live", "partially_filled") for x in pending)
    (f,) = _rest(okx_fixtures, "get_trade_fills.response.json", FillData)
    fill = convert.fill_from_rest(f)
    assert fill.trade_id == "744876980"
    assert fill.side is Side.BUY
    assert fill.fee == Decimal("-0.00000192834")
    _roundtrip(fill)


def test_ws_private_pushes(okx_fixtures: Path) -> None:
    p = WsParser()
    ev = p.parse((okx_fixtures / "ws" / "orders.push.json").read_text())
    assert isinstance(ev, OrdersPush)
    fill = convert.fill_from_order(ev.data[0])
    assert fill is not None
    assert fill.trade_id == "242589207"
    assert fill.px == Decimal("31527.1")
    assert fill.fee == Decimal("-0.02522168")
    assert fill.side is Side.SELL
    live = msgspec.structs.replace(ev.data[0], tradeId="", fillSz="0", state="live")
    assert convert.fill_from_order(live) is None
    ev2 = p.parse((okx_fixtures / "ws" / "account.push.json").read_text())
    assert isinstance(ev2, AccountPush)
    assert ev2.event_type == "snapshot"
    ev3 = p.parse((okx_fixtures / "ws" / "positions.push.json").read_text())
    assert isinstance(ev3, PositionsPush)
    assert convert.position(ev3.data[0]).pos_side == "long"
    ev4 = p.parse((okx_fixtures / "ws" / "balance_and_position.push.json").read_text())
    assert isinstance(ev4, BalanceAndPositionPush)
    bp = ev4.data[0]
    upd = convert.balance_data_update(bp.balData, bp.pTime)
    assert upd.details[0].cash_bal == Decimal(1)
    assert convert.pos_data_position(bp.posData[0]).pos == Decimal(10)
    ev5 = p.parse((okx_fixtures / "ws" / "trades.push.json").read_text())
    assert isinstance(ev5, TradesPush)
    tr = convert.trade(ev5.data[0])
    assert tr.px == Decimal("42219.9")
    assert tr.side is Side.BUY
    _roundtrip(tr)


def test_decimal_helpers() -> None:
    assert convert.dec_or_none("") is None
    assert convert.dec_or_none("x") is None
    assert convert.dec("") == 0
    assert str(convert.dec("8477")) == "8477"
    assert convert.ms("") == 0
    assert convert.ms("1597026383085") == 1597026383085


def test_account_config_to_the_bus_message_and_unknown_modes_refused() -> None:
    raw = (
        b'{"acctLv":"2","acctStpMode":"cancel_maker","posMode":"long_short_mode",'
        b'"uid":"44705892343619584","mainUid":"44705892343619584"}'
    )
    d = msgspec.json.decode(raw, type=AccountConfig)
    got = convert.account_config(d)
    assert (got.acct_lv, got.pos_mode, got.uid) == (2, "long_short_mode", "44705892343619584")
    for bad in (msgspec.structs.replace(d, acctLv="6"), msgspec.structs.replace(d, posMode="")):
        with pytest.raises(RemoteProtocolError):
            convert.account_config(bad)
