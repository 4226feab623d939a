"""The actor runtime in a real process (the recorder actor): ctl, status, graceful stop, replay."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
import zmq
import zmq.asyncio

from engine import topics
from engine.bus.ctl import ctl_call
from engine.bus.publisher import Publisher
from engine.clock import SystemClock
from engine.config import BusConfig
from engine.messages import CtlRequest, MarkPrice
from ops.journal_file import read_journal

pytestmark = pytest.mark.slow


@pytest.fixture
async def ctx() -> AsyncIterator[zmq.asyncio.Context]:
    c = zmq.asyncio.Context()
    yield c
    c.destroy(linger=0)


def write_config(tmp_path: Path, bus: BusConfig) -> Path:
    path = tmp_path / "okxmm.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "bus": {"transport": "ipc", "ipc_dir": bus.ipc_dir},
                "log_dir": str(tmp_path / "log"),
                "var_dir": str(tmp_path / "var"),
            }
        )
    )
    return path


async def wait_ping(ctx: zmq.asyncio.Context, endpoint: str, timeout_s: float = 15) -> None:
    clock = SystemClock()
    async with asyncio.timeout(timeout_s):
        while True:
            try:
                reply = await ctl_call(
                    ctx, endpoint, CtlRequest(cmd="ping"), clock=clock, timeout_s=0.3
                )
            except TimeoutError:
                continue
            if reply.ok:
                return


async def test_actor_answers_ctl_records_and_stops_gracefully_on_sigterm(
    ctx: zmq.asyncio.Context, bus_config: BusConfig, tmp_path: Path
) -> None:
    cfg_path = write_config(tmp_path, bus_config)
    journal = tmp_path / "bus.journal"
    clock = SystemClock()
    pub = Publisher(
        ctx,
        bus_config.bind_endpoint("md.pub"),
        src="md-feed",
        epoch=1,
        clock=clock,
        heartbeat_ms=20,
    )
    await pub.start()
    proc = subprocess.Popen(
        [sys.executable, "-m", "ops.recorder", "--config", str(cfg_path), "--out", str(journal)],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ctl = bus_config.connect_endpoint("ctl.recorder")
        await wait_ping(ctx, ctl)
        unknown = await ctl_call(ctx, ctl, CtlRequest(cmd="bogus"), clock=clock)
        assert not unknown.ok
        assert "supported" in unknown.detail
        for i in range(20):
            pub.publish(topics.mark("BTC-USDT-SWAP"), MarkPrice("BTC-USDT-SWAP", Decimal(i), i))
        async with asyncio.timeout(10):
            while True:
                status = await ctl_call(ctx, ctl, CtlRequest(cmd="status"), clock=clock)
                if int(status.status["recorded"]) >= 20:
                    break
                await asyncio.sleep(0.05)
        assert status.status["actor"] == "recorder"
        mem = await ctl_call(
            ctx, ctl, CtlRequest(cmd="memory", args={"trace": "1"}), clock=clock, timeout_s=10
        )
        assert mem.ok
        assert mem.status["tracing"] is True
        assert any(k.startswith("type.") for k in mem.status)
        # the recorder measures no latencies: a clear refusal, not an empty "ok"
        lat = await ctl_call(ctx, ctl, CtlRequest(cmd="latencies"), clock=clock)
        assert not lat.ok
        assert "records no latencies" in lat.detail
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(asyncio.to_thread(proc.wait), 10)
        assert code == 0
    finally:
        proc.kill()
        proc.wait()
        assert proc.stderr is not None
        log = proc.stderr.read()
        proc.stderr.close()
        await pub.close()
    assert "stopped" in log
    marks = [r for r in read_journal(journal) if r.topic.startswith(b"mark|")]
    assert len(marks) >= 20
    assert all(r.bus == "md" for r in marks)


async def test_cli_ctl_reports_no_answer_clearly(bus_config: BusConfig, tmp_path: Path) -> None:
    cfg_path = write_config(tmp_path, bus_config)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ops.cli",
        "ctl",
        "router",
        "ping",
        "--config",
        str(cfg_path),
        "--timeout",
        "0.3",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 3
    assert b"no answer" in err
