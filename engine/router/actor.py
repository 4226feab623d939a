"""The router actor: the single writer to the venue (architecture §3, §6).

Inbox:
- ``ord.cmd`` (ROUTER): strategy and operator commands (protocol: ``engine.router.core``);
  socket-monitor disconnects (death layer 1); failed replies (layer 3).
- private WS (own session): trade-op responses, ``orders`` pushes; reconnects → reconciliation.
- ``md.pub``: mark prices, tickers, books (reference price for the band), instrument rules.
- ``risk.pub``: trading state and limits; its heartbeat (a silent risk blocks new orders when
  ``require_risk_heartbeat``).
- timers: heartbeat silence every ``liveness_tick_ms`` (layer 2), overdue orders, dead-man's
  switch refresh, REST polling while the private WS is down.

Outbox — exactly the core's effect list, carried out in order by :meth:`Router.execute`:
- venue: WS trade ops (REST fallback), queries; plus ``cancel-all-after`` (shell timer);
- ``ord.cmd`` replies (Welcome, Ack, Reject, Fenced); ``ord.pub``/``ord.snap``: order lifecycle;
- the journal file (the core returns records; only the shell writes them).

The venue is a :class:`~engine.router.ports.VenuePort` speaking the router's own types; the OKX
one (``gateway.okx.router_venue``) is plugged in where the actor is composed (``ops.router``,
``python -m ops.router``): this package imports no gateway.

SIGTERM: cancel everything, wait (bounded) for the venue to confirm, then exit. The
``cancel-all-after`` timer stays armed as the backstop.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, Protocol

from loguru import logger

from engine import topics
from engine.actor import Actor, ActorConfig, StatusValue
from engine.bus.command import CommandServer
from engine.bus.publisher import Publisher
from engine.bus.subscriber import Subscriber
from engine.errors import VenueError
from engine.latency import LatencyWindow
from engine.messages import CtlReply, CtlRequest, InstrumentInfo
from engine.router.batcher import Batch
from engine.router.config import RouterConfig
from engine.router.core import RouterCore
from engine.router.effects import Effect, Forget, JournalRecord, Publish, Query, Reply, Send
from engine.router.events import VenueFailure, VenueOrder
from engine.router.journal import JournalWriter, compact, replay
from engine.router.metrics import ack_histograms, router_series
from engine.router.ports import VenuePort
from engine.router.pretrade import InstrumentRules

__all__ = ["STOP_TIMEOUT_S", "Router", "RouterSettings"]

_NS_PER_S = 1_000_000_000
_STALL_NS = 50_000_000  # a liveness tick this late means the router did not run
_SLOW_TICK_S = 0.5
_STOP_CANCEL_TIMEOUT_S = 3.0
STOP_TIMEOUT_S = _STOP_CANCEL_TIMEOUT_S + 3.0  # the runtime's deadline for an orderly stop


class RouterSettings(ActorConfig, Protocol):
    """What the router reads of the whole configuration (``ops.config.OkxmmConfig``)."""

    router: RouterConfig
    instruments: list[str]
    var_dir: str

    @property
    def live(self) -> bool:
        """Real money: risk heartbeat and reference price are required unless configured."""
        ...


class Router:
    """The shell around :class:`RouterCore`: sockets, timers, venue I/O."""

    def __init__(self, actor: Actor[RouterSettings], venue: VenuePort) -> None:
        self.actor = actor
        cfg = actor.cfg
        self.cfg = cfg
        rc = cfg.router
        live = cfg.live
        require_risk = live if rc.require_risk_heartbeat is None else rc.require_risk_heartbeat
        require_ref = live if rc.require_reference_price is None else rc.require_reference_price
        self.clock = actor.clock
        # replay, compact (the file would grow forever), then append to the compacted file
        journal_path = rc.journal_path or str(Path(cfg.var_dir) / "router.journal")
        self._restored = replay(journal_path)
        kept = compact(journal_path, self._restored, self.clock.now_ns())
        logger.info(
            "journal compacted", path=journal_path, records=self._restored.records, kept=kept
        )
        # and online, while running: the file stays bounded (JournalWriter)
        self.journal = JournalWriter(journal_path, replay(journal_path), rc.journal_max_records)
        self.venue = venue
        self.core = RouterCore(
            rc,
            limiter=venue.limiter(),
            require_risk=require_risk,
            require_reference=require_ref,
        )
        venue.bind(self._on_orders, self._on_ws_up, self._on_ws_down)
        bus = cfg.bus
        self.server = CommandServer(
            actor.ctx,
            bus.bind_endpoint("ord.cmd"),
            src="router",
            clock=self.clock,
            on_disconnect=self._on_disconnect,
            epoch=actor.epoch,
        )
        self.pub = Publisher(
            actor.ctx,
            bus.bind_endpoint("ord.pub"),
            src="router",
            epoch=actor.epoch,
            clock=self.clock,
            snap_endpoint=bus.bind_endpoint("ord.snap"),
        )
        self.md = Subscriber(
            actor.ctx,
            bus.connect_endpoint("md.pub"),
            snap_endpoint=bus.connect_endpoint("md.snap"),
            prefixes=[
                topics.MARKS,
                topics.TICKERS,
                topics.INSTRUMENTS,
            ],  # not book|: 100s/s we do not need
            name="router.md",
            clock=self.clock,
        )
        self.risk = Subscriber(
            actor.ctx,
            bus.connect_endpoint("risk.pub"),
            snap_endpoint=bus.connect_endpoint("risk.snap"),
            prefixes=[topics.RISK_STATES, topics.RISK_LIMITS],
            name="router.risk",
            clock=self.clock,
        )
        self._tasks: set[asyncio.Task[Any]] = set()
        self._reconciling: asyncio.Task[None] | None = None
        self._reconciled = asyncio.Event()
        self._bus_tasks: list[asyncio.Task[Any]] = []
        self._last_poll_ns = 0
        self._caa_ok = False
        self._caa_fail = 0
        self.ack_latency = LatencyWindow()
        self.ack_by_op = ack_histograms(actor.metrics)  # okxmm_router_ack_latency_seconds{op}
        self.send_errors = 0
        # per op: requests sent, and the venue's answers by (op, outcome, code); bounded sets
        self.sent: dict[str, int] = {}
        self.answers: dict[tuple[str, str, str], int] = {}

    # ---------------------------------------------------------------------------- plumbing
    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.opt(exception=task.exception()).error("router task failed", task=task.get_name())

    def _now(self) -> tuple[int, int]:
        return self.clock.now_ns(), self.clock.monotonic_ns()

    def execute(self, effects: list[Effect]) -> None:
        """Carry out the core's effects in order, then send whatever venue requests are due."""
        self._carry_out(effects)
        wall, mono = self._now()
        self._carry_out(self.core.flush(wall, mono, self.venue.transport()))

    def _carry_out(self, effects: list[Effect]) -> None:
        pending = effects
        while pending:
            more: list[Effect] = []
            for eff in pending:
                if isinstance(eff, JournalRecord):
                    self.journal.append(eff.record)
                elif isinstance(eff, Reply):
                    if not self.server.reply(eff.identity, eff.msg) and eff.identity[:2] == b"S:":
                        wall, mono = self._now()
                        more += self.core.fence_identity(
                            eff.identity, "unreachable (reply failed)", wall, mono
                        )
                elif isinstance(eff, Publish):
                    self.pub.publish(eff.topic, eff.msg, retain=eff.retain)
                    if eff.forget:
                        self.pub.forget(eff.topic)
                elif isinstance(eff, Send):
                    _, mono = self._now()
                    self._spawn(
                        self._send(eff.batch, eff.transport, mono), f"router-{eff.batch.op}"
                    )
                elif isinstance(eff, Forget):
                    self.server.forget(eff.identity)
                elif isinstance(eff, Query):
                    self._spawn(self._query(eff), "router-query")
            pending = more

    async def _send(self, batch: Batch, transport: str, t0: int) -> None:
        op = batch.op
        self.sent[op] = self.sent.get(op, 0) + len(batch.reqs)
        result = await self.venue.send(batch, transport)
        wall, mono = self._now()
        answers = self.answers
        if isinstance(result, VenueFailure):
            key = (op, result.outcome.value, result.code)
            answers[key] = answers.get(key, 0) + len(batch.reqs)
            self.send_errors += 1
            logger.warning(
                "venue request failed",
                op=batch.op,
                n=len(batch.reqs),
                code=result.code,
                transport=transport,
            )
        else:
            self.ack_latency.add(mono - t0)
            self.ack_by_op[op].observe_ns(mono - t0)
            for ack in result:
                key = (op, ack.outcome.value, ack.code)
                answers[key] = answers.get(key, 0) + 1
        self.execute(self.core.on_venue_result(batch, result, wall, mono))

    async def _query(self, q: Query) -> None:
        data = await self.venue.query(q.inst, q.cl_ord_id)
        wall, mono = self._now()
        self.execute(self.core.on_query_result(q.cl_ord_id, data, wall, mono))

    # ------------------------------------------------------------------------ death layers
    def _on_disconnect(self, identity: bytes) -> None:
        wall, mono = self._now()
        self.execute(self.core.fence_identity(identity, "disconnected", wall, mono))

    async def handle_commands(self) -> None:
        """Read commands; drain what is queued, then send the batches (no added latency)."""
        server = self.server
        core = self.core
        clock = self.clock
        window_s = self.cfg.router.batch_window_us / 1e6
        while True:
            item = await server.recv(None)
            effects: list[Effect] = []
            while item is not None:
                identity, env = item
                try:
                    effects += core.on_command(identity, env, clock.now_ns(), clock.monotonic_ns())
                except Exception:  # noqa: BLE001 - nothing a peer sends may kill the router
                    logger.exception("command handling failed", peer=identity)
                # drain what is already queued without a poll round trip through the loop
                item = await server.recv(0) if server.pending() else None
                if item is None and window_s > 0:
                    item = await server.recv(window_s)
            self.execute(effects)

    async def liveness_timer(self) -> None:
        period = self.cfg.router.liveness_tick_ms / 1000
        period_ns = int(period * _NS_PER_S)
        next_slow = 0
        last_tick = self._now()[1]
        while True:
            await asyncio.sleep(period)
            wall, mono = self._now()
            late_ns = mono - last_tick - period_ns
            last_tick = mono
            if late_ns > _STALL_NS:
                # the router itself was stopped or starved: the heartbeats of that time may not
                # be readable yet, so credit the stall to every peer rather than fence them
                self.core.liveness.credit(late_ns)
                logger.warning("router stalled; liveness credited", stall_ms=late_ns // 1_000_000)
            # Commands still waiting in the socket may hold the very heartbeats whose absence we
            # would judge: read them first (a router that fell behind must not fence for it).
            effects = [] if self.server.pending() else self.core.on_timer(wall, mono)
            self.core.risk_alive = not self.risk.silent()
            if mono >= next_slow:
                next_slow = mono + int(_SLOW_TICK_S * _NS_PER_S)
                effects += self.core.on_slow_timer(wall, mono)
                self._maybe_poll(mono)
            self.execute(effects)

    # ----------------------------------------------------------------------- venue streams
    def _on_orders(self, orders: list[VenueOrder]) -> None:
        wall, mono = self._now()
        effects: list[Effect] = []
        for d in orders:
            effects += self.core.on_order_update(d, wall, mono)
        self.execute(effects)

    def _on_ws_up(self, session: int) -> None:
        logger.info("router private ws up", session=session)
        self._start_reconcile("private ws connected")

    def _on_ws_down(self, reason: str) -> None:
        logger.warning("router private ws down; trade ops fall back to REST", reason=reason)

    def _maybe_poll(self, mono: int) -> None:
        if self.venue.is_open:
            return
        if mono - self._last_poll_ns >= int(self.cfg.router.poll_when_ws_down_s * _NS_PER_S):
            self._last_poll_ns = mono
            self._start_reconcile("private ws down: polling")

    def _start_reconcile(self, why: str) -> None:
        if self._reconciling is not None and not self._reconciling.done():
            return
        self._reconciling = asyncio.get_running_loop().create_task(
            self._reconcile(why), name="router-reconcile"
        )

    async def _reconcile(self, why: str) -> None:
        try:
            pending = await self.venue.pending()
            fills = await self.venue.fills(self.cfg.router.reconcile_fills_limit)
        except VenueError as exc:
            logger.warning("reconciliation failed", why=why, code=exc.code)
            return
        except Exception:  # noqa: BLE001 - transport trouble: the next trigger retries
            logger.exception("reconciliation failed", why=why)
            return
        wall, mono = self._now()
        self.execute(self.core.reconcile(pending, fills, wall, mono))
        self._reconciled.set()

    async def dead_mans_switch(self) -> None:
        rc = self.cfg.router
        if rc.cancel_all_after_s == 0:
            return
        while True:
            try:
                await self.venue.cancel_all_after(rc.cancel_all_after_s, rc.order_tag)
                if not self._caa_ok:
                    logger.info("cancel-all-after armed", timeout_s=rc.cancel_all_after_s)
                self._caa_ok = True
                self._caa_fail = 0
            except Exception as exc:  # noqa: BLE001 - keep refreshing whatever happens
                self._caa_ok = False
                self._caa_fail += 1
                logger.warning("cancel-all-after refresh failed", error=str(exc))
            await asyncio.sleep(rc.cancel_all_after_refresh_s)

    async def handle_bus(self, sub: Subscriber) -> None:
        await sub.start()  # may wait for a snapshot: never on the command path
        while True:
            d = await sub.recv(1.0)
            if d is not None:
                if isinstance(d.env.msg, InstrumentInfo):
                    self.venue.learn_instrument(d.env.msg)  # its instIdCode, for WS orders
                self.execute(self.core.on_market(d.env.msg))

    async def load_instruments(self) -> None:
        """Instrument rules by REST (md-feed's ``inst|`` topic also feeds them)."""
        missing = [i for i in self.cfg.instruments if i not in self.core.rules]
        delay = 0.5
        while missing:
            for inst in list(missing):
                try:
                    info = await self.venue.instrument(inst)
                    if info is not None:
                        self.core.rules[inst] = InstrumentRules.from_info(info)
                        missing.remove(inst)
                except Exception as exc:  # noqa: BLE001 - retried below
                    logger.warning("instrument rules not loaded", inst=inst, error=str(exc))
            if missing:
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def start_venue(self) -> None:
        delay = 0.2
        while True:
            try:
                await self.venue.start()
                return
            except Exception as exc:  # noqa: BLE001 - the venue may come up later
                logger.warning("venue not reachable yet", error=str(exc), retry_s=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    # ----------------------------------------------------------------------------- status
    def status(self) -> dict[str, StatusValue]:
        c = self.core
        out: dict[str, StatusValue] = {
            "open_orders": len(c.own.open_orders()),
            "orders_tracked": len(c.own),
            "strategies": sum(1 for s in c.sessions.values() if not s.fenced),
            "queued": c.batcher.queued(),
            "ws_open": self.venue.is_open,
            "ws_sent": self.venue.sent_ws,
            "rest_sent": self.venue.sent_rest,
            "send_errors": self.send_errors,
            "cancel_all_after_ok": self._caa_ok,
            "risk_alive": c.risk_alive,
            "ack_p50_us": self.ack_latency.pct(0.5),
            "ack_p99_us": self.ack_latency.pct(0.99),
            "journal_records": self.journal.written,
            "journal_compactions": self.journal.compactions,
        }
        out.update(c.counters)
        return out

    # ---------------------------------------------------------------------------- lifecycle
    async def run(self) -> None:
        actor = self.actor
        wall, mono = self._now()
        restored = self.core.restore(self._restored, wall, mono)
        await self.pub.start()
        self.execute(restored)
        await self.start_venue()
        ws_task = asyncio.get_running_loop().create_task(self.venue.run(), name="router-ws")
        await self.load_instruments_once()
        if not await self.venue.wait_open(5.0):
            self._start_reconcile("start without private ws")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5.0):
                await self._reconciled.wait()
        await self.server.start()
        # restored strategies get their grace from now, not from the journal replay
        _, mono = self._now()
        for identity, sess in self.core.sessions.items():
            if not sess.fenced:
                self.core.liveness.on_message(
                    identity, mono + self.cfg.router.restart_grace_ms * 1_000_000
                )
        actor.add_status(self.status)
        actor.latencies = ("order round trips (request to the venue's answer)", self.ack_latency)
        actor.metrics.add(functools.partial(router_series, self))
        actor.on_ctl("cancel-all", self._ctl_cancel_all)
        actor.spawn(self.handle_commands(), "router-commands")
        actor.spawn(self.liveness_timer(), "router-liveness")
        actor.spawn(self.dead_mans_switch(), "router-dead-man")
        self._bus_tasks = [
            actor.spawn(self.handle_bus(self.md), "router-md"),
            actor.spawn(self.handle_bus(self.risk), "router-risk"),
        ]
        actor.spawn(self.load_instruments(), "router-instruments")
        logger.info("router ready", open_orders=len(self.core.own.open_orders()))
        try:
            await actor.stopping.wait()
        finally:
            await self.shutdown(ws_task)

    async def load_instruments_once(self) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5.0):
                await self.load_instruments()

    async def _ctl_cancel_all(self, req: CtlRequest) -> CtlReply:
        wall, mono = self._now()
        before = len(self.core.own.open_orders())
        self.execute(
            self.core.cancel_everything(wall, mono, req.args.get("reason", "ctl cancel-all"))
        )
        return CtlReply(cmd=req.cmd, ok=True, detail=f"cancelling {before}")

    async def shutdown(self, ws_task: asyncio.Task[None]) -> None:
        """Cancel everything at the venue (bounded wait), then close."""
        wall, mono = self._now()
        n = len(self.core.own.open_orders())
        self.execute(self.core.cancel_everything(wall, mono, "router stopping"))
        logger.info("router stopping: cancelling everything", orders=n)
        try:
            async with asyncio.timeout(_STOP_CANCEL_TIMEOUT_S):
                while self.core.own.open_orders():
                    await asyncio.sleep(0.02)
                    wall, mono = self._now()
                    self.execute(self.core.on_slow_timer(wall, mono))
        except TimeoutError:
            left = [o.cl_ord_id for o in self.core.own.open_orders()]
            logger.error("orders still open at stop; cancel-all-after is the backstop", n=len(left))
        for task in [*self._tasks, *self._bus_tasks]:
            task.cancel()
        for task in self._bus_tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for sub in (self.md, self.risk):
            await sub.close()
        await self.server.close()
        await self.pub.close()
        await self.venue.close()
        ws_task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await ws_task
        await self.venue.close_rest()
        self.journal.close()
