"""The backtest venue's queue and fill rules on hand-worked examples."""

from __future__ import annotations

from decimal import Decimal

from engine.messages import OrdType, Side
from ops.backtest.venue import SimOrder, SimVenue

D = Decimal


def _venue(model: str = "proportional") -> SimVenue:
    v = SimVenue(D("-0.0002"), D("-0.0005"), D("0.01"), model)  # type: ignore[arg-type]
    v.load([("100", "5"), ("99", "10")], [("101", "4"), ("102", "8")])
    return v


def _buy(v: SimVenue, px: str, sz: str, t: OrdType = OrdType.LIMIT, cid: str = "b1") -> SimOrder:
    o = SimOrder(cid, Side.BUY, D(px), D(sz), t)
    v.place(o)
    return o


def test_an_order_waits_behind_the_visible_size_and_trades_eat_the_queue() -> None:
    v = _venue()
    o = _buy(v, "100", "3")
    assert o.ahead == 5  # behind the 5 already at 100
    assert v.on_trade(Side.SELL, D(100), D(3)) == []  # 3 of the 5 ahead traded
    assert o.ahead == 2
    (f,) = v.on_trade(Side.SELL, D(100), D(4))  # 2 more ahead, then 2 of ours
    assert (f.sz, f.px, f.maker) == (D(2), D(100), True)
    assert f.fee == D("-0.0002") * 2 * D("0.01") * 100  # maker fee on notional, OKX sign
    assert o.state == "partially_filled"
    assert o.ahead == 0
    (f2,) = v.on_trade(Side.SELL, D(100), D(5))
    assert f2.sz == 1  # never more than the order
    assert o.state == "filled"


def test_cancellations_move_the_queue_only_in_the_proportional_model() -> None:
    for model, ahead in (("proportional", D(3)), ("pessimistic", D(5))):
        v = _venue(model)
        o = _buy(v, "100", "1")
        v.apply([("100", "3")], [])  # 2 left the level, no trade explains it: cancels
        assert o.ahead == ahead, model
    v = _venue()
    o = _buy(v, "100", "1")
    v.on_trade(Side.SELL, D(100), D(2))  # a trade ...
    v.apply([("100", "3")], [])  # ... and the book update showing it: not a cancel too
    assert o.ahead == 3


def test_a_trade_through_or_a_crossed_book_fills_the_rest() -> None:
    v = _venue()
    o = _buy(v, "100", "3")
    (f,) = v.on_trade(Side.SELL, D(99), D(1))  # sold below our bid: we were in front
    assert (f.sz, f.px) == (D(3), D(100))
    v = _venue()
    o = _buy(v, "100", "3")
    (f,) = v.apply([], [("100", "6"), ("101", "0")])  # the ask comes down to our bid
    assert f.sz == 3
    assert o.state == "filled"


def test_a_crossing_order_takes_and_a_crossing_post_only_is_cancelled() -> None:
    v = _venue()
    o = _buy(v, "101.5", "6")
    assert o.filled == 4  # all of 101 (4), nothing at 102 > px
    assert o.state == "partially_filled"
    assert o.ahead == 0  # rests at 101.5 where nobody is
    assert 101 not in v.asks
    p = _buy(v, "102", "1", OrdType.POST_ONLY, "b2")
    assert p.state == "canceled"  # would take: OKX cancels it (cancelSource 31)
    assert p.filled == 0
    i = _buy(v, "98", "1", OrdType.IOC, "b3")
    assert i.state == "canceled"  # an IOC never rests


def test_amends_requeue_on_price_and_size_up_keep_the_place_on_size_down() -> None:
    v = _venue()
    o = _buy(v, "100", "3")
    v.on_trade(Side.SELL, D(100), D(4))
    assert o.ahead == 1
    assert v.amend("b1", None, D(2)) == ""
    assert o.ahead == 1  # a smaller order keeps its place
    assert v.amend("b1", None, D(5)) == ""
    assert o.ahead == 5  # a bigger one goes behind all that is visible at 100 (5)
    assert v.amend("b1", D(99), None) == ""
    assert o.ahead == 10  # a new price: behind the 10 at 99
    assert v.cancel("b1") == ""
    assert v.cancel("b1") == "51400"
    assert v.amend("b1", D(98), None) == "51503"


def test_an_update_listing_a_price_twice_counts_its_last_size_once() -> None:
    v = _venue()
    o = _buy(v, "100", "1")
    v.apply([("100", "0"), ("100", "4"), ("98", "2"), ("98", "0")], [])
    assert v.bids == {D(100): D(4), D(99): D(10)}  # as applying them in order leaves it
    assert v.best_bid() == D(100)
    assert o.ahead == D(4)  # one cancel of 1 out of 5, counted once: 5 - 1 × 5 / 5
