"""The runtime every actor uses.

``run_actor(name, cfg, main)`` gives ``main`` an :class:`Actor`: logging bound to the actor name
with secrets redacted, uvloop when available, ONE ``zmq.asyncio.Context`` created inside the
running loop, SIGTERM/SIGINT → graceful stop with a deadline, and a ctl endpoint with built-in
``ping``, ``status`` and ``stop`` (actors add ``pause``, ``resume``, ``reload``, ...), and, when
the config enables them, Prometheus metrics on ``/metrics`` (``engine.metrics``; actors add their
series with ``actor.metrics.add``).

Contract for ``main``: start sockets and tasks, then ``await actor.stopping.wait()`` (or return
earlier), then do its orderly shutdown (e.g. the router cancels everything). ``main`` gets
``stop_timeout_s`` after the stop request before it is cancelled. A crash of ``main`` or of any
task started with ``actor.spawn`` is logged and ends the process with exit code 1.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import Any, Generic, Protocol, TypeVar

import zmq
import zmq.asyncio
from loguru import logger

from engine.bus.ctl import CtlHandler, CtlServer
from engine.bus.curve import secure
from engine.clock import Clock, SystemClock
from engine.config import BusConfig
from engine.errors import StartError
from engine.latency import LatencyWindow
from engine.log import setup_logging
from engine.memory import MemoryReport
from engine.messages import CtlReply, CtlRequest
from engine.metrics import ActorMetrics, MetricsServer

__all__ = ["Actor", "ActorConfig", "StatusValue", "run_actor"]

StatusValue = str | int | float | bool


class ActorConfig(Protocol):
    """What the runtime needs of a configuration (``ops.config.OkxmmConfig`` is one)."""

    bus: BusConfig
    log_level: str
    log_dir: str

    def secret_values(self) -> list[str]:
        """Values to redact from every log line."""
        ...

    def metrics_endpoint(self, actor: str) -> tuple[str, int] | None:
        """(host, port) where ``actor`` serves its metrics; None when metrics are off."""
        ...


# covariant: a main written for a narrower config (e.g. the router's) accepts the whole one
C = TypeVar("C", bound=ActorConfig, covariant=True)
CfgT = TypeVar("CfgT", bound=ActorConfig)  # the same, for functions given a config


class Actor(Generic[C]):
    """What an actor's ``main`` is given; ``cfg`` is the configuration it was run with."""

    def __init__(
        self,
        name: str,
        cfg: C,
        ctx: zmq.asyncio.Context,
        clock: Clock,
        epoch: int,
    ) -> None:
        self.name = name
        self.cfg = cfg
        self.ctx = ctx
        self.clock = clock
        self.epoch = epoch
        self.log = logger.bind(actor=name)
        self.stopping = asyncio.Event()
        self.stop_reason = ""
        self.paused = False
        self.failed: BaseException | None = None
        self._started_ns = clock.monotonic_ns()
        self._status: list[Callable[[], dict[str, StatusValue]]] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self.ctl: CtlServer | None = None
        self._pending_ctl: dict[str, CtlHandler] = {}
        self.metrics = ActorMetrics(name)
        self.metrics_port = 0  # the bound port once the metrics server listens
        # (what, window): the latencies ``ctl latencies`` hands out (the router's order round
        # trips, a worker's market-data delivery), for a backtest's latency files
        self.latencies: tuple[str, LatencyWindow] | None = None

    def request_stop(self, reason: str) -> None:
        """Ask the actor to stop (idempotent)."""
        if not self.stopping.is_set():
            self.stop_reason = reason
            self.log.info("stopping", reason=reason)
            self.stopping.set()

    def on_ctl(self, cmd: str, handler: CtlHandler) -> None:
        """Register a ctl command handler."""
        if self.ctl is not None:
            self.ctl.register(cmd, handler)
        else:
            self._pending_ctl[cmd] = handler

    def add_status(self, provider: Callable[[], dict[str, StatusValue]]) -> None:
        """Add fields to ``ctl status``."""
        self._status.append(provider)

    def status(self) -> dict[str, StatusValue]:
        out: dict[str, StatusValue] = {
            "actor": self.name,
            "pid": os.getpid(),
            "epoch": self.epoch,
            "uptime_s": round((self.clock.monotonic_ns() - self._started_ns) / 1e9, 3),
            "paused": self.paused,
        }
        if self.metrics_port:
            out["metrics_port"] = self.metrics_port
        for provider in self._status:
            out.update(provider())
        return out

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Run a long-lived task; if it crashes the actor stops with an error."""
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            self.log.opt(exception=exc).error("task crashed", task=task.get_name())
            self.failed = exc
            self.request_stop(f"task {task.get_name()} crashed")

    async def cancel_tasks(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


def _install_builtin_ctl(actor: Actor[Any]) -> None:
    async def ping(req: CtlRequest) -> CtlReply:
        return CtlReply(cmd=req.cmd, ok=True, detail="pong")

    async def status(req: CtlRequest) -> CtlReply:
        return CtlReply(cmd=req.cmd, ok=True, status=actor.status())

    async def stop(req: CtlRequest) -> CtlReply:
        actor.request_stop(req.args.get("reason", "ctl stop"))
        return CtlReply(cmd=req.cmd, ok=True, detail="stopping")

    async def pause(req: CtlRequest) -> CtlReply:
        actor.paused = True
        actor.log.info("paused", by="ctl")
        return CtlReply(cmd=req.cmd, ok=True, detail="paused")

    async def resume(req: CtlRequest) -> CtlReply:
        actor.paused = False
        actor.log.info("resumed", by="ctl")
        return CtlReply(cmd=req.cmd, ok=True, detail="resumed")

    memory_report = MemoryReport()

    async def latencies(req: CtlRequest) -> CtlReply:
        if actor.latencies is None:
            return CtlReply(cmd=req.cmd, ok=False, detail=f"{actor.name} records no latencies")
        what, window = actor.latencies
        body = json.dumps({"what": what, "ms": window.samples_ms()})
        return CtlReply(cmd=req.cmd, ok=True, detail=body)

    async def memory(req: CtlRequest) -> CtlReply:
        # Walking the heap blocks the loop for a moment: only on request (soak --memprofile).
        return CtlReply(
            cmd=req.cmd, ok=True, status=memory_report.take(trace=req.args.get("trace") == "1")
        )

    actor.on_ctl("ping", ping)
    actor.on_ctl("status", status)
    actor.on_ctl("memory", memory)
    actor.on_ctl("latencies", latencies)
    actor.on_ctl("stop", stop)
    # Defaults: the flag is what actors without their own handler honour; workers override.
    actor.on_ctl("pause", pause)
    actor.on_ctl("resume", resume)


async def _amain(
    name: str,
    cfg: CfgT,
    main: Callable[[Actor[CfgT]], Coroutine[Any, Any, None]],
    ctl_endpoint: str | None,
    clock: Clock,
    stop_timeout_s: float,
) -> int:
    ctx = zmq.asyncio.Context()
    try:
        # before any socket: a binding host's ZAP handler must be there for the first handshake
        secured = secure(ctx, cfg.bus)
    except BaseException:
        ctx.destroy(linger=0)
        raise
    epoch = clock.now_ns()
    actor = Actor(name, cfg, ctx, clock, epoch)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, actor.request_stop, f"signal {signal.Signals(sig).name}")
    _install_builtin_ctl(actor)
    try:
        metrics = await _start_metrics(actor, cfg)
    except StartError:
        secured.close()
        ctx.destroy(linger=0)
        raise
    if ctl_endpoint:
        actor.ctl = CtlServer(ctx, ctl_endpoint, src=name, clock=clock)
        for cmd, handler in actor._pending_ctl.items():
            actor.ctl.register(cmd, handler)
        await actor.ctl.start()
    actor.log.info(
        "started", pid=os.getpid(), epoch=epoch, ctl=ctl_endpoint or "", metrics=actor.metrics_port
    )
    main_task = loop.create_task(main(actor), name=f"{name}-main")
    stop_task = loop.create_task(actor.stopping.wait(), name="stop-wait")
    code = 0
    try:
        await asyncio.wait({main_task, stop_task}, return_when=asyncio.FIRST_COMPLETED)
        if not main_task.done():
            done, _ = await asyncio.wait({main_task}, timeout=stop_timeout_s)
            if not done:
                actor.log.error("main did not stop in time; cancelling", timeout_s=stop_timeout_s)
                main_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await main_task
                code = 1
        exc = main_task.exception() if main_task.done() and not main_task.cancelled() else None
        if isinstance(exc, StartError):
            # an operator's problem (endpoint in use...), not a bug: one line, no traceback
            actor.log.error("cannot start: {}", exc)
            code = 2
        elif exc is not None:
            actor.log.opt(exception=exc).error("actor crashed")
            code = 1
        if actor.failed is not None:
            code = 1
    finally:
        stop_task.cancel()
        await actor.cancel_tasks()
        if actor.ctl is not None:
            await actor.ctl.close()
        if metrics is not None:
            await metrics.close()
        secured.close()
        ctx.destroy(linger=0)
        actor.log.info("stopped", code=code, reason=actor.stop_reason)
    return code


async def _start_metrics(actor: Actor[Any], cfg: ActorConfig) -> MetricsServer | None:
    where = cfg.metrics_endpoint(actor.name)
    if where is None:
        return None
    server = MetricsServer(actor.metrics, *where)
    try:
        await server.start()
    except OSError as exc:
        # like a ctl endpoint in use: the operator's to fix, said in one line
        raise StartError(f"metrics port {where[0]}:{where[1]}: {exc.strerror}") from None
    actor.metrics_port = server.port
    return server


def run_actor(
    name: str,
    cfg: CfgT,
    main: Callable[[Actor[CfgT]], Coroutine[Any, Any, None]],
    *,
    ctl_endpoint: str | None = None,
    clock: Clock | None = None,
    stop_timeout_s: float = 5.0,
    nice: int = 0,
) -> int:
    """Run one actor until stopped; returns the process exit code (0 clean, 1 failure).

    ``nice`` > 0 lowers this process's CPU priority by that much first (a strategy worker's)."""
    setup_logging(name, cfg.log_level, cfg.log_dir, cfg.secret_values())
    if nice > 0:
        niceness = os.nice(nice)
        logger.bind(actor=name).info("cpu priority lowered", nice=niceness)
    coro = _amain(name, cfg, main, ctl_endpoint, clock or SystemClock(), stop_timeout_s)
    try:
        try:
            import uvloop
        except ImportError:
            return asyncio.run(coro)
        return uvloop.run(coro)
    except StartError as exc:  # the ctl endpoint, bound before main runs
        logger.bind(actor=name).error("cannot start: {}", exc)
        return 2


def exit_with(code: int) -> None:
    """Flush logs and exit with ``code``."""
    logger.complete()
    sys.exit(code)
