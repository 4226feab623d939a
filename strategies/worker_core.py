"""The worker's pure core: inputs in, commands out; no sockets, no timers, an injected clock.

The shell (``strategies.worker``) feeds it the router's replies (:meth:`on_reply`,
:meth:`on_hello_answer`), the bus messages (:meth:`on_message`) and the params, asks it to
decide (:meth:`step`, then :meth:`housekeeping`), sends the :class:`~strategies.outbox.Command`s
it returns and reports each back (:meth:`sent` / :meth:`not_sent`). Methods that change what
the next decision would see return True ("wake the decision loop"); :attr:`fatal` stops it.

Each decision: health (``WorkerContext.health``) → the strategy's pure ``decide`` → the diff step
→ commands. It quotes only while the book is VALID and fresh, account data is fresh, every
publisher is alive and risk allows it; otherwise it pulls its quotes. An exception in ``decide``
cancels the worker's orders, backs off ``error_backoff_sec`` and continues;
``max_consecutive_errors`` in a row are fatal. The outcome moves the worker's state through
``strategies.worker_state``.

Healing from the router's refusals (issue 13 items 4 and 6):

* a refused amend/cancel of an order the router holds terminal ("cannot amend in state FILLED",
  "order already CANCELED", "unknown clOrdId") closes that order here, so the next decision does
  not amend it again and loop on the same Reject;
* ``refusals_max`` refused commands within ``refusals_window_sec`` pull the quotes (one
  cancel-all) and back off ``refusal_backoff_sec``, doubling per trip up to
  ``refusal_backoff_max_sec`` (state ``backing-off``, the reason says why and for how long);
  the router refusing ~50 orders/s while the worker said ``quoting`` was the symptom;
* a level bigger than the router's ``max_order_sz`` is not sent at all: the worker halts with
  the reason (the params cannot be quoted, however often it tries).
"""

from __future__ import annotations

import re
from collections import deque
from decimal import Decimal
from typing import Any

from engine.clock import Clock
from engine.messages import (
    Ack,
    AnyMsg,
    Cancel,
    Fenced,
    MarkPrice,
    OrderEvent,
    OrderState,
    OrdType,
    PubHeartbeat,
    Reject,
    SnapshotEnd,
    StrategyStatus,
    Ticker,
    Trade,
    TradingState,
    Welcome,
)
from engine.orders.clordid import ClOrdIdSequence
from engine.orders.fsm import TERMINAL_STATES, UNACKNOWLEDGED_STATES, OrderTrigger
from strategies.base import BaseStrategy, Desired
from strategies.context import WorkerContext
from strategies.diff import diff_quotes
from strategies.outbox import Command, Outbox
from strategies.params import StrategyParams, size_problem
from strategies.trade_as import TradeAs
from strategies.worker_state import WorkerMachine, WorkerState, WorkerTrigger

__all__ = ["WorkerCore", "terminal_state_in"]

_NS = 1_000_000_000
_MS = 1_000_000
_KEEP_TERMINAL_NS = 30 * _NS
_UNHELD_GRACE_NS = 1 * _NS  # a place younger than this may not be in the router's snapshot yet
_MAX_REJOINS = 3  # fenced more often than this within the window: fatal
_REJOIN_WINDOW_NS = 60 * _NS
# A terminal state named in a router Reject (engine/router/core.py words them "cannot amend in
# state FILLED", "order already CANCELED", "order FILLED"); PARTIALLY_FILLED or CANCEL_PENDING do
# not match: "_" is a word character, so there is no word boundary before FILLED/CANCEL.
_TERMINAL_WORD = re.compile(r"\b(FILLED|CANCELED|REJECTED)\b")
# Venue codes of an amend/cancel that lost a race with the order's end (filled, canceled, gone):
# the router queries the order and publishes its final state; routine, not a refusal.
_RACE_CODES = frozenset({"51400", "51401", "51402", "51503", "51603"})
# Venue back-pressure on an amend (rate limit; 51513: more than 3 amends of one order in
# progress): the router paused its amends and the order is as it was; the next decision amends
# to the latest target, so wanted changes coalesce. Not a refusal of ours to back off from.
_BACKPRESSURE_CODES = frozenset({"50011", "50013", "50061", "51513"})
S = OrderState
T = OrderTrigger
W = WorkerTrigger


def terminal_state_in(reason: str) -> OrderState | None:
    """The terminal order state a router Reject of an amend/cancel names, if any."""
    m = _TERMINAL_WORD.search(reason)
    return OrderState(m.group(1)) if m else None


