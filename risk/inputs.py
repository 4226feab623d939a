"""Typed, OKX-shaped inputs of the pure risk calculator.

Every numeric field is a ``Decimal``; OKX's empty strings arrive here as ``0`` (as the original
did), so the calculator never sees ``None`` arithmetic. Field meanings are OKX's (``account``,
``positions`` and ``instruments`` documents); names are snake_case like the bus messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from engine.instruments import Instrument

__all__ = [
    "ZERO",
    "BalanceRow",
    "InstrumentSpec",
    "PositionKey",
    "PositionRow",
    "base_of",
    "quote_of",
]

ZERO = Decimal(0)


def base_of(inst: str) -> str:
    """First dash part of an instId (``BTC`` of ``BTC-USDT-SWAP``)."""
    return inst.split("-")[0]


def quote_of(inst: str) -> str:
    """Second dash part of an instId (``USDT`` of ``BTC-USDT-SWAP``), ``""`` if there is none."""
    parts = inst.split("-")
    return parts[1] if len(parts) > 1 else ""


InstrumentSpec = Instrument  # the instrument fields risk reads: the shared model


@dataclass(frozen=True, slots=True)
class BalanceRow:
    """One currency of the OKX ``account`` push (``details[]``)."""

    ccy: str
    cash_bal: Decimal
    eq: Decimal = ZERO
    avail_eq: Decimal = ZERO
    avail_bal: Decimal = ZERO
    u_time_ms: int = 0

    @property
    def empty(self) -> bool:
        """The original deleted a cached detail whose eq, availEq and availBal were all zero; a
        row that still holds cash is kept (pushes such as ``balance_and_position`` carry only
        ``cashBal``)."""
        return self.cash_bal == 0 and self.eq == 0 and self.avail_eq == 0 and self.avail_bal == 0


@dataclass(frozen=True, slots=True, order=True)
class PositionKey:
    """``<instId>|<mgnMode>|<posSide>``: the original's position key."""

    inst: str
    mgn_mode: str
    pos_side: str

    def __str__(self) -> str:
        return f"{self.inst}|{self.mgn_mode}|{self.pos_side}"


@dataclass(frozen=True, slots=True)
class PositionRow:
    """One row of the OKX ``positions`` push."""

    inst: str
    inst_type: str
    mgn_mode: str
    pos_side: str  # net, long, short
    pos: Decimal
    avg_px: Decimal = ZERO
    mark_px: Decimal = ZERO
    upl: Decimal = ZERO
    margin: Decimal = ZERO  # isolated margin; 0 for cross
    liab: Decimal = ZERO  # MARGIN only: signed (negative), in the currency opposite posCcy
    pos_ccy: str = ""
    ccy: str = ""
    opt_val: Decimal = ZERO
    delta_bs: Decimal = ZERO  # OKX: Black-Scholes delta in USD
    delta_pa: Decimal | None = None  # OKX: delta in coins
    u_time_ms: int = 0

    @property
    def key(self) -> PositionKey:
        return PositionKey(self.inst, self.mgn_mode, self.pos_side)

    @property
    def signed_pos(self) -> Decimal:
        """Position with its direction: in long/short mode OKX reports shorts as positive ``pos``
        with ``posSide=short`` (the original ignored posSide and counted them as longs)."""
        return -self.pos if self.pos_side == "short" else self.pos
