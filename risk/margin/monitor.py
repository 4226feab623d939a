"""The margin actor (``okxmm actor margin`` / ``python -m risk.margin.monitor --config F``).

Inbox:
- md.pub / md.snap: ``mark|``, ``inst|`` (md-feed);
- acct.pub / acct.snap: ``acct|``, ``pos|``, ``acctcfg|`` (private-gw);
- ctl.margin: ``margin`` (the report as JSON in ``detail``: what ``okxmm margin`` prints), plus
  the runtime's ping/status/stop.
Outbox (margin.pub / margin.snap, Clone, heartbeats from the Publisher):
- ``margin|``: ``MarginState``, retained; on every change of status, action or numbers (at
  most every ``eval_interval_ms``) and again every ``republish_ms``.
A recomputed ratio that differs from the venue's by more than ``disagreement_rel`` is logged
(once per episode, and when it agrees again).
"""

from __future__ import annotations

import argparse
import asyncio
import json

import msgspec

from engine import topics
from engine.actor import Actor, StatusValue, exit_with, run_actor
from engine.bus.publisher import Publisher
from engine.bus.subscriber import Subscriber
from engine.messages import CtlReply, CtlRequest, MarginState, PubHeartbeat
from engine.metrics import Snapshot
from ops.config import OkxmmConfig, load_config
from risk.margin.core import MarginCore
from risk.margin.report import report_json

__all__ = ["MarginMonitor", "main"]

_NS_PER_MS = 1_000_000
MD_PREFIXES = [topics.MARKS, topics.INSTRUMENTS]
ACCT_PREFIXES = [topics.ACCOUNT, topics.POSITIONS, topics.ACCOUNT_CONFIG]


def core_of(cfg: OkxmmConfig) -> MarginCore:
    """The core with the one tier table: the margin section's, else the local exchange's."""
    mc = cfg.margin
    return MarginCore(
        mc, mc.tiers or cfg.exchange.margin_tiers, mc.portfolio or cfg.exchange.portfolio
    )


