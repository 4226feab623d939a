"""The chaos suite in its CI mode: one ``okxmm up`` with 4 churning workers through the whole
trial matrix (each actor killed and stalled, venue faults, bad input); after every trial the
venue, router, private-gw, risk and workers agree on orders, positions and fills.

``make chaos`` runs the same trials with 10 workers and writes the table to
``docs/reliability.md``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.chaos import run_chaos, table, trials
from engine.config import BusConfig

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


async def test_chaos_every_trial_ends_in_agreement(
    tmp_path: Path, free_port: int, bus_config: BusConfig
) -> None:
    results = await run_chaos(tmp_path / "sys", port=free_port, bus=bus_config, workers=4)
    names = [r.name for r in results]
    assert all(t.name in names for t in trials()), names  # every trial ran
    failed = [f"{r.name}: {r.problem}" for r in results if not r.ok]
    assert not failed, "\n".join(failed) + "\n" + table(results)
