"""The ``ctl`` endpoint every actor binds: ``CtlRequest`` in, ``CtlReply`` out (ROUTER).

Handlers are registered by command name; an unknown command gets ``ok=False`` with the list of
supported ones. A handler that raises gets ``ok=False`` with the error text, never a crash.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import zmq
import zmq.asyncio
from loguru import logger

from engine.bus.sockets import (
    bind,
    configure_dealer,
    configure_router,
    connect,
    recv_frames,
    send_nowait,
)
from engine.clock import Clock
from engine.codec import Codec
from engine.messages import CtlReply, CtlRequest

__all__ = ["CtlHandler", "CtlServer", "ctl_call"]

CtlHandler = Callable[[CtlRequest], Awaitable[CtlReply]]


class CtlServer:
    """Serves ctl requests on a ROUTER socket."""

    def __init__(self, ctx: zmq.asyncio.Context, endpoint: str, *, src: str, clock: Clock) -> None:
        self._ctx = ctx
        self._endpoint = endpoint
        self._codec = Codec(src, 0, clock.now_ns, name=f"{src}.ctl")
        self._handlers: dict[str, CtlHandler] = {}
        self._sock: zmq.asyncio.Socket | None = None
        self._task: asyncio.Task[None] | None = None

    def register(self, cmd: str, handler: CtlHandler) -> None:
        self._handlers[cmd] = handler

    @property
    def commands(self) -> list[str]:
        return sorted(self._handlers)

    async def start(self) -> None:
        self._sock = self._ctx.socket(zmq.ROUTER)
        configure_router(self._sock)
        bind(self._sock, self._endpoint)
        self._task = asyncio.get_running_loop().create_task(self._serve(), name="ctl-server")

    async def _serve(self) -> None:
        assert self._sock is not None
        while True:
            frames = await recv_frames(self._sock, None)
            if frames is None or len(frames) != 2:
                continue
            identity, body = frames
            env = self._codec.decode(body, origin="ctl")
            if env is None or not isinstance(env.msg, CtlRequest):
                continue
            reply = await self._handle(env.msg)
            with contextlib.suppress(zmq.ZMQError):
                send_nowait(self._sock, [identity, self._codec.encode(reply, env.seq)])

    async def _handle(self, req: CtlRequest) -> CtlReply:
        handler = self._handlers.get(req.cmd)
        if handler is None:
            return CtlReply(
                cmd=req.cmd, ok=False, detail=f"unknown command; supported: {self.commands}"
            )
        try:
            return await handler(req)
        except Exception as exc:  # noqa: BLE001 — a ctl handler must never kill the actor
            logger.exception("ctl handler failed", cmd=req.cmd)
            return CtlReply(cmd=req.cmd, ok=False, detail=f"{type(exc).__name__}: {exc}")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._sock is not None:
            self._sock.close(linger=0)
        self._sock = None


async def ctl_call(
    ctx: zmq.asyncio.Context,
    endpoint: str,
    req: CtlRequest,
    *,
    clock: Clock,
    timeout_s: float = 2.0,
    src: str = "cli",
) -> CtlReply:
    """Send one ctl request and await its reply; raises TimeoutError if nobody answers."""
    codec = Codec(src, 0, clock.now_ns, name=f"{src}.ctl")
    sock = ctx.socket(zmq.DEALER)
    configure_dealer(sock, None)
    sock.setsockopt(zmq.IMMEDIATE, 0)
    try:
        connect(sock, endpoint)
        send_nowait(sock, [codec.encode(req, 1)])
        deadline = clock.monotonic_ns() + int(timeout_s * 1e9)
        while True:
            remaining = (deadline - clock.monotonic_ns()) / 1e9
            if remaining <= 0:
                raise TimeoutError(f"no ctl reply from {endpoint} within {timeout_s} s")
            frames = await recv_frames(sock, remaining)
            if frames is None:
                continue
            env = codec.decode(frames[-1], origin=endpoint)
            if env is not None and isinstance(env.msg, CtlReply):
                return env.msg
    finally:
        sock.close(linger=0)
