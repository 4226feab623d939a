"""Acceptance: injected venue faults — 50011, 5xx, delayed acks, a dropped private WS.

Every order ends in a known state: what the strategy was told (Ack) is exactly what rests at the
exchange, and cancels under faults neither loop nor leave anything behind.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from engine.config import DEMO_CREDENTIALS, BusConfig
from engine.router.journal import JRequest, read_records
from ops.exchange.testing import RunningExchange, running_exchange
from tests.engine.router.procs import (
    best_bid,
    owned_by,
    start_router,
    start_strategy,
    wait_gone,
    write_config,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(150)]


async def _known_state(ex: RunningExchange, bus: BusConfig, name: str, px: str) -> None:
    sp = await start_strategy(bus, name, px=px, step="0.5", orders=15, allow_rejects=True)
    try:
        live = sorted(owned_by(await ex.live_orders(), sp.short_id, sp.epoch))
        assert live == sorted(sp.acked)  # acked ⇔ resting; refused ⇔ absent
        t0 = time.monotonic_ns()
        sp.kill(signal.SIGKILL)
        await wait_gone(ex, sp.short_id, sp.epoch, t0, timeout_s=10.0)
    finally:
        await sp.stop()


async def test_faults_end_in_known_states_without_cancel_loops(
    tmp_path: Path, free_port: int, bus_config: BusConfig
) -> None:
    async with running_exchange(tmp_path, port=free_port) as ex:
        cfg = write_config(tmp_path, ex, bus_config, {"cancel_all_after_s": 0})
        router = start_router(cfg, tmp_path)
        try:
            _, bid = await best_bid(ex)
            px = str((Decimal(bid) * Decimal("0.97")).quantize(Decimal("0.1")))
            for code in ("50011", "50001", "50026"):
                await ex.faults(error_rate=0.3, error_code=code)
                await _known_state(ex, bus_config, f"f{code}", px)
                await ex.faults(error_rate=0.0)
            # acks slower than the router's venue timeout: resolved by queries once they flow
            await ex.faults(ack_delay_ms=2500)
            clear = asyncio.get_running_loop().call_later(
                3.0, lambda: asyncio.ensure_future(ex.faults(ack_delay_ms=0))
            )
            try:
                await _known_state(ex, bus_config, "slow", px)
            finally:
                clear.cancel()
                await ex.faults(ack_delay_ms=0)
            # the private WS drops: REST fallback, reconciliation on reconnect
            await ex.faults(drop_ws="private")
            await _known_state(ex, bus_config, "dropped", px)
        finally:
            router.terminate()
            await asyncio.to_thread(router.wait, 15)
        assert await ex.live_orders() == []
    # no loops: every order got a bounded number of cancel requests
    per_order: Counter[str] = Counter()
    for rec in read_records(tmp_path / "router.journal"):
        if isinstance(rec, JRequest) and rec.op == "cancel":
            per_order.update(rec.cl_ord_ids)
    assert per_order, "no cancels journalled"
    assert max(per_order.values()) <= 6, per_order.most_common(3)
    # no secret in the router's journal, output or log files
    files = [tmp_path / "router.journal", tmp_path / "router.out", *(tmp_path / "logs").rglob("*")]
    for f in files:
        if f.is_file():
            text = f.read_text(errors="replace")
            for secret in DEMO_CREDENTIALS.secret_values():
                assert secret not in text, f.name
