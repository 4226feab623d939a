"""md-feed actor: OKX public market data onto the bus.

Inbox: OKX public WS (``books``, ``trades``, ``tickers``, ``mark-price``), OKX REST
(``public/instruments`` at start, ``market/books`` snapshots on resync), a timer tick, ctl.
Outbox (``md.pub`` + Clone snapshots on ``md.snap``):
``book|<inst>|`` self-contained ``BookTop`` (VALID only when rebuilt and verified; an empty
RESYNCING ``BookTop`` replaces it while rebuilding), ``bookstate|<inst>|`` ``BookStatus``,
``trade|<inst>|`` (not retained), ``ticker|<inst>|``, ``mark|<inst>|``, ``inst|<inst>|``.

The per-instrument logic is ``gateway.book_sync.BookSync`` (pure); this module only wires the
WS events, REST calls, timer and publisher to it. WS events are handled synchronously in the
WS reader (apply + publish never await), REST snapshots run as tasks.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections import deque

from loguru import logger

from engine import topics
from engine.actor import Actor, StatusValue, run_actor
from engine.bus.publisher import Publisher
from engine.clock import Clock
from engine.errors import OkxmmError
from engine.messages import BookState, BookStatus, BookTop, CtlReply, CtlRequest
from engine.metrics import Snapshot
from gateway.book_sync import CHANGED, NOTHING, BookSync, SyncOutput
from gateway.okx import codes, convert
from gateway.okx.convert import inst_type_of
from gateway.okx.rest import OkxRestClient
from gateway.okx.schemas import PushArg
from gateway.okx.ws import OkxWsClient
from gateway.okx.ws_protocol import (
    BooksPush,
    Connected,
    Disconnected,
    MarkPricePush,
    Notice,
    TickersPush,
    TradesPush,
    WsError,
    WsEvent,
)
from ops.config import OkxmmConfig, load_config

__all__ = ["MdFeed", "inst_type_of", "main"]

_NS_PER_MS = 1_000_000
_NS_PER_S = 1_000_000_000
_LAG_WINDOW = 2048


class MdFeed:
    """The feed's shell: one public WS connection, one REST client, one publisher."""

    def __init__(
        self,
        cfg: OkxmmConfig,
        *,
        publisher: Publisher,
        rest: OkxRestClient,
        clock: Clock,
    ) -> None:
        self.cfg = cfg
        self.md = cfg.md_feed
        self.pub = publisher
        self.rest = rest
        self.clock = clock
        self._monotonic_ns, self._now_ns = clock.monotonic_ns, clock.now_ns
        self.insts = list(dict.fromkeys(cfg.instruments))
        now = clock.monotonic_ns()
        self.syncs = {
            inst: BookSync(
                inst,
                depth=self.md.depth,
                now_ns=now,
                snapshot_wait_s=self.md.snapshot_wait_s,
                rest_retry_s=self.md.rest_retry_s,
                stale_after_s=self.md.stale_after_s,
                republish_ms=self.md.republish_ms,
            )
            for inst in self.insts
        }
        self._channel = self.md.channel
        self.book_args = {i: PushArg(channel=self._channel, instId=i) for i in self.insts}
        self._book_topics = {i: topics.book(i) for i in self.insts}
        self.ws = OkxWsClient(
            cfg.venue.urls(cfg.exchange)[1],
            name="public",
            clock=clock,
            on_event=self.on_event,
            ping_after_s=self.md.ping_after_s,
        )
        self._tasks: set[asyncio.Task[None]] = set()
        self._pending_books: set[str] = set()
        self._closed = False
        self._flush_scheduled = False
        # venue ts of each published BookTop → its publish (wall ms), the last _LAG_WINDOW
        self._lags_ms: deque[int] = deque(maxlen=_LAG_WINDOW)
        self._rate_mark = (now, 0)
        self.updates_per_s = 0.0
        self.trades = 0
        self.ws_errors = 0

    # ------------------------------------------------------------------------------- startup
    def subscriptions(self) -> list[PushArg]:
        args = list(self.book_args.values())
        for inst in self.insts:
            if self.md.trades:
                args.append(PushArg(channel="trades", instId=inst))
            if self.md.tickers:
                args.append(PushArg(channel="tickers", instId=inst))
            if self.md.mark_price and inst_type_of(inst) != "SPOT":
                args.append(PushArg(channel="mark-price", instId=inst))
        return args

    def publish_initial_state(self) -> None:
        """Every book starts RESYNCING (late joiners must not see an old VALID book)."""
        for inst, sync in self.syncs.items():
            self.pub.publish(
                topics.book_state(inst), BookStatus(inst, BookState.RESYNCING, "start")
            )
            self.pub.publish(topics.book(inst), BookTop(inst, BookState.RESYNCING, -1, 0, [], []))
            del sync

    async def load_instruments(self, stopping: asyncio.Event) -> None:
        """Publish ``InstrumentInfo`` for every instrument (retrying until it works)."""
        missing = set(self.insts)
        delay = 0.5
        while missing and not stopping.is_set():
            for inst in sorted(missing):
                try:
                    found = await self.rest.instruments(inst_type_of(inst), inst)
                except OkxmmError as exc:
                    logger.warning("instrument fetch failed", inst=inst, error=str(exc))
                    continue
                for d in found:
                    if d.instId == inst:
                        self.pub.publish(topics.instrument(inst), convert.instrument_info(d))
                        missing.discard(inst)
                if inst in missing:
                    logger.error("instrument unknown at venue", inst=inst)
            if missing:
                try:
                    async with asyncio.timeout(delay):
                        await stopping.wait()
                except TimeoutError:
                    delay = min(delay * 2, 30.0)

    # ------------------------------------------------------------------------------ ws input
    def on_event(self, ev: WsEvent) -> None:
        """Every WS event, in order; never awaits."""
        if self._closed:
            return  # shutting down: the publisher may already be closed
        if type(ev) is BooksPush:  # the hot path (a final class: the exact type is enough)
            sync = self.syncs.get(ev.inst)
            if sync is None or ev.channel != self._channel:
                return
            now = self._monotonic_ns()
            action, on_book = ev.action, sync.on_book
            for d in ev.data:
                out = on_book(action, d, now)
                if out is CHANGED:
                    # conflate: the latest book is published once the burst of frames is in
                    self._pending_books.add(sync.inst)
                    if not self._flush_scheduled:
                        self._flush_scheduled = True
                        asyncio.get_running_loop().call_soon(self.flush)
                elif out is not NOTHING:
                    self.handle(sync, out)
            return
        now = self.clock.monotonic_ns()
        if isinstance(ev, TradesPush):
            for t in ev.data:
                self.trades += 1
                self.pub.publish(topics.trade(t.instId), convert.trade(t), retain=False)
        elif isinstance(ev, TickersPush):
            for tk in ev.data:
                self.pub.publish(topics.ticker(tk.instId), convert.ticker(tk))
        elif isinstance(ev, MarkPricePush):
            for m in ev.data:
                self.pub.publish(topics.mark(m.instId), convert.mark_price(m))
        elif isinstance(ev, Connected):
            for sync in self.syncs.values():
                self.handle(sync, sync.on_connected(now))
        elif isinstance(ev, Disconnected):
            for sync in self.syncs.values():
                self.handle(sync, sync.on_disconnect(now))
        elif isinstance(ev, WsError):
            self.ws_errors += 1
            logger.warning("okx ws error event", code=ev.code, msg=ev.msg)
        elif isinstance(ev, Notice) and ev.code == codes.SERVICE_UPGRADE:
            self.ws.drop("venue reconnect notice 64008")

    def flush(self) -> None:
        """Publish the latest book of every instrument that moved (drain, then act)."""
        self._flush_scheduled = False
        if self._closed:
            return
        pending, self._pending_books = self._pending_books, set()
        now = self._monotonic_ns()
        wall_ms = self._now_ns() // _NS_PER_MS
        for inst in pending:
            sync = self.syncs[inst]
            if sync.state is BookState.VALID:
                self.pub.publish(self._book_topics[inst], sync.top_message(now))
                self._lags_ms.append(wall_ms - sync.ts_ms)

    def handle(self, sync: BookSync, out: SyncOutput) -> None:
        """Carry out what the core asked for.

        Moves of a VALID book are conflated per instrument and published once the current burst
        of WS frames is processed (``call_soon``): under load the bus gets the latest book, not
        every intermediate one. A state change drops a pending move: after a failure the book is
        gone (and was suspect), after a resync the new book is published with the change."""
        if self._closed:
            return
        inst = sync.inst
        if out.book_changed:
            self._pending_books.add(inst)
            if not self._flush_scheduled:
                self._flush_scheduled = True
                asyncio.get_running_loop().call_soon(self.flush)
        if out.status is not None:
            self._pending_books.discard(inst)
            if out.status.state is BookState.RESYNCING:
                logger.warning("book resyncing", inst=inst, reason=out.status.reason)
            else:
                logger.info("book valid", inst=inst, seq_id=sync.seq_id)
            self.pub.publish(topics.book_state(inst), out.status)
        if out.book is not None:
            self.pub.publish(topics.book(inst), out.book)
        if out.resubscribe:
            self.ws.resubscribe([self.book_args[inst]])
        if out.fetch_snapshot is not None:
            task = asyncio.get_running_loop().create_task(
                self._fetch_snapshot(sync, out.fetch_snapshot), name=f"snapshot-{inst}"
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _fetch_snapshot(self, sync: BookSync, attempt: int) -> None:
        try:
            d = await self.rest.books(sync.inst, self.md.rest_depth)
        except OkxmmError as exc:
            # the timer asks again after rest_retry_s
            logger.warning("book snapshot fetch failed", inst=sync.inst, error=str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - the timer retries; a bad answer is logged
            logger.opt(exception=exc).error("book snapshot fetch crashed", inst=sync.inst)
            return
        self.handle(sync, sync.on_rest_snapshot(attempt, d, self.clock.monotonic_ns()))

    # --------------------------------------------------------------------------------- timer
    async def run_timer(self) -> None:
        period = self.md.timer_ms / 1000
        while True:
            await asyncio.sleep(period)
            now = self.clock.monotonic_ns()
            for sync in self.syncs.values():
                self.handle(sync, sync.on_timer(now))
            t0, n0 = self._rate_mark
            n = sum(s.updates for s in self.syncs.values())
            if now - t0 >= _NS_PER_S:
                self.updates_per_s = (n - n0) * _NS_PER_S / (now - t0)
                self._rate_mark = (now, n)

    # -------------------------------------------------------------------------------- status
    def status(self) -> dict[str, StatusValue]:
        lags = sorted(self._lags_ms)
        out: dict[str, StatusValue] = {
            "ws_state": str(self.ws.state),
            "ws_reconnects": self.ws.reconnects,
            "ws_errors": self.ws_errors,
            "updates_per_s": round(self.updates_per_s, 1),
            "lag_ms_p50": lags[len(lags) // 2] if lags else 0,
            "lag_ms_p99": lags[len(lags) * 99 // 100] if lags else 0,
            "lag_ms_max": lags[-1] if lags else 0,
            "trades": self.trades,
            "published": self.pub.published,
        }
        for inst, s in self.syncs.items():
            out[f"{inst}.state"] = str(s.state)
            out[f"{inst}.seq_id"] = s.seq_id
            out[f"{inst}.updates"] = s.updates
            out[f"{inst}.resyncs"] = s.resyncs
            out[f"{inst}.gaps"] = s.gaps
            out[f"{inst}.checksum_failures"] = s.checksum_failures
            out[f"{inst}.checksums_verified"] = s.checksums_verified
            out[f"{inst}.rest_bootstraps"] = s.rest_bootstraps
        return out

    def metrics(self, snap: Snapshot) -> None:
        """Prometheus series, read from what ``status`` reads (nothing added on the hot path)."""
        self.ws.metrics(snap, "public")
        snap.counter("okxmm_bus_published", "Messages published on the bus.", self.pub.published)
        snap.counter("okxmm_md_trades", "Public trades received.", self.trades)
        lags = sorted(self._lags_ms)
        for q in (0.5, 0.99):
            lag = lags[min(len(lags) - 1, int(q * len(lags)))] if lags else 0
            snap.gauge(
                "okxmm_md_book_lag_seconds",
                "Venue book timestamp to our publication, over the recent books.",
                lag / 1000,
                quantile=str(q),
            )
        for inst, s in self.syncs.items():
            snap.state(
                "okxmm_book_state",
                "1 for the book's current state.",
                str(s.state),
                BookState,
                inst=inst,
            )
            snap.counter("okxmm_book_updates", "Book updates applied.", s.updates, inst=inst)
            snap.counter("okxmm_book_resyncs", "Book resyncs.", s.resyncs, inst=inst)
            snap.counter("okxmm_book_gaps", "Book sequence gaps.", s.gaps, inst=inst)
            snap.counter(
                "okxmm_book_checksum_failures",
                "Book checksum mismatches.",
                s.checksum_failures,
                inst=inst,
            )
            snap.gauge("okxmm_book_seq_id", "Last applied book seqId.", s.seq_id, inst=inst)

    async def ctl_resync(self, req: CtlRequest) -> CtlReply:
        inst = req.args.get("inst", "")
        targets = [inst] if inst else list(self.syncs)
        unknown = [i for i in targets if i not in self.syncs]
        if unknown:
            return CtlReply(cmd=req.cmd, ok=False, detail=f"unknown instrument {unknown[0]}")
        now = self.clock.monotonic_ns()
        for i in targets:
            sync = self.syncs[i]
            self.handle(sync, sync.request_resync("ctl resync", now))
        return CtlReply(cmd=req.cmd, ok=True, detail=f"resyncing {len(targets)}")

    async def close(self) -> None:
        self._closed = True
        await self.ws.close()
        for task in list(self._tasks):
            task.cancel()


async def _run(actor: Actor[OkxmmConfig]) -> None:
    cfg = actor.cfg
    pub = Publisher(
        actor.ctx,
        cfg.bus.bind_endpoint("md.pub"),
        src=actor.name,
        epoch=actor.epoch,
        clock=actor.clock,
        snap_endpoint=cfg.bus.bind_endpoint("md.snap"),
    )
    await pub.start()
    rest = OkxRestClient(
        cfg.venue.urls(cfg.exchange)[0], None, simulated=cfg.venue.simulated, clock=actor.clock
    )
    feed = MdFeed(cfg, publisher=pub, rest=rest, clock=actor.clock)
    feed.publish_initial_state()
    actor.add_status(feed.status)
    actor.metrics.add(feed.metrics)
    actor.on_ctl("resync", feed.ctl_resync)
    feed.ws.subscribe(feed.subscriptions())
    actor.spawn(feed.ws.run(), "ws-public")
    actor.spawn(feed.run_timer(), "book-timer")
    actor.spawn(feed.load_instruments(actor.stopping), "instruments")
    try:
        await actor.stopping.wait()
    finally:
        await feed.close()
        await rest.close()
        await pub.close()


def main(cfg: OkxmmConfig) -> int:
    """Run the md-feed actor until stopped; returns the exit code."""
    return run_actor("md-feed", cfg, _run, ctl_endpoint=cfg.bus.bind_endpoint("ctl.md-feed"))


def _cli(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gateway.md_feed")
    parser.add_argument("--config", default=None, help="okxmm YAML config")
    args = parser.parse_args(argv)
    return main(load_config(args.config))


if __name__ == "__main__":
    sys.exit(_cli())
