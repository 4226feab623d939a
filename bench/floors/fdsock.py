"""A sync pyzmq socket driven from an asyncio loop through its ZMQ_FD (the ``uvloop-fd`` mode).

The cheapest asyncio path: try the operation with NOBLOCK first, park on a future only after it
raised Again. ZMQ_FD is edge-triggered: a wake-up with nobody waiting reads ZMQ_EVENTS, which
clears it (else a level-triggered loop keeps calling back).
"""

from __future__ import annotations

import asyncio

import zmq


class FdSocket:
    """recv / recv_multipart for a receive-only socket read by one task."""

    def __init__(self, sock: zmq.Socket[bytes]) -> None:
        self.sock = sock
        self.loop = asyncio.get_running_loop()
        self.fd = int(sock.getsockopt(zmq.FD))
        self.waiter: asyncio.Future[None] | None = None
        self.loop.add_reader(self.fd, self._wake)

    def _wake(self) -> None:
        w, self.waiter = self.waiter, None
        if w is None:
            self.sock.getsockopt(zmq.EVENTS)
        elif not w.done():
            w.set_result(None)

    async def _park(self) -> None:
        self.waiter = self.loop.create_future()
        await self.waiter

    async def recv(self) -> bytes:
        while True:
            try:
                return self.sock.recv(zmq.NOBLOCK)
            except zmq.Again:
                await self._park()

    async def recv_multipart(self) -> list[bytes]:
        while True:
            try:
                return self.sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                await self._park()

    def close(self) -> None:
        self.loop.remove_reader(self.fd)
