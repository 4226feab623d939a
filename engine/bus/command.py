"""Commands over DEALER→ROUTER, acknowledged (architecture §2–3).

Never send an order, cancel or kill over PUB. The client's DEALER has IMMEDIATE=1, so a command
is never queued for a server that is not connected (``send`` raises :class:`CommandSendError`),
and ZMTP heartbeats so a dead server is noticed. The server's ROUTER has ROUTER_MANDATORY, so
``reply`` to a vanished peer fails instead of vanishing; the socket monitor's DISCONNECTED event
triggers a probe of every known peer, which is how a crashed client is found within milliseconds.

An empty body is a probe: clients ignore it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable
from typing import cast

import zmq
import zmq.asyncio
from loguru import logger
from zmq.utils.monitor import parse_monitor_message

from engine.bus.sockets import (
    ConnectMonitor,
    bind,
    close_monitor,
    configure_dealer,
    configure_router,
    connect,
    drain_frames,
    open_monitor,
    send_nowait,
    sync_view,
)
from engine.clock import Clock
from engine.codec import Codec
from engine.errors import OkxmmError
from engine.messages import Ack, AnyMsg, Envelope, Fenced, Hello, Reject, Welcome

__all__ = ["CommandClient", "CommandSendError", "CommandServer"]

_PROBE = b""
_PROBE_DELAYS_S = (0.0, 0.005, 0.02, 0.1)
_NOWAIT = int(zmq.NOBLOCK)
_EVENTS = int(zmq.EVENTS)
_POLLIN = int(zmq.POLLIN)


def _readable(view: zmq.Socket[bytes]) -> bool:
    """ZMQ_EVENTS has POLLIN; reading it also processes libzmq's mailbox (re-arms the FD)."""
    return bool(cast("int", view.getsockopt(_EVENTS)) & _POLLIN)


class CommandSendError(OkxmmError):
    """The command could not be handed to the socket (no server connected, or HWM reached)."""


