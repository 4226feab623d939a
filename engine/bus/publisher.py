"""Publisher: topic frames with per-topic seq, heartbeats, and the Clone snapshot server.

Frames are ``[topic, body]``. Each topic has its own ``seq`` starting at 1; the envelope's epoch
is the publisher's start epoch, so subscribers notice a restart. Retained topics keep their latest
encoded body: a ``GetSnapshot(prefix)`` on the snapshot ROUTER is answered with every retained
``[topic, body]`` under that prefix, then ``[b"snapend|", SnapshotEnd(seq_by_topic)]``.
Heartbeats (``hb|``, not retained) carry the seq of every *live* topic so a lost *last* message
of a topic is still seen as a gap.

Bounds (a publisher runs for weeks, and per-order topics come and go by the million):
- the seq map and the retained map hold live topics only: :meth:`forget` removes a topic from both;
- a forgotten topic's last seq stays listed in heartbeats for ``FORGOTTEN_TAIL_S`` (at most
  ``FORGOTTEN_MAX`` topics), long enough for subscribers to see that its last message arrived;
- so a heartbeat's size is proportional to the live state (instruments, open orders), never to
  what has been published since start.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import Callable

import zmq
import zmq.asyncio
from loguru import logger

from engine import topics
from engine.bus.sockets import (
    bind,
    configure_pub,
    configure_router,
    recv_frames,
    send_nowait,
    sync_view,
)
from engine.clock import Clock
from engine.codec import Codec
from engine.messages import AnyMsg, GetSnapshot, PubHeartbeat, SnapshotEnd

__all__ = ["FORGOTTEN_MAX", "FORGOTTEN_TAIL_S", "SNAPSHOT_END_TOPIC", "Publisher"]

SNAPSHOT_END_TOPIC = b"snapend|"
_NOWAIT = int(zmq.NOBLOCK)  # plain ints: flag enums cost a Python call per operation
_MORE_NOWAIT = int(zmq.NOBLOCK | zmq.SNDMORE)
FORGOTTEN_TAIL_S = 1.0  # ten heartbeats: a subscriber that lost a topic's last message sees it
FORGOTTEN_MAX = (
    512  # a churn above 512 terminal topics per second shortens the tail, never grows it
)


class Publisher:
    """PUB socket + optional snapshot ROUTER for one state owner."""

    def __init__(
        self,
        ctx: zmq.asyncio.Context,
        endpoint: str,
        *,
        src: str,
        epoch: int,
        clock: Clock,
        snap_endpoint: str | None = None,
        heartbeat_ms: int = 100,
    ) -> None:
        self._ctx = ctx
        self._endpoint = endpoint
        self._snap_endpoint = snap_endpoint
        self._heartbeat_s = heartbeat_ms / 1000
        self._codec = Codec(src, epoch, clock.now_ns, name=f"{src}.pub")
        self._snap_codec = Codec(src, epoch, clock.now_ns, name=f"{src}.snap")
        self._clock = clock
        self._seqs: dict[str, int] = {}  # live topics only (see the module docstring)
        self._retained: dict[str, bytes] = {}  # a subset of the live topics
        self._topic_bytes: dict[str, bytes] = {}  # live topics only
        # forgotten topic -> (last seq, monotonic ns when forgotten), oldest first
        self._forgotten: OrderedDict[str, tuple[int, int]] = OrderedDict()
        self._pub: zmq.asyncio.Socket | None = None
        self._send: Callable[..., object] | None = None  # the sync twin's send (hot path)
        self._snap: zmq.asyncio.Socket | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.published = 0
        self.snapshots_served = 0

    @property
    def seq_by_topic(self) -> dict[str, int]:
        """The last seq of every live data topic and of the recently forgotten ones.

        Heartbeats are not state: never listed. Size: live topics + at most ``FORGOTTEN_MAX``.
        """
        self._expire_forgotten()
        seqs = {t: s for t, (s, _) in self._forgotten.items()}
        seqs.update((t, s) for t, s in self._seqs.items() if t != topics.HEARTBEAT)
        return seqs

    @property
    def live_topics(self) -> int:
        """How many topics the seq map holds (bounded by the live state)."""
        return len(self._seqs)

    @property
    def forgotten_topics(self) -> int:
        """How many forgotten topics heartbeats still list (at most ``FORGOTTEN_MAX``)."""
        return len(self._forgotten)

    def _expire_forgotten(self) -> None:
        cutoff = self._clock.monotonic_ns() - int(FORGOTTEN_TAIL_S * 1e9)
        forgotten = self._forgotten
        while forgotten and next(iter(forgotten.values()))[1] < cutoff:
            forgotten.popitem(last=False)

    async def start(self) -> None:
        """Bind the sockets and start heartbeats and the snapshot server."""
        self._pub = self._ctx.socket(zmq.PUB)
        configure_pub(self._pub)
        bind(self._pub, self._endpoint)
        self._send = sync_view(self._pub).send  # PUB: nobody awaits a receive, no wake-up
        loop = asyncio.get_running_loop()
        if self._snap_endpoint:
            self._snap = self._ctx.socket(zmq.ROUTER)
            configure_router(self._snap)
            bind(self._snap, self._snap_endpoint)
            self._tasks.append(loop.create_task(self._serve_snapshots(), name="snapshot-server"))
        if self._heartbeat_s > 0:
            self._tasks.append(loop.create_task(self._heartbeats(), name="pub-heartbeat"))

    def publish(self, topic: str, msg: AnyMsg, retain: bool = True) -> int:
        """Publish ``msg`` on ``topic``; returns its seq. Never blocks (PUB drops at HWM)."""
        last = self._seqs.get(topic)
        if last is None:
            # a topic published again soon after forget() continues its seq: subscribers that
            # still track it would drop a restart at 1 as old
            tail = self._forgotten.pop(topic, None)
            fresh = tail is None or tail[1] < self._clock.monotonic_ns() - int(
                FORGOTTEN_TAIL_S * 1e9
            )
            last = 0 if fresh or tail is None else tail[0]
        seq = last + 1
        self._seqs[topic] = seq
        body = self._codec.encode(msg, seq)
        tb = self._topic_bytes.get(topic)
        if tb is None:
            tb = self._topic_bytes[topic] = topic.encode()
        if retain:
            self._retained[topic] = body
        send = self._send
        assert send is not None, "publish() before start()"
        # two plain sends (not send_multipart): this is the hottest line of the bus
        send(tb, _MORE_NOWAIT)
        send(body, _NOWAIT)
        self.published += 1
        return seq

    def forget(self, topic: str) -> None:
        """Drop ``topic`` (e.g. a terminal order): late joiners won't see it, and after
        ``FORGOTTEN_TAIL_S`` heartbeats stop listing it."""
        self._retained.pop(topic, None)
        self._topic_bytes.pop(topic, None)
        seq = self._seqs.pop(topic, None)
        if seq is None:
            return
        self._forgotten[topic] = (seq, self._clock.monotonic_ns())
        self._forgotten.move_to_end(topic)
        while len(self._forgotten) > FORGOTTEN_MAX:
            self._forgotten.popitem(last=False)

    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(self._heartbeat_s)
            self.publish(
                topics.HEARTBEAT,
                PubHeartbeat(actor=self._codec.src, seq_by_topic=self.seq_by_topic),
                retain=False,
            )

    async def _serve_snapshots(self) -> None:
        assert self._snap is not None
        sock = self._snap
        while True:
            frames = await recv_frames(sock, None)
            if frames is None or len(frames) != 2:
                continue
            identity, body = frames
            env = self._snap_codec.decode(body, origin=identity.decode(errors="replace"))
            if env is None or not isinstance(env.msg, GetSnapshot):
                continue
            prefix = env.msg.prefix
            try:
                for topic, retained in list(self._retained.items()):
                    if topic.startswith(prefix):
                        send_nowait(sock, [identity, self._topic_bytes[topic], retained])
                seqs = {t: s for t, s in self.seq_by_topic.items() if t.startswith(prefix)}
                end = self._snap_codec.encode(SnapshotEnd(seq_by_topic=seqs))
                send_nowait(sock, [identity, SNAPSHOT_END_TOPIC, end])
                self.snapshots_served += 1
            except zmq.ZMQError as exc:
                # The requester vanished or is too slow: it will ask again.
                logger.warning("snapshot not delivered", peer=identity, error=str(exc))

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        for sock in (self._pub, self._snap):
            if sock is not None:
                sock.close(linger=0)
        self._pub = self._snap = None
        self._send = None
