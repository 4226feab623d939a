"""The backtest's venue: our orders against a recorded book, queue-aware. Pure.

An order resting at price ``p`` joins the queue behind the size visible at ``p`` on its side when
it arrives (``ahead``). What moves it forward:

- a trade at ``p`` whose aggressor hits our side (a sell at our bid): ``ahead`` shrinks by its
  size; what the trade has left after ``ahead`` is gone fills us (partially or fully);
- a trade through ``p`` (a sell below our bid) or the book crossing ``p`` (best ask ≤ our bid):
  the rest of the order fills at ``p``;
- cancellations — the visible size at ``p`` falling by more than the trades at ``p`` explain —
  under the ``proportional`` model shrink ``ahead`` by the cancelled share of the level in front
  of us (hftbacktest's "probabilistic" family, linear); the ``pessimistic`` model ignores them
  (only trades advance the queue: hftbacktest's risk-averse model).

On arrival an order that crosses the book takes liquidity: it walks the visible levels up to its
price (taker fee), a ``post_only`` order is cancelled instead (``cancelSource`` 31, as OKX), the
rest of a limit order rests. A price amend requeues at the back; a size decrease keeps the place.
Maker and taker fees use OKX's sign (negative = charged).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import compress
from operator import itemgetter
from typing import Literal

from engine.messages import OrdType, Side

__all__ = ["Fill", "QueueModel", "SimOrder", "SimVenue"]

QueueModel = Literal["pessimistic", "proportional"]
RecordedLevel = Sequence[str]  # a book level as OKX sends it: [px, sz, ...] strings
ZERO = Decimal(0)


@dataclass
class SimOrder:
    cl_ord_id: str
    side: Side
    px: Decimal
    sz: Decimal
    ord_type: OrdType
    filled: Decimal = ZERO
    ahead: Decimal = ZERO
    state: str = "live"  # live | partially_filled | filled | canceled

    @property
    def remaining(self) -> Decimal:
        return self.sz - self.filled

    @property
    def open(self) -> bool:
        return self.state in ("live", "partially_filled")


@dataclass(frozen=True)
class Fill:
    cl_ord_id: str
    side: Side
    px: Decimal
    sz: Decimal
    maker: bool
    fee: Decimal  # OKX sign: negative = charged
    trade_id: str


class _Decimals(dict[str, Decimal]):
    """Recorded number strings → ``Decimal``, memoised: a book's prices (and, from a
    generated book, its sizes) recur in update after update, and a dict hit is ~10× cheaper
    than parsing. Bounded: cleared past ``_MAX`` entries (a busy day's distinct strings are far
    fewer)."""

    _MAX = 200_000

    def __missing__(self, text: str) -> Decimal:
        if len(self) >= self._MAX:
            self.clear()
        value = self[text] = Decimal(text)
        return value


@dataclass
class SimVenue:
    """Our orders on one instrument and the recorded book they rest in."""

    maker_fee: Decimal = Decimal("-0.0002")
    taker_fee: Decimal = Decimal("-0.0005")
    ct_val: Decimal = Decimal(1)  # fees are on notional = sz × ct_val × px
    model: QueueModel = "proportional"
    bids: dict[Decimal, Decimal] = field(default_factory=dict)
    asks: dict[Decimal, Decimal] = field(default_factory=dict)
    orders: dict[str, SimOrder] = field(default_factory=dict)
    _traded_at: dict[tuple[Side, Decimal], Decimal] = field(default_factory=dict)
    _trade_seq: int = 0
    # the touch, kept across updates that leave it alone (most: a busy book changes ~90 of 400
    # levels per update, rarely the best); None with ``_stale``: scan the level map again
    _bid: Decimal | None = None
    _ask: Decimal | None = None
    _bid_stale: bool = True
    _ask_stale: bool = True
    _decimals: _Decimals = field(default_factory=_Decimals)

    # ----------------------------------------------------------------------------- market
    def best_bid(self) -> Decimal | None:
        if self._bid_stale:
            self._bid = max(self.bids) if self.bids else None
            self._bid_stale = False
        return self._bid

    def best_ask(self) -> Decimal | None:
        if self._ask_stale:
            self._ask = min(self.asks) if self.asks else None
            self._ask_stale = False
        return self._ask

    def _level_set(self, side: Side, px: Decimal, sz: Decimal) -> None:
        """One level's new size (0: gone), keeping the touch right."""
        if side is Side.BUY:
            if sz > 0:
                self.bids[px] = sz
                if not self._bid_stale and (self._bid is None or px > self._bid):
                    self._bid = px
            elif self.bids.pop(px, None) is not None and px == self._bid:
                self._bid_stale = True
        elif sz > 0:
            self.asks[px] = sz
            if not self._ask_stale and (self._ask is None or px < self._ask):
                self._ask = px
        elif self.asks.pop(px, None) is not None and px == self._ask:
            self._ask_stale = True

    def load(self, bids: Sequence[RecordedLevel], asks: Sequence[RecordedLevel]) -> None:
        """A snapshot (recorded ``[px, sz, ...]`` strings) replaces the book; queues keep their
        place (we cannot know better)."""
        self.bids = {p: s for p, s in ((Decimal(lv[0]), Decimal(lv[1])) for lv in bids) if s > 0}
        self.asks = {p: s for p, s in ((Decimal(lv[0]), Decimal(lv[1])) for lv in asks) if s > 0}
        self._bid_stale = self._ask_stale = True
        self._traded_at.clear()

    def apply(self, bids: Sequence[RecordedLevel], asks: Sequence[RecordedLevel]) -> list[Fill]:
        """A book update as recorded (``[px, sz, ...]`` strings, size 0 deletes); returns the
        fills it causes (a crossed book)."""
        ours_bid = {o.px for o in self.orders.values() if o.open and o.side is Side.BUY}
        ours_ask = {o.px for o in self.orders.values() if o.open and o.side is Side.SELL}
        if bids:
            self._bid, known = self._apply_side(bids, Side.BUY, ours_bid)
            self._bid_stale = not known
        if asks:
            self._ask, known = self._apply_side(asks, Side.SELL, ours_ask)
            self._ask_stale = not known
        return self._crossed() if ours_bid or ours_ask else []

    def _apply_side(
        self, levels: Sequence[RecordedLevel], side: Side, ours: set[Decimal]
    ) -> tuple[Decimal | None, bool]:
        """Apply one side's levels; returns the touch and whether it is known (not stale).

        The hot path of a backtest (a busy book changes ~90 levels per update), so done in
        bulk, in C: the strings become (memoised) Decimals through ``map``, the dict takes them
        in one ``update``, the touch is one ``max``/``min`` over the levels given a size; only
        our own levels (a handful) and the trades waiting on a level (a few) are looked at one
        by one."""
        buy = side is Side.BUY
        book = self.bids if buy else self.asks
        best, known = (self._bid, not self._bid_stale) if buy else (self._ask, not self._ask_stale)
        # a price listed twice (the local exchange's phantom delete once doubled a real one)
        # counts once, at its last size, as a client applying the update in order ends up
        num = self._decimals.__getitem__
        prices, sizes = map(num, map(itemgetter(0), levels)), map(num, map(itemgetter(1), levels))
        final = dict(zip(prices, sizes, strict=True))
        hits = ours.intersection(final)
        olds = {px: book.get(px, ZERO) for px in hits}
        book.update(final)
        if ZERO in final.values():  # size 0 deletes (the update just stored those 0s)
            for px in [px for px, sz in final.items() if not sz]:
                del book[px]
                if px == best:
                    known = False
        if known:
            added = list(compress(final, final.values()))  # sized levels (Decimal 0 is falsy)
            if added:
                edge = max(added) if buy else min(added)
                if best is None or (edge > best if buy else edge < best):
                    best = edge
        for px in hits:
            self._on_level(side, px, olds[px], book.get(px, ZERO))
        traded = self._traded_at
        if traded:  # a trade waits for its level's next update (cancels = drop - trades)
            for key in [k for k in traded if k[0] is side and k[1] in final]:
                del traded[key]
        return best, known

    def _on_level(self, side: Side, px: Decimal, old: Decimal, new: Decimal) -> None:
        traded = self._traded_at.pop((side, px), ZERO)
        drop = old - new - traded  # what left the level beyond the trades: cancellations
        if drop <= 0 or self.model == "pessimistic" or old <= 0:
            return
        for o in self.orders.values():
            if o.open and o.side is side and o.px == px and o.ahead > 0:
                # cancels fall evenly over the level's size; the share in front of us is ours
                o.ahead = max(ZERO, o.ahead - drop * o.ahead / old)

    def _crossed(self) -> list[Fill]:
        out: list[Fill] = []
        bid, ask = self.best_bid(), self.best_ask()
        for o in list(self.orders.values()):
            if not o.open:
                continue
            if (o.side is Side.BUY and ask is not None and ask <= o.px) or (
                o.side is Side.SELL and bid is not None and bid >= o.px
            ):
                out.append(self._fill(o, o.px, o.remaining, maker=True))
        return out

    def on_trade(self, side: Side, px: Decimal, sz: Decimal) -> list[Fill]:
        """A public trade; ``side`` is the aggressor's."""
        hit = Side.SELL if side is Side.BUY else Side.BUY  # the resting side it took from
        key = (hit, px)
        self._traded_at[key] = self._traded_at.get(key, ZERO) + sz
        out: list[Fill] = []
        budget = sz  # our fills at px together never exceed the trade
        for o in sorted(self.orders.values(), key=lambda x: (x.ahead, x.cl_ord_id)):
            if not o.open or o.side is not hit:
                continue
            through = px < o.px if hit is Side.BUY else px > o.px
            if through:
                out.append(self._fill(o, o.px, o.remaining, maker=True))
            elif px == o.px:
                if sz <= o.ahead:
                    o.ahead -= sz
                    continue
                reach = sz - o.ahead
                o.ahead = ZERO
                take = min(o.remaining, reach, budget)
                if take > 0:
                    budget -= take
                    out.append(self._fill(o, o.px, take, maker=True))
        return out

    # ----------------------------------------------------------------------------- orders
    def place(self, o: SimOrder) -> list[Fill]:
        """Our order arrives; fills if it takes; ``o.state`` says what became of it."""
        self.orders[o.cl_ord_id] = o
        buy = o.side is Side.BUY
        levels = self.asks if buy else self.bids
        touch = self.best_ask() if buy else self.best_bid()
        crossing: list[Decimal] = []
        if touch is not None and (touch <= o.px if buy else touch >= o.px):  # rare: scan
            crossing = sorted(
                (p for p in levels if (p <= o.px if buy else p >= o.px)), reverse=not buy
            )
        if crossing and o.ord_type is OrdType.POST_ONLY:
            o.state = "canceled"  # OKX: accepted, then cancelled (cancelSource 31)
            return []
        out = []
        for p in crossing:
            if o.remaining <= 0:
                break
            take = min(o.remaining, levels[p])
            self._level_set(Side.SELL if buy else Side.BUY, p, levels[p] - take)
            out.append(self._fill(o, p, take, maker=False))
        if o.open:
            own = self.bids if o.side is Side.BUY else self.asks
            o.ahead = own.get(o.px, ZERO)
            if o.ord_type in (OrdType.IOC, OrdType.FOK):
                o.state = "canceled"
        return out

    def amend(self, cl_ord_id: str, new_px: Decimal | None, new_sz: Decimal | None) -> str:
        """'' if done, else why not (OKX 51503: the order is over)."""
        o = self.orders.get(cl_ord_id)
        if o is None or not o.open:
            return "51503"
        if new_sz is not None:
            if new_sz <= o.filled:
                o.sz = o.filled
                o.state = "filled"
                return ""
            grew = new_sz > o.sz
            o.sz = new_sz
            if grew:
                o.ahead = self._level(o)  # a size increase loses its place
        if new_px is not None and new_px != o.px:
            o.px = new_px
            o.ahead = self._level(o)
        return ""

    def _level(self, o: SimOrder) -> Decimal:
        return (self.bids if o.side is Side.BUY else self.asks).get(o.px, ZERO)

    def cancel(self, cl_ord_id: str) -> str:
        o = self.orders.get(cl_ord_id)
        if o is None or not o.open:
            return "51400"
        o.state = "canceled"
        return ""

    def forget_closed(self) -> None:
        for k in [k for k, o in self.orders.items() if not o.open]:
            del self.orders[k]

    def _fill(self, o: SimOrder, px: Decimal, sz: Decimal, *, maker: bool) -> Fill:
        o.filled += sz
        o.state = "filled" if o.remaining <= 0 else "partially_filled"
        self._trade_seq += 1
        rate = self.maker_fee if maker else self.taker_fee
        fee = rate * sz * self.ct_val * px
        return Fill(o.cl_ord_id, o.side, px, sz, maker, fee, f"bt{self._trade_seq}")
