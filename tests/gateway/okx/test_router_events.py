"""OKX → the router's venue events: the only place OKX strings and codes are read for it."""

from __future__ import annotations

from decimal import Decimal

import msgspec

from engine.errors import RateLimitError, VenueError, VenueUnavailableError
from engine.messages import OrdType, Side
from engine.router.events import AmendReq, CancelReq, Outcome, PlaceReq
from gateway.okx import codes, convert
from gateway.okx.results import TradeResult
from gateway.okx.schemas import (
    AmendOrderReq,
    CancelOrderReq,
    FillData,
    OrderAck,
    OrderData,
    PlaceOrderReq,
)


def test_codes_have_one_meaning_each() -> None:
    assert codes.outcome("0") is Outcome.OK
    assert codes.outcome("50011") is Outcome.RATE_LIMITED
    assert codes.outcome("51016") is Outcome.DUPLICATE
    assert codes.outcome("51400") is Outcome.GONE
    assert codes.outcome(codes.NOT_FOUND) is Outcome.GONE
    assert codes.outcome("51410") is Outcome.ALREADY_CANCELING
    assert codes.outcome("51503") is Outcome.AMEND_ON_DONE
    assert codes.outcome("51008") is Outcome.REFUSED
    assert codes.failure_outcome(RateLimitError("50011", "")) is Outcome.RATE_LIMITED
    assert codes.failure_outcome(VenueUnavailableError("50026", "")) is Outcome.UNKNOWN
    assert codes.failure_outcome(VenueError("51016", "")) is Outcome.DUPLICATE


def test_an_order_push_becomes_a_venue_order_with_exact_decimals() -> None:
    d = OrderData(
        instId="BTC-USDT-SWAP",
        ordId="1",
        clOrdId="c",
        state="partially_filled",
        side="sell",
        ordType="post_only",
        sz="3",
        px="50000.1",
        accFillSz="1",
        fillSz="1",
        fillPx="50000.1",
        fillFee="-0.01",
        feeCcy="USDT",
        tradeId="t",
        uTime="1700000000000",
        reduceOnly="true",
    )
    v = convert.venue_order(d)
    assert (v.side, v.ord_type, v.sz, v.px) == (
        Side.SELL,
        OrdType.POST_ONLY,
        Decimal(3),
        Decimal("50000.1"),
    )
    assert (v.fill_sz, v.fill_fee, v.fee_ccy, v.trade_id) == (
        Decimal(1),
        Decimal("-0.01"),
        "USDT",
        "t",
    )
    assert v.u_time_ms == 1_700_000_000_000
    assert v.reduce_only
    empty = convert.venue_order(OrderData(instId="X", ordId="", clOrdId="", state="live"))
    assert (empty.sz, empty.px, empty.fill_px) == (Decimal(0), None, None)


def test_acks_fills_and_requests() -> None:
    items = [
        OrderAck(clOrdId="a", ordId="1", sCode="0", sMsg=""),
        OrderAck(clOrdId="b", ordId="", sCode="51008", sMsg="no"),
    ]
    res = TradeResult("2", "", items)
    a, b = convert.venue_acks(res)
    assert (a.outcome, a.ord_id) == (Outcome.OK, "1")
    assert (b.outcome, b.code, b.msg) == (Outcome.REFUSED, "51008", "no")
    f = convert.venue_fill(
        FillData(
            instId="X",
            tradeId="t",
            clOrdId="c",
            ordId="1",
            side="buy",
            fillPx="2",
            fillSz="3",
            fee="-1",
        )
    )
    assert (f.px, f.sz, f.fee) == (Decimal(2), Decimal(3), Decimal(-1))
    place = convert.okx_request(PlaceReq("X", "c", Side.BUY, OrdType.LIMIT, Decimal(1), None))
    assert isinstance(place, PlaceOrderReq)
    assert (place.side, place.ordType, place.sz, place.px) == ("buy", "limit", "1", "")
    amend = convert.okx_request(AmendReq("X", "c", new_px=Decimal("1.5")))
    assert isinstance(amend, AmendOrderReq)
    assert (amend.newSz, amend.newPx) == ("", "1.5")


def test_places_carry_td_mode_pos_side_and_ccy_and_omit_an_empty_ccy() -> None:
    margin = PlaceReq(
        "BTC-USDT", "c", Side.BUY, OrdType.LIMIT, Decimal(1), Decimal(2), td_mode="cross", ccy="BTC"
    )
    wire = msgspec.json.decode(msgspec.json.encode(convert.okx_request(margin)))
    assert (wire["tdMode"], wire["ccy"]) == ("cross", "BTC")
    assert "posSide" not in wire
    swap = PlaceReq(
        "BTC-USDT-SWAP", "c", Side.SELL, OrdType.LIMIT, Decimal(1), Decimal(2), pos_side="short"
    )
    wire = msgspec.json.decode(msgspec.json.encode(convert.okx_request(swap)))
    assert (wire["tdMode"], wire["posSide"]) == ("cross", "short")
    assert "ccy" not in wire


def test_ws_requests_carry_the_inst_id_code_and_places_the_stp_mode() -> None:
    """Today's OKX names the instrument of a WS order op by instIdCode only (issue 15)."""
    req = PlaceReq("BTC-USDT-SWAP", "c", Side.BUY, OrdType.LIMIT, Decimal(1), Decimal(2))
    place = convert.okx_request(req, code=10459, stp_mode="cancel_maker")
    assert isinstance(place, PlaceOrderReq)
    assert (place.instIdCode, place.stpMode, place.instId) == (10459, "cancel_maker", req.inst)
    wire = msgspec.json.decode(msgspec.json.encode(place))
    assert wire["instIdCode"] == 10459
    cancel = convert.okx_request(CancelReq("BTC-USDT-SWAP", "c"), code=10459)
    amend = convert.okx_request(AmendReq("BTC-USDT-SWAP", "c", new_px=Decimal(3)), code=10459)
    assert isinstance(cancel, CancelOrderReq)
    assert isinstance(amend, AmendOrderReq)
    assert (cancel.instIdCode, amend.instIdCode) == (10459, 10459)
    # REST keeps instId alone: no code on the wire
    rest = msgspec.json.decode(msgspec.json.encode(convert.okx_request(req)))
    assert "instIdCode" not in rest
    assert rest["instId"] == req.inst


def test_too_many_amends_in_progress_is_back_pressure_not_a_refusal() -> None:
    assert codes.outcome("51513") is Outcome.RATE_LIMITED
    assert codes.outcome("51503") is Outcome.AMEND_ON_DONE
