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

import zmq
import zmq.asyncio
from loguru import logger
from zmq.utils.monitor import parse_monitor_message

from engine.bus.sockets import (
    ConnectMonitor,
    configure_dealer,
    configure_router,
    drain_frames,
    recv_frames,
    send_nowait,
)
from engine.clock import Clock
from engine.codec import Codec
from engine.errors import OkxmmError
from engine.messages import Ack, AnyMsg, Envelope, Fenced, Hello, Reject, Welcome

__all__ = ["CommandClient", "CommandSendError", "CommandServer"]

_PROBE = b""


class CommandSendError(OkxmmError):
    """The command could not be handed to the socket (no server connected, or HWM reached)."""


class CommandClient:
    """DEALER side: ``send`` (non-blocking), ``request`` (await the reply), ``recv`` (others)."""

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
    ) -> None:
        self._ctx = ctx
        self._endpoint = endpoint
        self.identity = identity
        self._clock = clock
        self._sndhwm = sndhwm
        self._codec = Codec(src, epoch, clock.now_ns, name=f"{src}.cmd")
        self._seq = 0
        self._sock: zmq.asyncio.Socket | None = None
        self._monitor: ConnectMonitor | None = None
        self._waiters: dict[int, asyncio.Future[Envelope]] = {}
        self._hello_waiter: asyncio.Future[Envelope] | None = None
        self._inbox: asyncio.Queue[Envelope] = asyncio.Queue()
        self._reader: asyncio.Task[None] | None = None

    @property
    def connected(self) -> asyncio.Event:
        assert self._monitor is not None
        return self._monitor.connected

    async def start(self) -> None:
        self._sock = self._ctx.socket(zmq.DEALER)
        configure_dealer(self._sock, self.identity, self._sndhwm)
        self._monitor = ConnectMonitor(self._sock, self._endpoint, self._codec.name)
        self._monitor.start()
        self._sock.connect(self._endpoint)
        self._reader = asyncio.get_running_loop().create_task(self._read(), name="cmd-reader")

    async def wait_connected(self, timeout_s: float) -> None:
        """Wait until the server is connected; raises TimeoutError."""
        async with asyncio.timeout(timeout_s):
            await self.connected.wait()

    def send(self, msg: AnyMsg) -> int:
        """Send one command now; returns its seq. Raises CommandSendError if it can't go."""
        assert self._sock is not None, "send() before start()"
        self._seq += 1
        body = self._codec.encode(msg, self._seq)
        try:
            send_nowait(self._sock, [body])
        except zmq.ZMQError as exc:
            raise CommandSendError(f"command not sent: {exc}") from None
        return self._seq

    async def request(self, msg: AnyMsg, timeout_s: float) -> Envelope:
        """Send and await the reply: Ack/Reject with ``cmd_seq``, or Welcome/Fenced for Hello."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Envelope] = loop.create_future()
        if isinstance(msg, Hello):
            self._hello_waiter = fut
        seq = self.send(msg)
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

    async def _read(self) -> None:
        assert self._sock is not None
        sock = self._sock
        while True:
            # A plain awaited recv in this one long-lived reader is the cheapest path measured
            # (poll + NOBLOCK per message costs a second wake-up).
            frames: list[bytes] = await sock.recv_multipart()
            if not frames or frames[-1] == _PROBE:
                continue
            env = self._codec.decode(frames[-1], origin="router")
            if env is None:
                continue
            msg = env.msg
            waiter: asyncio.Future[Envelope] | None = None
            if isinstance(msg, Ack | Reject):
                waiter = self._waiters.pop(msg.cmd_seq, None)
            elif isinstance(msg, Welcome | Fenced) and self._hello_waiter is not None:
                waiter, self._hello_waiter = self._hello_waiter, None
            if waiter is not None and not waiter.done():
                waiter.set_result(env)
                if not isinstance(msg, Fenced):
                    continue
            self._inbox.put_nowait(env)

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        if self._monitor is not None:
            await self._monitor.close()
        if self._sock is not None:
            self._sock.close(linger=0)
        self._sock = None


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
        self._tasks: list[asyncio.Task[None]] = []
        self.bad_frames = 0

    @property
    def codec(self) -> Codec:
        return self._codec

    async def start(self) -> None:
        self._sock = self._ctx.socket(zmq.ROUTER)
        configure_router(self._sock)
        self._sock.bind(self._endpoint)
        msock = self._sock.get_monitor_socket(zmq.EVENT_DISCONNECTED)
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self._watch(msock), name="cmd-monitor"))

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
        assert self._sock is not None
        try:
            while True:
                frames = await recv_frames(msock, None)
                if frames is None:
                    continue
                if parse_monitor_message(frames)["event"] != zmq.EVENT_DISCONNECTED:
                    continue
                # libzmq may drop the routing entry a moment after the event: probe again.
                for delay in (0.0, 0.005, 0.02, 0.1):
                    if delay:
                        await asyncio.sleep(delay)
                    for identity in self.probe():
                        logger.info("peer disconnected", peer=identity.decode(errors="replace"))
                        if self._on_disconnect is not None:
                            self._on_disconnect(identity)
        finally:
            with contextlib.suppress(zmq.ZMQError):
                self._sock.disable_monitor()
            msock.close(linger=0)

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
