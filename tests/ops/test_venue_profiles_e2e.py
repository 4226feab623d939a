"""The whole engine (``okxmm up``, every actor a real process) on both venues the exchange
imitates: today's OKX (``current``: no book snapshot, checksum 0, instIdCode-only WS ops,
phantom deletes) and early-2026 OKX (``legacy``: snapshots, CRC-32 checksums, instId accepted).

On each: every worker quotes, fills happen, and the venue, router, private-gw, risk and the
workers agree (:meth:`bench.system.System.agreement`); the md-feed's books show which venue
they came from (checksums verified only on ``legacy``, REST bootstraps on ``current``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.system import SWAPS, System, running_system, until
from engine.config import BusConfig

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


async def _fills_happen(system: System, n: int, timeout_s: float) -> None:
    async def probe() -> int | None:
        totals = await system.ex.admin(f"/admin/fill-totals?apiKey={system.ex.accounts[0][0]}")
        got = sum(int(t["fills"]) for t in totals.values())
        return got if got >= n else None

    await until(f"{n} fills at the venue", probe, timeout_s)


@pytest.mark.parametrize("profile", ["current", "legacy"])
async def test_the_whole_engine_trades_and_agrees_on_each_venue_profile(
    tmp_path: Path, free_port: int, bus_config: BusConfig, profile: str
) -> None:
    async with running_system(
        tmp_path, port=free_port, bus=bus_config, workers=2, exchange={"profile": profile}
    ) as system:
        await _fills_happen(system, 5, 90)
        await system.pause_all()
        agreement, _ = await system.converged(60)
        assert agreement.problems == []
        assert agreement.venue_fills >= 5
        md = await system.status("md-feed")
        verified = sum(int(md.get(f"{i}.checksums_verified", 0)) for i in SWAPS)
        bootstraps = sum(int(md.get(f"{i}.rest_bootstraps", 0)) for i in SWAPS)
        failures = sum(int(md.get(f"{i}.checksum_failures", 0)) for i in SWAPS)
        assert failures == 0
        if profile == "legacy":
            assert verified > 0  # CRC-32 on every update, checked
        else:
            assert verified == 0  # checksum 0: nothing to check
            assert bootstraps >= len(SWAPS)  # no snapshot on subscribe: REST books instead
        router = await system.status("router")
        assert int(router["ws_sent"]) > 0  # orders went over WS (with instIdCode on both)
        logs = "".join(f.read_text(errors="replace") for f in system.log_dir.iterdir())
        assert "strategy welcomed" in logs  # the logs are the ones that would say it
        assert "50014" not in logs  # never refused for a missing instIdCode
