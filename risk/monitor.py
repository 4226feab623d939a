"""The risk actor (``okxmm actor risk`` / ``python -m risk.monitor --config F``).

Inbox:
- md.pub / md.snap: ``book|``, ``bookstate|``, ``ticker|``, ``mark|``, ``inst|`` (md-feed);
- acct.pub / acct.snap: ``acct|``, ``pos|``, ``order|``, ``fill|``, ``stream|``,
  ``recentfills|`` (private-gw; the ring of recent fills heals fills missed while risk was down);
- ord.pub / ord.snap: ``ord|<strategy>|`` order lifecycle, ``strat|`` status (router);
- margin.pub / margin.snap: ``margin|`` ``MarginState`` (the margin actor, when it runs:
  REDUCING at its ``reduce``, HALTED at its ``halt``, REDUCING while it is silent);
- ctl.risk: ``halt [reason, scope, key]``, ``resume [scope, key]``, ``risk`` (numbers), plus the
  runtime's ping/status/stop.
Outbox (risk.pub / risk.snap, Clone, heartbeats from the Publisher):
- ``risk|``: ``RiskSnapshot`` when the numbers change, at most every ``publish_interval_ms``;
- ``riskstate|<scope>|<key>|``: ``RiskState`` for the account (``*``), every instrument and
  strategy, retained, published at start and on every change (immediately, not throttled);
- ``risklimits|inst|<instId>|``: ``RiskLimits``.
States and the latest snapshot are re-sent every ``republish_ms`` even when unchanged.
State on disk (``risk.state_path``, default ``<var_dir>/risk.state``): inception, peaks, halts,
fills — saved at most every ``persist_interval_ms`` when changed, at once on halt/resume and at
stop.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from pathlib import Path

import msgspec

from engine import topics
from engine.actor import Actor, StatusValue, exit_with, run_actor
from engine.bus.publisher import Publisher
from engine.bus.subscriber import Subscriber
from engine.messages import (
    CtlReply,
    CtlRequest,
    PubHeartbeat,
    RiskSnapshot,
    RiskState,
    TradingState,
)
from engine.metrics import Snapshot, subscriber_series
from ops.config import OkxmmConfig, load_config
from risk.core import RiskCore, Source
from risk.persist import PersistedState, encode_state, load_state, save_state
from risk.state import StateChange

__all__ = ["RiskMonitor", "main"]

_NS_PER_MS = 1_000_000
MD_PREFIXES = [topics.BOOKS, topics.BOOK_STATES, topics.TICKERS, topics.MARKS, topics.INSTRUMENTS]
# Explicit prefixes, not "": a subscription to everything would also track ``hb|`` itself.
ACCT_PREFIXES = [
    topics.ACCOUNT,
    topics.POSITIONS,
    topics.ORDERS,
    topics.FILLS,
    topics.STREAMS,
    topics.RECENT_FILLS,
]
ORD_PREFIXES = [topics.ORDER_EVENTS, topics.STRATEGY_STATUSES]


def _instruments(cfg: OkxmmConfig) -> list[str]:
    insts = [*cfg.instruments, *(s.inst for s in cfg.strategies), *cfg.risk.extra_instruments]
    return list(dict.fromkeys(insts))


class RiskMonitor:
    """Shell around :class:`RiskCore`: sockets, timers, persistence, ctl."""

    def __init__(self, actor: Actor[OkxmmConfig]) -> None:
        self.actor = actor
        cfg = actor.cfg
        self.rc = cfg.risk
        self.state_path = Path(self.rc.state_path or Path(cfg.var_dir) / "risk.state")
        self.clock = actor.clock
        self.log = actor.log
        persisted, problem = self._load()
        self.core = RiskCore(
            self.rc,
            _instruments(cfg),
            [s.name for s in cfg.strategies],
            persisted,
            started_ms=self._wall_ms(),
        )
        if problem:
            self.core.halt(problem, self._wall_ms())
        bus = cfg.bus
        self.pub = Publisher(
            actor.ctx,
            bus.bind_endpoint("risk.pub"),
            src="risk",
            epoch=actor.epoch,
            clock=self.clock,
            snap_endpoint=bus.bind_endpoint("risk.snap"),
            heartbeat_ms=self.rc.heartbeat_ms,
        )
        self.subs: dict[Source, Subscriber] = {
            "md": Subscriber(
                actor.ctx,
                bus.connect_endpoint("md.pub"),
                snap_endpoint=bus.connect_endpoint("md.snap"),
                prefixes=MD_PREFIXES,
                name="risk.md",
                clock=self.clock,
                silence_ms=self.rc.md_silence_ms,
            ),
            "acct": Subscriber(
                actor.ctx,
                bus.connect_endpoint("acct.pub"),
                snap_endpoint=bus.connect_endpoint("acct.snap"),
                prefixes=ACCT_PREFIXES,
                name="risk.acct",
                clock=self.clock,
                silence_ms=self.rc.private_silence_ms,
            ),
            "ord": Subscriber(
                actor.ctx,
                bus.connect_endpoint("ord.pub"),
                snap_endpoint=bus.connect_endpoint("ord.snap"),
                prefixes=ORD_PREFIXES,
                name="risk.ord",
                clock=self.clock,
            ),
        }
        if cfg.margin_on:
            self.subs["margin"] = Subscriber(
                actor.ctx,
                bus.connect_endpoint("margin.pub"),
                snap_endpoint=bus.connect_endpoint("margin.snap"),
                prefixes=[topics.MARGIN],
                name="risk.margin",
                clock=self.clock,
                silence_ms=cfg.margin.private_silence_ms,
            )
        self.changed = asyncio.Event()
        self.pending: RiskSnapshot | None = None
        self.last_published: RiskSnapshot | None = None
        self.last_publish_ns = 0
        self.last_persist_ns = 0
        self.last_republish_ns = 0
        self.last_summary_ns = 0
        self.saved: bytes = b""
        self.snapshots_published = 0
        self.state_changes = 0

    # ------------------------------------------------------------------------------ helpers
    def _wall_ms(self) -> int:
        return self.clock.now_ns() // _NS_PER_MS

    def _load(self) -> tuple[PersistedState | None, str]:
        path = self.state_path
        try:
            return load_state(path), ""
        except ValueError as exc:
            # Starting from scratch would forget a halt: keep the file aside and start HALTED.
            aside = path.with_name(f"{path.name}.corrupt-{self._wall_ms()}")
            path.replace(aside)
            self.log.error(
                "risk state unreadable; starting HALTED", error=str(exc), moved_to=str(aside)
            )
            return None, f"risk state file unreadable (kept as {aside.name})"

    def _publish_state(self, scope: str, key: str) -> None:
        st = self.core.states[(scope, key)]
        self.pub.publish(
            topics.risk_state(scope, key),
            RiskState(scope=scope, key=key, state=st.state, reason=st.reason),
        )

    def _on_changes(self, changes: list[StateChange]) -> None:
        for ch in changes:
            self.state_changes += 1
            self.log.warning(
                "risk state changed",
                scope=ch.scope,
                key=ch.key,
                old=ch.old.value,
                new=ch.new.value,
                reason=ch.reason,
            )
            self._publish_state(ch.scope, ch.key)

    def persist(self, force: bool = False) -> None:
        now = self.clock.monotonic_ns()
        if not force and now - self.last_persist_ns < self.rc.persist_interval_ms * _NS_PER_MS:
            return
        data = encode_state(self.core.persisted())
        if data != self.saved:
            save_state(self.state_path, data)
            self.saved = data
        self.last_persist_ns = now

    # ------------------------------------------------------------------------------- loops
    async def handle_sub(self, source: Source) -> None:
        sub = self.subs[source]
        while True:
            d = await sub.recv(0.1)
            if source == "acct" and sub.synced and not self.core.positions_synced:
                self.core.positions_synced = True
                self.changed.set()
            if d is None or isinstance(d.env.msg, PubHeartbeat):
                continue
            self.core.on_message(source, d.env.msg, self.clock.monotonic_ns(), d.from_snapshot)
            self.changed.set()

    async def handle_timer(self) -> None:
        """Evaluate on change, at most every ``eval_min_interval_ms`` (bursts coalesce), and at
        least every 100 ms (ages and silences move on their own)."""
        tick_s = min(self.rc.publish_interval_ms, 100) / 1000
        gap_s = self.rc.eval_min_interval_ms / 1000
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(tick_s):
                    await self.changed.wait()
            if gap_s > 0:
                await asyncio.sleep(gap_s)  # the throttle itself: let a burst land first
            self.changed.clear()
            self.step()

    def step(self) -> None:
        """Evaluate now: publish state changes at once, the snapshot when due, persist."""
        mono = self.clock.monotonic_ns()
        self.core.private_silent = self.subs["acct"].silent()
        self.core.md_silent = self.subs["md"].silent()
        if "margin" in self.subs:
            self.core.margin_silent = self.subs["margin"].silent()
        report = self.core.evaluate(mono, self._wall_ms())
        self._on_changes(report.changes)
        for lim in report.limits:
            self.pub.publish(topics.risk_limits(lim.scope, lim.key), lim)
        if report.snapshot is not None:
            self.pending = report.snapshot
        due = mono - self.last_publish_ns >= self.rc.publish_interval_ms * _NS_PER_MS
        if self.pending is not None and due:
            snap, self.pending = self.pending, None
            if self.last_published is None or _numbers(snap) != _numbers(self.last_published):
                self.pub.publish(topics.RISK, snap)
                self.last_published = snap
                self.last_publish_ns = mono
                self.snapshots_published += 1
        if mono - self.last_republish_ns >= self.rc.republish_ms * _NS_PER_MS:
            self.last_republish_ns = mono
            for scope, key in list(self.core.states):
                self._publish_state(scope, key)
            for lim in self.core.limit_messages():
                self.pub.publish(topics.risk_limits(lim.scope, lim.key), lim)
            if self.last_published is not None and self.pending is None:
                self.pub.publish(topics.RISK, self.last_published)
        if report.changes:
            self.persist(force=True)
        else:
            self.persist()
        interval = self.rc.summary_interval_ms * _NS_PER_MS
        if interval and mono - self.last_summary_ns >= interval:
            self.last_summary_ns = mono
            self.log_summary()

    def log_summary(self) -> None:
        """The original's printed summary (§6.9), as one log line per trading instrument."""
        for sm in self.core.strategy_measurements().values():
            q = sm.trading_instrument_exposure_in_quote
            self.log.info(
                "risk summary",
                inst=sm.trading_instrument,
                inst_type=sm.trading_instrument_type,
                pnl_usd=f"{sm.pnl_in_usd_since_running:.2f}",
                asset_value_change_usd=f"{sm.asset_value_change_in_usd_since_running:.2f}",
                exposure_base=f"{sm.trading_instrument_exposure_in_base:.4f} {sm.exposure_ccy}",
                exposure_quote="-" if q is None else f"{q:.2f} {sm.quote_ccy}",
                net_filled_qty=str(sm.net_filled_qty),
                trading_volume=str(sm.trading_volume),
                peak_pnl_usd=f"{self.core.peak_pnl_usd:.2f}",
            )

    # --------------------------------------------------------------------------------- ctl
    async def ctl_halt(self, req: CtlRequest) -> CtlReply:
        reason = req.args.get("reason") or "operator halt"
        scope, key = req.args.get("scope", "account"), req.args.get("key", "*")
        changes = self.core.halt(f"kill switch: {reason}", self._wall_ms(), scope, key)
        self._on_changes(changes)
        if not changes:
            self._publish_state(scope, key)  # already halted: publish the new reason anyway
        self.persist(force=True)
        return CtlReply(cmd=req.cmd, ok=True, detail=f"{scope}:{key} HALTED ({reason})")

    async def ctl_resume(self, req: CtlRequest) -> CtlReply:
        scope, key = req.args.get("scope"), req.args.get("key")
        changes = self.core.resume(scope, key)
        self._on_changes(changes)
        self.step()  # a condition that still holds shows up at once (REDUCING)
        self.persist(force=True)
        states = ", ".join(f"{s}:{k}={st.state.value}" for (s, k), st in self.core.states.items())
        return CtlReply(cmd=req.cmd, ok=True, detail=f"resumed; {states}")

    async def ctl_risk(self, req: CtlRequest) -> CtlReply:
        return CtlReply(cmd=req.cmd, ok=True, status=self.status())

    def status(self) -> dict[str, StatusValue]:
        out: dict[str, StatusValue] = {
            "snapshots_published": self.snapshots_published,
            "state_changes": self.state_changes,
            "inception": self.core.inception is not None,
            "peak_pnl_usd": str(self.core.peak_pnl_usd),
        }
        m = self.core.measurement
        if m is not None:
            out["pnl_in_usd_since_running"] = str(m.pnl_in_usd_since_running)
            out["asset_value_change_in_usd_since_running"] = str(
                m.asset_value_change_in_usd_since_running
            )
        for (scope, key), st in self.core.states.items():
            out[f"state.{scope}.{key}"] = f"{st.state.value} {st.reason}".strip()
        for name, sub in self.subs.items():
            out[f"sub.{name}.silent"] = sub.silent()
            out[f"sub.{name}.delivered"] = sub.delivered
            out[f"sub.{name}.gaps"] = sub.gaps
            out[f"sub.{name}.resyncs"] = sub.resyncs
        if self.core.current is not None and self.core.current.missing_instruments:
            out["missing_instruments"] = ",".join(sorted(self.core.current.missing_instruments))
        ledger = self.core.ledger
        out["claims"] = len(ledger.claims)
        out["fills"] = len(ledger.fills)
        out["fills_booked"] = ledger.booked(self.core.market.instrument)
        out["fills_late_dropped"] = ledger.late_dropped
        for inst, floor in ledger.floors.items():
            out[f"fill_floor.{inst}"] = f"{floor[0]}:{floor[1]}"
        out["state_bytes"] = len(self.saved)
        return out

    def metrics(self, snap: Snapshot) -> None:
        """Prometheus series: risk states, P&L, positions and exposures of the last snapshot."""
        for (scope, key), st in self.core.states.items():
            snap.state(
                "okxmm_risk_state",
                "1 for the trading state of a risk scope.",
                st.state.value,
                TradingState,
                scope=scope,
                key=key,
            )
        snap.counter("okxmm_risk_state_changes", "Risk state changes.", self.state_changes)
        snap.counter("okxmm_risk_snapshots", "Risk snapshots published.", self.snapshots_published)
        snap.gauge(
            "okxmm_risk_peak_pnl_usd", "Peak P&L since running, USD.", float(self.core.peak_pnl_usd)
        )
        last = self.last_published
        if last is not None:
            snap.gauge(
                "okxmm_pnl_usd", "P&L since running, USD.", float(last.pnl_in_usd_since_running)
            )
            snap.gauge("okxmm_realized_pnl_usd", "Realized P&L, USD.", float(last.realized_pnl_usd))
            snap.gauge(
                "okxmm_unrealized_pnl_usd", "Unrealized P&L, USD.", float(last.unrealized_pnl_usd)
            )
            for inst, qty in last.net_filled_qty.items():
                snap.gauge(
                    "okxmm_position", "Net filled quantity per instrument.", float(qty), inst=inst
                )
            for inst, v in last.exposures_quote.items():
                snap.gauge(
                    "okxmm_exposure_quote",
                    "Exposure per instrument, quote ccy.",
                    float(v),
                    inst=inst,
                )
            for inst, v in last.pnl_by_inst_usd.items():
                snap.gauge("okxmm_pnl_by_inst_usd", "P&L per instrument, USD.", float(v), inst=inst)
            for strategy, v in last.pnl_by_strategy_usd.items():
                snap.gauge(
                    "okxmm_pnl_by_strategy_usd",
                    "P&L per strategy, USD.",
                    float(v),
                    strategy=strategy,
                )
        now = self.clock.monotonic_ns()
        for bus, sub in self.subs.items():
            subscriber_series(snap, bus, sub, now)

    # ------------------------------------------------------------------------------- main
    async def run(self) -> None:
        actor = self.actor
        actor.on_ctl("halt", self.ctl_halt)
        actor.on_ctl("resume", self.ctl_resume)
        actor.on_ctl("risk", self.ctl_risk)
        actor.add_status(self.status)
        actor.metrics.add(self.metrics)
        await self.pub.start()
        # Evaluate before the first publication: with nothing heard yet, the states published
        # first say so (REDUCING: no account / market data) instead of a default ACTIVE.
        self.step()
        for scope, key in list(self.core.states):
            self._publish_state(scope, key)
        for st in self.core.states.values():
            if st.state.value != "ACTIVE":
                self.log.warning(
                    "risk state at start",
                    scope=st.scope,
                    key=st.key,
                    state=st.state.value,
                    reason=st.reason,
                )
        try:
            # concurrently: each start waits (bounded) for its publisher's snapshot
            await asyncio.gather(*(sub.start() for sub in self.subs.values()))
            for source in self.subs:
                actor.spawn(self.handle_sub(source), f"risk-sub-{source}")
            actor.spawn(self.handle_timer(), "risk-timer")
            await actor.stopping.wait()
        finally:
            await actor.cancel_tasks()
            self.log_summary()
            self.persist(force=True)
            for sub in self.subs.values():
                await sub.close()
            await self.pub.close()


def _numbers(s: RiskSnapshot) -> RiskSnapshot:
    """The snapshot without its timestamp: equal numbers are not republished."""
    return msgspec.structs.replace(s, current_ts_ms=0)


async def _main(actor: Actor[OkxmmConfig]) -> None:
    await RiskMonitor(actor).run()


def main(cfg: OkxmmConfig) -> int:
    """Run the risk monitor until stopped; returns the exit code."""
    return run_actor("risk", cfg, _main, ctl_endpoint=cfg.bus.bind_endpoint("ctl.risk"))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m risk.monitor", description=__doc__)
    parser.add_argument("--config", default=None, help="okxmm YAML config file")
    args = parser.parse_args()
    exit_with(main(load_config(args.config)))
