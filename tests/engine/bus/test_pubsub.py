"""Publisher/Subscriber in one process over real ipc sockets: Clone sync, gaps, silence."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
import zmq
import zmq.asyncio

from engine import topics
from engine.bus.publisher import Publisher
from engine.bus.subscriber import Delivery, Subscriber
from engine.clock import SystemClock
from engine.config import BusConfig
from engine.messages import MarkPrice, PubHeartbeat, SnapshotEnd


def mark(px: str) -> MarkPrice:
    return MarkPrice(inst="BTC-USDT-SWAP", mark_px=Decimal(px), ts_ms=1)


@pytest.fixture
async def ctx() -> AsyncIterator[zmq.asyncio.Context]:
    c = zmq.asyncio.Context()
    yield c
    c.destroy(linger=0)


async def heard(sub: Subscriber, timeout_s: float = 2.0) -> None:
    """Wait until the subscription is live: a publisher heartbeat arrives on the stream (a
    snapshot alone proves nothing: updates sent before the SUB connects are lost)."""
    seen = sub.heartbeats
    async with asyncio.timeout(timeout_s):
        while sub.heartbeats == seen:
            await sub.recv(0.05)


async def next_data(sub: Subscriber, timeout_s: float = 2.0) -> Delivery:
    """Next non-heartbeat delivery, or fail after timeout_s."""
    async with asyncio.timeout(timeout_s):
        while True:
            d = await sub.recv(timeout_s)
            if d is not None and not isinstance(d.env.msg, PubHeartbeat):
                return d


def _clone_sub(
    ctx: zmq.asyncio.Context, bus_config: BusConfig, prefixes: list[str], **kw: Any
) -> Subscriber:
    """A Clone subscriber (stream + snapshot) of the test publisher."""
    return Subscriber(
        ctx,
        bus_config.connect_endpoint("md.pub"),
        snap_endpoint=bus_config.connect_endpoint("md.snap"),
        prefixes=prefixes,
        name="t",
        clock=SystemClock(),
        **kw,
    )


async def _publisher(ctx: zmq.asyncio.Context, bus_config: BusConfig) -> Publisher:
    """A started publisher with a snapshot server, heartbeating every 20 ms."""
    pub = Publisher(
        ctx,
        bus_config.bind_endpoint("md.pub"),
        src="t",
        epoch=1,
        clock=SystemClock(),
        snap_endpoint=bus_config.bind_endpoint("md.snap"),
        heartbeat_ms=20,
    )
    await pub.start()
    return pub


async def _pub_and_sub(
    ctx: zmq.asyncio.Context, bus_config: BusConfig, prefixes: list[str]
) -> tuple[Publisher, Subscriber]:
    return await _publisher(ctx, bus_config), _clone_sub(ctx, bus_config, prefixes)


async def test_late_joiner_gets_snapshot_then_updates_without_gap_or_duplicate(
    ctx: zmq.asyncio.Context, bus_config: BusConfig
) -> None:
    pub = await _publisher(ctx, bus_config)
    for i in range(5):
        pub.publish(topics.mark("BTC-USDT-SWAP"), mark(f"100{i}"))
    sub = _clone_sub(ctx, bus_config, [topics.mark("BTC-USDT-SWAP")])
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
    pub = await _publisher(ctx, bus_config)
    topic = topics.mark("BTC-USDT-SWAP")
    pub.publish(topic, mark("1"))
    sub = _clone_sub(ctx, bus_config, [topic])
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
        ctx,
        bus_config.connect_endpoint("md.pub"),
        prefixes=["x|"],
        name="s",
        clock=clock,
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


async def test_subscribe_all_is_not_fooled_by_heartbeat_seqs(
    ctx: zmq.asyncio.Context, bus_config: BusConfig
) -> None:
    """With prefix "" the heartbeats themselves are delivered; their seq is never a gap."""
    pub, sub = await _pub_and_sub(ctx, bus_config, [""])
    pub.publish(topics.mark("BTC-USDT-SWAP"), mark("1"))
    await sub.start()
    beats = 0
    async with asyncio.timeout(5):
        while beats < 10:
            d = await sub.recv(1.0)
            if d is not None and isinstance(d.env.msg, PubHeartbeat):
                assert topics.HEARTBEAT not in d.env.msg.seq_by_topic
                beats += 1
    assert (sub.gaps, sub.resyncs) == (0, 1)
    await sub.close()
    await pub.close()


async def test_lost_tail_resyncs_while_heartbeats_keep_the_stream_busy(
    ctx: zmq.asyncio.Context, bus_config: BusConfig
) -> None:
    """The last update of a topic is lost; heartbeats say so. A consumer blocked in one long
    ``recv`` still gets the resync (it used to wait for a data message that never came)."""
    topic = topics.mark("BTC-USDT-SWAP")
    pub, sub = await _pub_and_sub(ctx, bus_config, [topic])
    pub.publish(topic, mark("1"))
    await sub.start()
    assert (await next_data(sub)).env.msg == mark("1")
    await heard(sub)
    # lost on the wire: the retained state and seq move on, the frame never leaves
    pub._seqs[topic] += 1
    pub._retained[topic] = pub._codec.encode(mark("2"), pub._seqs[topic])
    got = await sub.recv(3.0)  # one call: heartbeats arrive inside it, every 20 ms
    while got is not None and isinstance(got.env.msg, PubHeartbeat):
        got = await sub.recv(3.0)
    assert got is not None
    assert got.from_snapshot
    assert got.env.msg == mark("2")
    assert sub.gaps == 1
    assert sub.synced
    await sub.close()
    await pub.close()


async def test_lost_first_message_of_a_new_topic_is_a_gap(
    ctx: zmq.asyncio.Context, bus_config: BusConfig
) -> None:
    """After a snapshot every topic it did not list is new: it must start at seq 1."""
    pub, sub = await _pub_and_sub(ctx, bus_config, ["mark|"])
    await sub.start()
    await heard(sub)
    eth = topics.mark("ETH-USDT-SWAP")
    pub._seqs[eth] = 1  # its first message was lost
    pub.publish(eth, mark("2"))
    got = await next_data(sub)
    assert got.env.seq == 2
    assert sub.gaps == 1
    async with asyncio.timeout(2):
        while not sub.synced:
            await sub.recv(0.05)
    await sub.close()
    await pub.close()


async def test_missing_publisher_is_reported_once_then_snapshot_arrives(
    ctx: zmq.asyncio.Context, bus_config: BusConfig
) -> None:
    """Subscriber first, publisher later (any start order works); one warning, not a stream."""
    from loguru import logger

    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m)), level="INFO", format="{message}")
    topic = topics.mark("BTC-USDT-SWAP")
    sub = _clone_sub(ctx, bus_config, [topic], snapshot_timeout_s=0.1)
    try:
        await sub.start()
        assert not sub.synced
        async with asyncio.timeout(2):
            while sub._snapshot_failures < 3:
                await sub.recv(0.05)
        pub = await _publisher(ctx, bus_config)
        pub.publish(topic, mark("7"))
        got = await next_data(sub, 5.0)
        assert got.env.msg == mark("7")
        assert sub.synced
        await pub.close()
    finally:
        logger.remove(sink)
        await sub.close()
    assert sum("no snapshot yet" in line for line in lines) == 1, lines
    assert any("snapshot received" in line for line in lines)


async def test_snapshot_end_marker_lists_what_the_snapshot_held(
    ctx: zmq.asyncio.Context, bus_config: BusConfig
) -> None:
    """With ``deliver_snapshot_end`` the consumer learns which topics the publisher holds: a
    forgotten topic is absent, so state kept only on the consumer's side can be dropped."""
    pub = await _publisher(ctx, bus_config)
    btc, eth = topics.mark("BTC-USDT-SWAP"), topics.mark("ETH-USDT-SWAP")
    pub.publish(btc, mark("1"))
    pub.publish(eth, mark("2"))
    pub.forget(eth)
    sub = _clone_sub(ctx, bus_config, ["mark|"], deliver_snapshot_end=True)
    plain = _clone_sub(ctx, bus_config, ["mark|"])
    await sub.start()
    await plain.start()
    try:
        first = await next_data(sub)
        assert first.topic == btc
        assert first.from_snapshot
        end = await next_data(sub)
        assert isinstance(end.env.msg, SnapshotEnd)
        assert end.from_snapshot
        assert end.env.msg.seq_by_topic == {btc: 1}
        got = await next_data(plain)
        assert got.topic == btc
        async with asyncio.timeout(2.0):  # the plain subscriber never sees the marker
            while plain.heartbeats < 3:
                d = await plain.recv(0.1)
                assert d is None or isinstance(d.env.msg, PubHeartbeat), d
    finally:
        await sub.close()
        await plain.close()
        await pub.close()
