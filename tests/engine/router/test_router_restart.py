"""Acceptance: kill -9 the router with orders resting.

A restarted router rebuilds ownership from its journal, reconciles with the venue (no unknown or
duplicated orders; the strategy keeps its session), and still cancels that strategy's orders on
its death. With the router gone longer than the cancel-all-after timeout, the exchange cancels
everything.
"""

from __future__ import annotations

import asyncio
import signal
import time
from decimal import Decimal
from pathlib import Path

import pytest

from engine.config import BusConfig
from ops.exchange.testing import running_exchange
from tests.engine.router.procs import (
    best_bid,
    owned_by,
    start_router,
    start_strategy,
    wait_gone,
    wait_log,
    write_config,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


async def test_router_kill9_restart_reconciles_then_venue_dead_mans_switch(
    tmp_path: Path, free_port: int, bus_config: BusConfig
) -> None:
    async with running_exchange(tmp_path, port=free_port) as ex:
        cfg = write_config(tmp_path, ex, bus_config, {"cancel_all_after_s": 10})
        log = tmp_path / "router.out"
        router = start_router(cfg, tmp_path)
        keeper = other = None
        try:
            _, bid = await best_bid(ex)
            px = str((Decimal(bid) * Decimal("0.97")).quantize(Decimal("0.1")))
            keeper = await start_strategy(bus_config, "keeper", px=px, step="0.5", orders=10)
            before = sorted(owned_by(await ex.live_orders(), keeper.short_id))
            assert len(before) == 10
            router.send_signal(signal.SIGKILL)
            await asyncio.to_thread(router.wait, 10)
            mark = log.stat().st_size
            router = start_router(cfg, tmp_path)
            await wait_log(log, "router ready", 20.0, mark)
            await wait_log(log, "reconciled", 5.0, mark)
            # the keeper outlives the restart grace: its heartbeats re-attached it
            await asyncio.sleep(1.5)
            assert keeper.proc.returncode is None
            assert sorted(owned_by(await ex.live_orders(), keeper.short_id)) == before
            assert "cancelling orphan order" not in log.read_text()[mark:]
            # ownership survived the restart: the keeper's death still cancels its orders
            t0 = time.monotonic_ns()
            keeper.kill(signal.SIGKILL)
            assert await wait_gone(ex, keeper.short_id, keeper.epoch, t0) < 250.0
            # dead man's switch: the router dies and stays away; the venue cancels by itself
            other = await start_strategy(bus_config, "other", px=px, step="0.5", orders=5)
            assert len(owned_by(await ex.live_orders(), other.short_id)) == 5
            router.send_signal(signal.SIGKILL)
            await asyncio.to_thread(router.wait, 10)
            t0 = time.monotonic_ns()
            waited_ms = await wait_gone(ex, other.short_id, other.epoch, t0, timeout_s=15.0)
            assert waited_ms > 5_000  # the timer fired, not an early cancel
        finally:
            for sp in (keeper, other):
                if sp is not None:
                    await sp.stop()
            if router.poll() is None:
                router.terminate()
                await asyncio.to_thread(router.wait, 15)
