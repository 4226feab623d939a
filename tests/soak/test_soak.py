"""The soak benchmark in its compressed CI mode: 10 churning workers for a few minutes.

It fails when any gauge (RSS per actor, heartbeat bytes, journal size, ack and tick→order p99,
fencing count) trends up — a leak of one heartbeat entry per order (issue 13 item 1) makes
``hb_ord_bytes`` grow by kilobytes a minute under this churn and fails it within the run.
``make soak`` runs the same code for hours.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench.soak import GAUGES, soak
from engine.config import BusConfig

MINUTES = float(os.environ.get("OKXMM_SOAK_MINUTES", "2.5"))

pytestmark = [pytest.mark.slow, pytest.mark.timeout(int(MINUTES * 60) + 300)]


async def test_soak_compressed_every_gauge_flat(
    tmp_path: Path, free_port: int, bus_config: BusConfig
) -> None:
    result = await soak(
        tmp_path / "sys", minutes=MINUTES, workers=10, sample_s=10.0, port=free_port, bus=bus_config
    )
    assert len(result.samples) >= 10, "too few samples to judge a trend"
    assert set(result.verdicts) >= {g.name for g in GAUGES}
    assert {"rss_kb[router]", "rss_kb[risk]", "rss_kb[md-feed]"} <= set(result.verdicts)
    # the churn really happened: orders were placed, amended and replaced throughout
    assert result.samples[-1]["journal_records"] > result.samples[0]["journal_records"] + 1000
    grows = {k: v[:2] for k, v in result.verdicts.items() if not v[2]}
    assert not grows, f"gauges trending up (early, late median): {grows}\n{result.table()}"
