"""Enums, the ``Msg`` base and the level types every message module shares.

Part of :mod:`engine.messages` (import from there)."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

import msgspec

__all__ = [
    "PROTOCOL_VERSION",
    "BookLevel",
    "BookState",
    "Level",
    "Msg",
    "OrdType",
    "OrderState",
    "Side",
    "TradingState",
]

PROTOCOL_VERSION = 1


# --------------------------------------------------------------------------------------- enums
class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


class OrdType(StrEnum):
    LIMIT = "limit"
    MARKET = "market"
    POST_ONLY = "post_only"
    IOC = "ioc"
    FOK = "fok"


class BookState(StrEnum):
    """A published book is only trusted while VALID."""

    VALID = "VALID"
    RESYNCING = "RESYNCING"


class OrderState(StrEnum):
    """StrategyOrder lifecycle states (the FSM lives in ``engine.orders.fsm``)."""

    PENDING = "PENDING"
    SENT = "SENT"
    ACK = "ACK"
    LIVE = "LIVE"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    AMEND_PENDING = "AMEND_PENDING"
    CANCEL_PENDING = "CANCEL_PENDING"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    REJECTED = "REJECTED"


class TradingState(StrEnum):
    """What risk allows: everything, only position-reducing orders, or only cancels."""

    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"
    HALTED = "HALTED"


class Msg(msgspec.Struct, frozen=True, tag=True, array_like=True, omit_defaults=False):
    """Base of every bus message; the class name is the tag."""


Level = tuple[Decimal, Decimal]
"""One book level: (price, size)."""

BookLevel = tuple[str, str]
"""One level of a published book: OKX's own ``(px, sz)`` strings, exact decimal text.

Books are the hottest message on the bus and a ``Decimal`` per level cost five times the rest
of the message to decode (measured: 20 levels ≈ 3 µs of 4 µs); strings are exact and nearly free,
and consumers read a level or two as ``Decimal`` through the accessors below."""
