"""A router that falls behind must not fence healthy strategies for its own lag.

The router process is stopped (SIGSTOP) for longer than the 150 ms heartbeat rule while a strategy
keeps heartbeating into its socket. On SIGCONT the heartbeats are waiting: the router reads them
before it judges silence, so the strategy keeps its session and its orders. (Stalls past the
~200 ms, the 300 ms ZMTP heartbeat timeout of architecture §3 (libzmq runs its timers
before it reads what queued during the stall) do disconnect the strategies, which are then
fenced and cancelled: the safe side, by design.)
"""

from __future__ import annotations

import asyncio
import signal
from decimal import Decimal
from pathlib import Path

import pytest
import zmq.asyncio

from engine.config import BusConfig
from ops.exchange.testing import running_exchange
from tests.engine.router.procs import (
    best_bid,
    owned_by,
    start_router,
    start_strategy,
    wait_log,
    write_config,
)
from tests.gateway.harness import ctl

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


async def test_router_stall_does_not_fence_a_heartbeating_strategy(
    tmp_path: Path, free_port: int, bus_config: BusConfig
) -> None:
    async with running_exchange(tmp_path, port=free_port) as ex:
        cfg = write_config(tmp_path, ex, bus_config)
        log = tmp_path / "router.out"
        router = start_router(cfg, tmp_path)
        ctx = zmq.asyncio.Context()
        keeper = None
        try:
            await wait_log(log, "router ready", 20.0)
            _, bid = await best_bid(ex)
            px = str((Decimal(bid) * Decimal("0.97")).quantize(Decimal("0.1")))
            keeper = await start_strategy(bus_config, "keeper", px=px, step="0.5", orders=10)
            before = sorted(owned_by(await ex.live_orders(), keeper.short_id))
            assert len(before) == 10
            for _ in range(3):
                router.send_signal(signal.SIGSTOP)
                # the stall itself (not synchronisation): > 150 ms + a heartbeat period, and
                # short enough that libzmq's 300 ms ZMTP timers (run before it reads the
                # queued pongs on resume) cannot fire
                await asyncio.sleep(0.18)
                router.send_signal(signal.SIGCONT)
                # caught up: it answers ctl, then several liveness ticks go by
                for _ in range(20):
                    assert (await ctl(ctx, bus_config.connect_endpoint("ctl.router"), "ping")).ok
            assert "strategy fenced" not in log.read_text()
            assert keeper.proc.returncode is None
            assert sorted(owned_by(await ex.live_orders(), keeper.short_id)) == before
        finally:
            router.send_signal(signal.SIGCONT)
            router.terminate()
            await asyncio.to_thread(router.wait, 15)
            if keeper is not None:
                await keeper.stop()
            ctx.destroy(linger=0)
        assert await ex.live_orders() == []