class WorkerCore:
    """The decision step, the order table and the session state of one worker."""

    def __init__(
        self,
        name: str,
        inst: str,
        strategy: BaseStrategy,
        params: StrategyParams,
        *,
        clock: Clock,
        epoch: int,
        log: Any,
    ) -> None:
        self.name = name
        self.inst = inst
        self.strategy = strategy
        self.clock = clock
        self.log = log
        self.ctx = WorkerContext(name, inst, params)
        self.epoch = epoch
        self.old_epochs: set[int] = set()
        self.welcome: Welcome | None = None
        self.rejoin = False  # fenced: the shell opens a new client and calls rejoin()
        self.fenced_at: list[int] = []
        self.fatal: str | None = None
        self.machine = WorkerMachine(log)
        self.reason = "waiting for the router"
        self.desired = Desired()
        self.paused = False
        self.errors = 0
        self.backoff_until_ns = 0
        self.last_error = ""
        self.last_deferred = 0
        self._housekeeping_due = False
        self.out = Outbox(inst, self.ctx.orders, log)
        keys = "decisions acks rejects closed_by_reject refusal_trips unheld_cancelled"
        self.counters = dict.fromkeys((*keys.split(), "cancel_races", "held_for_book"), 0)
        # open orders the router's last snapshot did not hold (a restarted router that never
        # knew them, or knows them ended): cancelled at the next housekeeping, so each one is
        # either confirmed ended or refused as unknown — which closes it. Subset of the table.
        self._unheld: set[str] = set()
        # router refusals by (command kind, OKX or router code): a bounded set, for metrics
        self.reject_codes: dict[tuple[str, str], int] = {}
        # refusal back-off: when each recent refusal came (at most refusals_max: a trip clears
        # them), the trip count that sets the next back-off, and whether its cancel-all is due
        self.refusals: deque[int] = deque()
        self.refusal_level = 0
        self.refused_until_ns = 0
        self.refusal_reason = ""
        self._refusal_cancel_due = False
        self.size_problem: str | None = None
        self.trade_as = TradeAs(inst, self.ctx, log)  # tdMode/posSide/ccy from the account

    @property
    def params(self) -> StrategyParams:
        return self.ctx.params

    @property
    def state(self) -> WorkerState:
        return self.machine.state

    def set_params(self, params: StrategyParams) -> None:
        self.ctx.set_params(params)

    # ------------------------------------------------------------------------------ session
    def on_hello_answer(self, msg: AnyMsg) -> bool:
        """The router's answer to our Hello; True once welcomed."""
        if isinstance(msg, Fenced):
            self._on_fenced(msg.reason)
            return False
        if isinstance(msg, Welcome) and not self.rejoin and msg.epoch == self.epoch:
            self.welcome = msg
            if self.out.ids is None:
                self.out.ids = ClOrdIdSequence(msg.short_id, self.epoch)
            self.log.info("welcomed", short_id=msg.short_id, limits=str(msg.limits))
            return True
        return False

    def router_lost(self) -> None:
        """Heartbeats could not go for a while: say Hello again."""
        self.welcome = None

    def _on_fenced(self, reason: str) -> None:
        """The router fenced this epoch (it cancels our orders): join again with a new epoch,
        unless that keeps happening."""
        mono = self.clock.monotonic_ns()
        self.fenced_at = [t for t in self.fenced_at if mono - t < _REJOIN_WINDOW_NS] + [mono]
        if len(self.fenced_at) > _MAX_REJOINS:
            self._fail(f"fenced by the router {len(self.fenced_at)} times: {reason}")
            return
        self.log.warning("fenced by the router; joining again with a new epoch", reason=reason)
        self.welcome = None
        self.rejoin = True

    def rejoin_epoch(self) -> int:
        """Start a new epoch after a fence: the router is cancelling our orders; returns it.
        The shell opens a client with the new identity."""
        mono = self.clock.monotonic_ns()
        for o in self.ctx.orders.active():
            if o.state in UNACKNOWLEDGED_STATES:  # it may never have reached the router, whose
                self._unheld.add(o.cl_ord_id)  # answer we now drop: ask it again once welcomed
            elif o.state is not S.CANCEL_PENDING:
                self.out.apply(o.cl_ord_id, T.CANCEL_REQUEST, mono)
        self.old_epochs.add(self.epoch)
        self.epoch = self.clock.now_ns()
        self.out.ids = None
        self.welcome = None  # a Welcome that raced the Fenced belongs to the old epoch
        self.out.pending.clear()
        self.rejoin = False
        return self.epoch

    def _fail(self, reason: str) -> None:
        self.log.error("worker stopping", reason=reason)
        self.fatal = reason
        self.machine.apply(W.STOP)

    # ------------------------------------------------------------------------------ replies
    def on_reply(self, msg: AnyMsg) -> bool:
        """A router reply to one of our commands; True if the next decision should run now."""
        mono = self.clock.monotonic_ns()
        if isinstance(msg, Fenced):
            if msg.epoch == self.epoch and not self.rejoin:
                self._on_fenced(msg.reason)
            return False
        if not isinstance(msg, Ack | Reject):
            return False
        kind_cid = self.out.pending.pop(msg.cmd_seq, None)
        if kind_cid is None:
            return False
        kind, cid = kind_cid
        if isinstance(msg, Reject):
            self.counters["rejects"] += 1
            key = (kind, msg.code or "-")
            self.reject_codes[key] = self.reject_codes.get(key, 0) + 1
            ended = terminal_state_in(msg.reason) if kind in ("amend", "cancel") else None
            gone = msg.reason == "unknown clOrdId" and kind in ("amend", "cancel")
            raced = kind in ("amend", "cancel") and msg.code in _RACE_CODES
            raced = raced or (kind == "amend" and msg.code in _BACKPRESSURE_CODES)
            # an amend/cancel that raced the order's end is routine, not a warning
            (self.log.info if ended or gone or raced else self.log.warning)(
                "command rejected", kind=kind, clOrdId=cid, reason=msg.reason, code=msg.code
            )
            if gone:
                # the router never had it (a place lost on the way): forget it, do not keep a
                # phantom order that every later amend/cancel would fail on
                self.out.apply(cid, T.NOT_FOUND, mono)
                self.counters["closed_by_reject"] += 1
            elif ended is not None:
                self.ctx.orders.on_command_failed(cid, kind, mono)
                if self.ctx.orders.close(cid, ended, mono):
                    self.counters["closed_by_reject"] += 1
            elif raced and kind == "cancel":
                # The venue refused our cancel because the order looked over (filled, gone,
                # or not seen yet): the router now asks the venue and publishes what it finds.
                # Until that event the order stays CANCEL_PENDING here; showing it LIVE again
                # would put the worker ahead of the router (issue 15). If no event comes, the
                # unacked timeout cancels it again.
                self.counters["cancel_races"] += 1
            else:
                if kind in ("place", "amend", "cancel"):
                    self.ctx.orders.on_command_failed(cid, kind, mono)
                if not raced:  # the router's event with the final state follows
                    self._refused(msg.reason, mono)
            if kind == "place":
                self.out.place_refused(mono)
            return True
        self.counters["acks"] += 1
        if kind == "place":
            self.out.place_accepted()
            self.out.apply(cid, T.VENUE_ACCEPT, mono)
            return self.last_deferred > 0
        return False

    def _refused(self, reason: str, mono: int) -> None:
        """Count a refusal; ``refusals_max`` within ``refusals_window_sec`` start a back-off."""
        if mono < self.refused_until_ns:
            return  # replies to commands sent before the pull: part of the same trip
        p = self.params
        window_ns = int(p.refusals_window_sec * _NS)
        self.refusals.append(mono)
        while self.refusals and mono - self.refusals[0] > window_ns:
            self.refusals.popleft()
        if len(self.refusals) < p.refusals_max:
            return
        if mono - self.refused_until_ns > int(p.refusal_backoff_max_sec * _NS):
            self.refusal_level = 0  # quoted a long while since the last trip: start low again
        self.refusal_level += 1
        backoff_s = min(
            p.refusal_backoff_sec * 2 ** (self.refusal_level - 1), p.refusal_backoff_max_sec
        )
        n = len(self.refusals)
        self.refusals.clear()  # the next trip takes refusals_max new ones
        self.refused_until_ns = mono + int(backoff_s * _NS)
        self.refusal_reason = (
            f"router refused {n} commands in {p.refusals_window_sec:g} s (last: {reason}); "
            f"backing off {backoff_s:g} s"
        )
        self._refusal_cancel_due = True
        self.counters["refusal_trips"] += 1
        self.log.error(
            "the router keeps refusing our commands; pulling quotes and backing off",
            refusals=n,
            window_s=p.refusals_window_sec,
            backoff_s=backoff_s,
            last_reason=reason,
        )

    def sent(self, cmd: Command, seq: int) -> int:
        return self.out.sent(cmd, seq, self.clock.monotonic_ns())

    def not_sent(self, cmd: Command, error: str) -> None:
        self.out.not_sent(cmd, error, self.clock.monotonic_ns())

    # -------------------------------------------------------------------------------- inbox
    def on_message(self, msg: AnyMsg) -> bool:
        """A bus message (market, account, orders, risk); True if it calls for a decision."""
        if (
            isinstance(msg, OrderEvent)
            and msg.epoch != self.epoch
            and msg.epoch not in self.old_epochs
        ):
            return False  # another process's epoch (a previous run): not ours to track
        if isinstance(msg, SnapshotEnd):
            return self._on_order_snapshot(msg.seq_by_topic)
        fill = self.ctx.on_message(msg, self.clock.now_ns(), self.clock.monotonic_ns())
        if isinstance(msg, OrderEvent):
            return self._order_news(msg, fill is not None)
        # a decision reads the book, instrument, account and risk (trades if the strategy does):
        # a ticker or mark changes nothing it would decide
        uses_it = self.strategy.uses_trades or not isinstance(msg, Trade)
        return uses_it and not isinstance(msg, PubHeartbeat | Ticker | MarkPrice)

    def _on_order_snapshot(self, held: dict[str, int]) -> bool:
        """The end of a snapshot of our order topics: the orders the router holds. Open orders
        it does not hold are phantoms after a router restart (issue 13 item 4) unless they are
        younger than ``_UNHELD_GRACE_NS`` (a place the router had not seen when it answered)."""
        mono = self.clock.monotonic_ns()
        held_ids = {t.split("|")[2] for t in held if t.count("|") >= 3}
        for o in self.ctx.orders.active():
            if o.cl_ord_id not in held_ids and mono - o.created_ns > _UNHELD_GRACE_NS:
                self._unheld.add(o.cl_ord_id)
        if not self._unheld:
            return False
        self.log.warning(
            "orders the router does not hold; cancelling them to learn their end",
            count=len(self._unheld),
        )
        self._housekeeping_due = True
        return True

    def _order_news(self, ev: OrderEvent, filled: bool) -> bool:
        """A fill, an order gone (its level needs a replacement) or one the last decision waited
        for calls for a decision; a routine confirmation of what we asked for does not."""
        return filled or ev.state in TERMINAL_STATES or self.last_deferred > 0

    # ----------------------------------------------------------------------------- decision
    def step(self, silent: dict[str, bool], account_heard_ns: int | None = None) -> list[Command]:
        """One decision: health → decide → diff → commands. ``silent``: per subscription, is
        its publisher silent; ``account_heard_ns``: when the account stream was last heard."""
        now, mono = self.clock.now_ns(), self.clock.monotonic_ns()
        self._housekeeping_due = False
        if self.welcome is None or self.out.ids is None or self.state is WorkerState.STOPPED:
            return []
        if account_heard_ns is not None:
            self.ctx.touch_account(account_heard_ns)
        health = self.ctx.health(mono, silent)
        desired: Desired
        if self.paused:
            desired, self.reason = Desired.halted("paused"), "ctl pause"
            self.machine.apply(W.PAUSE)
        elif mono < self.backoff_until_ns:
            desired, self.reason = Desired.halted("error backoff"), self.last_error
            self.machine.apply(W.BACKOFF)
        elif mono < self.refused_until_ns:
            self.reason = self.refusal_reason
            self.machine.apply(W.REFUSED)
            if self._refusal_cancel_due:
                # one cancel-all pulls every quote, those we do not know of included
                self._refusal_cancel_due = False
                return [self.out.cancel_all("router refusing our commands")]
            desired = Desired.halted("router refusals")
        elif not health.ok:
            desired, self.reason = Desired.halted(health.reason), health.reason
            self.machine.apply(W.PULL)
        elif (problem := self.trade_as.problem(self.params.trading_mode)) is not None:
            desired, self.reason = Desired.halted(problem), problem
            self.machine.apply(W.PULL)
        elif self.ctx.book_behind_fill(mono, self.params.min_requote_interval_ms * _MS):
            self.counters["held_for_book"] += 1  # the next book (or the gap's end) decides
            return []
        else:
            try:
                view = self.ctx.view(
                    now, mids=self.strategy.uses_mids, trades=self.strategy.uses_trades
                )
                desired = self.strategy.decide(view, self.params)
            except Exception as exc:  # noqa: BLE001 — any strategy bug: cancel, back off, go on
                return self._on_strategy_error(exc, mono)
            self.errors = 0
            if health.state is TradingState.REDUCING:
                desired = self._reducing_only(desired)
            problem = self._size_problem(desired)
            if problem is not None:
                desired = Desired.halted(problem)
            self.machine.apply(W.HALT if desired.halt else W.QUOTE)
            self.reason = desired.halt or health.reason
        self.counters["decisions"] += 1
        self.desired = desired
        inst = self.ctx.instrument
        actions = diff_quotes(
            desired,
            self.ctx.orders.active(),
            lot=inst.lot_sz if inst is not None else Decimal(1),
            tick=inst.tick_sz if inst is not None else Decimal(1),
            threshold_ticks=self.params.requote_threshold_ticks,
            size_pct=self.params.requote_size_pct,
        )
        actions = self.trade_as.closes_fit(actions)
        self.last_deferred = actions.deferred
        ord_type = OrdType.POST_ONLY if self.params.post_only else OrdType.LIMIT
        self._housekeeping_due = True
        return self.out.plan(actions, mono, ord_type=ord_type, fields=self.trade_as.fields())

    def housekeeping(self) -> list[Command]:
        """After a decision's commands are sent: chase overdue orders, prune finished ones."""
        if not self._housekeeping_due:
            return []
        self._housekeeping_due = False
        mono = self.clock.monotonic_ns()
        cmds = self.out.chase_overdue(mono, self.params.unacked_timeout_sec)
        for cid in sorted(self._unheld):
            o = self.ctx.orders.get(cid)
            if o is not None and o.state not in TERMINAL_STATES and o.state is not S.CANCEL_PENDING:
                cmds.append(Command(Cancel(cl_ord_id=cid, inst=self.inst), "cancel", cid))
                self.counters["unheld_cancelled"] += 1
        self._unheld.clear()
        self.ctx.orders.prune(mono, _KEEP_TERMINAL_NS)
        return cmds

    def _size_problem(self, desired: Desired) -> str | None:
        """A level the router would refuse for its size (``max_order_sz`` of the Welcome):
        logged once as an ERROR per distinct problem, then reported as the halt reason."""
        limit = self.welcome.limits.max_order_sz if self.welcome is not None else None
        biggest = max((q.sz for q in (*desired.bids, *desired.asks)), default=Decimal(0))
        problem = size_problem(biggest, max_order_sz=limit)
        if problem is not None and problem != self.size_problem:
            self.log.error("params cannot be quoted; not sending", problem=problem)
        self.size_problem = problem
        return problem

    def _reducing_only(self, desired: Desired) -> Desired:
        net = self.ctx.net_position()
        bids = desired.bids if net < 0 else ()
        asks = desired.asks if net > 0 else ()
        return Desired(bids=bids, asks=asks, estimates=desired.estimates)

    def _on_strategy_error(self, exc: Exception, mono: int) -> list[Command]:
        self.errors += 1
        self.last_error = f"{type(exc).__name__}: {exc}"
        self.log.opt(exception=exc).error(
            "decision failed; cancelling and backing off",
            errors=self.errors,
            backoff_s=self.params.error_backoff_sec,
        )
        cmds = [self.out.cancel_all("decision error")]
        self.machine.apply(W.ERROR)
        self.reason = self.last_error
        if self.errors >= self.params.max_consecutive_errors:
            self._fail(f"decision failed {self.errors} times in a row: {self.last_error}")
            return cmds
        self.backoff_until_ns = mono + int(self.params.error_backoff_sec * _NS)
        return cmds

    # --------------------------------------------------------------------------------- ctl
    def pause(self) -> list[Command]:
        """Cancel every order and stop quoting; state (orders, fills, params) is kept."""
        self.paused = True
        return [self.out.cancel_all("paused")]

    def resume(self) -> None:
        """Quote again (also ends an error back-off)."""
        self.paused = False
        self.backoff_until_ns = 0
        self.refused_until_ns = 0
        self._refusal_cancel_due = False

    # ------------------------------------------------------------------------------ status
    def status_msg(self) -> StrategyStatus:
        ctx = self.ctx
        return StrategyStatus(
            strategy=self.name,
            inst=self.inst,
            state=self.state.value,
            quoting=self.state is WorkerState.QUOTING,
            reason=self.reason,
            bids=[(q.px, q.sz) for q in self.desired.bids],
            asks=[(q.px, q.sz) for q in self.desired.asks],
            net_position=ctx.net_position(),
            fills=ctx.fill_book.fills,
            estimates=dict(self.desired.estimates),
            pnl=ctx.fill_book.pnl(ctx.mid, ctx.contract_value()),
            open_orders=len(ctx.orders.active()),
            volume=ctx.fill_book.volume,
            epoch=self.epoch,
        )
