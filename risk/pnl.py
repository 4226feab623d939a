"""Beyond the original: realised and unrealised P&L and fees, per strategy and per instrument.

Built from the account's fills (de-duplicated by ``(instId, tradeId)``), replayed in
``(ts, tradeId)`` order so the result does not depend on arrival order. Average-cost method,
one book per (strategy, instrument); ``mult = ctMult × ctVal`` (1 for SPOT/MARGIN); ``q`` is the
signed position in order-size units, ``a`` its average entry price:

- a fill on the side of ``q`` (or from flat) moves the average: ``a = (|q|·a + sz·px)/(|q| + sz)``
  — for inverse contracts the average of ``1/px`` (``1/a = (|q|/a + sz/px)/(|q| + sz)``);
- a fill against ``q`` closes ``c = min(sz, |q|)`` and realises
  linear/spot/option: ``c · mult · (px − a) · sign(q)``;
  inverse: ``c · mult · (1/a − 1/px) · sign(q)``; the rest opens the other side at ``px``;
- unrealised at mark ``m``: linear ``q · mult · (m − a)``; inverse ``q · mult · (1/a − 1/m)``;
- realised and unrealised are in the P&L currency: settleCcy for SWAP/FUTURES/OPTION, the quote
  currency for SPOT/MARGIN;
- fees are summed per fee currency with OKX's sign (negative = paid, positive = rebate);
- net P&L in USD = (realised + unrealised) × P(pnl ccy) + Σ fee[c] × P(c).
Fills are attributed by clOrdId (the router's order events), else by the strategy epoch encoded
in the clOrdId; fills of orders no strategy claims are booked under strategy ``""``.
"""

from __future__ import annotations

import bisect
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal

from engine.orders.clordid import decode
from risk.inputs import ZERO, InstrumentSpec, base_of, quote_of

__all__ = ["FillRecord", "PnlBook", "PnlLedger", "pnl_ccy"]


@dataclass(frozen=True, slots=True, order=True)
class FillRecord:
    """One execution (sortable by time, then trade id)."""

    ts_ms: int
    trade_id: str
    inst: str
    side: str  # buy / sell
    px: Decimal
    sz: Decimal
    fee: Decimal = ZERO
    fee_ccy: str = ""
    cl_ord_id: str = ""


def pnl_ccy(inst: str, spec: InstrumentSpec | None) -> str:
    """Currency realised/unrealised P&L of ``inst`` is counted in."""
    if spec is not None and spec.inst_type in ("SWAP", "FUTURES", "OPTION") and spec.settle_ccy:
        return spec.settle_ccy
    if spec is not None and spec.quote_ccy:
        return spec.quote_ccy
    return quote_of(inst) or base_of(inst)


@dataclass(slots=True)
class PnlBook:
    """Average-cost position of one (strategy, instrument)."""

    inst: str
    mult: Decimal = Decimal(1)
    inverse: bool = False
    qty: Decimal = ZERO
    avg_px: Decimal = ZERO
    realised: Decimal = ZERO
    fees: dict[str, Decimal] = field(default_factory=dict)
    fills: int = 0

    def apply(self, f: FillRecord) -> None:
        self.fills += 1
        if f.fee:
            self.fees[f.fee_ccy] = self.fees.get(f.fee_ccy, ZERO) + f.fee
        sign = Decimal(1) if f.side == "buy" else Decimal(-1)
        remaining = f.sz
        if self.qty != 0 and (self.qty > 0) != (sign > 0):
            closing = min(remaining, abs(self.qty))
            direction = Decimal(1) if self.qty > 0 else Decimal(-1)
            if self.inverse:
                self.realised += closing * self.mult * (1 / self.avg_px - 1 / f.px) * direction
            else:
                self.realised += closing * self.mult * (f.px - self.avg_px) * direction
            self.qty += sign * closing
            remaining -= closing
            if self.qty == 0:
                self.avg_px = ZERO
        if remaining > 0:
            held = abs(self.qty)
            total = held + remaining
            if self.inverse:
                inv = (held / self.avg_px if held else ZERO) + remaining / f.px
                self.avg_px = total / inv
            else:
                self.avg_px = (held * self.avg_px + remaining * f.px) / total
            self.qty += sign * remaining

    def unrealised(self, mark: Decimal | None) -> Decimal:
        if self.qty == 0 or mark is None or mark == 0:
            return ZERO
        if self.inverse:
            return self.qty * self.mult * (1 / self.avg_px - 1 / mark)
        return self.qty * self.mult * (mark - self.avg_px)


SpecLookup = Callable[[str], InstrumentSpec | None]


