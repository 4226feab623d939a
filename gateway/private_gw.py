"""private-gw actor: the OKX account's private streams onto the bus.

Inbox: OKX private WS (login; ``account``, ``positions``, ``orders``, ``balance_and_position``),
OKX REST for reconciliation (balance, positions, orders-pending, order, fills), ctl.
Outbox (``acct.pub`` + Clone snapshots on ``acct.snap``): ``acct|`` ``AccountUpdate`` (whole
account), ``pos|<inst>|<mgnMode>|<posSide>|`` ``Position``, ``order|<inst>|`` ``OrderUpdate``
(retained only while not terminal), ``fill|<inst>|`` ``Fill`` (not retained, once per tradeId),
``recentfills|<slot>|`` ``RecentFills`` (the ring of recent fills, retained),
``acctcfg|`` ``AccountConfig`` (acctLv, posMode: retained, loaded by REST on every reconcile,
so a mode changed while the stream was down is seen again), ``stream|private|`` ``StreamStatus``.

On every (re)connected session the gateway first reconciles by REST and publishes that state,
while WS pushes are buffered; then it replays the buffer and marks the stream up. The REST
fills are paged back (``after`` = billId) until a fill already published, or the fill ring's
capacity, so fills made while the gateway was down reach the bus. The last fills published are
retained in a bounded ring (``recentfills|<slot>|``, :mod:`gateway.private_state`) that is
republished every ``RING_FLUSH_S`` when it changed: risk replays it after its own restart.
Login errors are logged once per attempt with the OKX code and retried with backoff by the WS
client.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from loguru import logger

from engine import topics
from engine.actor import Actor, StatusValue, run_actor
from engine.bus.publisher import Publisher
from engine.clock import Clock
from engine.errors import AuthError, OkxmmError
from engine.messages import StreamStatus
from engine.metrics import Snapshot
from gateway.okx import convert
from gateway.okx.codes import SERVICE_UPGRADE, is_auth_code
from gateway.okx.rest import OkxRestClient
from gateway.okx.schemas import FillData, OrderData, PushArg
from gateway.okx.ws import OkxWsClient
from gateway.okx.ws_protocol import (
    AccountPush,
    BalanceAndPositionPush,
    Connected,
    Disconnected,
    Notice,
    OrdersPush,
    PositionsPush,
    WsError,
    WsEvent,
)
from gateway.private_state import PrivateState, Publish
from ops.config import OkxmmConfig, load_config, resolve_credentials

__all__ = ["STREAM", "PrivateGw", "main"]

STREAM = "private"
_MAX_BUFFER = 50_000
_MAX_FINAL_QUERIES = 50
RING_FLUSH_S = 0.2  # a changed fill-ring slot is republished at most this often

_Push = AccountPush | PositionsPush | OrdersPush | BalanceAndPositionPush


class PrivateGw:
    """The gateway's shell: private WS + REST reconciliation + publisher."""

    def __init__(
        self, cfg: OkxmmConfig, *, publisher: Publisher, rest: OkxRestClient, clock: Clock
    ) -> None:
        self.cfg = cfg
        self.gw = cfg.private_gw
        self.pub = publisher
        self.rest = rest
        self.clock = clock
        self.state = PrivateState(clock, cfg.private_gw.fill_dedup_size)
        self.ws = OkxWsClient(
            cfg.venue.urls(cfg.exchange)[2],
            name="private",
            clock=clock,
            on_event=self.on_event,
            credentials=resolve_credentials(cfg),
            venue_time_s=lambda: rest.now_ms() // 1000,
            ping_after_s=cfg.private_gw.ping_after_s,
        )
        self.reconciling = True
        self._buffer: list[_Push] = []
        self._reconcile_task: asyncio.Task[None] | None = None
        self.reconciles = 0
        self._closed = False
        self.ws_errors = 0
        self.last_error_code = ""

    def subscriptions(self) -> list[PushArg]:
        it = self.gw.inst_type
        return [
            PushArg(channel="account"),
            PushArg(channel="positions", instType=it),
            PushArg(channel="orders", instType=it),
            PushArg(channel="balance_and_position"),
        ]

    def emit(self, effects: list[Publish]) -> None:
        for e in effects:
            self.pub.publish(e.topic, e.msg, retain=e.retain)
            if e.forget:
                self.pub.forget(e.topic)

    async def flush_ring(self) -> None:
        """Republish changed fill-ring slots, at most every ``RING_FLUSH_S``."""
        while True:
            await asyncio.sleep(RING_FLUSH_S)  # the flush period itself, not a synchronisation
            if not self._closed:
                self.emit(self.state.flush_ring())

    def _status(self, up: bool, reason: str) -> None:
        self.pub.publish(topics.stream(STREAM), StreamStatus(STREAM, up, reason))

    # ------------------------------------------------------------------------------ ws input
    def on_event(self, ev: WsEvent) -> None:
        if self._closed:
            return  # shutting down: the publisher may already be closed
        if isinstance(ev, AccountPush | PositionsPush | OrdersPush | BalanceAndPositionPush):
            if self.reconciling:
                if len(self._buffer) >= _MAX_BUFFER:
                    logger.warning("private buffer full during reconcile; restarting it")
                    self._buffer.clear()
                    self._start_reconcile()
                self._buffer.append(ev)
            else:
                self.apply(ev)
        elif isinstance(ev, Connected):
            self._start_reconcile()
        elif isinstance(ev, Disconnected):
            self._stop_reconcile()
            self.reconciling = True
            self._buffer.clear()
            self._status(False, ev.reason)
        elif isinstance(ev, WsError):
            self.ws_errors += 1
            self.last_error_code = ev.code
            if is_auth_code(ev.code):
                # the WS client logged it once already; tell the bus the stream is down and why
                self._status(False, f"login refused {ev.code}")
            else:
                logger.warning("okx private ws error event", code=ev.code, msg=ev.msg)
        elif isinstance(ev, Notice) and ev.code == SERVICE_UPGRADE:
            self.ws.drop("venue reconnect notice 64008")

    def apply(self, ev: _Push) -> None:
        if isinstance(ev, OrdersPush):
            self.emit(self.state.on_orders(ev.data))
        elif isinstance(ev, AccountPush):
            self.emit(self.state.on_account(ev.data, snapshot=ev.event_type == "snapshot"))
        elif isinstance(ev, PositionsPush):
            self.emit(self.state.on_positions(ev.data))
        else:
            self.emit(self.state.on_balance_and_position(ev.data))

    # ----------------------------------------------------------------------------- reconcile
    def _start_reconcile(self) -> None:
        self._stop_reconcile()
        self.reconciling = True
        self._status(False, "reconciling")
        self._reconcile_task = asyncio.get_running_loop().create_task(
            self._reconcile(), name="reconcile"
        )

    def _stop_reconcile(self) -> None:
        if self._reconcile_task is not None and not self._reconcile_task.done():
            self._reconcile_task.cancel()
        self._reconcile_task = None

    async def _reconcile(self) -> None:
        delay = self.gw.reconcile_retry_s
        while True:
            try:
                effects = await self._fetch_state()
                break
            except AuthError as exc:
                self.last_error_code = exc.code
                logger.error(
                    "okx REST auth refused during reconcile; check credentials and clock",
                    code=exc.code,
                    retry_in_s=delay,
                )
            except OkxmmError as exc:
                logger.warning("reconcile failed", error=str(exc), retry_in_s=delay)
            except Exception as exc:  # noqa: BLE001 - never leave the stream stuck reconciling
                logger.opt(exception=exc).error("reconcile crashed", retry_in_s=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)
        self.emit(effects)
        self.emit(self.state.flush_ring())
        buffered, self._buffer = self._buffer, []
        for ev in buffered:
            self.apply(ev)
        self.reconciling = False
        self.reconciles += 1
        self._status(True, "")
        logger.info(
            "private stream reconciled",
            open_orders=len(self.state.open_orders),
            replayed=len(buffered),
        )

    async def _fetch_state(self) -> list[Publish]:
        rest = self.rest
        # the account's mode first: workers build every order from it and wait for it
        config = convert.account_config(await rest.account_config())
        balance = await rest.balance()
        positions = await rest.positions()
        pending = await rest.orders_pending()
        pending_ids = {o.ordId for o in pending}
        finals: list[OrderData] = []
        gone = [o for i, o in self.state.open_orders.items() if i not in pending_ids]
        for o in gone[:_MAX_FINAL_QUERIES]:
            try:
                finals.append(await rest.get_order(o.instId, ord_id=o.ordId))
            except OkxmmError as exc:
                logger.warning("final order state unknown", ordId=o.ordId, error=str(exc))
        fills = await self._recent_fills()
        out = [Publish(topics.ACCOUNT_CONFIG, config)]
        return out + self.state.reconcile(balance, positions, pending, finals, fills)

    async def _recent_fills(self) -> list[FillData]:
        """The venue's fills, newest first, paged back until one already published (or the
        fill ring's capacity): what was missed while this gateway was down or disconnected."""
        limit = self.gw.reconcile_fills_limit
        out: list[FillData] = []
        seen: set[tuple[str, str]] = set()
        after = ""
        while len(out) < self.state.ring_capacity:
            params = {"limit": str(limit)}
            if after:
                params["after"] = after
            page = (await self.rest.request("fills", FillData, params=params)).data
            new = [f for f in page if (f.instId, f.tradeId) not in seen]
            out.extend(new)
            seen.update((f.instId, f.tradeId) for f in new)
            if not new or len(page) < limit or not page[-1].billId:
                break
            if any(self.state.seen_fill(f.instId, f.tradeId) for f in new):
                break  # reached what was published before
            after = page[-1].billId
        return out

    # -------------------------------------------------------------------------------- status
    def status(self) -> dict[str, StatusValue]:
        return {
            "ws_state": str(self.ws.state),
            "ws_reconnects": self.ws.reconnects,
            "ws_last_error_code": self.ws.last_error_code,
            "reconciling": self.reconciling,
            "reconciles": self.reconciles,
            "open_orders": len(self.state.open_orders),
            "fills_published": self.state.fills_published,
            "fills_duplicate": self.state.fills_duplicate,
            **{f"size.{k}": v for k, v in self.state.sizes().items()},
            "orders_stale_dropped": self.state.orders_stale,
            "orders_repeated_dropped": self.state.orders_repeated,
            "ws_errors": self.ws_errors,
            "last_error_code": self.last_error_code,
            "published": self.pub.published,
        }

    def metrics(self, snap: Snapshot) -> None:
        """Prometheus series, read from what ``status`` reads."""
        self.ws.metrics(snap, "private")
        snap.counter("okxmm_bus_published", "Messages published on the bus.", self.pub.published)
        snap.counter(
            "okxmm_private_reconciles", "Order reconciliations with the venue.", self.reconciles
        )
        snap.gauge("okxmm_private_reconciling", "1 while reconciling.", float(self.reconciling))
        snap.gauge(
            "okxmm_private_open_orders",
            "Open orders the venue reported.",
            len(self.state.open_orders),
        )
        snap.counter(
            "okxmm_private_fills_published", "Fills published.", self.state.fills_published
        )
        snap.counter(
            "okxmm_private_fills_duplicate", "Duplicate fills dropped.", self.state.fills_duplicate
        )

    async def close(self) -> None:
        self._closed = True
        self._stop_reconcile()
        await self.ws.close()


