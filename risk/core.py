"""The risk monitor's pure core: bus messages in; measurements, snapshots and states out.

Inbox (``on_message``): AccountUpdate, Position, OrderUpdate, Fill, RecentFills (the ring of
recent fills, replayed after a restart), StreamStatus (private-gw);
BookTop, BookStatus, Ticker, MarkPrice, InstrumentInfo, StreamStatus (md-feed); OrderEvent,
StrategyStatus (router). ``evaluate(mono_ns, wall_ms)`` recomputes what changed and returns a
:class:`Report`: the ``RiskSnapshot`` message (when the numbers changed), every ``RiskState``
change with its reason, and the ``RiskLimits`` to publish. ``halt``/``resume`` are the kill switch.

``RiskSnapshot`` fields are keyed by instId (exposures, fill counters), strategy
(``pnl_by_strategy_usd``; fills no strategy claims are under ``unattributed``) or currency;
``exposures_quote`` leaves out an instrument whose base or quote currency has no price.
``RiskLimits`` per instrument: ``max_position`` = ``max_position_base[inst]`` (base currency),
``max_notional_usd`` = ``max_position_usd``.

Measurement lifecycle (the original's §6.6, made durable): the first snapshot taken once the
account, the positions (a Clone snapshot of private-gw) and the positions' instruments are known
becomes the inception; it is persisted and restored at start (:mod:`risk.persist`), so a restart
keeps measuring from the same start. The loss limit is measured from the P&L's peak; resume
re-bases the peak at the current P&L so a resumed account is not re-halted by the same loss.

Bounded: per-instrument maps (``_md_seen_ns``, ``_book_state``) hold the configured and served
instruments, per-strategy ones (states, peaks) the strategies seen, halts one per scope; the
fill ledger, counters and open orders name their own windows (:mod:`risk.pnl`,
:mod:`risk.fills`, :mod:`risk.open_orders`), the persisted state its (:mod:`risk.durable`).
Fills missed while risk was down come back from private-gw's ring of recent fills
(``RecentFills``, replayed from its Clone snapshot); the ring (1000 fills) must stay within
the fills the ledger keeps unfolded per instrument (at least ``keep_fills // 2`` = 1000) so
every replayed fill is either known by tradeId or below the fold watermark.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from engine.messages import (
    AccountUpdate,
    AnyMsg,
    BookState,
    BookStatus,
    BookTop,
    Fill,
    InstrumentInfo,
    MarginState,
    MarkPrice,
    OrderEvent,
    OrderState,
    OrderUpdate,
    Position,
    RecentFills,
    RiskLimits,
    RiskSnapshot,
    StrategyStatus,
    StreamStatus,
    Ticker,
    TradingState,
)
from risk import durable
from risk.books import StrategyPnl, snapshot_message, strategy_books, strategy_net
from risk.caches import AccountCache, MarketCache, PositionCache
from risk.config import RiskConfig
from risk.convert import balance_row, fill_record, instrument_spec, position_row
from risk.fills import FillCounters, FillTotals
from risk.inputs import ZERO, base_of, quote_of
from risk.limits import InstView, LimitInputs, Severity, evaluate
from risk.measurement import Measurement, StrategyMeasurement, measure
from risk.open_orders import OpenOrders, OrderRate
from risk.persist import HaltRecord, PersistedState
from risk.pnl import FillRecord, PnlLedger
from risk.prices import PriceSource
from risk.snapshot import RiskSnap, build_snapshot
from risk.state import ScopeState, StateChange, StateEvent

__all__ = ["ACCOUNT", "Report", "RiskCore", "Source", "StrategyPnl"]

ACCOUNT = ("account", "*")
INSTRUMENT_GRACE_NS = 10_000_000_000  # inception waits this long for missing instrument rules
_NS_PER_MS = 1_000_000
Source = str  # "md", "acct", "ord"
VENUE_TERMINAL = frozenset({"filled", "canceled", "mmp_canceled"})
ROUTER_TERMINAL = frozenset({OrderState.FILLED, OrderState.CANCELED, OrderState.REJECTED})


@dataclass(slots=True)
class Report:
    snapshot: RiskSnapshot | None = None
    changes: list[StateChange] = field(default_factory=list)
    limits: list[RiskLimits] = field(default_factory=list)


class RiskCore:
    """Everything the risk monitor knows and decides; no I/O, time passed in."""

    def __init__(
        self,
        cfg: RiskConfig,
        instruments: Iterable[str],
        strategies: Iterable[str] = (),
        persisted: PersistedState | None = None,
        started_ms: int = 0,
    ) -> None:
        self.cfg = cfg
        self.account = AccountCache()
        self.positions = PositionCache()
        self.market = MarketCache()
        self.counters = FillCounters()
        self.ledger = PnlLedger()
        self.open_orders = OpenOrders()
        self.order_rate = OrderRate()
        self.instruments: list[str] = list(dict.fromkeys(instruments))
        self.strategies: list[str] = list(dict.fromkeys(strategies))
        self.inception: RiskSnap | None = None
        self.current: RiskSnap | None = None
        self.measurement: Measurement | None = None
        self.peak_pnl_usd = ZERO
        self.strategy_peaks: dict[str, Decimal] = {}
        self.halts: dict[tuple[str, str], HaltRecord] = {}
        self.states: dict[tuple[str, str], ScopeState] = {}
        self.positions_synced = False
        self.private_up = True
        self.private_reason = ""
        self.private_silent = False
        self.md_silent = False
        self.margin: MarginState | None = None  # the margin actor's latest (acctLv 3 / 4)
        self.margin_silent = False
        self._md_seen_ns: dict[str, int] = {}
        self._book_state: dict[str, BookState] = {}
        self._first_data_ns: int | None = None
        self._dirty = True
        self._limits_sent = False
        # A fresh start measures from now: the ring's older fills are in the inception already.
        # A restart from persisted state books every ring fill it has not accounted.
        self.ring_cut_ms = started_ms if persisted is None or persisted.inception is None else 0
        if persisted is not None:
            self._restore(persisted)
        for scope, key in [
            ACCOUNT,
            *(("inst", i) for i in self.instruments),
            *(("strategy", s) for s in self.strategies),
        ]:
            self._scope(scope, key)

    # ------------------------------------------------------------------------------ inbox
    def on_message(self, source: Source, msg: AnyMsg, mono_ns: int, from_snapshot: bool) -> None:
        """Apply one bus message (snapshot items are state, applied the same way)."""
        if self._first_data_ns is None:
            self._first_data_ns = mono_ns
        if self._apply(source, msg, mono_ns, from_snapshot):
            self._dirty = True

    def _apply(self, source: Source, msg: AnyMsg, mono_ns: int, from_snapshot: bool) -> bool:
        """Route ``msg`` to its cache; False when it is nothing risk uses."""
        if isinstance(msg, AccountUpdate):
            self.account.on_account(
                msg.total_eq,
                msg.u_time_ms,
                [balance_row(d, msg.u_time_ms) for d in msg.details],
                msg.snapshot,
            )
        elif isinstance(msg, Position):
            row = position_row(msg)
            self.positions.on_position(row)
            # the mark when the position changed (or, closed without one, the mid then): what a
            # closed inception position is revalued at when no live mark of it comes any more
            px = row.mark_px if row.mark_px > 0 else None
            if px is None and row.pos == 0:
                px = self.market.mid(row.inst)
            self.market.remember_price(row.inst, px, row.u_time_ms)
        elif isinstance(msg, MarkPrice):
            self.market.on_mark(msg.inst, msg.mark_px, msg.ts_ms)
            self._md_seen_ns[msg.inst] = mono_ns
        elif isinstance(msg, Ticker):
            self.market.on_ticker(msg.inst, msg.bid_px, msg.ask_px, msg.ts_ms)
            self._md_seen_ns[msg.inst] = mono_ns
        elif isinstance(msg, BookTop):
            return self._on_book(msg, mono_ns)
        elif isinstance(msg, BookStatus):
            self._book_state[msg.inst] = msg.state
        elif isinstance(msg, InstrumentInfo):
            self.market.on_instrument(instrument_spec(msg))
            self.ledger.invalidate()
        elif isinstance(msg, Fill):
            return self._on_fill(msg)
        elif isinstance(msg, RecentFills):
            # private-gw's ring of recent fills: the ones missed while risk was down count
            changed = [self._on_fill(f) for f in msg.fills if f.ts_ms >= self.ring_cut_ms]
            return any(changed)
        elif isinstance(msg, OrderUpdate):
            self._on_order_update(msg, mono_ns)
        elif isinstance(msg, OrderEvent):
            self._on_order_event(msg, mono_ns, from_snapshot)
        elif isinstance(msg, StrategyStatus):
            self.ledger.claim_epoch(msg.epoch, msg.strategy)
        elif isinstance(msg, MarginState):
            self.margin = msg
        elif isinstance(msg, StreamStatus):
            if source == "acct":
                self.private_up = msg.up
                self.private_reason = "" if msg.up else f"private stream {msg.stream} down"
                if msg.reason and not msg.up:
                    self.private_reason += f": {msg.reason}"
        else:
            return False
        return True

    def _on_book(self, msg: BookTop, mono_ns: int) -> bool:
        """Books only matter for their mid (a price source) and their age: a book update that
        leaves the mid unchanged needs no new measurement."""
        state_changed = self._book_state.get(msg.inst) != msg.state
        self._book_state[msg.inst] = msg.state
        self._md_seen_ns[msg.inst] = mono_ns
        mid = msg.mid() if msg.state == BookState.VALID else None
        if mid is not None:
            return self.market.on_book_mid(msg.inst, mid, msg.ts_ms) or state_changed
        return self.market.on_book_mid(msg.inst, None, msg.ts_ms) or state_changed

    def _on_order_update(self, msg: OrderUpdate, mono_ns: int) -> None:
        key = FillCounters.order_key(msg.cl_ord_id, msg.ord_id)
        self.counters.on_order(
            msg.cl_ord_id,
            msg.ord_id,
            msg.inst,
            msg.side.value,
            msg.acc_fill_sz,
            terminal=msg.state in VENUE_TERMINAL,
        )
        self.open_orders.on_order(
            key, msg.inst, msg.side.value, msg.state, msg.sz, msg.acc_fill_sz, mono_ns
        )
        rec = fill_record(msg)
        if rec is not None:
            self._book(rec, msg.ord_id)

    def _on_fill(self, msg: Fill) -> bool:
        rec = fill_record(msg)
        return rec is not None and self._book(rec, msg.ord_id)

    def _book(self, rec: FillRecord, ord_id: str) -> bool:
        """One fill of the account's own reports: into the ledger once per tradeId, and into
        the counters (which then count fills whose order updates were missed)."""
        if not self.ledger.on_fill(rec, authoritative=True):
            return False
        self.counters.on_fill(rec.cl_ord_id, ord_id, rec.inst, rec.side, rec.sz)
        return True

    def _on_order_event(self, msg: OrderEvent, mono_ns: int, from_snapshot: bool) -> None:
        key = FillCounters.order_key(msg.cl_ord_id, msg.ord_id)
        if msg.strategy and msg.strategy not in self.strategies:
            self.strategies.append(msg.strategy)
            self._scope("strategy", msg.strategy)
        if not from_snapshot:  # a replayed order is not a new one
            self.order_rate.on_order(msg.strategy, key, mono_ns)
        self.counters.on_order(
            msg.cl_ord_id,
            msg.ord_id,
            msg.inst,
            msg.side.value,
            msg.acc_fill_sz,
            msg.strategy,
            terminal=msg.state in ROUTER_TERMINAL,
        )
        self.open_orders.on_order(
            key,
            msg.inst,
            msg.side.value,
            msg.state.value,
            msg.sz,
            msg.acc_fill_sz,
            mono_ns,
            msg.strategy,
        )
        if msg.acc_fill_sz > 0 or msg.trade_id:
            self.ledger.claim(msg.cl_ord_id, msg.strategy)
        self.ledger.claim_epoch(msg.epoch, msg.strategy)
        rec = fill_record(msg)
        if rec is not None:
            self.ledger.on_fill(rec, authoritative=False)

    # ------------------------------------------------------------------------ kill switch
    def halt(
        self,
        reason: str,
        wall_ms: int,
        scope: str = "account",
        key: str = "*",
    ) -> list[StateChange]:
        """Latch HALTED on a scope (default: the whole account)."""
        self.halts[(scope, key)] = HaltRecord(scope, key, reason, wall_ms)
        change = self._scope(scope, key).fire(StateEvent.HALT, reason)
        return [change] if change is not None else []

    def resume(self, scope: str | None = None, key: str | None = None) -> list[StateChange]:
        """Clear latched halts (all, or one scope) and re-base the loss limits' peaks."""
        out: list[StateChange] = []
        for sk in list(self.halts):
            if scope is None or (sk[0] == scope and (key is None or sk[1] == key)):
                del self.halts[sk]
        for sk, st in self.states.items():
            if scope is None or (sk[0] == scope and (key is None or sk[1] == key)):
                change = st.fire(StateEvent.RESUME, "resumed by operator")
                if change is not None:
                    out.append(change)
        if self.measurement is not None:
            self.peak_pnl_usd = self.measurement.pnl_in_usd_since_running
        for s, p in self._strategy_net().items():
            self.strategy_peaks[s] = p
        self._dirty = True
        return out

    def _scope(self, scope: str, key: str) -> ScopeState:
        st = self.states.get((scope, key))
        if st is None:
            st = self.states[(scope, key)] = ScopeState(scope, key)
            halt = self.halts.get((scope, key))
            if halt is not None:
                st.fire(StateEvent.HALT, halt.reason)
        return st

    # --------------------------------------------------------------------------- compute
    def _trading(self) -> list[tuple[str, str]]:
        out = []
        for inst in self.instruments:
            spec = self.market.instrument(inst)
            kind = spec.inst_type if spec is not None else ""
            if not kind:
                kind = "SPOT" if len(inst.split("-")) == 2 else "SWAP"
            out.append((inst, "SPOT" if kind == "SPOT" else kind))
        return out

    def _ccys(self) -> list[str]:
        return [c for inst in self.instruments for c in (base_of(inst), quote_of(inst))]

    def _inception_ready(self, mono_ns: int) -> bool:
        if not (self.account.received and self.positions_synced):
            return False
        missing = [r.inst for r in self.positions.rows if self.market.instrument(r.inst) is None]
        if not missing:
            return True
        started = self._first_data_ns if self._first_data_ns is not None else mono_ns
        return mono_ns - started >= INSTRUMENT_GRACE_NS

    def _strategy_books(self, prices: PriceSource) -> list[StrategyPnl]:
        return strategy_books(self.ledger, self.market, prices)

    def _strategy_net(self) -> dict[str, Decimal]:
        return strategy_net(self.ledger, self.market)

    def _measure(self, mono_ns: int, wall_ms: int) -> RiskSnapshot | None:
        if not self._dirty or not self._inception_ready(mono_ns):
            return None
        self._dirty = False
        prices = PriceSource(self.market)
        snap = build_snapshot(
            wall_ms,
            self.account.total_eq,
            self.account.rows,
            self.positions.rows,
            self.market,
            prices,
            self._ccys(),
            self.cfg.revalue_at_latest_mark,
        )
        if self.inception is None:
            self.inception = snap
        self.current = snap
        m = measure(self.inception, snap, self.market, self._trading(), prices)
        self.measurement = m
        self.peak_pnl_usd = max(self.peak_pnl_usd, m.pnl_in_usd_since_running)
        books = self._strategy_books(prices)
        fees: dict[str, Decimal] = {}
        for book in self.ledger.books(self.market.instrument).values():
            for c, amt in book.fees.items():
                fees[c] = fees.get(c, ZERO) + amt
        out = snapshot_message(m, snap, books, fees, self.counters.by_inst(), self.peak_pnl_usd)
        for s, pnl in out.pnl_by_strategy_usd.items():
            self.strategy_peaks[s] = max(self.strategy_peaks.get(s, ZERO), pnl)
        return out

    def _inst_view(self, inst: str, mono_ns: int) -> InstView:
        spec = self.market.instrument(inst)
        kind = spec.inst_type if spec is not None else ""
        if kind == "SPOT":
            m = self.measurement
            pos = m.exposures[inst].in_base if m is not None and inst in m.exposures else ZERO
            mult = Decimal(1)
        else:
            pos = sum((r.signed_pos for r in self.positions.rows if r.inst == inst), ZERO)
            mult = spec.multiplier if spec is not None and kind != "MARGIN" else Decimal(1)
            if spec is not None and spec.inverse:
                # inverse contracts are worth ctVal USD: base amount at the current price
                px = self.market.marks.get(inst) or self.market.mid(inst) or ZERO
                mult = spec.multiplier / px if px else ZERO
            pos = pos * mult
        buy, sell = self.open_orders.remaining(inst)
        seen = self._md_seen_ns.get(inst)
        age = None if seen is None else (mono_ns - seen) // _NS_PER_MS
        silent = self.md_silent
        return InstView(
            inst=inst,
            position_base=pos,
            price_usd=PriceSource(self.market).usd(base_of(inst)),
            open_buy_base=buy * mult,
            open_sell_base=sell * mult,
            md_age_ms=age,
            book_resyncing=self._book_state.get(inst) == BookState.RESYNCING,
            md_silent=silent,
        )

    def evaluate(self, mono_ns: int, wall_ms: int) -> Report:
        """Recompute (if anything changed), check every limit, drive the state machines."""
        report = Report(snapshot=self._measure(mono_ns, wall_ms))
        private_ok = self.private_up and not self.private_silent
        reason = self.private_reason if not self.private_up else "private stream silent"
        net = self._strategy_net() if self.cfg.strategy_loss_limit_usd is not None else {}
        inputs = LimitInputs(
            account_ready=self.measurement is not None,
            private_ok=private_ok,
            private_reason=reason,
            pnl_usd=self.measurement.pnl_in_usd_since_running if self.measurement else None,
            peak_pnl_usd=self.peak_pnl_usd,
            strategy_pnl={s: (p, self.strategy_peaks.get(s, ZERO)) for s, p in net.items()},
            insts=[self._inst_view(i, mono_ns) for i in self.instruments],
            order_rates={s: self.order_rate.rate(s, mono_ns) for s in self.order_rate.strategies},
            margin_action=self.margin.action if self.margin else "",
            margin_reason=self.margin.reason if self.margin else "",
            margin_silent=self.margin_silent,
        )
        breaches = evaluate(inputs, self.cfg)
        reduce: dict[tuple[str, str], list[str]] = {}
        for b in breaches:
            if b.severity == Severity.HALT:
                if (b.scope, b.key) not in self.halts:
                    report.changes.extend(self.halt(b.reason, wall_ms, b.scope, b.key))
            else:
                reduce.setdefault((b.scope, b.key), []).append(b.reason)
        for sk, st in list(self.states.items()):
            reasons = reduce.get(sk)
            if reasons:
                change = st.fire(StateEvent.BREACH, "; ".join(reasons))
            else:
                change = st.fire(StateEvent.CLEAR, "")
            if change is not None:
                report.changes.append(change)
        if not self._limits_sent:
            self._limits_sent = True
            report.limits = self.limit_messages()
        return report

    def strategy_measurements(self) -> dict[str, StrategyMeasurement]:
        """The original's measurement per trading instrument (after the first snapshot)."""
        m = self.measurement
        if m is None:
            return {}
        totals = self.counters.by_inst()
        return {
            inst: StrategyMeasurement.of(m, inst, kind, totals.get(inst, FillTotals()))
            for inst, kind in self._trading()
        }

    def limit_messages(self) -> list[RiskLimits]:
        """The limits the router enforces per instrument."""
        return [
            RiskLimits(
                scope="inst",
                key=inst,
                max_position=self.cfg.max_position_base.get(inst),
                max_notional_usd=self.cfg.max_position_usd,
            )
            for inst in self.instruments
        ]

    def state_of(self, scope: str, key: str) -> TradingState:
        return self._scope(scope, key).state

    # ---------------------------------------------------------------------------- persist
    def persisted(self) -> PersistedState:
        """What survives a restart (bounded: :mod:`risk.durable`)."""
        return durable.state_of(self)

    def _restore(self, st: PersistedState) -> None:
        durable.restore(self, st)
        for scope, key in self.halts:
            self._scope(scope, key)
