"""SampleMM against the worked numbers of reference §3.2–§3.3."""

from __future__ import annotations

from decimal import Decimal

from engine.messages import Side
from strategies.base import Quote
from strategies.diff import AmendOp, CancelOp, PlaceOp, diff_quotes
from strategies.params import StrategyParams
from strategies.sample_mm import SampleMM, level_counts, sample_ladder
from tests.strategies.helpers import order, view

D = Decimal
PARAMS = StrategyParams(
    step_pct=0.001,
    num_orders_per_side=3,
    single_size_as_multiple_of_lot_size=2,
    max_net_buy=D(20),
    max_net_sell=D(20),
)


def _ladder(bid: str, ask: str, net: str = "0", **kw: object) -> tuple[list[str], list[str]]:
    d = SampleMM().decide(view(bid, ask, net=net, **kw), PARAMS)  # type: ignore[arg-type]
    return [str(q.px) for q in d.bids], [str(q.px) for q in d.asks]


def test_reference_example_ladder() -> None:
    # §3.3: tick 0.1, lot 1, size "2", N 3, step 0.001, bid 30000.0, ask 30000.5
    d = SampleMM().decide(view("30000.0", "30000.5"), PARAMS)
    assert [str(q.px) for q in d.bids] == ["29970.0", "29940.0", "29910.0"]
    assert [str(q.px) for q in d.asks] == ["30030.6", "30060.6", "30090.6"]  # 30030.5005 ceils
    assert {str(q.sz) for q in d.bids + d.asks} == {"2"}


def test_reference_example_matching() -> None:
    # live buys 29970.0, 29950.0, 29900.0, 29800.0 (size 2, unfilled)
    d = SampleMM().decide(view("30000.0", "30000.5"), PARAMS)
    live = [
        order("b1", Side.BUY, "29970.0"),
        order("b2", Side.BUY, "29950.0"),
        order("b3", Side.BUY, "29900.0"),
        order("b4", Side.BUY, "29800.0"),
    ]
    acts = diff_quotes(d, live, lot=D(1), tick=D("0.1"))
    assert acts.amends == (
        AmendOp("b2", D("29940.0"), None),
        AmendOp("b3", D("29910.0"), None),
    )
    assert acts.cancels == (CancelOp("b4"),)  # b1 is kept untouched
    assert [str(p.px) for p in acts.places] == ["30030.6", "30060.6", "30090.6"]
    assert all(p.side is Side.SELL for p in acts.places)


def test_amend_size_is_new_total_including_filled() -> None:
    d = SampleMM().decide(view("30000.0", "30000.5"), PARAMS)
    live = [order("b1", Side.BUY, "29970.0", sz="2", filled="1")]  # remaining 1 ≠ 2
    acts = diff_quotes(d, live, lot=D(1), tick=D("0.1"))
    assert acts.amends[0] == AmendOp("b1", None, D(3))  # OKX newSz = filled + new size
    assert len(acts.places) == 2 + 3


def test_size_is_max_of_multiple_and_min_size_and_lot_rendering() -> None:
    bids, _ = sample_ladder(
        best_bid=D("50000"),
        best_ask=D("50001"),
        tick=D("0.1"),
        lot=D("0.00000001"),
        min_sz=D("0.00001"),
        step_pct=0.001,
        n=1,
        size=D("0.00000002"),
        net=D(0),
        max_net_buy=D(20),
        max_net_sell=D(20),
    )
    assert str(bids[0].sz) == "0.00001000"


def test_net_long_thins_buys_with_ceil() -> None:
    assert level_counts(5, D(4), D(20), D(20)) == (4, 5)  # ceil(5 × 0.8)
    assert level_counts(5, D(3), D(20), D(20)) == (5, 5)  # ceil(5 × 0.85) = ceil(4.25)
    assert level_counts(5, D(20), D(20), D(20)) == (0, 5)  # at the limit: all buys cancelled
    assert level_counts(5, D(-30), D(20), D(20)) == (5, 0)
    assert level_counts(5, D(-10), D(20), D(20)) == (5, 3)  # ceil(5 × 0.5) = ceil(2.5)


def test_zero_buy_levels_cancel_all_buys() -> None:
    d = SampleMM().decide(view("30000.0", "30000.5", net="20"), PARAMS)
    assert d.bids == ()
    acts = diff_quotes(d, [order("b1", Side.BUY, "29970.0")], lot=D(1), tick=D("0.1"))
    assert acts.cancels == (CancelOp("b1"),)


def test_weak_spot_10_1_16_one_sided_book_pulls_quotes_instead_of_raising() -> None:
    d = SampleMM().decide(view("30000.0", None), PARAMS)
    assert d.halt == "one-sided book"
    acts = diff_quotes(d, [order("a1", Side.SELL, "30030.6")], lot=D(1), tick=D("0.1"))
    assert acts.cancels == (CancelOp("a1"),)


def test_weak_spot_10_1_16_duplicate_levels_are_spread_one_tick_apart() -> None:
    # step 0.001 % of 100 = 0.001 < tick 0.1: the original proposed 99.9 three times
    raw, _ = sample_ladder(
        best_bid=D("100.0"),
        best_ask=D("100.1"),
        tick=D("0.1"),
        lot=D(1),
        min_sz=D(1),
        step_pct=0.00001,
        n=3,
        size=D(1),
        net=D(0),
        max_net_buy=D(5),
        max_net_sell=D(5),
        spread_duplicates=False,
    )
    assert [str(q.px) for q in raw] == ["99.9", "99.9", "99.9"]  # the original's behaviour
    fixed, asks = sample_ladder(
        best_bid=D("100.0"),
        best_ask=D("100.1"),
        tick=D("0.1"),
        lot=D(1),
        min_sz=D(1),
        step_pct=0.00001,
        n=3,
        size=D(1),
        net=D(0),
        max_net_buy=D(5),
        max_net_sell=D(5),
    )
    assert [str(q.px) for q in fixed] == ["99.9", "99.8", "99.7"]
    assert [str(q.px) for q in asks] == ["100.2", "100.3", "100.4"]


def test_sample_ladder_quote_type() -> None:
    d = SampleMM().decide(view("30000.0", "30000.5"), PARAMS)
    assert d.bids[0] == Quote(Side.BUY, D("29970.0"), D(2))
    assert not d.halt


def test_original_params_file_layout_gives_same_ladder() -> None:
    from strategies.params import parse_params

    original = parse_params(
        "strategy:\n  step_pct: 0.001\n  num_of_order_each_side: 3\n"
        "  single_size_as_multiple_of_lot_size: 2\n  price_integration: 10\n"
        "  maximum_net_buy: 20\n  maximum_net_sell: 20\n"
    )
    a = SampleMM().decide(view("30000.0", "30000.5"), original)
    b = SampleMM().decide(view("30000.0", "30000.5"), PARAMS)
    assert a == b


def test_places_are_limit_quotes_on_both_sides() -> None:
    acts = diff_quotes(
        SampleMM().decide(view("30000.0", "30000.5"), PARAMS), [], lot=D(1), tick=D("0.1")
    )
    assert acts.places[0] == PlaceOp(Side.BUY, D("29970.0"), D(2))
    assert len(acts.places) == 6
    assert not acts.cancels
    assert not acts.amends
