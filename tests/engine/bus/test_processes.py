"""Pub/sub across spawned processes: late joiner sync, killed publisher, restarted publisher."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import zmq
import zmq.asyncio

from engine import topics
from engine.bus.subscriber import Subscriber
from engine.clock import SystemClock
from engine.config import BusConfig
from engine.messages import MarkPrice

PEER = Path(__file__).with_name("peer.py")
pytestmark = pytest.mark.slow


@pytest.fixture
async def ctx() -> AsyncIterator[zmq.asyncio.Context]:
    c = zmq.asyncio.Context()
    yield c
    c.destroy(linger=0)


class PubProc:
    def __init__(self, bus: BusConfig, n: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(PEER), "pub", bus.ipc_dir, str(n)],
            stdout=subprocess.PIPE,
            text=True,
        )

    async def ready(self) -> None:
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(self.proc.stdout.readline), 10)
        assert line.strip() == "ready"

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()
        assert self.proc.stdout is not None
        self.proc.stdout.close()


@pytest.fixture
def procs() -> Iterator[list[PubProc]]:
    started: list[PubProc] = []
    yield started
    for p in started:
        p.stop()


async def test_late_joiner_across_processes_gets_state_then_contiguous_updates(
    ctx: zmq.asyncio.Context, bus_config: BusConfig, procs: list[PubProc]
) -> None:
    procs.append(PubProc(bus_config, 50))
    await procs[0].ready()
    sub = Subscriber(
        ctx,
        bus_config.connect_endpoint("md.pub"),
        snap_endpoint=bus_config.connect_endpoint("md.snap"),
        prefixes=[topics.mark("BTC-USDT-SWAP")],
        name="late",
        clock=SystemClock(),
    )
    await sub.start()
    seqs: list[int] = []
    first_from_snapshot = None
    async with asyncio.timeout(10):
        while len(seqs) < 30:
            d = await sub.recv(1)
            if d is None or not isinstance(d.env.msg, MarkPrice):
                continue
            if first_from_snapshot is None:
                first_from_snapshot = d.from_snapshot
            seqs.append(d.env.seq)
    assert first_from_snapshot is True
    assert seqs[0] >= 50
    # no gap and no duplicate after the snapshot: strictly consecutive
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    assert sub.gaps == 0
    await sub.close()


async def test_killed_publisher_is_silent_then_restart_resyncs(
    ctx: zmq.asyncio.Context, bus_config: BusConfig, procs: list[PubProc]
) -> None:
    clock = SystemClock()
    procs.append(PubProc(bus_config, 5))
    await procs[0].ready()
    sub = Subscriber(
        ctx,
        bus_config.connect_endpoint("md.pub"),
        snap_endpoint=bus_config.connect_endpoint("md.snap"),
        prefixes=[topics.mark("BTC-USDT-SWAP")],
        name="s",
        clock=clock,
        silence_ms=300,
    )
    await sub.start()
    async with asyncio.timeout(5):
        while sub.silent():
            await sub.recv(0.05)
    procs[0].proc.send_signal(signal.SIGKILL)
    killed = clock.monotonic_ns()
    async with asyncio.timeout(3):
        while not sub.silent():
            await sub.recv(0.02)
    detected_ms = (clock.monotonic_ns() - killed) / 1e6
    assert detected_ms < 300 + 200
    # a new publisher process (new epoch, seqs restart at 1) is followed via a fresh snapshot
    procs.append(PubProc(bus_config, 3))
    await procs[1].ready()
    resyncs_before = sub.resyncs
    got_new = False
    async with asyncio.timeout(10):
        while not got_new:
            d = await sub.recv(0.5)
            if d is not None and isinstance(d.env.msg, MarkPrice) and sub.resyncs > resyncs_before:
                got_new = True
    assert not sub.silent()
    await sub.close()
