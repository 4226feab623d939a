"""The risk monitor's view of the account, positions and market: latest state, order-free.

Rules (the original's §6.1 caches, made independent of arrival order):
- account: ``total_eq`` comes from the push with the newest ``uTime``; details are upserted by
  ccy, newest ``uTime`` wins (ties: the later arrival). A detail whose eq, availEq and availBal
  are all zero removes the currency (kept as a tombstone so an older push cannot bring it back).
  The original kept such a row when it came first; it holds no money either way.
- positions: keyed by ``instId|mgnMode|posSide``, newest ``uTime`` wins; a flat row (``pos == 0``)
  removes the key (tombstone) unless it carries isolated margin. The original kept flat rows of a
  first push and deleted later ones: the value is the same (0) except for the margin, kept here.
- market: newest (by exchange ``ts``) ticker bid/ask, book mid and mark per instId;
  instruments by instId.
Because every cache keeps the newest version of each key, the same set of updates gives the
same state whatever order they arrive in.

Bounded: one entry (tombstones included) per currency, per position key and per (kind,
instrument) — the account's currencies and positions and the instruments md-feed serves, not
the number of updates.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from risk.inputs import ZERO, BalanceRow, InstrumentSpec, PositionKey, PositionRow

__all__ = ["AccountCache", "MarketCache", "PositionCache"]


class AccountCache:
    """Latest ``account`` state."""

    def __init__(self) -> None:
        self.total_eq: Decimal = ZERO
        self.u_time_ms: int = -1
        self._details: dict[str, tuple[int, bool, BalanceRow]] = {}
        self.received = False

    def on_account(
        self,
        total_eq: Decimal | None,
        u_time_ms: int,
        details: Iterable[BalanceRow],
        snapshot: bool = False,
    ) -> None:
        """Apply one push; a ``snapshot`` (the whole account) also removes unlisted currencies
        not updated after it."""
        self.received = True
        if total_eq is not None and u_time_ms >= self.u_time_ms:
            self.total_eq = total_eq
            self.u_time_ms = u_time_ms
        rows = list(details)
        for row in rows:
            t = row.u_time_ms or u_time_ms
            old = self._details.get(row.ccy)
            if old is not None and t < old[0]:
                continue
            self._details[row.ccy] = (t, row.empty, row)
        if snapshot:
            # The whole account: currencies it does not list (and not updated since) are gone.
            listed = {r.ccy for r in rows}
            for ccy, (t, _, row) in list(self._details.items()):
                if ccy not in listed and t <= u_time_ms:
                    self._details[ccy] = (u_time_ms, True, row)

    @property
    def cash(self) -> dict[str, Decimal]:
        """``cashBal`` per live currency, in cache order."""
        return {c: r.cash_bal for c, (_, d, r) in self._details.items() if not d}

    @property
    def rows(self) -> list[BalanceRow]:
        return [r for _, d, r in self._details.values() if not d]


class PositionCache:
    """Latest ``positions`` state."""

    def __init__(self) -> None:
        self._rows: dict[PositionKey, tuple[int, bool, PositionRow]] = {}

    def on_position(self, row: PositionRow) -> None:
        old = self._rows.get(row.key)
        if old is not None and row.u_time_ms < old[0]:
            return
        # A flat row carrying isolated margin (OKX creates one on a manual transfer) is money.
        deleted = row.pos == 0 and row.margin == 0
        self._rows[row.key] = (row.u_time_ms, deleted, row)

    @property
    def rows(self) -> list[PositionRow]:
        """Live rows sorted by key: a stable order whatever the arrival order."""
        return [r for k, (_, d, r) in sorted(self._rows.items()) if not d]

    def __len__(self) -> int:
        return len(self.rows)


@dataclass(slots=True)
class MarketCache:
    """Latest prices and instrument rules by instId."""

    tickers: dict[str, tuple[Decimal, Decimal]] = field(default_factory=dict)
    book_mids: dict[str, Decimal] = field(default_factory=dict)
    marks: dict[str, Decimal] = field(default_factory=dict)
    instruments: dict[str, InstrumentSpec] = field(default_factory=dict)
    # The newest mark ever seen per instrument (mark stream or a position push's markPx; the mid
    # when a position closes without one), never removed, one per instId: the revaluation of an
    # inception position closed since, or of an instrument that stopped quoting, uses the price
    # current when it was last known instead of a stale inception mark (the original raised).
    last_marks: dict[str, Decimal] = field(default_factory=dict)

    _ts: dict[tuple[str, str], int] = field(default_factory=dict)

    def _newer(self, kind: str, inst: str, ts_ms: int) -> bool:
        """Keep the newest update per (kind, inst); equal times: the later arrival wins."""
        if ts_ms < self._ts.get((kind, inst), -1):
            return False
        self._ts[(kind, inst)] = ts_ms
        return True

    def on_ticker(
        self, inst: str, bid: Decimal | None, ask: Decimal | None, ts_ms: int = 0
    ) -> None:
        if not self._newer("ticker", inst, ts_ms):
            return
        if bid is not None and ask is not None and bid > 0 and ask > 0:
            self.tickers[inst] = (bid, ask)
        else:
            self.tickers.pop(inst, None)  # one-sided: no mid

    def on_book_mid(self, inst: str, mid: Decimal | None, ts_ms: int = 0) -> bool:
        """Record the book's mid; True when it changed."""
        if not self._newer("book", inst, ts_ms):
            return False
        if mid is None:
            return self.book_mids.pop(inst, None) is not None
        if self.book_mids.get(inst) == mid:
            return False
        self.book_mids[inst] = mid
        return True

    def on_mark(self, inst: str, mark_px: Decimal, ts_ms: int = 0) -> None:
        if mark_px > 0 and self._newer("mark", inst, ts_ms):
            self.marks[inst] = mark_px
            self.remember_price(inst, mark_px, ts_ms)

    def remember_price(self, inst: str, px: Decimal | None, ts_ms: int) -> None:
        """Record ``px`` as the last known mark of ``inst`` unless a newer one is known."""
        if px is not None and px > 0 and self._newer("last", inst, ts_ms):
            self.last_marks[inst] = px

    def on_instrument(self, spec: InstrumentSpec) -> None:
        self.instruments[spec.inst] = spec

    def mid(self, inst: str) -> Decimal | None:
        """Ticker mid ``(bid+ask)/2`` (the original's source), else the book mid."""
        quote = self.tickers.get(inst)
        if quote is not None:
            return (quote[0] + quote[1]) / 2
        return self.book_mids.get(inst)

    def instrument(self, inst: str) -> InstrumentSpec | None:
        """By instId; a 2-part instId without a listed spec is the MARGIN pair (as the original)."""
        spec = self.instruments.get(inst)
        if spec is not None:
            return spec
        parts = inst.split("-")
        if len(parts) == 2:
            return InstrumentSpec(
                inst=inst, inst_type="MARGIN", base_ccy=parts[0], quote_ccy=parts[1]
            )
        return None
