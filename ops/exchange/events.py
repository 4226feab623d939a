"""What the matching engine reports: synchronous rejections, order pushes, public trade
prints, ticker statistics and which account state changed."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

__all__ = ["Dirty", "OrderPush", "Reject", "TickerStats", "TradePrint"]

_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Reject:
    """A synchronous per-item failure."""

    code: str
    msg: str
    sub_code: str = ""


@dataclass(frozen=True, slots=True)
class OrderPush:
    api_key: str
    inst_id: str
    inst_type: str
    data: dict[str, object]


@dataclass(frozen=True, slots=True)
class TradePrint:
    inst_id: str
    data: dict[str, object]


@dataclass(slots=True)
class TickerStats:
    last_ticks: int = 0
    last_lots: int = 0
    open_ticks: int = 0
    high_ticks: int = 0
    low_ticks: int = 0
    vol_lots: int = 0
    vol_ccy: Decimal = _ZERO


@dataclass(slots=True)
class Dirty:
    """Balances, positions and trades of one account changed since the last drain."""

    ccys: set[str] = field(default_factory=set)
    insts: set[str] = field(default_factory=set)
    trades: list[tuple[str, str]] = field(default_factory=list)