class CommandClient:
    """DEALER side: ``send`` (non-blocking), ``request`` (await the reply), ``recv`` (others).

    Replies are read by a callback on the socket's ZMQ_FD, not by a task awaiting the asyncio
    socket: the callback resolves the waiting request directly, one event-loop hop per reply like
    raw pyzmq (a reader task costs a second hop, ~45 µs per round trip here). Every socket
    operation therefore goes through the sync twin, and after each send the callback is
    re-armed if a reply is already waiting (a send can consume the edge that announced it).
    The asyncio socket's own methods are never used on this socket: its first use would
    register pyzmq's reader on the same FD and replace ours.
    """

    def __init__(
        self,
        ctx: zmq.asyncio.Context,
        endpoint: str,
        *,
        identity: bytes,
        src: str,
        epoch: int,
        clock: Clock,
        sndhwm: int = 1000,
        inbox_max: int = 10_000,
    ) -> None:
        self._ctx = ctx
        self._endpoint = endpoint
        self.identity = identity
        self._clock = clock
        self._sndhwm = sndhwm
        self._codec = Codec(src, epoch, clock.now_ns, name=f"{src}.cmd")
        self._seq = 0
        self._sock: zmq.asyncio.Socket | None = None
        self._view: zmq.Socket[bytes] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._fd = -1
        self._monitor: ConnectMonitor | None = None
        self._waiters: dict[int, asyncio.Future[Envelope]] = {}
        self._hello_waiter: asyncio.Future[Envelope] | None = None
        # bounded: a caller that never reads its unawaited replies must not grow without end
        self._inbox: asyncio.Queue[Envelope] = asyncio.Queue(maxsize=inbox_max)
        self.inbox_dropped = 0
        self.read_errors = 0

    @property
    def connected(self) -> asyncio.Event:
        assert self._monitor is not None
        return self._monitor.connected

    async def start(self) -> None:
        self._sock = self._ctx.socket(zmq.DEALER)
        configure_dealer(self._sock, self.identity, self._sndhwm)
        self._monitor = ConnectMonitor(self._sock, self._endpoint, self._codec.name)
        self._monitor.start()
        self._view = sync_view(self._sock)
        self._fd = int(self._view.getsockopt(zmq.FD))
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self._fd, self._on_readable)
        connect(self._sock, self._endpoint)

    async def wait_connected(self, timeout_s: float) -> None:
        """Wait until the server is connected; raises TimeoutError."""
        async with asyncio.timeout(timeout_s):
            await self.connected.wait()

    def send(self, msg: AnyMsg) -> int:
        """Send one command now; returns its seq. Raises CommandSendError if it can't go."""
        view = self._view
        assert view is not None, "send() before start()"
        self._seq += 1
        body = self._codec.encode(msg, self._seq)
        try:
            view.send(body, _NOWAIT)
        except zmq.ZMQError as exc:
            raise CommandSendError(f"command not sent: {exc}") from None
        finally:
            self._rearm(view)
        return self._seq

    def _rearm(self, view: zmq.Socket[bytes]) -> None:
        """A send processes libzmq's mailbox and may consume the FD edge that announced a
        reply: if one is waiting, read it on the next loop iteration."""
        try:
            ready = _readable(view)
        except zmq.ZMQError:
            return  # closed: nothing to read
        if ready and self._loop is not None:
            self._loop.call_soon(self._on_readable)

    async def request(self, msg: AnyMsg, timeout_s: float) -> Envelope:
        """Send and await the reply: Ack/Reject with ``cmd_seq``, or Welcome/Fenced for Hello."""
        assert self._loop is not None, "request() before start()"
        fut: asyncio.Future[Envelope] = self._loop.create_future()
        if isinstance(msg, Hello):
            self._hello_waiter = fut
        try:
            seq = self.send(msg)
        except BaseException:
            if self._hello_waiter is fut:
                self._hello_waiter = None
            raise
        # registered after the send: a reply can only be read by the FD callback, which runs
        # after this coroutine yields
        self._waiters[seq] = fut  # a Hello may also be answered by a Reject with its seq
        try:
            async with asyncio.timeout(timeout_s):
                return await fut
        finally:
            self._waiters.pop(seq, None)
            if self._hello_waiter is fut:
                self._hello_waiter = None

    async def recv(self, timeout_s: float | None) -> Envelope | None:
        """Next reply nobody awaited (Fenced, late Acks/Rejects, relayed messages)."""
        try:
            async with asyncio.timeout(timeout_s):
                return await self._inbox.get()
        except TimeoutError:
            return None

    def _on_readable(self) -> None:
        """FD callback: take every reply that is waiting (until ZMQ_EVENTS has no POLLIN, which
        also re-arms the edge-triggered FD)."""
        view = self._view
        if view is None:
            return  # closed with a callback still scheduled
        try:
            while _readable(view):
                frame = view.recv(_NOWAIT, copy=False)
                while frame.more:  # a DEALER reply is one frame; keep the last if not
                    frame = view.recv(_NOWAIT, copy=False)
                try:
                    self._dispatch(frame.bytes)
                except Exception:  # noqa: BLE001 — a bug in one reply must not leave the rest unread
                    self.read_errors += 1
                    logger.exception("command reply dropped", socket=self._codec.name)
        except zmq.ZMQError as exc:
            # a closed or broken socket: log once per failure, never raise into the loop
            self.read_errors += 1
            logger.error("command reply read failed", socket=self._codec.name, error=str(exc))

    def _dispatch(self, body: bytes) -> None:
        if body == _PROBE:
            return
        env = self._codec.decode(body, origin="router")
        if env is None:
            return
        msg = env.msg
        waiter: asyncio.Future[Envelope] | None = None
        if isinstance(msg, Ack | Reject):
            waiter = self._waiters.pop(msg.cmd_seq, None)
        elif isinstance(msg, Welcome | Fenced) and self._hello_waiter is not None:
            waiter, self._hello_waiter = self._hello_waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(env)
            if not isinstance(msg, Fenced):
                return
        if self._inbox.full():
            # keep the newest: a Fenced or late Reject matters more than an old Ack
            self._inbox.get_nowait()
            self.inbox_dropped += 1
            if self.inbox_dropped == 1 or self.inbox_dropped % 1000 == 0:
                logger.warning(
                    "unread command replies dropped",
                    socket=self._codec.name,
                    dropped=self.inbox_dropped,
                )
        self._inbox.put_nowait(env)

    async def close(self) -> None:
        if self._loop is not None and self._fd >= 0:
            self._loop.remove_reader(self._fd)  # before the socket (and its FD) goes
            self._fd = -1
        if self._monitor is not None:
            await self._monitor.close()
        if self._sock is not None:
            self._sock.close(linger=0)
        self._sock = None
        self._view = None


