"""Publisher/Subscriber in one process over real ipc sockets: Clone sync, gaps, silence."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
import zmq
import zmq.asyncio

from engine import topics
from engine.bus.publisher import Publisher
from engine.bus.subscriber import Delivery, Subscriber
from engine.clock import SystemClock
from engine.config import BusConfig
from engine.messages import MarkPrice, PubHeartbeat


def mark(px: str) -> MarkPrice:
    return MarkPrice(inst="BTC-USDT-SWAP", mark_px=Decimal(px), ts_ms=1)


@pytest.fixture
async def ctx() -> AsyncIterator[zmq.asyncio.Context]:
    c = zmq.asyncio.Context()
    yield c
    c.destroy(linger=0)


async def heard(sub: Subscriber, timeout_s: float = 2.0) -> None:
    """Wait until the subscription is live: the publisher's heartbeats arrive."""
    async with asyncio.timeout(timeout_s):
        while sub.last_heard_ns is None or sub.silent():
            await sub.recv(0.05)


async def next_data(sub: Subscriber, timeout_s: float = 2.0) -> Delivery:
    """Next non-heartbeat delivery, or fail after timeout_s."""
    async with asyncio.timeout(timeout_s):
        while True:
            d = await sub.recv(timeout_s)
            if d is not None and not isinstance(d.env.msg, PubHeartbeat):
                return d


async def test_late_joiner_gets_snapshot_then_updates_without_gap_or_duplicate(
    ctx: zmq.asyncio.Context, bus_config: BusConfig
) -> None:
    clock = SystemClock()
    pub = Publisher(
        ctx,
        bus_config.bind_endpoint("md.pub"),
        src="t",
        epoch=1,
        clock=clock,
        snap_endpoint=bus_config.bind_endpoint("md.snap"),
        heartbeat_ms=20,
    )
    await pub.start()
    for i in range(5):
        pub.publish(topics.mark("BTC-USDT-SWAP"), mark(f"100{i}"))
    sub = Subscriber(
        ctx,
        bus_config.connect_endpoint("md.pub"),
        snap_endpoint=bus_config.connect_endpoint("md.snap"),
        prefixes=[topics.mark("BTC-USDT-SWAP")],
        name="late",
        clock=clock,
    )
    await sub.start()
    first = await next_data(sub)
    assert first.from_snapshot
    assert isinstance(first.env.msg, MarkPrice)
    assert first.env.msg.mark_px == Decimal("1004")
    assert first.env.seq == 5
    # Wait until the subscription is live (heartbeats arrive), then publish more.
    await heard(sub)
    pub.publish(topics.mark("BTC-USDT-SWAP"), mark("2000"))
    nxt = await next_data(sub)
    assert not nxt.from_snapshot
    assert nxt.env.seq == 6
    assert sub.gaps == 0
    await sub.close()
    await pub.close()


async def test_dropped_update_is_detected_as_gap_and_resynced(
    ctx: zmq.asyncio.Context, bus_config: BusConfig
) -> None:
    clock = SystemClock()
    pub = Publisher(
        ctx,
        bus_config.bind_endpoint("md.pub"),
        src="t",
        epoch=1,
        clock=clock,
        snap_endpoint=bus_config.bind_endpoint("md.snap"),
        heartbeat_ms=20,
    )
    await pub.start()
    topic = topics.mark("BTC-USDT-SWAP")
    pub.publish(topic, mark("1"))
    sub = Subscriber(
        ctx,
        bus_config.connect_endpoint("md.pub"),
        snap_endpoint=bus_config.connect_endpoint("md.snap"),
        prefixes=[topic],
        name="gap",
        clock=clock,
    )
    await sub.start()
    assert (await next_data(sub)).from_snapshot
    await heard(sub)
    # Simulate a lost frame: bump the seq without sending, as if the frame was dropped.
    pub._seqs[topic] += 1
    pub.publish(topic, mark("3"))
    got = await next_data(sub)
    assert got.env.seq == 3
    assert sub.gaps == 1
    # The subscriber re-snapshots by itself (the retained item equals what it already has).
    async with asyncio.timeout(2):
        while sub.resyncs < 2:
            await sub.recv(0.05)
    assert sub.synced
    await sub.close()
    await pub.close()


async def test_silent_publisher_is_detected_within_threshold(
    ctx: zmq.asyncio.Context, bus_config: BusConfig
) -> None:
    clock = SystemClock()
    pub = Publisher(
        ctx, bus_config.bind_endpoint("md.pub"), src="t", epoch=1, clock=clock, heartbeat_ms=20
    )
    await pub.start()
    sub = Subscriber(
        ctx, bus_config.connect_endpoint("md.pub"), prefixes=["x|"], name="s", clock=clock,
        silence_ms=150,
    )
    await sub.start()
    await heard(sub)
    assert not sub.silent()
    await pub.close()
    stopped_ns = clock.monotonic_ns()
    async with asyncio.timeout(2):
        while not sub.silent():
            await sub.recv(0.01)
    detected_ms = (clock.monotonic_ns() - stopped_ns) / 1e6
    assert 100 <= detected_ms < 400
    await sub.close()
