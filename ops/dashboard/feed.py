"""The bus side of the status view: subscribers feeding a DashboardState, and the view loop."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Callable
from types import TracebackType

import zmq.asyncio
from loguru import logger
from rich.console import Console, Group
from rich.live import Live

from engine import topics
from engine.actor import Actor, StatusValue
from engine.bus.subscriber import Subscriber
from engine.clock import Clock
from engine.config import BusConfig
from ops.config import OkxmmConfig
from ops.dashboard.render import render
from ops.dashboard.state import DashboardState

__all__ = ["DashboardFeed", "run_dashboard"]

_TICK_S = 0.25  # redraw / change check period


class DashboardFeed:
    """Subscribers on every publisher the view reads, pumping deliveries into a state."""

    def __init__(
        self, ctx: zmq.asyncio.Context, bus: BusConfig, clock: Clock, state: DashboardState
    ) -> None:
        self.state = state
        self._clock = clock
        hb = topics.HEARTBEAT
        self.subscribers = [
            # books change many times a second: no snapshot needed, the next one comes soon
            Subscriber(
                ctx, bus.connect_endpoint("md.pub"),
                prefixes=[topics.BOOKS, topics.BOOK_STATES, hb], name="dash-md", clock=clock,
            ),
            Subscriber(
                ctx, bus.connect_endpoint("acct.pub"),
                snap_endpoint=bus.connect_endpoint("acct.snap"), prefixes=[topics.STREAMS, hb],
                name="dash-acct", clock=clock,
            ),
            Subscriber(
                ctx, bus.connect_endpoint("ord.pub"),
                snap_endpoint=bus.connect_endpoint("ord.snap"),
                prefixes=[topics.STRATEGY_STATUSES, topics.ORDER_EVENTS, hb],
                name="dash-ord", clock=clock,
            ),
            Subscriber(
                ctx, bus.connect_endpoint("risk.pub"),
                snap_endpoint=bus.connect_endpoint("risk.snap"),
                prefixes=[topics.RISK, topics.RISK_STATES, hb], name="dash-risk", clock=clock,
            ),
            # margin accounts only; no snapshot (nobody answers on other accounts): the margin
            # actor republishes its state every second
            Subscriber(
                ctx, bus.connect_endpoint("margin.pub"), prefixes=[topics.MARGIN, hb],
                name="dash-margin", clock=clock,
            ),
        ]  # fmt: skip
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        for sub in self.subscribers:
            task = loop.create_task(self._pump(sub), name=f"{sub.name}-pump")
            task.add_done_callback(_log_crash)
            self._tasks.append(task)

    async def _pump(self, sub: Subscriber) -> None:
        await sub.start()
        clock = self._clock
        while True:
            d = await sub.recv(1.0)
            if d is not None:
                self.state.on_delivery(
                    d.env,
                    now_ns=clock.now_ns(),
                    mono_ns=clock.monotonic_ns(),
                    from_snapshot=d.from_snapshot,
                )

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        for sub in self.subscribers:
            await sub.close()

    async def __aenter__(self) -> DashboardFeed:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


def _log_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.opt(exception=task.exception()).error("status view feed died", task=task.get_name())


async def run_dashboard(
    actor: Actor[OkxmmConfig],
    actors: Callable[[], dict[str, StatusValue]],
    *,
    state: DashboardState | None = None,
    interactive: bool | None = None,
    summary_every_s: float = 5.0,
) -> None:
    """Subscribe to the bus and draw until cancelled.

    ``actors`` gives the supervisor's status of its children. ``interactive`` (default: stdout
    is a terminal) draws live tables; otherwise a summary is logged every ``summary_every_s``,
    and at once when an actor dies or comes back or a worker's last order goes (a kill -9 and
    the router's cancels would otherwise fall between two periodic lines).
    """
    state = state if state is not None else DashboardState()
    clock = actor.clock
    if interactive is None:
        interactive = sys.stdout.isatty()

    def view() -> Group:
        return render(state, actors(), now_ns=clock.now_ns(), mono_ns=clock.monotonic_ns())

    async with DashboardFeed(actor.ctx, actor.cfg.bus, clock, state):
        if interactive:
            with Live(view(), console=Console(), refresh_per_second=4) as live:
                while True:
                    await asyncio.sleep(_TICK_S)
                    live.update(view())
        else:
            last: object = None
            next_ns = 0
            while True:
                await asyncio.sleep(_TICK_S)
                children = actors()
                now, mono = clock.now_ns(), clock.monotonic_ns()
                changed = state.liveness(children, now_ns=now, mono_ns=mono)
                if changed == last and mono < next_ns:
                    continue
                last, next_ns = changed, mono + int(summary_every_s * 1e9)
                actor.log.info("status", summary=state.summary(children, now_ns=now, mono_ns=mono))
