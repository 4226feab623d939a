"""Market data: books, trades, tickers, mark prices, instrument rules, publisher liveness.

Part of :mod:`engine.messages` (import from there); the class name is the wire tag."""

# ruff: noqa: RUF012 — Msg is a msgspec.Struct (copies mutable defaults); ruff cannot see
# that across modules
from __future__ import annotations

from decimal import Decimal

from engine.messages.base import BookLevel, BookState, Level, Msg, Side

__all__ = [
    "BookStatus",
    "BookTop",
    "InstrumentInfo",
    "MarkPrice",
    "PubHeartbeat",
    "Ticker",
    "Trade",
]


# --------------------------------------------------------------------------------- market data
class BookTop(Msg, frozen=True):
    """Self-contained top-N book of one instrument (topic ``book|<inst>|``), best level first.

    Compare or compute with prices only through :meth:`best_bid`, :meth:`best_ask`, :meth:`mid`
    or :meth:`levels` (``Decimal``): the raw ``bids``/``asks`` are strings."""

    inst: str
    state: BookState
    seq_id: int
    ts_ms: int  # exchange timestamp of the last applied update
    bids: list[BookLevel]
    asks: list[BookLevel]
    checksum: int = 0

    def best_bid(self) -> Decimal | None:
        return Decimal(self.bids[0][0]) if self.bids else None

    def best_ask(self) -> Decimal | None:
        return Decimal(self.asks[0][0]) if self.asks else None

    def mid(self) -> Decimal | None:
        """(best bid + best ask) / 2, or None when a side is empty."""
        if not self.bids or not self.asks:
            return None
        return (Decimal(self.bids[0][0]) + Decimal(self.asks[0][0])) / 2

    def levels(self, side: Side) -> list[Level]:
        """One side as exact ``Decimal`` ``(px, sz)`` pairs, best first."""
        rows = self.bids if side is Side.BUY else self.asks
        return [(Decimal(px), Decimal(sz)) for px, sz in rows]


class BookStatus(Msg, frozen=True):
    """The book's sync state changed (topic ``bookstate|<inst>|``)."""

    inst: str
    state: BookState
    reason: str = ""


class Trade(Msg, frozen=True):
    """A public trade (topic ``trade|<inst>|``)."""

    inst: str
    trade_id: str
    px: Decimal
    sz: Decimal
    side: Side
    ts_ms: int


class Ticker(Msg, frozen=True):
    """Ticker (topic ``ticker|<inst>|``)."""

    inst: str
    last: Decimal | None
    bid_px: Decimal | None
    bid_sz: Decimal | None
    ask_px: Decimal | None
    ask_sz: Decimal | None
    ts_ms: int
    inst_type: str = ""


class MarkPrice(Msg, frozen=True):
    """Mark price (topic ``mark|<inst>|``)."""

    inst: str
    mark_px: Decimal
    ts_ms: int
    inst_type: str = ""


class InstrumentInfo(Msg, frozen=True):
    """Static trading rules of an instrument (topic ``inst|<inst>|``)."""

    inst: str
    inst_type: str
    tick_sz: Decimal
    lot_sz: Decimal
    min_sz: Decimal
    state: str
    ct_val: Decimal | None = None
    ct_mult: Decimal | None = None
    ct_type: str = ""
    settle_ccy: str = ""
    base_ccy: str = ""
    quote_ccy: str = ""
    ct_val_ccy: str = ""
    inst_id_code: int | None = None  # OKX instIdCode: what today's WS order ops name it by


class PubHeartbeat(Msg, frozen=True):
    """Publisher liveness (topic ``hb|``), every 100 ms; carries the latest seq per topic."""

    actor: str
    seq_by_topic: dict[str, int] = {}
