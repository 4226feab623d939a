"""Diff step: amend vs replace, thresholds, and the order states the original mishandled."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from engine.messages import OrderState, Side
from strategies.base import Desired, Quote
from strategies.diff import AmendOp, CancelOp, PlaceOp, diff_quotes
from tests.strategies.helpers import order

D = Decimal
S = OrderState
TICK, LOT = D("0.1"), D(1)


def bids(*pxs: str, sz: str = "2") -> Desired:
    return Desired(bids=tuple(Quote(Side.BUY, D(p), D(sz)) for p in pxs))


def test_prefers_amend_over_cancel_and_replace() -> None:
    acts = diff_quotes(bids("100.0"), [order("o1", Side.BUY, "99.0")], lot=LOT, tick=TICK)
    assert acts.amends == (AmendOp("o1", D("100.0"), None),)
    assert not acts.cancels
    assert not acts.places


def test_exact_match_is_untouched() -> None:
    acts = diff_quotes(bids("100.0", "99.9"), [order("o1", Side.BUY, "99.9")], lot=LOT, tick=TICK)
    assert acts.amends == ()
    assert acts.places == (PlaceOp(Side.BUY, D("100.0"), D(2)),)


def test_threshold_keeps_orders_close_to_target() -> None:
    live = [order("o1", Side.BUY, "99.9"), order("o2", Side.BUY, "99.0")]
    want = bids("100.0", "99.1")
    strict = diff_quotes(want, live, lot=LOT, tick=TICK)
    assert len(strict.amends) == 2
    loose = diff_quotes(want, live, lot=LOT, tick=TICK, threshold_ticks=1)
    assert loose.empty  # both within one tick: no churn
    partial = diff_quotes(bids("100.5"), live[:1], lot=LOT, tick=TICK, threshold_ticks=2)
    assert partial.amends == (AmendOp("o1", D("100.5"), None),)  # 6 ticks away: amend


def test_size_threshold() -> None:
    live = [order("o1", Side.BUY, "100.0", sz="10")]
    want = bids("100.0", sz="11")
    assert diff_quotes(want, live, lot=LOT, tick=TICK).amends == (AmendOp("o1", None, D(11)),)
    assert diff_quotes(want, live, lot=LOT, tick=TICK, size_pct=0.1).empty


def test_weak_spot_10_1_13_cancel_pending_orders_are_not_kept_or_amended() -> None:
    live = [order("o1", Side.BUY, "100.0", state=S.CANCEL_PENDING)]
    acts = diff_quotes(bids("100.0"), live, lot=LOT, tick=TICK)
    assert acts.places == (PlaceOp(Side.BUY, D("100.0"), D(2)),)  # placed anew
    assert not acts.amends
    assert not acts.cancels  # already being cancelled


def test_weak_spot_10_1_13_unacknowledged_orders_are_never_amended() -> None:
    for state in (S.SENT, S.AMEND_PENDING):
        live = [order("o1", Side.BUY, "99.0", state=state)]
        acts = diff_quotes(bids("100.0"), live, lot=LOT, tick=TICK)
        assert acts.amends == ()
        assert acts.places == ()  # deferred: no duplicate while it is in flight
        assert acts.deferred == 1


def test_unacknowledged_order_satisfies_its_exact_quote() -> None:
    live = [order("o1", Side.BUY, "100.0", state=S.SENT)]
    assert diff_quotes(bids("100.0"), live, lot=LOT, tick=TICK).empty


def test_unacknowledged_surplus_is_cancelled() -> None:
    live = [order("o1", Side.BUY, "100.0", state=S.SENT)]
    acts = diff_quotes(bids(), live, lot=LOT, tick=TICK)
    assert acts.cancels == (CancelOp("o1"),)


def test_amend_pending_matches_on_its_target() -> None:
    o = order("o1", Side.BUY, "99.0", state=S.AMEND_PENDING)
    o.target_px = D("100.0")
    assert diff_quotes(bids("100.0"), [o], lot=LOT, tick=TICK).empty


def test_halt_cancels_everything_not_already_cancelling() -> None:
    live = [
        order("o1", Side.BUY, "100.0"),
        order("o2", Side.SELL, "101.0", state=S.SENT),
        order("o3", Side.SELL, "102.0", state=S.CANCEL_PENDING),
        order("o4", Side.SELL, "103.0", state=S.FILLED),
    ]
    acts = diff_quotes(Desired.halted("stale book"), live, lot=LOT, tick=TICK)
    assert {c.cl_ord_id for c in acts.cancels} == {"o1", "o2"}


def test_weak_spot_10_1_16_cancels_come_before_places() -> None:
    # the original sent places first, then amends, then cancels (transient over-exposure)
    live = [order("o1", Side.BUY, "99.0", state=S.SENT), order("o2", Side.BUY, "98.0")]
    acts = diff_quotes(bids("100.0"), live, lot=LOT, tick=TICK)
    fields = list(acts.__dataclass_fields__)
    assert fields.index("cancels") < fields.index("amends") < fields.index("places")
    assert acts.cancels == (CancelOp("o2"),)


def test_no_op_amend_is_not_sent() -> None:
    live = [order("o1", Side.BUY, "100.00")]  # same price, another rendering
    assert diff_quotes(bids("100.0"), live, lot=LOT, tick=TICK).empty


@given(
    st.lists(st.integers(900, 1000), max_size=8),
    st.lists(st.integers(900, 1000), max_size=8),
)
def test_applying_actions_yields_the_desired_ladder(want: list[int], have: list[int]) -> None:
    desired = bids(*(str(D(p) / 10) for p in want))
    live = [order(f"o{i}", Side.BUY, str(D(p) / 10)) for i, p in enumerate(have)]
    acts = diff_quotes(desired, live, lot=LOT, tick=TICK)
    book = {o.cl_ord_id: o.px for o in live}
    for c in acts.cancels:
        del book[c.cl_ord_id]
    for a in acts.amends:
        assert a.new_px is not None
        book[a.cl_ord_id] = a.new_px
    result = sorted([*book.values(), *(p.px for p in acts.places)])
    assert result == sorted(q.px for q in desired.bids)
    assert len(acts.amends) + len(acts.cancels) + len(acts.places) <= max(len(want), len(have))
