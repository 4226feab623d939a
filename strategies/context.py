"""Per-worker state that replaces the original's global containers, with freshness rules.

One :class:`WorkerContext` per worker holds the instrument, the book, ticker, mark, trades,
sampled mids, the account, the instrument's positions, the worker's own orders, its fill
accounting and what risk allows. ``on_message`` applies one bus message (snapshot items are
state, so applying one twice is harmless); ``health`` says whether quoting is allowed now and why
not; ``view`` freezes what a strategy may see.

Freshness (the original checked book and account age only, against exchange timestamps, and
never pulled its quotes, §2.3, §10.1-2/19): the book must be VALID and received within
``orderbook_max_delay_sec`` (local receive time: clock skew does not count); account data must
exist, the private stream must not be reported down, and the data confirmed by the gateway
within ``account_max_delay_sec`` (``touch_account``); every publisher must be alive (the caller
passes which are silent);
risk must not be HALTED (REDUCING keeps only the reducing side). Pure: times are arguments.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from engine.instruments import Instrument
from engine.messages import (
    AccountConfig,
    AccountUpdate,
    BalanceDetail,
    BookState,
    BookStatus,
    BookTop,
    InstrumentInfo,
    MarkPrice,
    Msg,
    OrderEvent,
    Position,
    RiskState,
    Side,
    StreamStatus,
    Ticker,
    Trade,
    TradingState,
)
from strategies.base import MarketView
from strategies.orders import FillDelta, OrderTable
from strategies.params import StrategyParams
from strategies.series import MidSeries, TapeTrade, TradeTape

__all__ = ["FillBook", "Health", "WorkerContext"]

_NS = 1_000_000_000
_MS = 1_000_000
ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Health:
    ok: bool
    reason: str = ""
    state: TradingState = TradingState.ACTIVE


@dataclass
class FillBook:
    """Fill accounting of this worker since it started (the original's StrategyMeasurement
    counters, §5.3, plus cash flows for a mark-to-mid P&L)."""

    fills: int = 0
    buy_qty: Decimal = ZERO
    sell_qty: Decimal = ZERO
    volume: Decimal = ZERO
    cash: Decimal = ZERO  # Σ sells·px − Σ buys·px (in price × size units)
    fees: Decimal = ZERO  # OKX sign: negative is a cost

    @property
    def net(self) -> Decimal:
        return self.buy_qty - self.sell_qty

    def on_fill(self, f: FillDelta) -> None:
        self.fills += 1
        self.volume += f.qty
        if f.side is Side.BUY:
            self.buy_qty += f.qty
            self.cash -= f.qty * f.px
        else:
            self.sell_qty += f.qty
            self.cash += f.qty * f.px

    def pnl(self, mid: Decimal | None, contract_value: Decimal) -> Decimal:
        """Trading P&L in quote ccy: cash flows plus the net fills marked at ``mid``, plus fees."""
        marked = self.cash + (self.net * mid if mid is not None else ZERO)
        return marked * contract_value + self.fees


class WorkerContext:
    """Everything one worker knows."""

    def __init__(self, name: str, inst: str, params: StrategyParams) -> None:
        self.name = name
        self.inst = inst
        self.instrument: Instrument | None = None
        self.book: BookTop | None = None
        self._best: tuple[Decimal | None, Decimal | None] = (None, None)
        self.book_state = BookState.RESYNCING
        self.book_rx_ns: int | None = None
        self.ticker: Ticker | None = None
        self.mark: MarkPrice | None = None
        self.account: AccountUpdate | None = None
        self.account_config: AccountConfig | None = None  # acctLv/posMode: orders need it
        self.balances: dict[str, BalanceDetail] = {}
        self.account_rx_ns: int | None = None
        self.positions: dict[tuple[str, str], Position] = {}
        self.streams: dict[str, bool] = {}
        self.orders = OrderTable()
        self.fill_book = FillBook()
        # our latest fill: its venue time and when we heard of it. A fill comes on the private
        # path, the book update showing its trade on the public one, often later: quoting in
        # between prices off a book the fill already changed (see ``book_behind_fill``)
        self.fill_ms = 0
        self.fill_rx_ns = 0
        self.risk: dict[tuple[str, str], RiskState] = {}
        self.params = params
        self.mids = MidSeries(params.volatility_sample_ms * _MS, self._capacity(params))
        self.tape = TradeTape(int(params.as_window_sec * _NS))

    @staticmethod
    def _capacity(params: StrategyParams) -> int:
        as_samples = int(params.as_window_sec * 1000 / max(params.volatility_sample_ms, 1)) + 1
        return max(params.volatility_lookback + 1, min(as_samples, 10_000), 100)

    def set_params(self, params: StrategyParams) -> None:
        self.params = params
        self.mids.resize(params.volatility_sample_ms * _MS, self._capacity(params))
        self.tape.window_ns = int(params.as_window_sec * _NS)

    # ------------------------------------------------------------------------------- inbox
    def on_message(self, msg: Msg, now_ns: int, mono_ns: int) -> FillDelta | None:
        """Apply one bus message; returns a new fill of ours, if the message carried one."""
        if isinstance(msg, BookTop):
            if msg.inst == self.inst:
                self._on_book(msg, now_ns, mono_ns)
        elif isinstance(msg, BookStatus):
            if msg.inst == self.inst:
                self.book_state = msg.state
        elif isinstance(msg, Trade):
            if msg.inst == self.inst:
                mid = self.mid
                if mid is not None:
                    self.tape.add(TapeTrade(now_ns, msg.px, msg.sz, msg.side, mid))
        elif isinstance(msg, InstrumentInfo):
            if msg.inst == self.inst:
                self.instrument = Instrument.from_info(msg)
        elif isinstance(msg, Ticker):
            if msg.inst == self.inst:
                self.ticker = msg
        elif isinstance(msg, MarkPrice):
            if msg.inst == self.inst:
                self.mark = msg
        elif isinstance(msg, AccountUpdate):
            self._on_account(msg, mono_ns)
        elif isinstance(msg, AccountConfig):
            self.account_config = msg
        elif isinstance(msg, Position):
            if msg.inst == self.inst:
                self.positions[(msg.mgn_mode, msg.pos_side)] = msg
                self.account_rx_ns = mono_ns
        elif isinstance(msg, StreamStatus):
            self.streams[msg.stream] = msg.up
        elif isinstance(msg, OrderEvent):
            if msg.strategy == self.name:
                delta = self.orders.on_event(msg, mono_ns)
                if delta is not None:
                    self.fill_book.on_fill(delta)
                    if msg.ts_ms > self.fill_ms:
                        self.fill_ms, self.fill_rx_ns = msg.ts_ms, mono_ns
                    if msg.fee is not None and msg.fill_sz:
                        self.fill_book.fees += msg.fee
                return delta
        elif isinstance(msg, RiskState):
            self.risk[(msg.scope, msg.key)] = msg
        return None

    def _on_book(self, msg: BookTop, now_ns: int, mono_ns: int) -> None:
        self.book = msg
        self._best = (msg.best_bid(), msg.best_ask())  # the bus carries strings: parse once
        self.book_state = msg.state
        self.book_rx_ns = mono_ns
        mid = self.mid
        if mid is not None and msg.state is BookState.VALID:
            self.mids.add(now_ns, mid)
            self.tape.expire(now_ns)

    def book_behind_fill(self, mono_ns: int, max_wait_ns: int) -> bool:
        """Our latest fill is newer than the book (venue times) and we have waited less than
        ``max_wait_ns`` for the book to catch up: a decision now would requote on the book from
        before the fill's trade — and cross the spread where that trade took the level."""
        book = self.book
        return (
            book is not None
            and book.ts_ms < self.fill_ms
            and mono_ns - self.fill_rx_ns < max_wait_ns
        )

    def touch_account(self, mono_ns: int) -> None:
        """The private gateway spoke (any acct.pub message, heartbeats included) while its
        stream is up: the account data it holds is confirmed current. The gateway publishes on
        change only, so a quiet account is not a stale one."""
        if self.account_rx_ns is not None and all(self.streams.values()):
            self.account_rx_ns = max(self.account_rx_ns, mono_ns)

    def _on_account(self, msg: AccountUpdate, mono_ns: int) -> None:
        if msg.snapshot:
            self.balances = {d.ccy: d for d in msg.details}
        else:
            for d in msg.details:
                self.balances[d.ccy] = d
        self.account = msg
        self.account_rx_ns = mono_ns

    # ------------------------------------------------------------------------------ reads
    @property
    def best_bid(self) -> Decimal | None:
        return self._best[0]

    @property
    def best_ask(self) -> Decimal | None:
        return self._best[1]

    @property
    def mid(self) -> Decimal | None:
        bid, ask = self.best_bid, self.best_ask
        return (bid + ask) / 2 if bid is not None and ask is not None else None

    @property
    def has_position_data(self) -> bool:
        return bool(self.positions)

    def net_position(self) -> Decimal:
        """Position in order-size units: the venue's (net, or long − short) when the account
        reports positions for the instrument, else fills since start (the original's only source,
        blind to the real position, §10.1-4)."""
        if not self.positions or self.params.inventory_source == "fills":
            return self.fill_book.net
        net = ZERO
        for (_, pos_side), p in self.positions.items():
            net += -p.pos if pos_side == "short" else p.pos
        return net

    def leg(self, mgn_mode: str, pos_side: str) -> Decimal:
        """The venue's position of one leg (``long``/``short``, positive; ``net`` signed)."""
        p = self.positions.get((mgn_mode, pos_side))
        return p.pos if p is not None else ZERO

    def contract_value(self) -> Decimal:
        """Quote value of one size unit per unit of price (ctVal × ctMult for linear contracts)."""
        inst = self.instrument
        if inst is None or inst.inst_type in ("SPOT", "MARGIN") or inst.ct_type == "inverse":
            return Decimal(1)
        return (inst.ct_val or Decimal(1)) * (inst.ct_mult or Decimal(1))

    def trading_state(self) -> tuple[TradingState, str]:
        """The most restrictive risk state for this worker (account, instrument, strategy)."""
        worst, why = TradingState.ACTIVE, ""
        rank = {TradingState.ACTIVE: 0, TradingState.REDUCING: 1, TradingState.HALTED: 2}
        for key in (("account", "*"), ("inst", self.inst), ("strategy", self.name)):
            st = self.risk.get(key)
            if st is not None and rank[st.state] > rank[worst]:
                worst, why = st.state, f"risk {key[0]} {st.state.value}: {st.reason}".rstrip(": ")
        return worst, why

    def health(self, mono_ns: int, silent: dict[str, bool]) -> Health:
        """May the worker quote now? ``silent`` maps a publisher (md, acct, ord, risk) to True
        when it has gone quiet; a missing risk publisher is allowed unless ``risk_required``."""
        p = self.params
        if self.instrument is None:
            return Health(False, "no instrument data")
        if self.instrument.state not in ("live", ""):
            return Health(False, f"instrument {self.instrument.state}")
        for pub in ("md", "acct", "ord"):
            if silent.get(pub, False):
                return Health(False, f"{pub} publisher silent")
        if self.book is None or self.book_rx_ns is None:
            return Health(False, "no book")
        if self.book_state is not BookState.VALID:
            return Health(False, f"book {self.book_state.value}")
        age = (mono_ns - self.book_rx_ns) / _NS
        if age > p.orderbook_max_delay_sec:
            return Health(False, f"book stale {age:.1f}s")
        if self.best_bid is None or self.best_ask is None:
            return Health(False, "one-sided book")
        if self.account is None and not self.positions:
            return Health(False, "no account data")
        if any(up is False for up in self.streams.values()):
            down = sorted(k for k, up in self.streams.items() if not up)
            return Health(False, f"stream down: {','.join(down)}")
        if self.account_rx_ns is not None:
            age = (mono_ns - self.account_rx_ns) / _NS
            if age > p.account_max_delay_sec:
                return Health(False, f"account stale {age:.1f}s")
        if p.risk_required and silent.get("risk", True):
            return Health(False, "risk publisher silent")
        state, why = self.trading_state()
        if state is TradingState.HALTED:
            return Health(False, why or "risk halted", state)
        return Health(True, why, state)

    def view(self, now_ns: int, *, mids: bool = True, trades: bool = True) -> MarketView:
        """What a strategy may see now; history is copied only when asked for (hot path)."""
        inst = self.instrument
        assert inst is not None
        return MarketView(
            inst=self.inst,
            inst_type=inst.inst_type,
            tick=inst.tick_sz,
            lot=inst.lot_sz,
            min_sz=inst.min_sz,
            best_bid=self.best_bid,
            best_ask=self.best_ask,
            net=self.net_position(),
            now_ns=now_ns,
            mids=self.mids.values() if mids else (),
            mid_samples=self.mids.samples() if mids else (),
            trades=self.tape.trades() if trades else (),
            contract_value=self.contract_value(),
        )
