"""``okxmm record --raw`` against the local exchange (today's profile: no book snapshot,
checksum 0): the frames come back verbatim, the books rebuild with the live feed's code from the
recorded REST snapshots, and a seqId gap is reported and healed, never bridged."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from pathlib import Path

import pytest

from engine.config import BusConfig
from gateway.book_replay import BookReplay
from ops.exchange.testing import RunningExchange, running_exchange
from ops.marketdata.rawfile import RawFileError, read_raw
from tests.engine.router.procs import REPO, _env, write_config

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]
INST = "BTC-USDT-SWAP"


def _frames(out: Path) -> list[tuple[str, str]]:
    got = []
    for path in sorted(out.glob("*.okxraw.gz")):
        with contextlib.suppress(RawFileError):  # the member being written right now
            got.extend((f.stream, f.text) for f in read_raw(path))
    return got


async def _until_frames(out: Path, want: str, timeout_s: float, after: int = 0) -> int:
    async with asyncio.timeout(timeout_s):
        while True:
            frames = _frames(out)
            if any(want in s or want in t for s, t in frames[after:]):
                return len(frames)
            await asyncio.sleep(0.2)  # the recorder writes a member each second


async def test_record_raw_then_rebuild_books_and_see_the_gap(
    tmp_path: Path, free_port: int, bus_config: BusConfig
) -> None:
    async with running_exchange(tmp_path, port=free_port) as ex:
        cfg = write_config(tmp_path, ex, bus_config)
        out = tmp_path / "md"
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "ops.cli", "record", "--raw", "--out", str(out),
            "--snapshot-every", "1", "--config", str(cfg),
            cwd=str(REPO), env=_env(),
        )  # fmt: skip
        try:
            n = await _until_frames(out, f"rest:books:{INST}", 20)
            n = await _until_frames(out, '"trades"', 20, 0)
            await _gap(ex)
            n = await _until_frames(out, f"rest:books:{INST}", 20, n)
            await _until_frames(out, f"rest:books:{INST}", 20, n)  # one more after the gap
        finally:
            proc.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(proc.wait(), 20) == 0
    frames = [f for p in sorted(out.glob("*.okxraw.gz")) for f in read_raw(p)]
    channels = {
        json.loads(f.text).get("arg", {}).get("channel") for f in frames if f.stream == "ws:public"
    }
    assert {"books", "trades", "tickers", "mark-price"} <= channels
    replay = BookReplay([INST])
    applied = sum(1 for _ in replay.run(frames))
    report = replay.reports[INST]
    assert applied > 20
    assert report.snapshots_used >= 2  # the first bootstrap and the heal
    assert len(report.gaps) >= 1  # the skipped seqId, seen by the live feed's own checks
    assert "gap" in report.gaps[0].reason
    assert report.gaps[0].healed_ns is not None
    assert replay.valid(INST)
    assert replay.bad_frames == 0


async def _gap(ex: RunningExchange) -> None:
    await ex.admin("/admin/faults", {"skip_seq": 1, "instId": INST})


async def test_a_busy_book_is_valid_from_the_first_snapshot(
    tmp_path: Path, free_port: int, bus_config: BusConfig
) -> None:
    """100 book updates/s: the snapshot is taken after the session's first book push, so the
    replay's buffered updates join it and the book is valid from the start, not only after the
    next periodic snapshot (a minute later). One taken on connect, before the subscription,
    missed the updates between the two."""
    async with running_exchange(tmp_path, port=free_port, config={"step_ms": 10}) as ex:
        cfg = write_config(tmp_path, ex, bus_config)
        out = tmp_path / "md"
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "ops.cli", "record", "--raw", "--out", str(out),
            "--config", str(cfg), cwd=str(REPO), env=_env(),
        )  # fmt: skip
        try:
            n = await _until_frames(out, f"rest:books:{INST}", 20)
            await _until_frames(out, '"books"', 20, n)  # updates after the snapshot
        finally:
            proc.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(proc.wait(), 20) == 0
    frames = [f for p in sorted(out.glob("*.okxraw.gz")) for f in read_raw(p)]
    assert sum(1 for f in frames if f.stream == f"rest:books:{INST}") == 1  # no periodic one yet
    replay = BookReplay([INST])
    first_book_ns = valid_ns = None
    for f, _ in replay.run(frames):
        first_book_ns = first_book_ns or f.recv_ns
        if valid_ns is None and replay.valid(INST):
            valid_ns = f.recv_ns
    assert valid_ns is not None, "the book never became valid"
    assert first_book_ns is not None
    assert valid_ns - first_book_ns < 1_000_000_000  # the first snapshot joined
    assert replay.reports[INST].snapshots_used == 1
    assert replay.valid(INST)