class CommandServer:
    """ROUTER side: ``recv`` commands, ``reply`` to a peer, disconnect detection by probe."""

    def __init__(
        self,
        ctx: zmq.asyncio.Context,
        endpoint: str,
        *,
        src: str,
        clock: Clock,
        on_disconnect: Callable[[bytes], None] | None = None,
        epoch: int = 0,
    ) -> None:
        self._ctx = ctx
        self._endpoint = endpoint
        self._clock = clock
        self._on_disconnect = on_disconnect
        self._codec = Codec(src, epoch, clock.now_ns, name=f"{src}.cmd")
        self._sock: zmq.asyncio.Socket | None = None
        self._peers: set[bytes] = set()
        self._ready: deque[list[bytes]] = deque()
        self._disconnected = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.bad_frames = 0

    @property
    def codec(self) -> Codec:
        return self._codec

    async def start(self) -> None:
        self._sock = self._ctx.socket(zmq.ROUTER)
        configure_router(self._sock)
        bind(self._sock, self._endpoint)
        msock = open_monitor(self._sock, zmq.EVENT_DISCONNECTED)
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self._watch(msock), name="cmd-monitor"))
        self._tasks.append(loop.create_task(self._probe_on_disconnect(), name="cmd-probe"))

    async def recv(self, timeout_s: float | None) -> tuple[bytes, Envelope] | None:
        """Next well-formed command; bad frames are counted and skipped."""
        assert self._sock is not None, "recv() before start()"
        while True:
            if not self._ready:
                # Drain everything that is waiting: one wake-up for a burst of commands.
                self._ready.extend(await drain_frames(self._sock, timeout_s))
                if not self._ready:
                    return None
            frames = self._ready.popleft()
            if len(frames) != 2:
                self.bad_frames += 1
                logger.warning("bad command frame", frames=len(frames))
                continue
            identity, body = frames
            if body == _PROBE:
                continue
            self._peers.add(identity)
            env = self._codec.decode(body, origin=identity.decode(errors="replace"))
            if env is None:
                self.bad_frames += 1
                continue
            return identity, env

    def pending(self) -> bool:
        """True if a command is already waiting (ZMQ_EVENTS, no await): lets a caller drain a
        burst before acting on it."""
        if self._ready:
            return True
        if self._sock is None:
            return False
        # through the asyncio socket: reading EVENTS there also wakes a waiting receive (the
        # sync twin's read could swallow the edge-triggered wake-up; see sockets.wake_waiters)
        events = self._sock.get(zmq.EVENTS)
        return isinstance(events, int) and bool(events & zmq.POLLIN)

    def reply(self, identity: bytes, msg: AnyMsg, seq: int = 0) -> bool:
        """Send ``msg`` to ``identity``; False if the peer is gone or not reading (EAGAIN)."""
        assert self._sock is not None
        try:
            send_nowait(self._sock, [identity, self._codec.encode(msg, seq)])
        except zmq.ZMQError:
            return False
        return True

    def forget(self, identity: bytes) -> None:
        """Stop probing ``identity`` (it was fenced or said Bye)."""
        self._peers.discard(identity)

    def probe(self) -> list[bytes]:
        """Send an empty probe to every known peer; return (and forget) the ones that are gone."""
        assert self._sock is not None
        gone = []
        for identity in list(self._peers):
            try:
                send_nowait(self._sock, [identity, _PROBE])
            except zmq.Again:
                continue  # alive but slow: the heartbeat rule decides
            except zmq.ZMQError:
                gone.append(identity)
                self._peers.discard(identity)
        return gone

    async def _watch(self, msock: zmq.asyncio.Socket) -> None:
        """Read monitor events as fast as they come (a backlog would block libzmq's I/O
        thread); the probing, which waits between rounds, runs in its own task."""
        assert self._sock is not None
        try:
            while True:
                for frames in await drain_frames(msock, None):
                    if parse_monitor_message(frames)["event"] == zmq.EVENT_DISCONNECTED:
                        self._disconnected.set()
        finally:
            close_monitor(self._sock, msock)

    async def _probe_on_disconnect(self) -> None:
        """After a DISCONNECTED event, probe every known peer at once and a few times more
        (libzmq may drop the routing entry a moment after the event); a new event starts the
        rounds over, so a second crash is found as fast as the first."""
        while True:
            await self._disconnected.wait()
            step = 0
            while step < len(_PROBE_DELAYS_S):
                if self._disconnected.is_set():
                    self._disconnected.clear()
                    step = 0
                elif _PROBE_DELAYS_S[step]:
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(_PROBE_DELAYS_S[step]):
                            await self._disconnected.wait()
                    if self._disconnected.is_set():
                        continue
                for identity in self.probe():
                    logger.info("peer disconnected", peer=identity.decode(errors="replace"))
                    if self._on_disconnect is not None:
                        self._on_disconnect(identity)
                step += 1

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if self._sock is not None:
            self._sock.close(linger=0)
        self._sock = None
