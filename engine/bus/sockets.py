"""Socket options (architecture §2–3), non-blocking send/receive helpers, and a connect monitor.

Rules this module enforces: LINGER is always set explicitly; receive = poll with a timeout, then
``recv(DONTWAIT)`` (never ``asyncio.wait_for`` around ``recv``); sends never block a loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
from collections.abc import Awaitable, Callable
from typing import Any, cast

import zmq
import zmq.asyncio
from loguru import logger
from zmq.utils.monitor import parse_monitor_message

from engine.bus.curve import apply_client, apply_server
from engine.errors import BindError

__all__ = [
    "ConnectMonitor",
    "bind",
    "close_monitor",
    "configure_dealer",
    "configure_pub",
    "configure_router",
    "configure_sub",
    "connect",
    "drain_frames",
    "open_monitor",
    "recv_frames",
    "send_nowait",
    "sync_view",
    "wake_waiters",
]

LINGER_MS = 0
_monitor_ids = itertools.count(1)
_NOWAIT = int(zmq.NOBLOCK)  # plain ints: flag enums cost a Python call per operation
ZMTP_HEARTBEAT_IVL_MS = 100
# Largest inbound message any okxmm socket accepts. Our largest bodies (a fill ring slot, a
# heartbeat at full churn) are tens of KB; a peer sending more is broken or hostile, and libzmq
# drops its connection instead of making us allocate and decode it (a 50 MB frame was decoded).
MAX_MSG_BYTES = 4 * 1024 * 1024
ZMTP_HEARTBEAT_TIMEOUT_MS = 300


def bind(sock: zmq.asyncio.Socket, endpoint: str) -> None:
    """Bind ``sock`` (a CURVE server on a secured tcp bus), or close it and raise
    :class:`BindError` naming the endpoint: a bare ZMQError says "Address already in use"
    without saying which one."""
    try:
        apply_server(sock, endpoint)
    except BaseException:
        sock.close(linger=0)
        raise
    try:
        sock.bind(endpoint)
    except zmq.ZMQError as exc:
        sock.close(linger=0)
        raise BindError(endpoint, os.strerror(exc.errno or 0).lower()) from None


def connect(sock: zmq.asyncio.Socket, endpoint: str) -> None:
    """Connect ``sock``; on a secured tcp bus as a CURVE client (server key + own keypair)."""
    apply_client(sock, endpoint)
    sock.connect(endpoint)


def configure_pub(sock: zmq.asyncio.Socket, hwm: int = 100_000) -> None:
    """PUB: a deep queue (drops silently at HWM, which is why nothing that matters goes on PUB)."""
    sock.setsockopt(zmq.LINGER, LINGER_MS)
    sock.setsockopt(zmq.MAXMSGSIZE, MAX_MSG_BYTES)
    sock.setsockopt(zmq.SNDHWM, hwm)


def configure_sub(sock: zmq.asyncio.Socket, hwm: int = 100_000) -> None:
    sock.setsockopt(zmq.LINGER, LINGER_MS)
    sock.setsockopt(zmq.MAXMSGSIZE, MAX_MSG_BYTES)
    sock.setsockopt(zmq.RCVHWM, hwm)


def configure_dealer(sock: zmq.asyncio.Socket, identity: bytes | None, sndhwm: int = 1000) -> None:
    """DEALER for commands: IMMEDIATE so nothing queues for a server that is not there."""
    if identity:
        sock.setsockopt(zmq.ROUTING_ID, identity)
    sock.setsockopt(zmq.LINGER, LINGER_MS)
    sock.setsockopt(zmq.MAXMSGSIZE, MAX_MSG_BYTES)
    sock.setsockopt(zmq.IMMEDIATE, 1)
    sock.setsockopt(zmq.SNDHWM, sndhwm)
    sock.setsockopt(zmq.RECONNECT_IVL, 50)
    # a worker starts before its router binds (okxmm up spawns it first): a failed connect is
    # retried with doubling gaps, capped low so the Hello goes out soon after the bind
    sock.setsockopt(zmq.RECONNECT_IVL_MAX, 250)
    sock.setsockopt(zmq.HEARTBEAT_IVL, ZMTP_HEARTBEAT_IVL_MS)
    sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, ZMTP_HEARTBEAT_TIMEOUT_MS)
    sock.setsockopt(zmq.HEARTBEAT_TTL, ZMTP_HEARTBEAT_TIMEOUT_MS)


def configure_router(sock: zmq.asyncio.Socket, sndhwm: int = 10_000) -> None:
    """ROUTER: MANDATORY so a send to a vanished peer fails loudly (EHOSTUNREACH) — our probe."""
    sock.setsockopt(zmq.LINGER, LINGER_MS)
    sock.setsockopt(zmq.MAXMSGSIZE, MAX_MSG_BYTES)
    sock.setsockopt(zmq.ROUTER_MANDATORY, 1)
    sock.setsockopt(zmq.ROUTER_HANDOVER, 1)
    sock.setsockopt(zmq.SNDHWM, sndhwm)
    sock.setsockopt(zmq.HEARTBEAT_IVL, ZMTP_HEARTBEAT_IVL_MS)
    sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, ZMTP_HEARTBEAT_TIMEOUT_MS)
    sock.setsockopt(zmq.HEARTBEAT_TTL, ZMTP_HEARTBEAT_TIMEOUT_MS)


def sync_view(sock: zmq.Socket[Any]) -> zmq.Socket[bytes]:
    """The blocking-API twin of an asyncio socket (same underlying libzmq socket).

    Non-blocking sends and receives on it skip the Future that every zmq.asyncio call creates
    (measured: ~2.5 µs of ~5 µs per message each way). Only ever used with NOBLOCK, so the
    event loop never blocks; waiting is still done by the asyncio socket (``poll`` or an awaited
    receive), which re-checks ZMQ_EVENTS before it sleeps. A send on the twin must be followed
    by :func:`wake_waiters` when a coroutine may be awaiting a receive on the same socket.
    """
    view = getattr(sock, "_shadow_sock", None)  # zmq.asyncio keeps one; plain sockets are it
    return cast("zmq.Socket[bytes]", view if view is not None else sock)


def send_nowait(sock: zmq.Socket[Any], frames: list[bytes]) -> None:
    """Send without blocking; raises ``zmq.Again`` at HWM or ``zmq.ZMQError`` (EHOSTUNREACH)."""
    view = sync_view(sock)
    try:
        view.send_multipart(frames, flags=_NOWAIT)
    finally:
        # a send that fails (EHOSTUNREACH to a vanished peer, EAGAIN) has processed the
        # mailbox too: without this a command that arrived meanwhile sat unread (found by a
        # stress test: a probe to a closed client while the next client's Hello arrived)
        if view is not sock:
            wake_waiters(sock)


def wake_waiters(sock: zmq.Socket[Any]) -> None:
    """After an operation on the sync twin, let the asyncio socket re-check ZMQ_EVENTS.

    ZMQ_FD is edge-triggered and any send/recv/EVENTS read may consume the edge that announced
    an incoming message; a coroutine awaiting a receive on the asyncio socket would then sleep
    until the queue drains, i.e. forever (seen: the router stopped reading commands). Reading
    EVENTS through the asyncio socket makes pyzmq wake such a waiter if a message is there.
    """
    sock.get(zmq.EVENTS)


def _recv_now(view: zmq.Socket[bytes]) -> list[bytes]:
    """One whole message, non-blocking (raises ``zmq.Again``). Frames give ``more`` without the
    RCVMORE getsockopt, whose enum conversion costs more than the receive (measured ~25 %)."""
    recv = view.recv
    frame = recv(_NOWAIT, copy=False)
    parts = [frame.bytes]
    while frame.more:
        frame = recv(_NOWAIT, copy=False)
        parts.append(frame.bytes)
    return parts


async def recv_frames(sock: zmq.asyncio.Socket, timeout_s: float | None) -> list[bytes] | None:
    """One message: taken at once if ready, else waited for up to ``timeout_s`` (None:
    forever); None if nothing came."""
    batch = await drain_frames(sock, timeout_s, limit=1)
    return batch[0] if batch else None


async def drain_frames(
    sock: zmq.asyncio.Socket, timeout_s: float | None, limit: int = 1000
) -> list[list[bytes]]:
    """Take every ready message (up to ``limit``) without blocking; if none is ready, poll up to
    ``timeout_s`` (None: forever) first.

    Draining until EAGAIN matters: ZMQ_FD is edge-triggered, and one wake-up per message costs
    far more than the messages themselves."""
    view = sync_view(sock)
    out: list[list[bytes]] = []
    if timeout_s is None:
        # no deadline: one awaited receive is the cheapest wake-up (a poll costs two), and it
        # takes a message already queued at once (pyzmq checks ZMQ_EVENTS first)
        out.append(await sock.recv_multipart())
    else:
        try:
            out.append(_recv_now(view))
        except zmq.Again:
            if timeout_s <= 0:
                return out
            poll = cast("Callable[[int | None, int], Awaitable[int]]", sock.poll)
            if not await poll(max(1, int(timeout_s * 1000)), zmq.POLLIN) & zmq.POLLIN:
                return out
    while len(out) < limit:
        try:
            out.append(_recv_now(view))
        except zmq.Again:
            break
    return out


def open_monitor(sock: zmq.asyncio.Socket, events: int) -> zmq.asyncio.Socket:
    """A PAIR receiving ``sock``'s monitor events, on a pipe with no high-water mark.

    Not pyzmq's ``get_monitor_socket``: libzmq writes monitor events with a *blocking* send from
    its I/O thread, so a monitor queue at HWM (1000 + 1000 by default) freezes every socket of
    the context — found by a stress test where the router stopped talking after 2000 clients
    had come and gone. RCVHWM 0 on our end makes the pipe unbounded (events are ~100 bytes; a
    stalled reader costs memory, never the I/O thread). The endpoint name is unique per call
    (pyzmq derives it from the FD number, which the OS reuses).
    """
    addr = f"inproc://okxmm-monitor-{os.getpid()}-{next(_monitor_ids)}"
    sock.monitor(addr, events)
    msock = cast("zmq.asyncio.Socket", sock.context.socket(zmq.PAIR))
    msock.setsockopt(zmq.LINGER, LINGER_MS)
    msock.setsockopt(zmq.RCVHWM, 0)
    msock.connect(addr)
    return msock


def close_monitor(sock: zmq.asyncio.Socket, msock: zmq.asyncio.Socket) -> None:
    """Stop ``sock``'s monitor (if it is still open) and close the PAIR."""
    with contextlib.suppress(zmq.ZMQError):
        if not sock.closed:
            sock.disable_monitor()
    msock.close(linger=0)


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
        msock = open_monitor(
            self._sock,
            zmq.EVENT_HANDSHAKE_SUCCEEDED
            | zmq.EVENT_DISCONNECTED
            | zmq.EVENT_HANDSHAKE_FAILED_AUTH
            | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL,
        )
        self._task = asyncio.get_running_loop().create_task(
            self._run(msock), name=f"mon-{self._name}"
        )

    async def _run(self, msock: zmq.asyncio.Socket) -> None:
        waited = 0.0
        refused_logged = False
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
                    refused_logged = False
                elif event in (
                    zmq.EVENT_HANDSHAKE_FAILED_AUTH,
                    zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL,
                ):
                    # retried every second: once until it works (the server logs each time)
                    if not refused_logged:
                        logger.error(
                            "bus handshake refused (key not allowed, or CURVE mismatch)",
                            socket=self._name,
                            endpoint=self._endpoint,
                        )
                        refused_logged = True
                elif event == zmq.EVENT_DISCONNECTED:
                    self.connected.clear()
        finally:
            close_monitor(self._sock, msock)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
