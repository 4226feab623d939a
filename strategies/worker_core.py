"""The worker's pure core: inputs in, commands out; no sockets, no timers, an injected clock.

The shell (``strategies.worker``) feeds it the router's replies (:meth:`on_reply`,
:meth:`on_hello_answer`), the bus messages (:meth:`on_message`) and the params, and asks it
to decide (:meth:`step`, then :meth:`housekeeping`). Every method that may command the router
returns :class:`~strategies.outbox.Command`s; the shell sends them and reports each back to
:meth:`sent` / :meth:`not_sent`. Methods that change what the next decision would see return
True ("wake the decision loop"). A fatal condition sets :attr:`fatal`; the shell stops the
process.

Each decision: health (``WorkerContext.health``) → the strategy's pure ``decide`` → the diff step
→ commands. It quotes only while the book is VALID and fresh, account data is fresh, every
publisher is alive and risk allows it; otherwise it pulls its quotes. An exception in ``decide``
cancels the worker's orders, backs off ``error_backoff_sec`` and continues;
``max_consecutive_errors`` in a row are fatal. The outcome moves the worker's state through
``strategies.worker_state``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from engine.clock import Clock
from engine.messages import (
    Ack,
    AnyMsg,
    Fenced,
    OrderEvent,
    OrderState,
    OrdType,
    PubHeartbeat,
    Reject,
    StrategyStatus,
    TradingState,
    Welcome,
)
from engine.orders.clordid import ClOrdIdSequence
from engine.orders.fsm import TERMINAL_STATES, OrderTrigger
from strategies.base import BaseStrategy, Desired
from strategies.context import WorkerContext
from strategies.diff import diff_quotes
from strategies.outbox import Command, Outbox
from strategies.params import StrategyParams
from strategies.worker_state import WorkerMachine, WorkerState, WorkerTrigger

__all__ = ["WorkerCore"]

_NS = 1_000_000_000
_KEEP_TERMINAL_NS = 30 * _NS
_MAX_REJOINS = 3  # fenced more often than this within the window: fatal
_REJOIN_WINDOW_NS = 60 * _NS
S = OrderState
T = OrderTrigger
W = WorkerTrigger


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
        self.counters = {"decisions": 0, "rejects": 0}

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
            if o.state is not S.CANCEL_PENDING:
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
            # an amend/cancel that raced the order's fill is routine, not a warning
            raced = kind != "place" and ("FILLED" in msg.reason or "CANCELED" in msg.reason)
            (self.log.info if raced else self.log.warning)(
                "command rejected", kind=kind, clOrdId=cid, reason=msg.reason, code=msg.code
            )
            if msg.reason == "unknown clOrdId" and kind in ("amend", "cancel"):
                # the router never had it (a place lost on the way): forget it, do not keep a
                # phantom order that every later amend/cancel would fail on
                self.out.apply(cid, T.NOT_FOUND, mono)
            elif kind in ("place", "amend", "cancel"):
                self.ctx.orders.on_command_failed(cid, kind, mono)
            if kind == "place":
                self.out.place_refused(mono)
            return True
        if kind == "place":
            self.out.place_accepted()
            self.out.apply(cid, T.VENUE_ACCEPT, mono)
            return self.last_deferred > 0
        return False

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
        fill = self.ctx.on_message(msg, self.clock.now_ns(), self.clock.monotonic_ns())
        if isinstance(msg, PubHeartbeat):
            return False
        return not isinstance(msg, OrderEvent) or self._order_news(msg, fill is not None)

    def _order_news(self, ev: OrderEvent, filled: bool) -> bool:
        """Does this order event call for a new decision? A fill (the position changed), an
        order gone (its level needs a replacement) or one the last decision had to wait for.
        Routine confirmations of what we asked for do not: deciding again would only find
        nothing to do, at the cost of a decision per reply."""
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
        elif not health.ok:
            desired, self.reason = Desired.halted(health.reason), health.reason
            self.machine.apply(W.PULL)
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
            self.machine.apply(W.HALT if desired.halt else W.QUOTE)
            self.reason = desired.halt or health.reason
        self.counters["decisions"] += 1
        self.desired = desired
        inst = self.ctx.instrument
        actions = diff_quotes(
            desired,
            self.ctx.orders,
            lot=inst.lot_sz if inst is not None else Decimal(1),
            tick=inst.tick_sz if inst is not None else Decimal(1),
            threshold_ticks=self.params.requote_threshold_ticks,
            size_pct=self.params.requote_size_pct,
        )
        self.last_deferred = actions.deferred
        ord_type = OrdType.POST_ONLY if self.params.post_only else OrdType.LIMIT
        self._housekeeping_due = True
        return self.out.plan(actions, mono, ord_type=ord_type, td_mode=self._td_mode())

    def housekeeping(self) -> list[Command]:
        """After a decision's commands are sent: chase overdue orders, prune finished ones."""
        if not self._housekeeping_due:
            return []
        self._housekeeping_due = False
        mono = self.clock.monotonic_ns()
        cmds = self.out.chase_overdue(mono, self.params.unacked_timeout_sec)
        self.ctx.orders.prune(mono, _KEEP_TERMINAL_NS)
        return cmds

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

    def _td_mode(self) -> str:
        inst = self.ctx.instrument
        if inst is not None and inst.inst_type == "SPOT":
            return "cash" if self.params.trading_mode == "cash" else "cross"
        return "cross" if self.params.trading_mode == "cash" else self.params.trading_mode

    # --------------------------------------------------------------------------------- ctl
    def pause(self) -> list[Command]:
        """Cancel every order and stop quoting; state (orders, fills, params) is kept."""
        self.paused = True
        return [self.out.cancel_all("paused")]

    def resume(self) -> None:
        """Quote again (also ends an error back-off)."""
        self.paused = False
        self.backoff_until_ns = 0

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
