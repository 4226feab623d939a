"""md-feed as a real process against the local exchange (real process too), observed on the bus.

Busy market: the exchange steps every 10 ms (≈100 book updates/s per instrument, 10× OKX's
``books`` cadence of one update per 100 ms) with frequent synthetic takers. Waiting for 1 500
applied updates per instrument therefore covers more book traffic than 60 s of real OKX ``books``
(600 updates) in ~15 s, which keeps the gateway's whole test run within its time budget.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import zmq.asyncio

from engine.bus.subscriber import Subscriber
from engine.clock import SystemClock
from engine.config import BusConfig
from engine.messages import (
    BookState,
    BookStatus,
    BookTop,
    InstrumentInfo,
    MarkPrice,
    Side,
    Ticker,
    Trade,
)
from ops.exchange.testing import RunningExchange, running_exchange
from tests.gateway.harness import ReferenceBook, Tap, actor_process, ctl, write_config

pytestmark = pytest.mark.slow

INSTS = ["BTC-USDT-SWAP", "ETH-USDT"]
BUSY = {"step_ms": 10, "market": {"taker_rate_per_s": 40.0, "volatility_bps": 3.0}}
DEPTH = 10


@pytest.fixture
async def ctx() -> AsyncIterator[zmq.asyncio.Context]:
    c = zmq.asyncio.Context()
    yield c
    c.destroy(linger=0)


async def _tap(ctx: zmq.asyncio.Context, bus: BusConfig) -> Tap:
    sub = Subscriber(
        ctx,
        bus.connect_endpoint("md.pub"),
        snap_endpoint=bus.connect_endpoint("md.snap"),
        prefixes=["book|", "bookstate|", "inst|", "trade|", "ticker|", "mark|"],
        name="test-tap",
        clock=SystemClock(),
    )
    tap = Tap(sub)
    await tap.start()
    return tap


def _books(tap: Tap, inst: str, start: int = 0) -> list[BookTop]:
    return [
        d.env.msg
        for d in tap.deliveries[start:]
        if isinstance(d.env.msg, BookTop) and d.env.msg.inst == inst
    ]


def _states(tap: Tap, inst: str, start: int = 0) -> list[BookState]:
    return [
        d.env.msg.state
        for d in tap.deliveries[start:]
        if isinstance(d.env.msg, BookStatus) and d.env.msg.inst == inst
    ]


def _levels(rows: list[list[str]], n: int) -> list[tuple[Decimal, Decimal]]:
    return [(Decimal(r[0]), Decimal(r[1])) for r in rows[:n]]


async def _assert_matches_exchange(tap: Tap, ex: RunningExchange, inst: str) -> None:
    """With the market frozen, the last VALID book on the bus equals the exchange's own book
    (admin read-out) and its public REST ``market/books``."""
    own = await ex.admin(f"/admin/book?instId={inst}&depth={DEPTH}")
    rest = (
        await ex.client.get(f"{ex.rest_url}/api/v5/market/books?instId={inst}&sz={DEPTH}")
    ).json()
    want = (_levels(own["bids"], DEPTH), _levels(own["asks"], DEPTH))
    rest_book = rest["data"][0]
    assert (_levels(rest_book["bids"], DEPTH), _levels(rest_book["asks"], DEPTH)) == want

    def last_matches() -> bool:
        books = _books(tap, inst)
        return (
            bool(books)
            and books[-1].state is BookState.VALID
            and (books[-1].levels(Side.BUY), books[-1].levels(Side.SELL)) == want
        )

    await tap.until(last_matches, 10, f"{inst} book on the bus equal to the exchange's")


def _check_against_reference(tap: Tap, ref: ReferenceBook, inst: str) -> int:
    """Every VALID book published at a seqId the reference verified equals it; count them."""
    compared = 0
    for b in _books(tap, inst):
        if b.state is not BookState.VALID:
            assert b.bids == []
            assert b.asks == []
            continue
        top = ref.tops.get(b.seq_id)
        if top is not None:
            got = (b.levels(Side.BUY), b.levels(Side.SELL))
            assert got == (top[0][: len(b.bids)], top[1][: len(b.asks)]), b.seq_id
            compared += 1
    return compared


async def _feed_cfg(tmp_path: Path, bus: BusConfig, ex: RunningExchange, **md: Any) -> Path:
    md_cfg = {"depth": DEPTH, "snapshot_wait_s": 0.5, "rest_retry_s": 1.0, **md}
    return write_config(tmp_path, bus, ex, instruments=INSTS, extra={"md_feed": md_cfg})


async def test_feed_under_busy_market_equals_exchange_book(
    ctx: zmq.asyncio.Context, bus_config: BusConfig, tmp_path: Path, free_port: int
) -> None:
    async with running_exchange(
        tmp_path, port=free_port, config={**BUSY, "profile": "legacy"}
    ) as ex:
        refs = {i: ReferenceBook(ex.ws_public, i, DEPTH) for i in INSTS}
        for r in refs.values():
            await r.start()
        cfg = await _feed_cfg(tmp_path, bus_config, ex)
        async with actor_process("gateway.md_feed", cfg, tmp_path) as proc:
            tap = await _tap(ctx, bus_config)
            try:
                ctl_ep = bus_config.connect_endpoint("ctl.md-feed")
                for inst in INSTS:
                    await tap.until(
                        lambda inst=inst: BookState.VALID in _states(tap, inst), 20, f"{inst} VALID"
                    )
                await tap.until(
                    lambda: len(tap.msgs(InstrumentInfo)) >= len(INSTS), 10, "instruments"
                )
                status: dict[str, Any] = {}

                async def enough() -> bool:
                    nonlocal status
                    status = (await ctl(ctx, ctl_ep, "status")).status
                    return all(int(status[f"{i}.updates"]) >= 1500 for i in INSTS)

                while not await enough():
                    seen = len(tap.deliveries)
                    await tap.until(lambda s=seen: len(tap.deliveries) > s + 200, 30, "traffic")
                await ex.faults(freeze=True)
                for inst in INSTS:
                    await _assert_matches_exchange(tap, ex, inst)
                status = (await ctl(ctx, ctl_ep, "status")).status
                for inst in INSTS:
                    assert status[f"{inst}.state"] == "VALID"
                    assert status[f"{inst}.resyncs"] == 0
                    assert status[f"{inst}.checksum_failures"] == 0
                    # every update carried a non-zero checksum and every one was verified
                    assert status[f"{inst}.checksums_verified"] == status[f"{inst}.updates"]
                    assert _check_against_reference(tap, refs[inst], inst) > 200
                assert tap.msgs(Trade), "synthetic takers trade"
                assert {t.inst for t in tap.msgs(Ticker)} == set(INSTS)
                assert {m.inst for m in tap.msgs(MarkPrice)} == {"BTC-USDT-SWAP"}  # derivatives
                infos = {m.inst: m for m in tap.msgs(InstrumentInfo)}
                assert infos["BTC-USDT-SWAP"].tick_sz == Decimal("0.1")
                assert infos["ETH-USDT"].inst_type == "SPOT"
            finally:
                await tap.close()
                for r in refs.values():
                    await r.close()
        assert proc.returncode == 0  # SIGTERM: orderly stop


async def test_faults_resync_and_never_publish_a_wrong_valid_book(
    ctx: zmq.asyncio.Context, bus_config: BusConfig, tmp_path: Path, free_port: int
) -> None:
    inst = INSTS[0]
    config = {"step_ms": 20, "market": {"taker_rate_per_s": 20.0, "volatility_bps": 3.0}}
    async with running_exchange(
        tmp_path, port=free_port, config={**config, "profile": "legacy"}
    ) as ex:
        ref = ReferenceBook(ex.ws_public, inst, DEPTH)
        await ref.start()
        # stale_after_s: with the market frozen (and OKX's 60 s heartbeat far away) the stream
        # goes quiet, which must be detected as a stale book
        cfg = await _feed_cfg(tmp_path, bus_config, ex, stale_after_s=2.0)
        async with actor_process("gateway.md_feed", cfg, tmp_path):
            tap = await _tap(ctx, bus_config)
            try:
                await tap.until(lambda: BookState.VALID in _states(tap, inst), 20, "first VALID")

                async def fault(what: str, **knobs: Any) -> None:
                    mark = len(tap.deliveries)
                    await ex.faults(**knobs)
                    await tap.until(
                        lambda: (
                            _states(tap, inst, mark)[:2] == [BookState.RESYNCING, BookState.VALID]
                        ),
                        20,
                        f"{what}: RESYNCING then VALID",
                    )
                    # and books keep flowing after the rebuild
                    await tap.until(lambda: len(_books(tap, inst, mark)) >= 5, 10, f"{what}: books")

                await fault("dropped ws", drop_ws="public")
                # the one-shot faults count book messages of every instrument of the exchange:
                # ask for a few so that ours is hit
                await fault("skipped seqId", skip_seq=6)
                await fault("corrupted checksum", corrupt_checksum=6)
                compared = _check_against_reference(tap, ref, inst)
                assert compared > 5
                # 2026 mode: checksum 0 and no initial snapshot → REST bootstrap on reconnect
                await ex.faults(checksum_mode="zero", initial_snapshot=False)
                await fault("no-snapshot reconnect", drop_ws="public")
                await fault("no-snapshot gap", skip_seq=6)
                status = (
                    await ctl(ctx, bus_config.connect_endpoint("ctl.md-feed"), "status")
                ).status
                assert status[f"{inst}.rest_bootstraps"] >= 2
                assert status[f"{inst}.checksum_failures"] >= 1
                assert status[f"{inst}.gaps"] >= 2
                await ex.faults(freeze=True)
                await _assert_matches_exchange(tap, ex, inst)
                # every VALID book published while the reference could verify it was right
                assert _check_against_reference(tap, ref, inst) >= compared
                mark = len(tap.deliveries)

                def stale_then_valid() -> bool:
                    st = [
                        (m.state, m.reason)
                        for d in tap.deliveries[mark:]
                        if isinstance(m := d.env.msg, BookStatus) and m.inst == inst
                    ]
                    return len(st) >= 2 and "stale" in st[0][1] and st[1][0] is BookState.VALID

                await tap.until(stale_then_valid, 15, "quiet stream: stale → RESYNCING → VALID")
            finally:
                await tap.close()
                await ref.close()


async def test_kill_9_feed_restarts_and_subscribers_continue(
    ctx: zmq.asyncio.Context, bus_config: BusConfig, tmp_path: Path, free_port: int
) -> None:
    inst = INSTS[0]
    async with running_exchange(tmp_path, port=free_port, config={"step_ms": 50}) as ex:
        cfg = await _feed_cfg(tmp_path, bus_config, ex)
        tap = await _tap(ctx, bus_config)
        try:
            async with actor_process("gateway.md_feed", cfg, tmp_path) as proc:
                await tap.until(lambda: BookState.VALID in _states(tap, inst), 20, "VALID")
                first_epoch = tap.deliveries[-1].env.epoch
                proc.kill()  # SIGKILL: no goodbye, sockets vanish
                await proc.wait()
            mark = len(tap.deliveries)
            async with actor_process("gateway.md_feed", cfg, tmp_path):

                def new_valid_book() -> bool:
                    return any(
                        isinstance(d.env.msg, BookTop)
                        and d.env.msg.state is BookState.VALID
                        and d.env.epoch != first_epoch
                        for d in tap.deliveries[mark:]
                    )

                await tap.until(new_valid_book, 30, "a VALID book from the restarted feed")
            assert tap._task is not None
            assert not tap._task.done()  # the subscriber never crashed
        finally:
            await tap.close()
