"""The pure WS parser on every recorded frame in tests/fixtures/okx/ws."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

from gateway.okx.schemas import PlaceOrderReq, PushArg, WsFrame
from gateway.okx.ws_protocol import (
    AccountPush,
    BalanceAndPositionPush,
    BooksPush,
    ChannelConnCount,
    LoginAck,
    MarkPricePush,
    Notice,
    OpResponse,
    OrdersPush,
    Pong,
    PositionsPush,
    SubscribeAck,
    TickersPush,
    TradesPush,
    UnknownFrame,
    UnsubscribeAck,
    WsError,
    WsParser,
    encode_login,
    encode_op,
    encode_subscribe,
)

EXPECTED: dict[str, type] = {
    "account.push.json": AccountPush,
    "balance_and_position.push.json": BalanceAndPositionPush,
    "bbo-tbt.push.json": BooksPush,
    "books.snapshot.checksum-era.json": BooksPush,
    "books.snapshot.json": BooksPush,
    "books.update.json": BooksPush,
    "books5.push.json": BooksPush,
    "channel_conn_count.json": ChannelConnCount,
    "channel_conn_count_error.json": ChannelConnCount,
    "error.response.json": WsError,
    "login.error.json": WsError,
    "login.response.json": LoginAck,
    "mark-price.push.json": MarkPricePush,
    "notice.json": Notice,
    "orders.push.json": OrdersPush,
    "positions.push.json": PositionsPush,
    "subscribe.response.json": SubscribeAck,
    "tickers.push.json": TickersPush,
    "trades.push.json": TradesPush,
    "unsubscribe.response.json": UnsubscribeAck,
}


def _frame(okx_fixtures: Path, name: str) -> str:
    # recorded frames are pretty-printed; re-serialise compactly as the wire would carry them
    return json.dumps(json.loads((okx_fixtures / "ws" / name).read_text()), separators=(",", ":"))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_recorded_frame_parses_to_its_event(okx_fixtures: Path, name: str) -> None:
    parser = WsParser()
    ev = parser.parse(_frame(okx_fixtures, name))
    assert isinstance(ev, EXPECTED[name]), ev
    assert parser.bad_frames == 0


def test_every_op_response_fixture(okx_fixtures: Path) -> None:
    parser = WsParser()
    files = sorted(
        p.name for p in (okx_fixtures / "ws").glob("op_*.json") if "request" not in p.name
    )
    assert len(files) >= 20
    for name in files:
        ev = parser.parse(_frame(okx_fixtures, name))
        assert isinstance(ev, OpResponse), name
        res = ev.result
        if name.endswith(".format_error.json"):
            assert res.code == "60013"
            assert res.items == []
        elif name.endswith(".all_failed.json"):
            assert res.code == "1"
            assert res.items
            assert not any(i.ok for i in res.items)
        elif name.endswith(".partial.json"):
            assert res.code == "2"
            assert [i.ok for i in res.items].count(True) >= 1
            assert res.item_error([i.ok for i in res.items].index(False)) is not None
        else:
            assert res.code == "0", name
            assert res.all_ok, name


def test_books_snapshot_fields(okx_fixtures: Path) -> None:
    ev = WsParser().parse(_frame(okx_fixtures, "books.snapshot.json"))
    assert isinstance(ev, BooksPush)
    assert ev.inst == "BTC-USDT"
    assert ev.action == "snapshot"
    assert ev.channel == "books"
    d = ev.data[0]
    assert d.prevSeqId == -1
    assert d.seqId == 123456
    assert d.asks[0] == ["8476.98", "415", "0", "13"]
    assert d.bids[0][0] == "8476.97"


def test_orders_push_fields(okx_fixtures: Path) -> None:
    ev = WsParser().parse(_frame(okx_fixtures, "orders.push.json"))
    assert isinstance(ev, OrdersPush)
    o = ev.data[0]
    assert (o.state, o.tradeId, o.fillSz, o.accFillSz) == ("filled", "242589207", "0.001", "0.001")


def test_login_error_and_ws_error_carry_code(okx_fixtures: Path) -> None:
    ev = WsParser().parse(_frame(okx_fixtures, "login.error.json"))
    assert isinstance(ev, WsError)
    assert ev.code == "60009"
    ev = WsParser().parse(_frame(okx_fixtures, "error.response.json"))
    assert isinstance(ev, WsError)
    assert ev.code == "60012"
    assert ev.id == "1512"


def test_pong_and_garbage(okx_fixtures: Path) -> None:
    parser = WsParser()
    assert (okx_fixtures / "ws" / "pong.txt").read_text() == "pong"
    assert isinstance(parser.parse("pong"), Pong)
    bad = parser.parse("{not json")
    assert isinstance(bad, UnknownFrame)
    assert parser.bad_frames == 1
    assert isinstance(parser.parse('{"arg":{"channel":"nope"},"data":[]}'), UnknownFrame)


def test_requests_match_fixture_shapes(okx_fixtures: Path) -> None:
    sub = json.loads((okx_fixtures / "ws" / "subscribe.request.json").read_text())
    args = [PushArg(**a) for a in sub["args"]]
    assert json.loads(encode_subscribe(args, req_id=sub.get("id", ""))) == sub
    req = json.loads((okx_fixtures / "ws" / "op_order.request.instId.json").read_text())
    orders = [msgspec.convert(a, PlaceOrderReq) for a in req["args"]]
    assert json.loads(encode_op(req["id"], req["op"], orders)) == req
    login = json.loads(
        encode_login({"apiKey": "a", "passphrase": "b", "timestamp": "1", "sign": "s"})
    )
    assert login == {
        "op": "login",
        "args": [{"apiKey": "a", "passphrase": "b", "timestamp": "1", "sign": "s"}],
    }


def test_books_fast_path_falls_back_for_other_shapes() -> None:
    parser = WsParser()
    ack = parser.parse('{"arg":{"channel":"books","instId":"X"},"event":"subscribe","connId":"c"}')
    assert isinstance(ack, SubscribeAck)
    push = parser.parse(
        '{"arg":{"channel":"books","instId":"X"},"action":"update","data":[{"asks":[],"bids":[],'
        '"ts":"1","checksum":0,"prevSeqId":5,"seqId":5}]}'
    )
    assert isinstance(push, BooksPush)
    assert push.data[0].seqId == 5
    assert parser.bad_frames == 0


def test_books_fast_path_equals_general_path(okx_fixtures: Path) -> None:
    parser = WsParser()
    frames = [
        _frame(okx_fixtures, name)
        for name in ("books.snapshot.json", "books.update.json", "books.snapshot.checksum-era.json")
    ]
    # an arg with keys the fast path does not decode (it skips them) must not change the event
    frames.append(
        '{"arg":{"channel":"books","instId":"X","instType":"SWAP","uid":"7"},"action":"update",'
        '"data":[{"asks":[["1.5","2","0","1"]],"bids":[],"ts":"9","checksum":-3,'
        '"prevSeqId":4,"seqId":5}]}'
    )
    for text in frames:
        assert text.startswith('{"arg":{"channel":"books')  # really on the fast path
        fast = parser.parse(text)
        general = parser._dispatch(msgspec.json.decode(text, type=WsFrame))
        assert isinstance(fast, BooksPush)
        assert fast == general
        assert parser.parse(text.encode()) == general