class PnlLedger:
    """Every fill of the account, books per (strategy, instrument) rebuilt when they change.

    Bounded whatever the uptime: beyond ``keep_fills`` fills of one instrument, the oldest
    half is folded into base books and the newest folded ``(ts, tradeId)`` becomes that
    instrument's floor (watermark): a fill at or below it is accounted already and is dropped
    (``late_dropped``), so a replay of recent fills after a restart never double counts.
    De-duplication remembers the trade ids of the unfolded fills (at most ``dedup_window``),
    claims the last ``max_claims`` clOrdIds (beyond, a fill is attributed by its clOrdId's
    epoch), and strategy epochs the last ``max_epochs``."""

    def __init__(
        self,
        keep_fills: int = 2_000,
        dedup_window: int = 50_000,
        max_epochs: int = 1_000,
        max_claims: int = 10_000,
    ) -> None:
        self._fills: dict[str, list[FillRecord]] = {}  # by inst, sorted
        self._seen: OrderedDict[tuple[str, str], tuple[bool, FillRecord | None]] = OrderedDict()
        self._strategy_of: OrderedDict[str, str] = OrderedDict()  # clOrdId → strategy
        self._epoch_owner: OrderedDict[int, str] = OrderedDict()  # strategy epoch → strategy
        self._base: dict[tuple[str, str], PnlBook] = {}
        self._books: dict[tuple[str, str], PnlBook] | None = None
        self.floors: dict[str, tuple[int, str]] = {}  # inst → newest folded (ts, tradeId)
        self._keep = keep_fills
        self._dedup_window = dedup_window
        self._max_claims = max_claims
        self._max_epochs = max_epochs
        self.late_dropped = 0

    def on_fill(self, f: FillRecord, authoritative: bool = True) -> bool:
        """Add a fill; False if ``(inst, trade_id)`` was already booked (or is at or below the
        instrument's floor: folded already).

        The account's own fill report (private stream) is authoritative; a copy relayed in an
        order event is booked only until the authoritative one arrives, which replaces it."""
        key = (f.inst, f.trade_id)
        old = self._seen.get(key)
        if old is not None:
            if old[0] or not authoritative or old[1] is None:
                return False
            self._fills[f.inst].remove(old[1])
        else:
            floor = self.floors.get(f.inst)
            if floor is not None and (f.ts_ms, f.trade_id) <= floor:
                self.late_dropped += 1
                return False
        self._seen[key] = (authoritative, f)
        if len(self._seen) > self._dedup_window:
            self._seen.popitem(last=False)
        bisect.insort(self._fills.setdefault(f.inst, []), f)
        self._books = None
        return True

    def claim_epoch(self, epoch: int, strategy: str) -> None:
        """Attribute every fill whose clOrdId carries ``epoch`` (``engine.orders.clordid``) to
        ``strategy``: a strategy's epoch is known from any of its order events or status, so
        fills of orders whose own events were missed are still attributed."""
        if epoch and strategy and self._epoch_owner.get(epoch) != strategy:
            self._epoch_owner[epoch] = strategy
            if len(self._epoch_owner) > self._max_epochs:
                self._epoch_owner.popitem(last=False)
            self._books = None

    @property
    def dedup_entries(self) -> int:
        """Trade ids remembered for de-duplication (the unfolded fills)."""
        return len(self._seen)

    @property
    def epoch_owners(self) -> dict[int, str]:
        return dict(self._epoch_owner)

    def owner(self, cl_ord_id: str) -> str:
        """The strategy of ``cl_ord_id``: its own claim, else its epoch's owner, else ""."""
        name = self._strategy_of.get(cl_ord_id)
        if name:
            return name
        parts = decode(cl_ord_id) if cl_ord_id else None
        return self._epoch_owner.get(parts.epoch, "") if parts is not None else ""

    def claim(self, cl_ord_id: str, strategy: str) -> None:
        """Attribute the fills of ``cl_ord_id`` (past and future) to ``strategy``."""
        if cl_ord_id and strategy and self._strategy_of.get(cl_ord_id) != strategy:
            self._strategy_of[cl_ord_id] = strategy
            if len(self._strategy_of) > self._max_claims:
                self._strategy_of.popitem(last=False)
            self._books = None

    def booked(self, spec_of: SpecLookup) -> int:
        """Fills booked in all books, folded ones included."""
        return sum(b.fills for b in self.books(spec_of).values())

    @property
    def fills(self) -> list[FillRecord]:
        return [f for fills in self._fills.values() for f in fills]

    @property
    def claims(self) -> dict[str, str]:
        return dict(self._strategy_of)

    @property
    def base(self) -> dict[tuple[str, str], PnlBook]:
        return self._base

    def restore_base(self, strategy: str, book: PnlBook) -> None:
        self._base[(strategy, book.inst)] = book
        self._books = None

    def books(self, spec_of: SpecLookup) -> dict[tuple[str, str], PnlBook]:
        """Books keyed by (strategy, instId)."""
        if self._books is None:
            for inst in list(self._fills):
                if len(self._fills[inst]) > self._keep and spec_of(inst) is not None:
                    self._fold(inst, spec_of)
            books = {k: replace(b, fees=dict(b.fees)) for k, b in self._base.items()}
            for fills in self._fills.values():
                for f in fills:
                    self._book_for(books, f, spec_of).apply(f)
            self._books = books
        return self._books

    def _book_for(
        self, books: dict[tuple[str, str], PnlBook], f: FillRecord, spec_of: SpecLookup
    ) -> PnlBook:
        k = (self.owner(f.cl_ord_id), f.inst)
        book = books.get(k)
        if book is None:
            spec = spec_of(f.inst)
            derivative = spec is not None and spec.inst_type in ("SWAP", "FUTURES", "OPTION")
            mult = spec.multiplier if spec is not None and derivative else Decimal(1)
            book = books[k] = PnlBook(f.inst, mult, spec is not None and spec.inverse)
        return book

    def _fold(self, inst: str, spec_of: SpecLookup) -> None:
        fills = self._fills[inst]
        n = len(fills) - self._keep // 2
        for f in fills[:n]:
            self._book_for(self._base, f, spec_of).apply(f)
            # at or below the floor from now on: the floor check drops its repeats, so the
            # de-duplication map holds only the unfolded fills (bounded by keep_fills)
            self._seen.pop((f.inst, f.trade_id), None)
        if n > 0:
            last = fills[n - 1]
            self.floors[inst] = max(self.floors.get(inst, (-1, "")), (last.ts_ms, last.trade_id))
        del fills[:n]

    def invalidate(self) -> None:
        """Instrument rules changed: rebuild on the next read."""
        self._books = None
