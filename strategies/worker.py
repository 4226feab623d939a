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

This module is the process shell: sockets, timers and the params file. Every decision, reply
and order event goes through the pure ``strategies.worker_core.WorkerCore``, and the shell sends
the commands it returns. It quotes only while the book is VALID and fresh, account data is
fresh, every publisher is alive and risk allows it; otherwise it pulls its quotes (the original
left them up, §10.1-2). ``max_consecutive_errors`` decision errors in a row stop the worker with
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
import re
import sys
from pathlib import Path

from engine import topics
from engine.actor import Actor, StatusValue, run_actor
from engine.bus.command import CommandClient, CommandSendError
from engine.bus.subscriber import Subscriber
from engine.errors import ConfigError, StartError
from engine.latency import LatencyWindow
from engine.messages import Bye, CancelAll, CtlReply, CtlRequest, Heartbeat, Hello, StrategyStatus
from engine.runlock import RunLock
from ops.config import OkxmmConfig, load_config
from strategies.base import BaseStrategy, Desired
from strategies.context import WorkerContext
from strategies.outbox import Command, Outbox
from strategies.params import ParamsWatcher, StrategyParams, load_params
from strategies.registry import make_strategy
from strategies.worker_core import WorkerCore
from strategies.worker_metrics import tick_to_order_histogram, worker_series
from strategies.worker_state import WorkerState

__all__ = ["Worker", "main"]

_NS = 1_000_000_000
_MS = 1_000_000
_TICK_S = 0.1  # re-evaluate health at least this often without market data
_PARAMS_POLL_S = 0.2
_STATUS_S = 0.25
_NAME = re.compile(r"[A-Za-z0-9-]{1,24}")  # as StrategySpec.name: ctl socket and lock file names


