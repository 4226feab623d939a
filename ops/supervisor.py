"""``okxmm up``: run the local exchange and every actor as child processes, watch and restart them.

Start: each child starts as soon as what it needs answers — the exchange (unless the venue is
OKX) and the strategy workers first (a worker waits for the router, books and risk itself);
md-feed, private-gw, router and risk together once the exchange's port listens. Readiness is
an event (the port accepts, a ping is answered), never a fixed delay, and a child that is not
ready in time is logged and watched like the rest. Stop order is the
reverse of what matters for money: strategies first, then the router (which cancels everything
on SIGTERM), then risk and the feeds, the exchange last. When a strategy worker exits for any
reason the supervisor tells the router ``CancelAll(strategy)`` (death-detection layer 4) before
restarting it per its policy, with doubling backoff.

Every child is started as ``python -m <module> ...`` so ``ps`` names the actor (and, for a
worker, its strategy and instrument); its output goes to ``<log_dir>/<name>.out``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from engine.actor import Actor, run_actor
from engine.bus.command import CommandClient, CommandSendError
from engine.bus.ctl import ctl_call
from engine.messages import CancelAll, CtlReply, CtlRequest, Reject
from engine.metrics import Snapshot
from engine.runlock import RunLock
from ops.config import OkxmmConfig, SupervisorConfig

__all__ = ["ChildSpec", "RestartPolicy", "build_specs", "run_supervisor"]


@dataclass(frozen=True)
class ChildSpec:
    """One child process."""

    name: str
    argv: list[str]
    kind: str  # exchange | actor | strategy
    ctl: str | None = None  # ctl endpoint name, for readiness and status


class RestartPolicy:
    """When to restart a child and after how long. Pure: the caller counts and sleeps.

    ``restarts`` is the number of restarts within the last ``restart_window_s`` (see
    :class:`RestartWindow`): a worker that crashes once a day restarts for ever; one that
    crashes ``max_restarts`` times within the window is given up on, loudly.
    """

    def __init__(self, cfg: SupervisorConfig) -> None:
        self._cfg = cfg

    def should_restart(self, exit_code: int, restarts: int, stopping: bool) -> bool:
        if stopping or self._cfg.restart == "never":
            return False
        return self.within_budget(restarts) and (self._cfg.restart == "always" or exit_code != 0)

    def within_budget(self, restarts: int) -> bool:
        """Another restart is allowed after ``restarts`` restarts in the window."""
        return restarts < self._cfg.max_restarts

    def backoff_s(self, restarts: int) -> float:
        return float(min(self._cfg.backoff_initial_s * (2**restarts), self._cfg.backoff_max_s))


def build_specs(cfg: OkxmmConfig, config_path: Path | None) -> list[ChildSpec]:
    """The children of ``okxmm up`` in start order."""
    py = sys.executable
    conf = ["--config", str(config_path.resolve())] if config_path else []
    specs: list[ChildSpec] = []
    if cfg.venue.kind == "local" and cfg.supervisor.start_exchange:
        specs.append(ChildSpec("exchange", [py, "-m", "ops.exchange", *conf], "exchange"))
    specs += [
        ChildSpec("md-feed", [py, "-m", "gateway.md_feed", *conf], "actor", "ctl.md-feed"),
        ChildSpec("private-gw", [py, "-m", "gateway.private_gw", *conf], "actor", "ctl.private-gw"),
        ChildSpec("router", [py, "-m", "ops.router", *conf], "actor", "ctl.router"),
        ChildSpec("risk", [py, "-m", "risk.monitor", *conf], "actor", "ctl.risk"),
    ]
    if cfg.margin_on:
        specs.append(
            ChildSpec("margin", [py, "-m", "risk.margin.monitor", *conf], "actor", "ctl.margin")
        )
    if cfg.alerts.sinks:
        specs.append(ChildSpec("alerts", [py, "-m", "ops.alerts", *conf], "actor", "ctl.alerts"))
    for s in cfg.strategies:
        if not s.enabled:
            continue
        argv = [py, "-m", "strategies.worker", *conf, "--name", s.name]
        argv += ["--strategy", s.strategy, "--inst", s.inst]
        if s.params:
            argv += ["--params", s.params]
        specs.append(ChildSpec(s.name, argv, "strategy", f"ctl.{s.name}"))
    return specs


class RestartWindow:
    """Monotonic times of one child's recent restarts; bounded: only those within the window
    are kept (at most ``max_restarts`` + 1 entries)."""

    def __init__(self, window_s: float, limit: int) -> None:
        self._window_ns = int(window_s * 1e9)
        self._times: deque[int] = deque(maxlen=max(1, limit + 1))

    def count(self, now_ns: int) -> int:
        """Restarts within the window ending ``now_ns``."""
        while self._times and self._times[0] <= now_ns - self._window_ns:
            self._times.popleft()
        return len(self._times)

    def record(self, now_ns: int) -> None:
        self._times.append(now_ns)


@dataclass
class _Child:
    spec: ChildSpec
    window: RestartWindow
    proc: asyncio.subprocess.Process | None = None
    restarts: int = 0  # over the whole run (status); the policy counts within its window
    state: str = "starting"
    last_exit: int | None = None
    watcher: asyncio.Task[None] | None = field(default=None, repr=False)


class Supervisor:
    """Starts, watches, restarts and stops the children."""

    def __init__(self, actor: Actor[OkxmmConfig], specs: list[ChildSpec]) -> None:
        self._actor = actor
        self._cfg = actor.cfg
        self._policy = RestartPolicy(actor.cfg.supervisor)
        sup = actor.cfg.supervisor
        self.children = {
            s.name: _Child(s, window=RestartWindow(sup.restart_window_s, sup.max_restarts))
            for s in specs
        }
        self._always = sup.restart == "always"
        self._stopping = False
        self._log_dir = Path(actor.cfg.log_dir)
        self._log_dir.mkdir(parents=True, exist_ok=True)
        self._router: CommandClient | None = None
        # layer-4 cancels of dead workers' orders, by how the router answered
        self.death_cancels: dict[str, int] = {}

    async def _spawn(self, child: _Child) -> None:
        out = (self._log_dir / f"{child.spec.name}.out").open("ab")
        try:
            child.proc = await asyncio.create_subprocess_exec(
                *child.spec.argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                start_new_session=True,  # Ctrl-C reaches only the supervisor: it stops us in order
                preexec_fn=_die_with_parent(os.getpid()),
            )
        finally:
            out.close()
        child.state = "running"
        self._actor.log.info(
            "child started", child=child.spec.name, pid=child.proc.pid, restarts=child.restarts
        )

    async def _ready(self, child: _Child, timeout_s: float = 20.0) -> bool:
        """Wait until the child answers: the exchange's port, or the actor's ctl ping."""
        deadline = self._actor.clock.monotonic_ns() + int(timeout_s * 1e9)
        while self._actor.clock.monotonic_ns() < deadline:
            if child.proc is None or child.proc.returncode is not None:
                return False
            if child.spec.kind == "exchange":
                if await _port_open(self._cfg.exchange.host, self._cfg.exchange.port):
                    return True
                await asyncio.sleep(0.02)  # a refused connect returns at once: probe again soon
                continue
            assert child.spec.ctl is not None
            endpoint = self._cfg.bus.connect_endpoint(child.spec.ctl)
            with contextlib.suppress(TimeoutError):
                reply = await ctl_call(
                    self._actor.ctx,
                    endpoint,
                    CtlRequest(cmd="ping"),
                    clock=self._actor.clock,
                    timeout_s=0.5,
                    src="supervisor",
                )
                if reply.ok:
                    return True
        return False

    async def start_all(self) -> None:
        kids = list(self.children.values())
        # Workers need nothing to start: they wait for the router's Welcome, books and risk
        # themselves. Spawned with the exchange, their Python start-up (the longest of all)
        # runs on the core the exchange leaves idle instead of after the router's, which took
        # ~0.5 s off `okxmm up` → first order (docs/perf.md, "startup").
        workers = [
            asyncio.ensure_future(self._start_one(c)) for c in kids if c.spec.kind == "strategy"
        ]
        for child in [c for c in kids if c.spec.kind == "exchange"]:
            await self._start_one(child)
        actors = {
            c.spec.name: asyncio.ensure_future(self._start_one(c))
            for c in kids
            if c.spec.kind == "actor"
        }
        if "router" in actors:
            await asyncio.wait([actors["router"]])
        # connected once the router listens: a DEALER that connected before the bind retries
        # with backoff (up to 250 ms) and could miss the first worker's death
        self._router = CommandClient(
            self._actor.ctx,
            self._cfg.bus.connect_endpoint("ord.cmd"),
            identity=b"O:supervisor",
            src="supervisor",
            epoch=self._actor.epoch,
            clock=self._actor.clock,
        )
        await self._router.start()
        await asyncio.gather(*actors.values(), *workers)

    async def _start_one(self, child: _Child) -> bool:
        """Spawn ``child``, wait until it answers, then watch it; False if it never answered."""
        t0 = self._actor.clock.monotonic_ns()
        await self._spawn(child)
        ready = await self._ready(child)
        took_ms = round((self._actor.clock.monotonic_ns() - t0) / 1e6)
        if ready:
            self._actor.log.info("child ready", child=child.spec.name, ms=took_ms)
        else:
            self._actor.log.error("child not ready", child=child.spec.name, ms=took_ms)
        child.watcher = asyncio.get_running_loop().create_task(
            self._watch(child), name=f"watch-{child.spec.name}"
        )
        return ready

    async def _watch(self, child: _Child) -> None:
        while True:
            assert child.proc is not None
            code = await child.proc.wait()
            child.last_exit = code
            child.state = "exited"
            if child.spec.kind == "strategy":
                await self._notify_router(child.spec.name, code)
            if self._stopping:
                return
            self._actor.log.warning("child exited", child=child.spec.name, code=code)
            recent = child.window.count(time.monotonic_ns())
            if not self._policy.should_restart(code, recent, self._stopping):
                if self._policy.within_budget(recent) or not (code or self._always):
                    child.state = "failed" if code else "stopped"
                else:
                    cfg = self._cfg.supervisor
                    child.state = (
                        f"gave up: {recent} restarts in {cfg.restart_window_s:g} s, exit {code}"
                    )
                    self._actor.log.error(
                        "child keeps dying: not restarted again",
                        child=child.spec.name,
                        code=code,
                        restarts_in_window=recent,
                        window_s=cfg.restart_window_s,
                    )
                return
            delay = self._policy.backoff_s(recent)
            child.state = f"restart in {delay:.1f}s"
            await asyncio.sleep(delay)
            if self.stopping:
                return
            child.restarts += 1
            child.window.record(time.monotonic_ns())
            await self._spawn(child)

    @property
    def stopping(self) -> bool:
        return self._stopping

    async def _notify_router(self, name: str, code: int) -> None:
        """Layer 4 of death detection: tell the router the worker is gone, and log its answer
        (awaited, so a restart never races the cancel of the previous instance's orders)."""
        if self._router is None:
            return
        cancel = CancelAll(strategy=name, reason=f"supervisor: exited with {code}")
        result = await self._cancel_dead(name, cancel)
        self.death_cancels[result] = self.death_cancels.get(result, 0) + 1

    async def _cancel_dead(self, name: str, cancel: CancelAll) -> str:
        assert self._router is not None
        try:
            with contextlib.suppress(TimeoutError):
                await self._router.wait_connected(1.0)  # at once when connected
            env = await self._router.request(cancel, timeout_s=1.0)
        except CommandSendError as exc:
            self._actor.log.warning("router not told of worker exit", worker=name, error=str(exc))
            return "not_sent"
        except TimeoutError:
            self._actor.log.warning("router did not answer worker-exit cancel", worker=name)
            return "timeout"
        if isinstance(env.msg, Reject):
            self._actor.log.warning(
                "router refused worker-exit cancel", worker=name, reason=env.msg.reason
            )
            return "refused"
        self._actor.log.info("router cancelled exited worker's orders", worker=name)
        return "ok"

    async def _stop_child(self, child: _Child, timeout_s: float) -> None:
        proc = child.proc
        if proc is None or proc.returncode is not None:
            return
        child.state = "stopping"
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(timeout_s):
                await proc.wait()
        except TimeoutError:
            self._actor.log.error("child ignored SIGTERM; killing", child=child.spec.name)
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
        child.state = "stopped"

    async def stop_all(self) -> None:
        """Strategies → router (cancels all) → risk → feeds → exchange."""
        self._stopping = True
        timeout = self._cfg.supervisor.stop_timeout_s
        by_kind = [c for c in self.children.values() if c.spec.kind == "strategy"]
        await asyncio.gather(*(self._stop_child(c, timeout) for c in by_kind))
        for name in ("router", "risk", "private-gw", "md-feed", "exchange"):
            child = self.children.get(name)
            if child is not None:
                await self._stop_child(child, timeout * 2 if name == "router" else timeout)
        for child in self.children.values():
            if child.watcher is not None:
                child.watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await child.watcher
        if self._router is not None:
            await self._router.close()

    def metrics(self, snap: Snapshot) -> None:
        """Prometheus series: each child's life, and the cancels on a worker's death."""
        for name, child in self.children.items():
            running = child.proc is not None and child.proc.returncode is None
            snap.gauge(
                "okxmm_child_up", "1 while a child process runs.", float(running), child=name
            )
            snap.counter("okxmm_child_restarts", "Restarts of a child.", child.restarts, child=name)
            gave_up = child.state.startswith("gave up")
            snap.gauge(
                "okxmm_child_given_up",
                "1 once a child is not restarted again.",
                float(gave_up),
                child=name,
            )
        for result in ("ok", "refused", "timeout", "not_sent"):
            snap.counter(
                "okxmm_cancels_on_death",
                "CancelAll sent to the router for a dead worker, by the router's answer.",
                self.death_cancels.get(result, 0),
                result=result,
            )

    def status(self) -> dict[str, str | int | float | bool]:
        out: dict[str, str | int | float | bool] = {}
        for name, child in self.children.items():
            pid = child.proc.pid if child.proc else 0
            out[name] = f"{child.state} pid={pid} restarts={child.restarts}"
        return out


def _die_with_parent(parent_pid: int) -> Callable[[], None] | None:
    """In the child before exec: SIGTERM when the supervisor dies, however it dies (Linux).

    A supervisor killed with SIGKILL used to leave its whole engine running, orphaned — still
    quoting, and in the way of the next ``okxmm up``. SIGTERM is each actor's orderly stop (the
    router cancels everything). Elsewhere: None, and orphans stay possible."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:
        return None

    def arm() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent_pid:  # the supervisor died before prctl took effect
            os.kill(os.getpid(), signal.SIGTERM)

    return arm


_PR_SET_PDEATHSIG = 1


async def _port_open(host: str, port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection(host, port)
    except OSError:
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


def run_supervisor(
    cfg: OkxmmConfig,
    *,
    config_path: Path | None,
    duration_s: float | None,
    status_view: bool,
) -> int:
    """Run ``okxmm up``; returns the exit code."""
    specs = build_specs(cfg, config_path)

    async def main(actor: Actor[OkxmmConfig]) -> None:
        sup = Supervisor(actor, specs)
        actor.add_status(sup.status)
        actor.metrics.add(sup.metrics)

        async def children(req: CtlRequest) -> CtlReply:
            return CtlReply(cmd=req.cmd, ok=True, status=sup.status())

        actor.on_ctl("children", children)
        view: asyncio.Task[None] | None = None
        try:
            await sup.start_all()
            if status_view and not actor.stopping.is_set():
                from ops.dashboard import run_dashboard

                view = actor.spawn(run_dashboard(actor, sup.status), "dashboard")
            if duration_s is not None:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(duration_s):
                        await actor.stopping.wait()
                actor.request_stop(f"duration {duration_s} s reached")
            await actor.stopping.wait()
        finally:
            if view is not None:
                view.cancel()
            await sup.stop_all()

    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    timeout = cfg.supervisor.stop_timeout_s * 8 + 10
    # one `okxmm up` per run directory: a second one is refused (AlreadyRunningError, a
    # StartError the CLI prints as one line) before it binds anything or starts a child
    with RunLock(Path(cfg.bus.ipc_dir) / "up.lock", "okxmm up"):
        return run_actor(
            "supervisor",
            cfg,
            main,
            ctl_endpoint=cfg.bus.bind_endpoint("ctl.supervisor"),
            stop_timeout_s=timeout,
        )
