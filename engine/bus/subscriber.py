"""Subscriber: the Clone client (architecture §4) with gap and publisher-silence detection.

Order of operations: subscribe first, then ask the publisher's snapshot ROUTER for the retained
state, then deliver updates, dropping any with ``seq <= snapshot seq``. A seq jump on a topic, a
heartbeat announcing a seq we never received, or a new publisher epoch (restart) triggers a fresh
snapshot; snapshot items are delivered with ``from_snapshot=True`` and must be applied as state.
If the publisher is down the snapshot is retried with backoff; updates keep flowing meanwhile.

Bound: the per-topic seq map holds only topics the publisher's heartbeats still list (live ones
and those forgotten within the publisher's tail window); a topic a heartbeat no longer lists is
dropped, so the map is as small as the publisher's live state whatever was published before.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import msgspec
import zmq
import zmq.asyncio
from loguru import logger

from engine import topics
from engine.bus.publisher import SNAPSHOT_END_TOPIC
from engine.bus.sockets import (
    ConnectMonitor,
    configure_dealer,
    configure_sub,
    connect,
    drain_frames,
    recv_frames,
    send_nowait,
)
from engine.clock import Clock
from engine.codec import Codec
from engine.messages import Envelope, GetSnapshot, PubHeartbeat, SnapshotEnd

__all__ = ["Delivery", "Subscriber"]

_NS_PER_MS = 1_000_000


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message for the consumer."""

    topic: str
    env: Envelope
    from_snapshot: bool = False


