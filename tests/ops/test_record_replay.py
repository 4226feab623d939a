"""Replay publishes a journal back byte for byte; tap prints decoded messages."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
import zmq
import zmq.asyncio

from engine import topics
from engine.bus.publisher import Publisher
from engine.clock import SystemClock
from engine.codec import Codec
from engine.config import BusConfig
from engine.messages import MarkPrice, Side, Trade
from ops.config import load_config
from ops.journal_file import JournalRecord, JournalWriter, read_journal
from ops.replay import replay_journal


@pytest.fixture
async def ctx() -> AsyncIterator[zmq.asyncio.Context]:
    c = zmq.asyncio.Context()
    yield c
    c.destroy(linger=0)


def test_journal_round_trip_ignores_torn_tail(tmp_path: Path) -> None:
    path = tmp_path / "j"
    w = JournalWriter(path)
    recs = [JournalRecord("md", b"t|", bytes([i]) * 10, i) for i in range(5)]
    for r in recs:
        w.write(r)
    w.close()
    with path.open("ab") as fh:
        fh.write(b"\x00\x00\x01\x00partial")
    assert list(read_journal(path)) == recs


async def test_replay_republishes_identical_bodies(
    ctx: zmq.asyncio.Context, bus_config: BusConfig, tmp_path: Path
) -> None:
    codec = Codec("md-feed", 5, lambda: 1)
    bodies = [
        codec.encode(MarkPrice("BTC-USDT-SWAP", Decimal(100 + i), i), seq=i + 1) for i in range(20)
    ]
    path = tmp_path / "bus.journal"
    w = JournalWriter(path)
    for i, b in enumerate(bodies):
        w.write(JournalRecord("md", topics.mark("BTC-USDT-SWAP").encode(), b, i * 1000))
    w.close()
    cfg = load_config(None).model_copy(update={"bus": bus_config})
    task = asyncio.create_task(replay_journal(ctx, cfg, path, 0, wait_for=["md"]))
    sock = ctx.socket(zmq.SUB)
    sock.setsockopt(zmq.SUBSCRIBE, b"")
    sock.connect(bus_config.connect_endpoint("md.pub"))
    got = []
    async with asyncio.timeout(5):
        while len(got) < len(bodies):
            frames = await sock.recv_multipart()
            got.append(frames[1])
    sock.close(linger=0)
    assert await task == len(bodies)
    assert got == bodies


@pytest.mark.slow
async def test_tap_prints_decoded_messages(
    ctx: zmq.asyncio.Context, bus_config: BusConfig, tmp_path: Path
) -> None:
    cfg_path = tmp_path / "c.yaml"
    bus = {"transport": "ipc", "ipc_dir": bus_config.ipc_dir}
    cfg_path.write_text(yaml.safe_dump({"bus": bus}))
    pub = Publisher(
        ctx,
        bus_config.bind_endpoint("md.pub"),
        src="md-feed",
        epoch=1,
        clock=SystemClock(),
        heartbeat_ms=0,
    )
    await pub.start()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ops.cli",
        "tap",
        "trade|",
        "--bus",
        "md",
        "--count",
        "3",
        "--config",
        str(cfg_path),
        stdout=asyncio.subprocess.PIPE,
    )
    try:

        async def feed() -> None:
            i = 0
            while True:
                pub.publish(
                    topics.trade("BTC-USDT-SWAP"),
                    Trade("BTC-USDT-SWAP", str(i), Decimal("1.5"), Decimal(1), Side.BUY, i),
                    retain=False,
                )
                pub.publish(topics.mark("BTC-USDT-SWAP"), MarkPrice("BTC-USDT-SWAP", Decimal(1), i))
                i += 1
                await asyncio.sleep(0.02)

        feeder = asyncio.create_task(feed())
        out, _ = await asyncio.wait_for(proc.communicate(), 30)
        feeder.cancel()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await pub.close()
    lines = out.decode().splitlines()
    assert len(lines) == 3
    for line in lines:
        bus, topic, body = line.split(" ", 2)
        assert (bus, topic) == ("md", "trade|BTC-USDT-SWAP|")
        env = json.loads(body)
        assert env["type"] == "Trade"
        assert env["msg"]["px"] == "1.5"
