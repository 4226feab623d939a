"""Tick/lot rendering exactly as the original (§3.2)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from strategies.grid import ceil_to_step, floor_to_step, from_float, round_to_step

D = Decimal


@pytest.mark.parametrize(
    ("fn", "x", "step", "text"),
    [
        (floor_to_step, 26576.04, "0.1", "26576.0"),  # keeps the tick's exponent
        (ceil_to_step, 30000.5 * 1.001, "0.1", "30030.6"),  # 30030.5005 ceils up
        (floor_to_step, 0.104, "0.01", "0.10"),
        (round_to_step, 0.00001, "0.00000001", "0.00001000"),
        (round_to_step, 2.5, "1", "2"),  # half-even
        (round_to_step, 3.5, "1", "4"),
        (floor_to_step, 123.0, "10", "120"),
    ],
)
def test_rendering_keeps_the_step_exponent(fn: object, x: float, step: str, text: str) -> None:
    assert callable(fn)
    assert str(fn(x, D(step))) == text


def test_from_float_is_shortest_repr() -> None:
    assert from_float(0.1 + 0.2) == D("0.30000000000000004")
    assert from_float(29970.0) == D("29970.0")


@given(
    st.decimals(min_value=D("0.01"), max_value=D("100000"), places=6),
    st.sampled_from([D("0.1"), D("0.01"), D("0.5"), D("1"), D("0.0001")]),
)
def test_results_are_on_the_grid_and_bracket_the_input(x: Decimal, step: Decimal) -> None:
    lo, hi, mid = floor_to_step(x, step), ceil_to_step(x, step), round_to_step(x, step)
    for v in (lo, hi, mid):
        assert (v / step) == (v / step).to_integral_value()
        assert v.as_tuple().exponent == min(step.as_tuple().exponent, 0) or step >= 1
    assert lo <= x <= hi
    assert hi - lo in (0, step)
    assert mid in (lo, hi)
