"""The alerts actor (``okxmm actor alerts`` / ``python -m ops.alerts --config F``).

Inbox: ``riskstate|`` (risk.pub), ``strat|`` (ord.pub), ``bookstate|`` (md.pub), ``stream|``
(acct.pub), ``margin|`` (margin.pub, when the margin actor runs), each with its Clone snapshot
so a state that holds when we start is told too; the supervisor's ``children`` over its ctl
socket every ``alerts.children_poll_s`` (restarts, deaths).
Outbox: the configured webhooks (:mod:`ops.alerts.dispatch`). A separate process, so an alert
never blocks the actor whose state raised it, and a slow receiver never slows the engine.
"""

from __future__ import annotations

import asyncio
import socket

from engine import topics
from engine.actor import Actor, StatusValue, run_actor
from engine.bus.ctl import ctl_call
from engine.bus.subscriber import Subscriber
from engine.log import add_secrets
from engine.messages import CtlRequest
from engine.metrics import Snapshot, subscriber_series
from ops.alerts.dispatch import Dispatcher
from ops.alerts.rules import Alert, AlertRules
from ops.alerts.sinks import build_sinks
from ops.config import OkxmmConfig
from ops.dashboard.state import parse_child

__all__ = ["main"]

_TIMER_S = 0.5


class AlertsActor:
    """Subscribers and the supervisor poll feeding :class:`AlertRules` into a Dispatcher."""

    def __init__(self, actor: Actor[OkxmmConfig]) -> None:
        self.actor = actor
        cfg = actor.cfg
        self.cfg = cfg.alerts
        self.rules = AlertRules(book_invalid_s=self.cfg.book_invalid_s)
        clock = actor.clock
        sinks = build_sinks(self.cfg)
        for sink in sinks:
            add_secrets(list(sink.secrets))  # webhook URLs and bot tokens never reach a log
        self.dispatcher = Dispatcher(
            self.cfg,
            sinks,
            source=socket.gethostname(),
            mono_ns=clock.monotonic_ns,
            wall_ms=lambda: clock.now_ns() // 1_000_000,
        )
        bus = cfg.bus

        def sub(family: str, prefix: str) -> Subscriber:
            return Subscriber(
                actor.ctx,
                bus.connect_endpoint(f"{family}.pub"),
                snap_endpoint=bus.connect_endpoint(f"{family}.snap"),
                prefixes=[prefix],
                name=f"alerts-{family}",
                clock=clock,
            )

        self.subs = [
            sub("risk", topics.RISK_STATES),
            sub("ord", topics.STRATEGY_STATUSES),
            sub("md", topics.BOOK_STATES),
            sub("acct", topics.STREAMS),
        ]
        if cfg.margin_on:
            self.subs.append(sub("margin", topics.MARGIN))
        self.supervisor_unreachable = False
        actor.add_status(self.status)
        actor.metrics.add(self.metrics)

    def _raise(self, alerts: list[Alert]) -> None:
        for a in alerts:
            self.dispatcher.submit(a)

    async def _pump(self, sub: Subscriber) -> None:
        await sub.start()
        while True:
            d = await sub.recv(1.0)
            if d is not None:
                self._raise(self.rules.on_message(d.env.msg, self.actor.clock.monotonic_ns()))

    async def _timer(self) -> None:
        while True:
            await asyncio.sleep(_TIMER_S)
            self._raise(self.rules.on_timer(self.actor.clock.monotonic_ns()))

    async def _children(self) -> None:
        endpoint = self.actor.cfg.bus.connect_endpoint("ctl.supervisor")
        while True:
            try:
                reply = await ctl_call(
                    self.actor.ctx,
                    endpoint,
                    CtlRequest(cmd="children"),
                    clock=self.actor.clock,
                    timeout_s=1.0,
                    src="alerts",
                )
            except TimeoutError:
                if not self.supervisor_unreachable:
                    self.actor.log.info("supervisor not answering: actor restarts not watched")
                self.supervisor_unreachable = True
            else:
                self.supervisor_unreachable = False
                kids = {}
                for name, value in reply.status.items():
                    c = parse_child(value)
                    kids[name] = (c.state, c.restarts)
                self._raise(self.rules.on_children(kids))
            await asyncio.sleep(self.cfg.children_poll_s)

    def status(self) -> dict[str, StatusValue]:
        out: dict[str, StatusValue] = dict(self.dispatcher.status())
        out["supervisor_reachable"] = not self.supervisor_unreachable
        return out

    def metrics(self, snap: Snapshot) -> None:
        """Prometheus series: alerts per sink, as ``status`` counts them."""
        d = self.dispatcher
        snap.counter(
            "okxmm_alerts_deduplicated", "Alerts folded into an earlier one.", d.deduplicated
        )
        for lane in d.lanes:
            sink = lane.sink.name
            snap.counter("okxmm_alerts_sent", "Alerts delivered.", lane.sent, sink=sink)
            snap.counter(
                "okxmm_alerts_failed", "Alerts not delivered after retries.", lane.failed, sink=sink
            )
            snap.counter(
                "okxmm_alerts_dropped", "Alerts dropped (queue full).", lane.dropped, sink=sink
            )
            snap.gauge("okxmm_alerts_queued", "Alerts waiting to go.", len(lane.queue), sink=sink)
        snap.gauge(
            "okxmm_alerts_supervisor_reachable",
            "1 while the supervisor answers.",
            float(not self.supervisor_unreachable),
        )
        now = self.actor.clock.monotonic_ns()
        for sub in self.subs:
            subscriber_series(snap, sub.name.removeprefix("alerts-"), sub, now)

    async def run(self) -> None:
        self.dispatcher.start()
        actor = self.actor
        for s in self.subs:
            actor.spawn(self._pump(s), s.name)
        actor.spawn(self._timer(), "alerts-timer")
        actor.spawn(self._children(), "alerts-children")
        actor.log.info("alerts running", sinks=[lane.sink.name for lane in self.dispatcher.lanes])
        try:
            await actor.stopping.wait()
        finally:
            await self.dispatcher.close()
            for s in self.subs:
                await s.close()


async def _main(actor: Actor[OkxmmConfig]) -> None:
    await AlertsActor(actor).run()


def main(cfg: OkxmmConfig) -> int:
    """Run the alerts actor until stopped; returns the exit code."""
    return run_actor("alerts", cfg, _main, ctl_endpoint=cfg.bus.bind_endpoint("ctl.alerts"))
