"""Alert delivery: de-duplicated, rate-limited, bounded, and never blocking whoever raised one.

``submit`` is synchronous and returns at once: it drops a repeat of the same (key, severity)
within ``dedup_s``, then appends to each sink's bounded queue (the oldest is dropped when full,
and counted). One task per sink sends in order with a timeout and a few retries with backoff
(5xx, 429, connection errors; a 4xx other than 429 is not retried). Each sink may send
``rate_per_min`` alerts per minute; beyond that, critical alerts wait for their turn and the
others (but the newest) are counted and announced in one summary alert when the budget returns.
Logs name the sink, never its URL or token.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict, deque
from collections.abc import Callable

import httpx
from loguru import logger

from ops.alerts.config import AlertsConfig
from ops.alerts.rules import Alert
from ops.alerts.sinks import Sink, payload

__all__ = ["Dispatcher"]

_NS_PER_S = 1_000_000_000
_RANK = {"info": 0, "warning": 1, "critical": 2}
_DEDUP_MAX = 10_000  # keys remembered for de-duplication (oldest forgotten first)


class _Lane:
    """One sink's queue, token bucket and counters."""

    def __init__(self, sink: Sink, cfg: AlertsConfig) -> None:
        self.sink = sink
        self.queue: deque[tuple[Alert, int]] = deque(maxlen=cfg.queue_max)
        self.wake = asyncio.Event()
        self.tokens = float(cfg.rate_per_min)
        self.refilled_ns = 0
        self.held_back = 0  # over the rate limit since the last summary
        self.sent = 0
        self.failed = 0
        self.dropped = 0


class Dispatcher:
    """Sends alerts to every configured sink (see module docstring)."""

    def __init__(
        self,
        cfg: AlertsConfig,
        sinks: list[Sink],
        *,
        source: str,
        mono_ns: Callable[[], int],
        wall_ms: Callable[[], int],
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.cfg = cfg
        self.source = source
        self._mono_ns = mono_ns
        self._wall_ms = wall_ms
        self._client = client or httpx.AsyncClient(timeout=cfg.timeout_s)
        self._own_client = client is None
        self.lanes = [_Lane(s, cfg) for s in sinks]
        self._seen: OrderedDict[tuple[str, str], int] = OrderedDict()
        self.deduplicated = 0
        self._tasks: list[asyncio.Task[None]] = []

    # ------------------------------------------------------------------------------ submit
    def submit(self, alert: Alert) -> bool:
        """Queue ``alert`` for every sink that wants its severity; False if de-duplicated."""
        now = self._mono_ns()
        key = (alert.key, alert.severity)
        last = self._seen.get(key)
        if last is not None and now - last < self.cfg.dedup_s * _NS_PER_S:
            self.deduplicated += 1
            return False
        self._seen[key] = now
        self._seen.move_to_end(key)
        if len(self._seen) > _DEDUP_MAX:
            self._seen.popitem(last=False)
        if alert.resolved:
            # a new episode of the condition should be told again, whatever the window
            for sev in ("warning", "critical"):
                self._seen.pop((alert.key, sev), None)
        ts = self._wall_ms()
        for lane in self.lanes:
            if _RANK[alert.severity] < _RANK[lane.sink.min_severity]:
                continue
            if len(lane.queue) == lane.queue.maxlen:
                lane.dropped += 1  # deque drops the oldest
            lane.queue.append((alert, ts))
            lane.wake.set()
        logger.info("alert", key=alert.key, severity=alert.severity, title=alert.title)
        return True

    # ----------------------------------------------------------------------------- sending
    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._run(lane), name=f"alerts-{lane.sink.name}")
            for lane in self.lanes
        ]

    async def close(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        if self._own_client:
            await self._client.aclose()

    def _take_token(self, lane: _Lane) -> float:
        """Spend one token; 0 if granted, else seconds until the next one."""
        now = self._mono_ns()
        rate = self.cfg.rate_per_min / 60.0  # tokens per second
        if lane.refilled_ns:
            lane.tokens = min(
                float(self.cfg.rate_per_min),
                lane.tokens + (now - lane.refilled_ns) / _NS_PER_S * rate,
            )
        lane.refilled_ns = now
        if lane.tokens >= 1:
            lane.tokens -= 1
            return 0.0
        return (1 - lane.tokens) / rate

    async def _run(self, lane: _Lane) -> None:
        while True:
            if not lane.queue:
                lane.wake.clear()
                await lane.wake.wait()
                continue
            wait = self._take_token(lane)
            if wait > 0:
                # over budget: critical alerts wait for their turn; the others, but the
                # newest, become one summary line
                kept = [e for e in list(lane.queue)[:-1] if e[0].severity == "critical"]
                lane.held_back += len(lane.queue) - 1 - len(kept)
                kept.append(lane.queue[-1])
                lane.queue.clear()
                lane.queue.extend(kept)
                await asyncio.sleep(wait)
                continue
            if lane.held_back:
                n, lane.held_back = lane.held_back, 0
                text = f"{n} alerts held back by the rate limit ({self.cfg.rate_per_min}/min)"
                await self._send(lane, Alert("alerts:rate", "warning", text), self._wall_ms())
                continue
            alert, ts = lane.queue.popleft()
            await self._send(lane, alert, ts)

    async def _send(self, lane: _Lane, alert: Alert, ts_ms: int) -> None:
        body = payload(lane.sink, alert, source=self.source, ts_ms=ts_ms)
        delay = 0.5
        for attempt in range(self.cfg.retries + 1):
            why = ""
            try:
                r = await self._client.post(lane.sink.url, json=body)
                if r.status_code < 300:
                    lane.sent += 1
                    return
                why = f"HTTP {r.status_code}"
                if r.status_code < 500 and r.status_code != 429:
                    break  # the receiver refuses this message: retrying will not help
            except httpx.HTTPError as exc:
                why = type(exc).__name__  # no str(exc): it would carry the URL
            if attempt < self.cfg.retries:
                await asyncio.sleep(delay)
                delay *= 2
        lane.failed += 1
        logger.warning("alert not delivered", sink=lane.sink.name, key=alert.key, error=why)

    def status(self) -> dict[str, int]:
        out = {"deduplicated": self.deduplicated}
        for lane in self.lanes:
            n = lane.sink.name
            out.update(
                {
                    f"{n}.sent": lane.sent,
                    f"{n}.failed": lane.failed,
                    f"{n}.dropped": lane.dropped,
                    f"{n}.queued": len(lane.queue),
                    f"{n}.held_back": lane.held_back,
                }
            )
        return out
