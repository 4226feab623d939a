"""Bus state stays bounded however many topics come and go (issue 13, item 1).

Before the fix, ``Publisher.forget()`` dropped the retained body but kept the topic's seq, so
every heartbeat listed every ``ord|<strategy>|<clOrdId>|`` topic ever published (1.66 MB after
52 minutes) and every subscriber's seq map grew with it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal

import msgspec
import pytest
import zmq
import zmq.asyncio

from engine import topics
from engine.bus.publisher import FORGOTTEN_MAX, FORGOTTEN_TAIL_S, Publisher
from engine.bus.subscriber import Subscriber
from engine.clock import FakeClock, SystemClock
from engine.config import BusConfig
from engine.messages import MarkPrice, PubHeartbeat
from tests.engine.bus.test_pubsub import heard

TOPICS = 5_000


def mark(px: str) -> MarkPrice:
    return MarkPrice(inst="BTC-USDT-SWAP", mark_px=Decimal(px), ts_ms=1)


@pytest.fixture
async def ctx() -> AsyncIterator[zmq.asyncio.Context]:
    c = zmq.asyncio.Context()
    yield c
    c.destroy(linger=0)


def order_topic(i: int) -> str:
    return topics.order_event_of("mm-btc", f"mmbtc1x{i:08d}")


async def test_forgotten_topics_leave_the_heartbeat(
    ctx: zmq.asyncio.Context, bus_config: BusConfig
) -> None:
    clock = FakeClock()
    pub = Publisher(ctx, bus_config.bind_endpoint("ord.pub"), src="t", epoch=1, clock=clock)
    await pub.start()
    try:
        pub.publish(topics.mark("BTC-USDT-SWAP"), mark("1"))  # a live topic stays listed
        for i in range(TOPICS):
            pub.publish(order_topic(i), mark("1"))
            pub.forget(order_topic(i))
            clock.advance(1_000_000)  # 1 ms apart: 5 s of churn
        listed = pub.seq_by_topic
        # the tail keeps only the last second of forgotten topics, and never more than the cap
        assert len(listed) <= 1 + min(FORGOTTEN_MAX, int(FORGOTTEN_TAIL_S * 1000) + 1)
        assert topics.mark("BTC-USDT-SWAP") in listed
        assert order_topic(TOPICS - 1) in listed  # the newest terminal is still announced
        assert order_topic(0) not in listed
        clock.advance_s(FORGOTTEN_TAIL_S + 0.1)
        assert list(pub.seq_by_topic) == [topics.mark("BTC-USDT-SWAP")]
        assert pub.live_topics == 1
        hb = msgspec.msgpack.encode(PubHeartbeat(actor="t", seq_by_topic=pub.seq_by_topic))
        assert len(hb) < 100
    finally:
        await pub.close()


async def test_republished_topic_continues_its_seq(
    ctx: zmq.asyncio.Context, bus_config: BusConfig
) -> None:
    clock = FakeClock()
    pub = Publisher(ctx, bus_config.bind_endpoint("ord.pub"), src="t", epoch=1, clock=clock)
    await pub.start()
    try:
        assert pub.publish("x|", mark("1")) == 1
        pub.forget("x|")
        assert pub.publish("x|", mark("2")) == 2  # inside the tail: seq goes on
        pub.forget("x|")
        clock.advance_s(FORGOTTEN_TAIL_S + 0.1)
        assert pub.publish("x|", mark("3")) == 1  # long forgotten: a fresh topic
    finally:
        await pub.close()


async def test_subscriber_map_and_heartbeats_stay_flat_over_real_sockets(
    ctx: zmq.asyncio.Context, bus_config: BusConfig
) -> None:
    """Thousands of order topics published and forgotten: the heartbeat a subscriber receives
    and the subscriber's seq map end as small as the live state, and nothing is lost."""
    pub = Publisher(
        ctx,
        bus_config.bind_endpoint("ord.pub"),
        src="t",
        epoch=1,
        clock=SystemClock(),
        snap_endpoint=bus_config.bind_endpoint("ord.snap"),
        heartbeat_ms=20,
    )
    await pub.start()
    sub = Subscriber(
        ctx,
        bus_config.connect_endpoint("ord.pub"),
        snap_endpoint=bus_config.connect_endpoint("ord.snap"),
        prefixes=["ord|", topics.HEARTBEAT],  # heartbeats delivered too: the test reads them
        name="t",
        clock=SystemClock(),
    )
    await sub.start()
    try:
        await heard(sub)
        pub.publish("ord|probe|", mark("0"))
        async with asyncio.timeout(5):
            while (d := await sub.recv(0.1)) is None or d.topic != "ord|probe|":
                pass  # the stream is live once the probe arrives
        received = 0
        for i in range(2_000):
            pub.publish(order_topic(i), mark("1"), retain=False)
            pub.publish(order_topic(i), mark("2"), retain=False)
            pub.forget(order_topic(i))
            if i % 200 == 199:  # let the subscriber keep up (SUB drops at HWM, as designed)
                while (d := await sub.recv(0)) is not None:
                    received += not isinstance(d.env.msg, PubHeartbeat)
        biggest_late_hb = 0
        async with asyncio.timeout(10):
            # wait until the tail has expired and the heartbeats are back to the live state
            while True:
                d = await sub.recv(1.0)
                if d is None:
                    continue
                if isinstance(d.env.msg, PubHeartbeat):
                    size = len(d.env.msg.seq_by_topic)
                    if size <= 1 and sub.tracked_topics <= 1:
                        biggest_late_hb = size
                        break
                else:
                    received += 1
        assert received == 4_000
        assert sub.gaps == 0
        assert biggest_late_hb <= 1
        assert sub.tracked_topics <= 1
        assert pub.live_topics == 2  # the probe and hb| itself
    finally:
        await sub.close()
        await pub.close()