class MarginMonitor:
    def __init__(self, actor: Actor[OkxmmConfig]) -> None:
        self.actor = actor
        cfg = actor.cfg
        self.mc = cfg.margin
        self.clock = actor.clock
        self.log = actor.log
        self.core = core_of(cfg)
        bus = cfg.bus
        self.pub = Publisher(
            actor.ctx,
            bus.bind_endpoint("margin.pub"),
            src="margin",
            epoch=actor.epoch,
            clock=self.clock,
            snap_endpoint=bus.bind_endpoint("margin.snap"),
            heartbeat_ms=self.mc.heartbeat_ms,
        )
        self.subs = {
            "md": Subscriber(
                actor.ctx,
                bus.connect_endpoint("md.pub"),
                snap_endpoint=bus.connect_endpoint("md.snap"),
                prefixes=MD_PREFIXES,
                name="margin.md",
                clock=self.clock,
                silence_ms=self.mc.md_silence_ms,
            ),
            "acct": Subscriber(
                actor.ctx,
                bus.connect_endpoint("acct.pub"),
                snap_endpoint=bus.connect_endpoint("acct.snap"),
                prefixes=ACCT_PREFIXES,
                name="margin.acct",
                clock=self.clock,
                silence_ms=self.mc.private_silence_ms,
            ),
        }
        self.changed = asyncio.Event()
        self.last: MarginState | None = None
        self.last_republish_ns = 0
        self.published = 0
        self.disagreeing = False

    def _wall_ms(self) -> int:
        return self.clock.now_ns() // _NS_PER_MS

    async def handle_sub(self, name: str) -> None:
        sub = self.subs[name]
        while True:
            d = await sub.recv(0.1)
            if d is None or isinstance(d.env.msg, PubHeartbeat):
                continue
            self.core.on_message(d.env.msg)
            self.changed.set()

    async def handle_timer(self) -> None:
        while True:
            await asyncio.sleep(self.mc.eval_interval_ms / 1000)  # the evaluation period
            self.step()

    def step(self) -> None:
        """Recompute when something was heard (the stress scan is not free), republish when
        due."""
        mono = self.clock.monotonic_ns()
        due = mono - self.last_republish_ns >= self.mc.republish_ms * _NS_PER_MS
        if not self.changed.is_set():
            if due and self.last is not None:
                self.pub.publish(topics.MARGIN, self.last)
                self.last_republish_ns = mono
            return
        self.changed.clear()
        rep = self.core.report(self._wall_ms())
        if rep is None:
            return
        st = rep.state
        if self.last is None or _numbers(st) != _numbers(self.last) or due:
            if self.last is not None and st.status != self.last.status:
                self.log.warning(
                    "margin status changed", old=self.last.status, new=st.status, reason=st.reason
                )
            self.pub.publish(topics.MARGIN, st)
            self.last = st
            self.last_republish_ns = mono
            self.published += 1
        gap = self.core.disagreement(st)
        if gap is not None and not self.disagreeing:
            self.log.warning(
                "margin ratio disagrees with the venue's",
                ours=str(st.mgn_ratio),
                venue=str(st.venue_mgn_ratio),
                rel_gap=f"{gap:.4f}",
            )
        elif gap is None and self.disagreeing:
            self.log.info("margin ratio agrees with the venue's again")
        self.disagreeing = gap is not None

    async def ctl_margin(self, req: CtlRequest) -> CtlReply:
        rep = self.core.report(self._wall_ms())
        if rep is None:
            return CtlReply(cmd=req.cmd, ok=False, detail="no account data yet")
        return CtlReply(cmd=req.cmd, ok=True, detail=json.dumps(report_json(rep, self.core)))

    def status(self) -> dict[str, StatusValue]:
        out: dict[str, StatusValue] = {"published": self.published, "disagreeing": self.disagreeing}
        if self.last is not None:
            out["status"] = self.last.status
            out["mgn_ratio"] = str(self.last.mgn_ratio)
            out["venue_mgn_ratio"] = str(self.last.venue_mgn_ratio)
        for name, sub in self.subs.items():
            out[f"sub.{name}.silent"] = sub.silent()
            out[f"sub.{name}.delivered"] = sub.delivered
        return out

    def metrics(self, snap: Snapshot) -> None:
        """Prometheus series (read at scrape time): the margin ratio, ours and the venue's, the
        status, equity and margins, and the distance to liquidation."""
        snap.counter("okxmm_margin_states_published", "MarginState messages published",
                     self.published)  # fmt: skip
        st = self.last
        if st is None:
            return
        snap.state("okxmm_margin_status", "Margin status against the thresholds", st.status,
                   ("healthy", "warning", "danger", "liquidation"))  # fmt: skip
        for source, ratio in (("okxmm", st.mgn_ratio), ("venue", st.venue_mgn_ratio)):
            if ratio is not None:
                snap.gauge("okxmm_margin_ratio", "Margin ratio (1 = 100 %)", float(ratio),
                           source=source)  # fmt: skip
        snap.gauge("okxmm_margin_adjusted_equity_usd", "Adjusted equity, USD", float(st.adj_eq))
        snap.gauge("okxmm_margin_maintenance_usd", "Maintenance margin, USD", float(st.mmr))
        snap.gauge("okxmm_margin_initial_usd", "Initial margin, USD", float(st.imr))
        if st.liq_move_pct is not None:
            snap.gauge("okxmm_margin_liquidation_move_pct",
                       "Move of the main underlying to liquidation, %", float(st.liq_move_pct),
                       uly=st.uly)  # fmt: skip

    async def run(self) -> None:
        actor = self.actor
        actor.on_ctl("margin", self.ctl_margin)
        actor.add_status(self.status)
        actor.metrics.add(self.metrics)
        await self.pub.start()
        try:
            await asyncio.gather(*(sub.start() for sub in self.subs.values()))
            for name in self.subs:
                actor.spawn(self.handle_sub(name), f"margin-sub-{name}")
            actor.spawn(self.handle_timer(), "margin-timer")
            await actor.stopping.wait()
        finally:
            await actor.cancel_tasks()
            for sub in self.subs.values():
                await sub.close()
            await self.pub.close()


def _numbers(s: MarginState) -> MarginState:
    """The state without its timestamp: equal numbers are republished only when due."""
    return msgspec.structs.replace(s, ts_ms=0)


async def _main(actor: Actor[OkxmmConfig]) -> None:
    await MarginMonitor(actor).run()


def main(cfg: OkxmmConfig) -> int:
    """Run the margin actor until stopped; returns the exit code."""
    return run_actor("margin", cfg, _main, ctl_endpoint=cfg.bus.bind_endpoint("ctl.margin"))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m risk.margin.monitor", description=__doc__)
    parser.add_argument("--config", default=None, help="okxmm YAML config file")
    args = parser.parse_args()
    exit_with(main(load_config(args.config)))