async def _run(actor: Actor[OkxmmConfig]) -> None:
    cfg = actor.cfg
    pub = Publisher(
        actor.ctx,
        cfg.bus.bind_endpoint("acct.pub"),
        src=actor.name,
        epoch=actor.epoch,
        clock=actor.clock,
        snap_endpoint=cfg.bus.bind_endpoint("acct.snap"),
    )
    await pub.start()
    rest = OkxRestClient(
        cfg.venue.urls(cfg.exchange)[0],
        resolve_credentials(cfg),
        simulated=cfg.venue.simulated,
        clock=actor.clock,
    )
    gw = PrivateGw(cfg, publisher=pub, rest=rest, clock=actor.clock)
    gw.pub.publish(topics.stream(STREAM), StreamStatus(STREAM, False, "starting"))
    actor.add_status(gw.status)
    actor.metrics.add(gw.metrics)
    delay = 0.5
    while not actor.stopping.is_set():
        try:
            await rest.start()  # clock offset first: the WS login timestamp depends on it
            break
        except OkxmmError as exc:
            logger.warning("okx time sync failed", error=str(exc), retry_in_s=delay)
            try:
                async with asyncio.timeout(delay):
                    await actor.stopping.wait()
            except TimeoutError:
                delay = min(delay * 2, 30.0)
    gw.ws.subscribe(gw.subscriptions())
    actor.spawn(gw.ws.run(), "ws-private")
    actor.spawn(gw.flush_ring(), "fill-ring")
    try:
        await actor.stopping.wait()
    finally:
        await gw.close()
        await rest.close()
        await pub.close()


def main(cfg: OkxmmConfig) -> int:
    """Run the private-gw actor until stopped; returns the exit code."""
    return run_actor("private-gw", cfg, _run, ctl_endpoint=cfg.bus.bind_endpoint("ctl.private-gw"))


def _cli(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gateway.private_gw")
    parser.add_argument("--config", default=None, help="okxmm YAML config")
    args = parser.parse_args(argv)
    return main(load_config(args.config))


if __name__ == "__main__":
    sys.exit(_cli())
