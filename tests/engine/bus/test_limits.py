"""Inbound limits at the door: oversized frames and unknown protocol versions (issue 13 item 6)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal

import msgspec
import pytest
import zmq
import zmq.asyncio

from engine.bus.sockets import MAX_MSG_BYTES, configure_dealer, configure_router, recv_frames
from engine.codec import Codec
from engine.config import BusConfig
from engine.messages import PROTOCOL_VERSION, Envelope, MarkPrice


@pytest.fixture
async def ctx() -> AsyncIterator[zmq.asyncio.Context]:
    c = zmq.asyncio.Context()
    yield c
    c.destroy(linger=0)


async def test_an_oversized_frame_is_refused_and_the_receiver_goes_on(
    ctx: zmq.asyncio.Context, bus_config: BusConfig
) -> None:
    router = ctx.socket(zmq.ROUTER)
    configure_router(router)
    router.bind(bus_config.bind_endpoint("ord.cmd"))
    bad, good = ctx.socket(zmq.DEALER), ctx.socket(zmq.DEALER)
    for sock, ident in ((bad, b"bad"), (good, b"good")):
        configure_dealer(sock, ident)
        sock.setsockopt(zmq.IMMEDIATE, 0)
        sock.connect(bus_config.connect_endpoint("ord.cmd"))
    try:
        await bad.send(b"x" * (MAX_MSG_BYTES + 1))
        await good.send(b"hello")
        got: list[tuple[bytes, int]] = []
        async with asyncio.timeout(5):
            while not got or got[-1][0] != b"good":
                frames = await recv_frames(router, 5)
                assert frames is not None
                got.append((frames[0], len(frames[1])))
        assert all(size <= MAX_MSG_BYTES for _, size in got)
        await good.send(b"again")  # the receiver still serves everybody else
        frames = await recv_frames(router, 5)
        assert frames == [b"good", b"again"]
    finally:
        for sock in (router, bad, good):
            sock.close(linger=0)


def test_an_unknown_protocol_version_is_dropped_and_counted() -> None:
    codec = Codec("t", 1, lambda: 0)
    msg = MarkPrice(inst="BTC-USDT-SWAP", mark_px=Decimal("1"), ts_ms=1)
    future = msgspec.msgpack.encode(Envelope(PROTOCOL_VERSION + 1, "x", 1, 1, 0, msg))
    assert codec.decode(future) is None
    assert codec.bad_versions == 1
    ours = codec.decode(codec.encode(msg, 1))
    assert ours is not None
    assert ours.msg == msg
