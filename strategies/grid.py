"""Tick and lot arithmetic, exactly as the original sample market maker renders it (§3.2).

Every result is ``integer × step`` as a Decimal, so it keeps the step's exponent: tick ``0.1``
gives ``Decimal("26576.0")`` and ``str()`` of it is ``"26576.0"``. ``from_float`` is the decimal
of a float's shortest repr (``D(str(x))``), which is how the original turned float ladder prices
into Decimals; the pure strategies use it wherever the original computed in floats.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal

__all__ = [
    "ceil_to_step",
    "floor_to_step",
    "from_float",
    "round_to_step",
]


def from_float(x: float) -> Decimal:
    """``D(str(x))``: the decimal of the float's shortest repr."""
    return Decimal(repr(x))


def _to_step(x: Decimal | float, step: Decimal, rounding: str) -> Decimal:
    value = x if isinstance(x, Decimal) else from_float(x)
    # int() first: the quotient may come back as 1E+3, whose exponent would leak into the result
    units = int((value / step).to_integral_value(rounding=rounding))
    return Decimal(units) * step


def floor_to_step(x: Decimal | float, step: Decimal) -> Decimal:
    """⌊x / step⌋ × step."""
    return _to_step(x, step, ROUND_FLOOR)


def ceil_to_step(x: Decimal | float, step: Decimal) -> Decimal:
    """⌈x / step⌉ × step."""
    return _to_step(x, step, ROUND_CEILING)


def round_to_step(x: Decimal | float, step: Decimal) -> Decimal:
    """round-half-even(x / step) × step (the original's lot rounding, the port's tick rounding)."""
    return _to_step(x, step, ROUND_HALF_EVEN)
