"""Socket options (architecture §2–3), non-blocking send/receive helpers, and a connect monitor.

Rules this module enforces: LINGER is always set explicitly; receive = poll with a timeout, then
``recv(DONTWAIT)`` (never ``asyncio.wait_for`` around ``recv``); sends never block a loop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any, cast

import zmq
import zmq.asyncio
from loguru import logger
from zmq.utils.monitor import parse_monitor_message

__all__ = [
    "ConnectMonitor",
    "configure_dealer",
    "configure_pub",
    "configure_router",
    "configure_sub",
    "drain_frames",
    "recv_frames",
    "send_nowait",
]

LINGER_MS = 0
ZMTP_HEARTBEAT_IVL_MS = 100
ZMTP_HEARTBEAT_TIMEOUT_MS = 300


def configure_pub(sock: zmq.asyncio.Socket, hwm: int = 100_000) -> None:
    """PUB: a deep queue (drops silently at HWM, which is why nothing that matters goes on PUB)."""
    sock.setsockopt(zmq.LINGER, LINGER_MS)
    sock.setsockopt(zmq.SNDHWM, hwm)


def configure_sub(sock: zmq.asyncio.Socket, hwm: int = 100_000) -> None:
    sock.setsockopt(zmq.LINGER, LINGER_MS)
    sock.setsockopt(zmq.RCVHWM, hwm)


def configure_dealer(sock: zmq.asyncio.Socket, identity: bytes | None, sndhwm: int = 1000) -> None:
    """DEALER for commands: IMMEDIATE so nothing queues for a server that is not there."""
    if identity:
        sock.setsockopt(zmq.ROUTING_ID, identity)
    sock.setsockopt(zmq.LINGER, LINGER_MS)
    sock.setsockopt(zmq.IMMEDIATE, 1)
    sock.setsockopt(zmq.SNDHWM, sndhwm)
    sock.setsockopt(zmq.RECONNECT_IVL, 50)
    sock.setsockopt(zmq.RECONNECT_IVL_MAX, 1000)
    sock.setsockopt(zmq.HEARTBEAT_IVL, ZMTP_HEARTBEAT_IVL_MS)
    sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, ZMTP_HEARTBEAT_TIMEOUT_MS)
    sock.setsockopt(zmq.HEARTBEAT_TTL, ZMTP_HEARTBEAT_TIMEOUT_MS)


def configure_router(sock: zmq.asyncio.Socket, sndhwm: int = 10_000) -> None:
    """ROUTER: MANDATORY so a send to a vanished peer fails loudly (EHOSTUNREACH) — our probe."""
    sock.setsockopt(zmq.LINGER, LINGER_MS)
    sock.setsockopt(zmq.ROUTER_MANDATORY, 1)
    sock.setsockopt(zmq.ROUTER_HANDOVER, 1)
    sock.setsockopt(zmq.SNDHWM, sndhwm)
    sock.setsockopt(zmq.HEARTBEAT_IVL, ZMTP_HEARTBEAT_IVL_MS)
    sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, ZMTP_HEARTBEAT_TIMEOUT_MS)
    sock.setsockopt(zmq.HEARTBEAT_TTL, ZMTP_HEARTBEAT_TIMEOUT_MS)


def send_nowait(sock: zmq.asyncio.Socket, frames: list[bytes]) -> None:
    """Send without blocking; raises ``zmq.Again`` at HWM or ``zmq.ZMQError`` (EHOSTUNREACH)."""
    fut = cast("asyncio.Future[Any]", sock.send_multipart(frames, flags=zmq.NOBLOCK))
    if fut.done():
        exc = fut.exception()
        if exc is not None:
            raise exc


async def recv_frames(sock: zmq.asyncio.Socket, timeout_s: float | None) -> list[bytes] | None:
    """Poll up to ``timeout_s`` (None: forever), then receive one message without blocking."""
    timeout_ms = None if timeout_s is None else max(0, int(timeout_s * 1000))
    poll = cast("Callable[[int | None, int], Awaitable[int]]", sock.poll)
    events = await poll(timeout_ms, zmq.POLLIN)
    if not events & zmq.POLLIN:
        return None
    try:
        frames: list[bytes] = await sock.recv_multipart(flags=zmq.NOBLOCK)
    except zmq.Again:
        return None
    return frames


async def drain_frames(
    sock: zmq.asyncio.Socket, timeout_s: float | None, limit: int = 1000
) -> list[list[bytes]]:
    """Poll up to ``timeout_s``, then take every ready message (up to ``limit``) without blocking.

    Draining until EAGAIN matters: ZMQ_FD is edge-triggered, and one wake-up per message costs
    far more than the messages themselves."""
    timeout_ms = None if timeout_s is None else max(0, int(timeout_s * 1000))
    poll = cast("Callable[[int | None, int], Awaitable[int]]", sock.poll)
    if not await poll(timeout_ms, zmq.POLLIN) & zmq.POLLIN:
        return []
    out: list[list[bytes]] = []
    recv = sock.recv_multipart
    while len(out) < limit:
        fut = cast("asyncio.Future[list[bytes]]", recv(flags=zmq.NOBLOCK))
        exc = fut.exception()
        if exc is not None:
            if isinstance(exc, zmq.Again):
                break
            raise exc
        out.append(fut.result())
    return out


class ConnectMonitor:
    """Watches a connecting socket; logs "not connected after N s" while it has no peer.

    A ``connect()`` to a wrong host name silently retries forever; this makes it visible.
    """

    def __init__(
        self, sock: zmq.asyncio.Socket, endpoint: str, name: str, warn_after_s: float = 5.0
    ) -> None:
        self._sock = sock
        self._endpoint = endpoint
        self._name = name
        self._warn_after_s = warn_after_s
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()

    def start(self) -> None:
        """Start watching; call BEFORE ``connect()`` so the first CONNECTED event is seen."""
        # HANDSHAKE_SUCCEEDED, not CONNECTED: with IMMEDIATE a send fails until the ZMTP
        # handshake is done, so only then is the peer really there.
        msock = self._sock.get_monitor_socket(
            zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_DISCONNECTED
        )
        self._task = asyncio.get_running_loop().create_task(
            self._run(msock), name=f"mon-{self._name}"
        )

    async def _run(self, msock: zmq.asyncio.Socket) -> None:
        waited = 0.0
        try:
            while True:
                frames = await recv_frames(msock, self._warn_after_s)
                if frames is None:
                    if not self.connected.is_set():
                        waited += self._warn_after_s
                        logger.warning(
                            "not connected after N s",
                            socket=self._name,
                            endpoint=self._endpoint,
                            seconds=round(waited, 1),
                        )
                    continue
                event = parse_monitor_message(frames)["event"]
                if event == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                    self.connected.set()
                    waited = 0.0
                elif event == zmq.EVENT_DISCONNECTED:
                    self.connected.clear()
        finally:
            with contextlib.suppress(zmq.ZMQError):
                self._sock.disable_monitor()
            msock.close(linger=0)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