class Subscriber:
    """SUB socket with per-topic seq tracking, Clone snapshots and liveness."""

    def __init__(
        self,
        ctx: zmq.asyncio.Context,
        pub_endpoint: str,
        *,
        snap_endpoint: str | None = None,
        prefixes: Sequence[str] = ("",),
        name: str,
        clock: Clock,
        silence_ms: int = 300,
        snapshot_timeout_s: float = 2.0,
        deliver_snapshot_end: bool = False,
    ) -> None:
        self._ctx = ctx
        self._pub_endpoint = pub_endpoint
        self._snap_endpoint = snap_endpoint
        self._prefixes = list(prefixes) or [""]
        self._prefix_tuple = tuple(self._prefixes)
        self._topic_names: dict[bytes, str] = {}  # topic frame → str, decoded once
        self.name = name
        self._clock = clock
        self._silence_ns = silence_ms * _NS_PER_MS
        self._snapshot_timeout_s = snapshot_timeout_s
        # True: after each complete snapshot, one Delivery of a SnapshotEnd listing every topic
        # the snapshot held (with its seq), so a consumer can drop state the publisher no
        # longer has (a worker's orders a restarted router does not know)
        self._deliver_snapshot_end = deliver_snapshot_end
        self._codec = Codec(name, 0, clock.now_ns, name=f"{name}.sub")
        self._sub: zmq.asyncio.Socket | None = None
        self._monitor: ConnectMonitor | None = None
        self._last_seq: dict[str, int] = {}
        self._epoch: int | None = None
        self._pending: deque[Delivery] = deque()
        self._raw: deque[list[bytes]] = deque()
        self._need_snapshot = snap_endpoint is not None
        self._next_snapshot_ns = 0
        self._snapshot_backoff_ns = 100 * _NS_PER_MS
        self._last_heard_ns: int | None = None
        self._synced_epoch: int | None = None  # publisher epoch of our last complete snapshot
        self._snapshot_failures = 0
        self._next_warn_ns = 0
        self.gaps = 0
        self.heartbeats = 0  # publisher heartbeats received on the stream (not the snapshot)
        self.resyncs = 0
        self.delivered = 0
        self.dropped_old = 0

    @property
    def tracked_topics(self) -> int:
        """Size of the per-topic seq map (bounded by the publisher's heartbeats)."""
        return len(self._last_seq)

    def _wants(self, topic: str) -> bool:
        return topic.startswith(self._prefix_tuple)

    async def start(self) -> None:
        """Subscribe, connect, and fetch the first snapshot (if the publisher answers)."""
        self._sub = self._ctx.socket(zmq.SUB)
        configure_sub(self._sub)
        for prefix in self._prefixes:
            self._sub.setsockopt(zmq.SUBSCRIBE, prefix.encode())
        if "" not in self._prefixes:
            self._sub.setsockopt(zmq.SUBSCRIBE, topics.HEARTBEAT.encode())
        self._monitor = ConnectMonitor(self._sub, self._pub_endpoint, f"{self.name}.sub")
        self._monitor.start()
        connect(self._sub, self._pub_endpoint)
        if self._need_snapshot:
            await self._fetch_snapshot()

    # ----------------------------------------------------------------------------- liveness
    def silent(self) -> bool:
        """True when the publisher has not been heard for ``silence_ms`` (or never)."""
        if self._last_heard_ns is None:
            return True
        return self._clock.monotonic_ns() - self._last_heard_ns > self._silence_ns

    @property
    def last_heard_ns(self) -> int | None:
        return self._last_heard_ns

    @property
    def synced(self) -> bool:
        """A snapshot has been applied (or none is needed) and no resync is pending."""
        return not self._need_snapshot

    # ------------------------------------------------------------------------------ receive
    async def recv(self, timeout_s: float | None) -> Delivery | None:
        """Next delivery (snapshot items first), or None after ``timeout_s`` of nothing.

        A pending resync is fetched as soon as its retry time comes, even while updates and
        heartbeats keep arriving (a busy stream must not postpone it forever).
        """
        assert self._sub is not None, "recv() before start()"
        clock = self._clock
        deadline = None if timeout_s is None else clock.monotonic_ns() + int(timeout_s * 1e9)
        while True:
            if self._pending:
                return self._pending.popleft()
            if self._snapshot_due():
                await self._fetch_snapshot()
                continue
            while self._raw:
                delivery = self._on_frames(self._raw.popleft())
                if delivery is not None:
                    return delivery
                if self._snapshot_due():
                    break
            if self._raw:
                continue  # a snapshot is due first
            now = clock.monotonic_ns()
            wait_ns = None if deadline is None else max(0, deadline - now)
            if self._need_snapshot:
                until_retry = max(0, self._next_snapshot_ns - now)
                wait_ns = until_retry if wait_ns is None else min(wait_ns, until_retry)
            batch = await drain_frames(self._sub, None if wait_ns is None else wait_ns / 1e9)
            if batch:
                self._raw.extend(batch)
            elif deadline is not None and clock.monotonic_ns() >= deadline:
                return None

    def _snapshot_due(self) -> bool:
        return self._need_snapshot and self._clock.monotonic_ns() >= self._next_snapshot_ns

    def _on_frames(self, frames: list[bytes]) -> Delivery | None:
        if len(frames) != 2:
            self._codec.bad_frames += 1
            logger.warning("bad frame dropped", socket=self.name, frames=len(frames))
            return None
        raw_topic = frames[0]
        topic = self._topic_names.get(raw_topic)
        if topic is None:
            topic = raw_topic.decode(errors="replace")
            if len(self._topic_names) >= 4096:
                # bounded: per-order topics come and go, a cache of them would only grow
                self._topic_names.clear()
            self._topic_names[raw_topic] = topic
        env = self._codec.decode(frames[1], origin=topic)
        if env is None:
            return None
        self._last_heard_ns = self._clock.monotonic_ns()
        if self._epoch is None:
            self._epoch = env.epoch
        elif env.epoch != self._epoch:
            logger.info("publisher restarted", sub=self.name, old=self._epoch, new=env.epoch)
            self._epoch = env.epoch
            self._last_seq.clear()
            self._schedule_resync("publisher restarted")
        if isinstance(env.msg, PubHeartbeat):
            self.heartbeats += 1
            self._check_heartbeat(env.msg)
            return Delivery(topic, env) if self._wants(topic) else None
        if not self._wants(topic):
            return None
        last = self._last_seq.get(topic)
        if last is None and env.seq > 1 and self._knows_all_topics():
            # a topic born after our snapshot starts at seq 1: we lost its first messages
            self.gaps += 1
            logger.warning("gap detected", sub=self.name, topic=topic, last=0, got=env.seq)
            self._schedule_resync("gap on a new topic")
        elif last is not None:
            if env.seq == 1 and last > 1:
                # the publisher forgot this topic long ago and started it afresh (ZeroMQ never
                # duplicates a message, so a seq of 1 after a higher one is never a repeat)
                last = 0
            elif env.seq <= last:
                self.dropped_old += 1
                return None
            if env.seq != last + 1:
                self.gaps += 1
                logger.warning("gap detected", sub=self.name, topic=topic, last=last, got=env.seq)
                self._schedule_resync("gap")
        self._last_seq[topic] = env.seq
        self.delivered += 1
        return Delivery(topic, env)

    def _check_heartbeat(self, hb: PubHeartbeat) -> None:
        listed = hb.seq_by_topic
        gone = [t for t in self._last_seq if t not in listed]
        for topic in gone:  # forgotten by the publisher and past its tail window
            del self._last_seq[topic]
        for topic, seq in listed.items():
            if topic == topics.HEARTBEAT or not self._wants(topic):
                continue
            last = self._last_seq.get(topic)
            if last is None and not self._knows_all_topics():
                continue
            if seq > (last or 0):
                self.gaps += 1
                logger.warning("gap detected", sub=self.name, topic=topic, last=last, got=seq)
                self._schedule_resync("gap at tail")
                return

    def _knows_all_topics(self) -> bool:
        """After a snapshot of this epoch, every topic it did not list is new to us too."""
        return self._synced_epoch is not None and self._synced_epoch == self._epoch

    def _schedule_resync(self, reason: str) -> None:
        if self._snap_endpoint is None:
            return
        if not self._need_snapshot:
            logger.info("resync scheduled", sub=self.name, reason=reason)
        self._need_snapshot = True

    # ---------------------------------------------------------------------------- snapshot
    async def _fetch_snapshot(self) -> None:
        assert self._snap_endpoint is not None
        dealer = self._ctx.socket(zmq.DEALER)
        configure_dealer(dealer, None)
        dealer.setsockopt(zmq.IMMEDIATE, 0)  # queue the request until the publisher is there
        connect(dealer, self._snap_endpoint)
        items: list[Delivery] = []
        seqs: dict[str, int] = {}
        end_env: Envelope | None = None
        complete = False
        try:
            for prefix in self._prefixes:
                send_nowait(dealer, [self._codec.encode(GetSnapshot(prefix=prefix))])
            ends = 0
            deadline = self._clock.monotonic_ns() + int(self._snapshot_timeout_s * 1e9)
            while ends < len(self._prefixes):
                remaining = (deadline - self._clock.monotonic_ns()) / 1e9
                if remaining <= 0:
                    break
                frames = await recv_frames(dealer, remaining)
                if frames is None:
                    break
                if len(frames) != 2:
                    continue
                env = self._codec.decode(frames[1], origin="snapshot")
                if env is None:
                    continue
                if frames[0] == SNAPSHOT_END_TOPIC and isinstance(env.msg, SnapshotEnd):
                    ends += 1
                    seqs.update(env.msg.seq_by_topic)
                    self._epoch = env.epoch
                    end_env = env
                    continue
                items.append(Delivery(frames[0].decode(errors="replace"), env, True))
            complete = ends == len(self._prefixes)
        except zmq.ZMQError as exc:
            logger.warning("snapshot request failed", sub=self.name, error=str(exc))
        finally:
            dealer.close(linger=0)
        now = self._clock.monotonic_ns()
        if not complete:
            self._next_snapshot_ns = now + self._snapshot_backoff_ns
            self._snapshot_backoff_ns = min(self._snapshot_backoff_ns * 2, 2000 * _NS_PER_MS)
            self._snapshot_failures += 1
            # the publisher may simply not be up yet: say so once, then every 30 s
            if self._snapshot_failures == 1 or now >= self._next_warn_ns:
                self._next_warn_ns = now + 30_000 * _NS_PER_MS
                logger.warning(
                    "no snapshot yet, will retry",
                    sub=self.name,
                    endpoint=self._snap_endpoint,
                    attempts=self._snapshot_failures,
                )
            return
        if self._snapshot_failures:
            logger.info("snapshot received", sub=self.name, attempts=self._snapshot_failures + 1)
        self._snapshot_failures = 0
        self._snapshot_backoff_ns = 100 * _NS_PER_MS
        # Updates already delivered that are newer than the snapshot stay; older state is skipped.
        for item in items:
            last = self._last_seq.get(item.topic)
            if last is None or item.env.seq > last:
                self._pending.append(item)
        for topic, seq in seqs.items():
            if self._wants(topic):
                self._last_seq[topic] = max(seq, self._last_seq.get(topic, 0))
        if self._deliver_snapshot_end and end_env is not None:
            held = SnapshotEnd(seq_by_topic={i.topic: i.env.seq for i in items})
            marker = msgspec.structs.replace(end_env, msg=held)
            self._pending.append(Delivery(SNAPSHOT_END_TOPIC.decode(), marker, True))
        self._need_snapshot = False
        self._synced_epoch = self._epoch
        self.resyncs += 1
        self._last_heard_ns = self._clock.monotonic_ns()

    async def close(self) -> None:
        if self._monitor is not None:
            await self._monitor.close()
        if self._sub is not None:
            with contextlib.suppress(zmq.ZMQError):
                self._sub.close(linger=0)
        self._sub = None