class Worker:
    """Sockets, timers and the params file of one worker around its pure core."""

    def __init__(
        self, actor: Actor[OkxmmConfig], *, strategy: str, inst: str, params_path: str | None
    ) -> None:
        self.actor = actor
        self.name = actor.name
        self.inst = inst
        self.clock = actor.clock
        self.log = actor.log.bind(strategy=strategy, inst=inst)
        self.watcher = ParamsWatcher(params_path, inst=inst)
        self.core = WorkerCore(
            self.name,
            inst,
            make_strategy(strategy),
            self.watcher.current,
            clock=self.clock,
            epoch=actor.epoch,
            log=self.log,
        )
        self.subs: dict[str, Subscriber] = {}
        self.client: CommandClient | None = None
        self.wake = asyncio.Event()
        self.last_step_ns = 0
        # tick → order: from the first market message that woke a step (or the end of the
        # deliberate requote gap, which is policy, not lag) to the send of its first command
        self.woken_ns = 0
        self.tick_to_order = LatencyWindow(histogram=tick_to_order_histogram(self))
        # market data's delivery: md-feed's publish to this worker's receive (wall clocks; one
        # host or NTP-synced hosts), what a backtest's --md-latency-file wants
        self.md_latency = LatencyWindow()

    # ------------------------------------------------------------- the core's state, read
    @property
    def params(self) -> StrategyParams:
        return self.watcher.current

    @property
    def ctx(self) -> WorkerContext:
        return self.core.ctx

    @property
    def out(self) -> Outbox:
        return self.core.out

    @property
    def strategy(self) -> BaseStrategy:
        return self.core.strategy

    @property
    def state(self) -> WorkerState:
        return self.core.state

    @property
    def reason(self) -> str:
        return self.core.reason

    @property
    def epoch(self) -> int:
        return self.core.epoch

    @property
    def desired(self) -> Desired:
        return self.core.desired

    @property
    def counters(self) -> dict[str, int]:
        return self.core.counters

    # ---------------------------------------------------------------------------- lifecycle
    async def run(self) -> None:
        bus = self.actor.cfg.bus
        ctx = self.actor.ctx
        inst = self.inst
        specs = {
            "md": ("md", topics.market_of(inst)),
            "acct": (
                "acct",
                [topics.ACCOUNT, topics.ACCOUNT_CONFIG, topics.positions_of(inst), topics.STREAMS],
            ),
            "ord": ("ord", [topics.order_event(self.name)]),
            "risk": ("risk", [topics.RISK_STATES]),
        }
        for key, (family, prefixes) in specs.items():
            self.subs[key] = Subscriber(
                ctx,
                bus.connect_endpoint(f"{family}.pub"),
                snap_endpoint=bus.connect_endpoint(f"{family}.snap"),
                prefixes=prefixes,
                name=f"{self.name}.{key}",
                clock=self.clock,
                # the orders stream tells us which orders the router holds after each resync
                deliver_snapshot_end=key == "ord",
            )
        await asyncio.gather(*(s.start() for s in self.subs.values()))
        self.client = await self._new_client()
        self._register_ctl()
        for key, sub in self.subs.items():
            self.actor.spawn(self._read(sub, md=key == "md"), f"read-{key}")
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
        client = self.client
        if client is not None and self.core.welcome is not None:
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

    def _dispatch(self, cmds: list[Command]) -> int:
        """Send the core's commands in order and report each back; sums what ``sent`` counts."""
        n = 0
        for cmd in cmds:
            client = self.client
            if client is None:
                self.core.not_sent(cmd, "no command client")
                continue
            try:
                seq = client.send(cmd.msg)
            except CommandSendError as exc:
                self.core.not_sent(cmd, str(exc))
                continue
            n += self.core.sent(cmd, seq)
        self._check_fatal()
        return n

    def _check_fatal(self) -> None:
        reason = self.core.fatal
        if reason is not None and not self.actor.stopping.is_set():
            self.actor.failed = RuntimeError(reason)
            self.actor.request_stop(reason)

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

    async def _rejoin(self) -> None:
        old = self.client
        self.core.rejoin_epoch()
        self.client = await self._new_client()
        if old is not None:
            await old.close()

    async def _session(self) -> None:
        """Say Hello until welcomed; again whenever the router is lost or fenced us."""
        core = self.core
        while True:
            if core.rejoin:
                await self._rejoin()
            client = self.client
            assert client is not None
            if core.welcome is None:
                try:
                    await client.wait_connected(1.0)
                    env = await client.request(
                        Hello(
                            strategy=self.name, epoch=self.epoch, inst=self.inst, pid=os.getpid()
                        ),
                        timeout_s=1.0,
                    )
                except (TimeoutError, CommandSendError):
                    core.reason = "waiting for the router"
                    continue
                welcomed = core.on_hello_answer(env.msg)
                self._check_fatal()
                if welcomed:
                    self.wake.set()
                if core.rejoin:
                    continue
            await asyncio.sleep(0.5)

    async def _heartbeat(self) -> None:
        """Heartbeats from this event loop: a hung loop stops them and the router fences us."""
        failing_since: int | None = None
        while True:
            welcome = self.core.welcome
            interval = (welcome.heartbeat_ms if welcome else 50) / 1000
            await asyncio.sleep(interval)
            client = self.client
            if self.core.welcome is None or client is None:
                continue
            try:
                client.send(Heartbeat(strategy=self.name))
                failing_since = None
            except CommandSendError:
                mono = self.clock.monotonic_ns()
                failing_since = failing_since or mono
                if mono - failing_since > _NS:
                    self.log.warning("router unreachable; saying Hello again")
                    self.core.router_lost()
                    failing_since = None

    async def _replies(self) -> None:
        while True:
            client = self.client
            assert client is not None
            env = await client.recv(_TICK_S)  # bounded: the client changes on a rejoin
            if env is not None and client is self.client:
                if self.core.on_reply(env.msg):
                    self.wake.set()
                self._check_fatal()

    # -------------------------------------------------------------------------------- inbox
    async def _read(self, sub: Subscriber, *, md: bool) -> None:
        while True:
            d = await sub.recv(_TICK_S)
            if d is None:
                continue
            if md and not d.from_snapshot:
                self.md_latency.add(max(0, self.clock.now_ns() - d.env.ts_ns))
            if self.core.on_message(d.env.msg):
                if not self.woken_ns:
                    self.woken_ns = self.clock.monotonic_ns()
                self.wake.set()

    # ----------------------------------------------------------------------------- decision
    async def _decide_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(_TICK_S):
                    await self.wake.wait()
            self.wake.clear()
            gap_end_ns = self.last_step_ns + self.params.min_requote_interval_ms * _MS
            wait_ns = gap_end_ns - self.clock.monotonic_ns()
            if wait_ns > 0:
                await asyncio.sleep(wait_ns / _NS)
            start_ns = max(self.woken_ns, gap_end_ns) if self.woken_ns else 0
            self.woken_ns = 0
            step_ns = self.clock.monotonic_ns()
            sent = self.step()
            if sent:
                # the gap spaces requotes, so only a step that sent restarts it: a market move
                # after a quiet spell is answered at once. (An own fill ahead of its book
                # update is held by the core until the book catches up: see book_behind_fill.)
                self.last_step_ns = step_ns
                if start_ns:
                    self.tick_to_order.add(self.clock.monotonic_ns() - start_ns)

    def silent(self) -> dict[str, bool]:
        return {k: s.silent() for k, s in self.subs.items()}

    def step(self) -> int:
        """One decision through the core; its commands go out, then the housekeeping's.

        Returns how many commands the decision itself sent."""
        acct = self.subs.get("acct")
        heard = acct.last_heard_ns if acct is not None else None
        before = self.core.out.counters["commands"]
        self._dispatch(self.core.step(self.silent(), heard))
        sent = self.core.out.counters["commands"] - before
        self._dispatch(self.core.housekeeping())
        return sent

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
            # one line naming every problem: the watcher raises once per distinct content
            problems = "; ".join(f"{path}: {msg}" for path, msg in exc.problems)
            self.log.error("params rejected, previous params stay: {problems}", problems=problems)
            return False, str(exc)
        if params is None:
            return True, "unchanged"
        self.core.set_params(params)
        self.log.info("params reloaded", reloads=self.watcher.reloads)
        self.wake.set()
        return True, "reloaded"

    # ------------------------------------------------------------------------------ status
    def status_msg(self) -> StrategyStatus:
        return self.core.status_msg()

    async def _status_loop(self) -> None:
        while True:
            await asyncio.sleep(_STATUS_S)
            if self.core.welcome is not None and self.client is not None:
                with contextlib.suppress(CommandSendError):
                    self.client.send(self.status_msg())

    def status(self) -> dict[str, StatusValue]:
        core, ctx = self.core, self.core.ctx
        out: dict[str, StatusValue] = {
            "strategy": core.strategy.name,
            "inst": self.inst,
            "state": core.state.value,
            "reason": core.reason,
            "welcomed": core.welcome is not None,
            "short_id": core.welcome.short_id if core.welcome is not None else "",
            "epoch": self.epoch,
            "open_orders": len(ctx.orders.active()),
            "fills": ctx.fill_book.fills,
            "net_position": str(ctx.net_position()),
            "illegal_transitions": ctx.orders.illegal_transitions,
            "illegal_state_transitions": core.machine.illegal,
            "params_reloads": self.watcher.reloads,
            "params_rejected": self.watcher.rejected,
            "errors_in_a_row": core.errors,
            "params_last_error": self.watcher.last_error,
            "bids": " ".join(str(q.px) for q in core.desired.bids),
            "asks": " ".join(str(q.px) for q in core.desired.asks),
            "tick_to_order_p50_us": self.tick_to_order.pct(0.5),
            "tick_to_order_p99_us": self.tick_to_order.pct(0.99),
        }
        out.update(core.counters)
        out.update(core.out.counters)
        return out

    # --------------------------------------------------------------------------------- ctl
    def pause(self) -> int:
        """Cancel every order and stop quoting; state (orders, fills, params) is kept."""
        self.actor.paused = True
        n = self._dispatch(self.core.pause())
        self.wake.set()
        self.log.info("paused", cancelling=n)
        return n

    def resume(self) -> None:
        """Quote again (also ends an error back-off)."""
        self.actor.paused = False
        self.core.resume()
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
        self.actor.latencies = ("market data delivery (md-feed to worker)", self.md_latency)
        self.actor.metrics.add(lambda snap: worker_series(self, snap))


