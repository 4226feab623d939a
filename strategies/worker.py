"""The strategy worker: one process per (strategy, instrument), joining a running engine.

Inbox:
- ``md.pub``/``md.snap``: ``book|``, ``bookstate|``, ``inst|``, ``trade|``, ``mark|``, ``ticker|``
  of its instrument (+ ``hb|``);
- ``acct.pub``/``acct.snap``: ``acct|``, ``pos|<inst>|``, ``stream|`` (+ ``hb|``);
- ``ord.pub``/``ord.snap``: ``ord|<name>|`` — its orders' lifecycle from the router (+ ``hb|``);
- ``risk.pub``/``risk.snap``: ``riskstate|`` (+ ``hb|``); an absent risk actor is allowed unless
  the params say ``risk_required``;
- ``ord.cmd`` replies: ``Welcome``, ``Ack``, ``Reject``, ``Fenced``;
- ctl ``ctl.<name>``: ping, status, stop (runtime) and pause, resume, reload (here);
- its params file, polled for changes every 200 ms.

Outbox (``ord.cmd``, identity ``S:<name>:<epoch>``, a new epoch per start): ``Hello``,
``Heartbeat`` every 50 ms from the event loop, ``NewOrder``/``Amend``/``Cancel`` (cancels
first), ``CancelAll``, ``StrategyStatus`` (relayed by the router on ``strat|<name>|``), ``Bye``.

Each decision: health (``WorkerContext.health``) → the strategy's pure ``decide`` → the diff step
→ commands. It quotes only while the book is VALID and fresh, account data is fresh, every
publisher is alive and risk allows it; otherwise it pulls its quotes (the original left them up,
§10.1-2). An exception in ``decide`` cancels the worker's orders, backs off
``error_backoff_sec`` and continues; ``max_consecutive_errors`` in a row stop the worker with
exit code 1 (the router's cancel-on-death covers the rest). SIGINT/SIGTERM stop it: cancel-all,
``Bye``, exit — never "cancel, wait 20 s and resume" as the original did on Ctrl-C (§10.1-3).
When the router fences the worker (e.g. its loop stalled past the heartbeat deadline), the
router cancels its orders and the worker joins again with a new epoch; fenced more than 3 times
a minute, it stops with exit code 1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from decimal import Decimal

from engine import topics
from engine.actor import Actor, StatusValue, run_actor
from engine.bus.command import CommandClient, CommandSendError
from engine.bus.subscriber import Subscriber
from engine.config import OkxmmConfig, load_config
from engine.errors import ConfigError
from engine.messages import (
    Ack,
    AnyMsg,
    Bye,
    CancelAll,
    CtlReply,
    CtlRequest,
    Fenced,
    Heartbeat,
    Hello,
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
from strategies.base import Desired
from strategies.context import WorkerContext
from strategies.diff import Actions, diff_quotes
from strategies.outbox import Outbox
from strategies.params import ParamsWatcher, StrategyParams, load_params
from strategies.registry import make_strategy

__all__ = ["Worker", "main"]

_NS = 1_000_000_000
_MS = 1_000_000
_TICK_S = 0.1  # re-evaluate health at least this often without market data
_PARAMS_POLL_S = 0.2
_STATUS_S = 0.25
_KEEP_TERMINAL_NS = 30 * _NS
_MAX_REJOINS = 3  # fenced more often than this within the window: stop (exit code 1)
_REJOIN_WINDOW_NS = 60 * _NS
S = OrderState
T = OrderTrigger


class Worker:
    """Sockets, timers and the decision step of one worker (the cores are pure modules)."""

    def __init__(self, actor: Actor, *, strategy: str, inst: str, params_path: str | None) -> None:
        self.actor = actor
        self.name = actor.name
        self.inst = inst
        self.clock = actor.clock
        self.log = actor.log.bind(strategy=strategy, inst=inst)
        self.strategy = make_strategy(strategy)
        self.watcher = ParamsWatcher(params_path, inst=inst)
        self.ctx = WorkerContext(self.name, inst, self.watcher.current)
        self.epoch = actor.epoch
        self.subs: dict[str, Subscriber] = {}
        self.welcome: Welcome | None = None
        self.wake = asyncio.Event()
        self.desired = Desired()
        self.paused = False
        self.errors = 0
        self.backoff_until_ns = 0
        self.last_error = ""
        self.state = "starting"
        self.reason = "waiting for the router"
        self.last_step_ns = 0
        self.out = Outbox(inst, self.ctx.orders, self.log)
        self.counters = {"decisions": 0, "rejects": 0}
        self.rejoin = False
        self.last_deferred = 0
        self.fenced_at: list[int] = []
        self.old_epochs: set[int] = set()

    @property
    def params(self) -> StrategyParams:
        return self.watcher.current

    # ---------------------------------------------------------------------------- lifecycle
    async def run(self) -> None:
        bus = self.actor.cfg.bus
        ctx = self.actor.ctx
        inst = self.inst
        specs = {
            "md": (
                "md",
                [
                    topics.book(inst),
                    topics.book_state(inst),
                    topics.instrument(inst),
                    topics.trade(inst),
                    topics.mark(inst),
                    topics.ticker(inst),
                ],
            ),
            "acct": ("acct", [topics.ACCOUNT, f"pos|{inst}|", "stream|"]),
            "ord": ("ord", [topics.order_event(self.name)]),
            "risk": ("risk", ["riskstate|"]),
        }
        for key, (family, prefixes) in specs.items():
            self.subs[key] = Subscriber(
                ctx,
                bus.connect_endpoint(f"{family}.pub"),
                snap_endpoint=bus.connect_endpoint(f"{family}.snap"),
                prefixes=prefixes,
                name=f"{self.name}.{key}",
                clock=self.clock,
            )
        await asyncio.gather(*(s.start() for s in self.subs.values()))
        self.out.client = await self._new_client()
        self._register_ctl()
        for key, sub in self.subs.items():
            self.actor.spawn(self._read(key, sub), f"read-{key}")
        self.actor.spawn(self._session(), "session")
        self.actor.spawn(self._heartbeat(), "heartbeat")
        self.actor.spawn(self._replies(), "replies")
        self.actor.spawn(self._decide_loop(), "decide")
        self.actor.spawn(self._params_loop(), "params")
        self.actor.spawn(self._status_loop(), "status")
        self.log.info("worker started", epoch=self.epoch, params=str(self.watcher.path or "-"))
        await self.actor.stopping.wait()
        await self._shutdown()

    async def _shutdown(self) -> None:
        await self.actor.cancel_tasks()  # no decision may place after the cancel-all below
        client = self.out.client
        if client is not None and self.welcome is not None:
            reason = self.actor.stop_reason or "stop"
            with contextlib.suppress(CommandSendError, TimeoutError):
                await client.request(CancelAll(inst=self.inst, reason=reason), timeout_s=1.0)
            with contextlib.suppress(CommandSendError, TimeoutError):
                await client.request(Bye(strategy=self.name, reason=reason), timeout_s=1.0)
        if client is not None:
            await client.close()
        for sub in self.subs.values():
            await sub.close()
        self.log.info("worker stopped", reason=self.actor.stop_reason)

    # ------------------------------------------------------------------------------ session
    async def _new_client(self) -> CommandClient:
        client = CommandClient(
            self.actor.ctx,
            self.actor.cfg.bus.connect_endpoint("ord.cmd"),
            identity=f"S:{self.name}:{self.epoch}".encode(),
            src=self.name,
            epoch=self.epoch,
            clock=self.clock,
            sndhwm=100,
        )
        await client.start()
        return client

    def _on_fenced(self, reason: str) -> None:
        """The router fenced this epoch (it cancels our orders): join again with a new epoch,
        unless that keeps happening."""
        mono = self.clock.monotonic_ns()
        self.fenced_at = [t for t in self.fenced_at if mono - t < _REJOIN_WINDOW_NS] + [mono]
        if len(self.fenced_at) > _MAX_REJOINS:
            self._fatal(f"fenced by the router {len(self.fenced_at)} times: {reason}")
            return
        self.log.warning("fenced by the router; joining again with a new epoch", reason=reason)
        self.welcome = None
        self.rejoin = True

    async def _rejoin(self) -> None:
        old = self.out.client
        mono = self.clock.monotonic_ns()
        for o in self.ctx.orders.active():  # the router is cancelling them (fencing)
            if o.state is not S.CANCEL_PENDING:
                self.out.apply(o.cl_ord_id, T.CANCEL_REQUEST, mono)
        self.old_epochs.add(self.epoch)
        self.epoch = self.clock.now_ns()
        self.out.ids = None
        self.welcome = None  # a Welcome that raced the Fenced belongs to the old epoch
        self.out.pending.clear()
        self.out.client = await self._new_client()
        self.rejoin = False
        if old is not None:
            await old.close()

    async def _session(self) -> None:
        """Say Hello until welcomed; again whenever the router is lost or fenced us."""
        while True:
            if self.rejoin:
                await self._rejoin()
            client = self.out.client
            assert client is not None
            if self.welcome is None:
                try:
                    await client.wait_connected(1.0)
                    env = await client.request(
                        Hello(
                            strategy=self.name, epoch=self.epoch, inst=self.inst, pid=os.getpid()
                        ),
                        timeout_s=1.0,
                    )
                except (TimeoutError, CommandSendError):
                    self.reason = "waiting for the router"
                    continue
                msg = env.msg
                if isinstance(msg, Fenced):
                    self._on_fenced(msg.reason)
                    continue
                if isinstance(msg, Welcome) and not self.rejoin and msg.epoch == self.epoch:
                    self.welcome = msg
                    if self.out.ids is None:
                        self.out.ids = ClOrdIdSequence(msg.short_id, self.epoch)
                    self.log.info("welcomed", short_id=msg.short_id, limits=str(msg.limits))
                    self.wake.set()
            await asyncio.sleep(0.5)

    async def _heartbeat(self) -> None:
        """Heartbeats from this event loop: a hung loop stops them and the router fences us."""
        failing_since: int | None = None
        while True:
            interval = (self.welcome.heartbeat_ms if self.welcome else 50) / 1000
            await asyncio.sleep(interval)
            client = self.out.client
            if self.welcome is None or client is None:
                continue
            try:
                client.send(Heartbeat(strategy=self.name))
                failing_since = None
            except CommandSendError:
                mono = self.clock.monotonic_ns()
                failing_since = failing_since or mono
                if mono - failing_since > _NS:
                    self.log.warning("router unreachable; saying Hello again")
                    self.welcome = None
                    failing_since = None

    async def _replies(self) -> None:
        while True:
            client = self.out.client
            assert client is not None
            env = await client.recv(_TICK_S)  # bounded: the client changes on a rejoin
            if env is not None and client is self.out.client:
                self.on_reply(env.msg)

    def on_reply(self, msg: AnyMsg) -> None:
        """A router reply to one of our commands."""
        mono = self.clock.monotonic_ns()
        if isinstance(msg, Fenced):
            if msg.epoch == self.epoch and not self.rejoin:
                self._on_fenced(msg.reason)
            return
        if not isinstance(msg, Ack | Reject):
            return
        kind_cid = self.out.pending.pop(msg.cmd_seq, None)
        if kind_cid is None:
            return
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
            self.wake.set()
        elif kind == "place":
            self.out.place_accepted()
            self.out.apply(cid, T.VENUE_ACCEPT, mono)
            if self.last_deferred > 0:
                self.wake.set()

    def _fatal(self, reason: str) -> None:
        self.log.error("worker stopping", reason=reason)
        self.actor.failed = RuntimeError(reason)
        self.actor.request_stop(reason)

    # -------------------------------------------------------------------------------- inbox
    async def _read(self, key: str, sub: Subscriber) -> None:
        while True:
            d = await sub.recv(_TICK_S)
            if d is None:
                continue
            msg = d.env.msg
            if (
                isinstance(msg, OrderEvent)
                and msg.epoch != self.epoch
                and msg.epoch not in self.old_epochs
            ):
                continue  # another process's epoch (a previous run): not ours to track
            fill = self.ctx.on_message(msg, self.clock.now_ns(), self.clock.monotonic_ns())
            if isinstance(msg, PubHeartbeat):
                continue
            if not isinstance(msg, OrderEvent) or self._order_news(msg, fill is not None):
                self.wake.set()

    def _order_news(self, ev: OrderEvent, filled: bool) -> bool:
        """Does this order event call for a new decision? A fill (the position changed), an
        order gone (its level needs a replacement) or one the last decision had to wait for.
        Routine confirmations of what we asked for do not: deciding again would only find
        nothing to do, at the cost of a decision per reply."""
        return filled or ev.state in TERMINAL_STATES or self.last_deferred > 0

    # ----------------------------------------------------------------------------- decision
    async def _decide_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(_TICK_S):
                    await self.wake.wait()
            self.wake.clear()
            gap = self.params.min_requote_interval_ms * _MS
            wait_ns = self.last_step_ns + gap - self.clock.monotonic_ns()
            if wait_ns > 0:
                await asyncio.sleep(wait_ns / _NS)
            self.last_step_ns = self.clock.monotonic_ns()
            self.step()

    def silent(self) -> dict[str, bool]:
        return {k: s.silent() for k, s in self.subs.items()}

    def step(self) -> Actions:
        """One decision: health → decide → diff → commands. Returns what was sent."""
        now, mono = self.clock.now_ns(), self.clock.monotonic_ns()
        if self.welcome is None or self.out.ids is None:
            return Actions()
        acct = self.subs.get("acct")
        if acct is not None and acct.last_heard_ns is not None:
            self.ctx.touch_account(acct.last_heard_ns)
        health = self.ctx.health(mono, self.silent())
        desired: Desired
        if self.paused:
            desired, self.state, self.reason = Desired.halted("paused"), "paused", "ctl pause"
        elif mono < self.backoff_until_ns:
            desired = Desired.halted("error backoff")
            self.state, self.reason = "error-backoff", self.last_error
        elif not health.ok:
            desired, self.state, self.reason = (
                Desired.halted(health.reason),
                "pulled",
                health.reason,
            )
        else:
            try:
                view = self.ctx.view(
                    now, mids=self.strategy.uses_mids, trades=self.strategy.uses_trades
                )
                desired = self.strategy.decide(view, self.params)
            except Exception as exc:  # noqa: BLE001 — any strategy bug: cancel, back off, go on
                self._on_strategy_error(exc, mono)
                return Actions()
            self.errors = 0
            if health.state is TradingState.REDUCING:
                desired = self._reducing_only(desired)
            self.state = "quoting" if not desired.halt else "halted"
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
        self.out.send(actions, mono, ord_type=ord_type, td_mode=self._td_mode())
        self.out.chase_overdue(mono, self.params.unacked_timeout_sec)
        self.ctx.orders.prune(mono, _KEEP_TERMINAL_NS)
        return actions

    def _reducing_only(self, desired: Desired) -> Desired:
        net = self.ctx.net_position()
        bids = desired.bids if net < 0 else ()
        asks = desired.asks if net > 0 else ()
        return Desired(bids=bids, asks=asks, estimates=desired.estimates)

    def _on_strategy_error(self, exc: Exception, mono: int) -> None:
        self.errors += 1
        self.last_error = f"{type(exc).__name__}: {exc}"
        self.log.opt(exception=exc).error(
            "decision failed; cancelling and backing off",
            errors=self.errors,
            backoff_s=self.params.error_backoff_sec,
        )
        self.out.cancel_all("decision error", mono)
        self.state, self.reason = "error-backoff", self.last_error
        if self.errors >= self.params.max_consecutive_errors:
            self._fatal(f"decision failed {self.errors} times in a row: {self.last_error}")
            return
        self.backoff_until_ns = mono + int(self.params.error_backoff_sec * _NS)

    def _td_mode(self) -> str:
        inst = self.ctx.instrument
        if inst is not None and inst.inst_type == "SPOT":
            return "cash" if self.params.trading_mode == "cash" else "cross"
        return "cross" if self.params.trading_mode == "cash" else self.params.trading_mode

    # ------------------------------------------------------------------------------ params
    async def _params_loop(self) -> None:
        while True:
            await asyncio.sleep(_PARAMS_POLL_S)
            self.reload(force=False)

    def reload(self, *, force: bool) -> tuple[bool, str]:
        """Re-read the params file; (ok, detail). A bad file keeps the previous params."""
        try:
            params = self.watcher.poll(force=force)
        except ConfigError as exc:
            self.log.error("params rejected; previous params stay", problems=str(exc))
            return False, str(exc)
        if params is None:
            return True, "unchanged"
        self.ctx.set_params(params)
        self.log.info("params reloaded", reloads=self.watcher.reloads)
        self.wake.set()
        return True, "reloaded"

    # ------------------------------------------------------------------------------ status
    def status_msg(self) -> StrategyStatus:
        ctx = self.ctx
        return StrategyStatus(
            strategy=self.name,
            inst=self.inst,
            state=self.state,
            quoting=self.state == "quoting",
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

    async def _status_loop(self) -> None:
        while True:
            await asyncio.sleep(_STATUS_S)
            if self.welcome is not None and self.out.client is not None:
                with contextlib.suppress(CommandSendError):
                    self.out.client.send(self.status_msg())

    def status(self) -> dict[str, StatusValue]:
        ctx = self.ctx
        out: dict[str, StatusValue] = {
            "strategy": self.strategy.name,
            "inst": self.inst,
            "state": self.state,
            "reason": self.reason,
            "welcomed": self.welcome is not None,
            "open_orders": len(ctx.orders.active()),
            "fills": ctx.fill_book.fills,
            "net_position": str(ctx.net_position()),
            "illegal_transitions": ctx.orders.illegal_transitions,
            "params_reloads": self.watcher.reloads,
            "params_rejected": self.watcher.rejected,
            "errors_in_a_row": self.errors,
            "bids": " ".join(str(q.px) for q in self.desired.bids),
            "asks": " ".join(str(q.px) for q in self.desired.asks),
        }
        out.update(self.counters)
        out.update(self.out.counters)
        return out

    # --------------------------------------------------------------------------------- ctl
    def pause(self) -> int:
        """Cancel every order and stop quoting; state (orders, fills, params) is kept."""
        self.paused = self.actor.paused = True
        n = self.out.cancel_all("paused", self.clock.monotonic_ns())
        self.wake.set()
        self.log.info("paused", cancelling=n)
        return n

    def resume(self) -> None:
        """Quote again (also ends an error back-off)."""
        self.paused = self.actor.paused = False
        self.backoff_until_ns = 0
        self.wake.set()
        self.log.info("resumed")

    def _register_ctl(self) -> None:
        async def pause(req: CtlRequest) -> CtlReply:
            n = self.pause()
            return CtlReply(cmd=req.cmd, ok=True, detail=f"paused; cancelling {n} orders")

        async def resume(req: CtlRequest) -> CtlReply:
            self.resume()
            return CtlReply(cmd=req.cmd, ok=True, detail="resumed")

        async def reload(req: CtlRequest) -> CtlReply:
            ok, detail = self.reload(force=True)
            return CtlReply(cmd=req.cmd, ok=ok, detail=detail)

        self.actor.on_ctl("pause", pause)
        self.actor.on_ctl("resume", resume)
        self.actor.on_ctl("reload", reload)
        self.actor.add_status(self.status)


def main(
    cfg: OkxmmConfig, *, name: str, strategy: str, inst: str, params: str | None = None
) -> int:
    """Run one worker until stopped; returns the exit code."""
    make_strategy(strategy)  # fail fast on an unknown name or a bad params file
    if params is not None:
        load_params(params, inst=inst)

    async def _main(actor: Actor) -> None:
        await Worker(actor, strategy=strategy, inst=inst, params_path=params).run()

    return run_actor(
        name,
        cfg,
        _main,
        ctl_endpoint=cfg.bus.bind_endpoint(cfg.bus.ctl_name(name)),
        stop_timeout_s=5.0,
    )


def _cli(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m strategies.worker")
    parser.add_argument("--config", default=None, help="okxmm YAML config")
    parser.add_argument("--name", required=True, help="worker name (alphanumerics and '-')")
    parser.add_argument("--strategy", required=True, help="sample_mm | inventory_skew | ...")
    parser.add_argument("--inst", required=True, help="instrument, e.g. BTC-USDT-SWAP")
    parser.add_argument("--params", default=None, help="params YAML (hot-reloaded)")
    args = parser.parse_args(argv)
    try:
        return main(
            load_config(args.config),
            name=args.name,
            strategy=args.strategy,
            inst=args.inst,
            params=args.params,
        )
    except ConfigError as exc:
        sys.stderr.write(f"{exc}\n")
        return 2


if __name__ == "__main__":
    sys.exit(_cli())