def main(
    cfg: OkxmmConfig, *, name: str, strategy: str, inst: str, params: str | None = None
) -> int:
    """Run one worker until stopped; returns the exit code. Raises ConfigError for a bad name,
    an instrument md-feed does not serve, an unknown strategy or a bad params file, and
    AlreadyRunningError when a worker of this name runs — all before anything is bound."""
    if not _NAME.fullmatch(name):
        raise ConfigError([("--name", f"{name!r}: 1 to 24 letters, digits or '-'")])
    if inst not in cfg.instruments:
        served = ", ".join(cfg.instruments)
        # md-feed serves only the config's instruments: the worker would wait for a book for ever
        raise ConfigError([("--inst", f"{inst} is not served by md-feed (instruments: {served})")])
    make_strategy(strategy)  # fail fast on an unknown name or a bad params file
    if params is not None:
        load_params(params, inst=inst)

    async def _main(actor: Actor[OkxmmConfig]) -> None:
        await Worker(actor, strategy=strategy, inst=inst, params_path=params).run()

    # One process per name: a second mm-btc would take over the first's ctl socket and the two
    # would fence each other at the router until both died. Refused before Hello instead.
    with RunLock(Path(cfg.bus.ipc_dir) / f"worker.{name}.lock", f"worker {name}"):
        return run_actor(
            name,
            cfg,
            _main,
            ctl_endpoint=cfg.bus.bind_endpoint(cfg.bus.ctl_name(name)),
            stop_timeout_s=5.0,
            nice=cfg.supervisor.worker_nice,
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
    except (ConfigError, StartError) as exc:
        sys.stderr.write(f"{exc}\n")
        return 2


if __name__ == "__main__":
    sys.exit(_cli())
