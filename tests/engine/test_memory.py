"""MemoryReport names what grew between two calls: the type and the source line."""

from __future__ import annotations

import tracemalloc

from engine.memory import MemoryReport


class Hoarded:
    """A type only this test makes, so its count is exact."""

    def __init__(self, i: int) -> None:
        self.payload = "x" * 200 + str(i)


def test_growth_shows_by_type_and_by_line() -> None:
    was_tracing = tracemalloc.is_tracing()
    report = MemoryReport(top=40)
    try:
        report.take(trace=True)
        hoard = [Hoarded(i) for i in range(5_000)]  # the growth to find
        after = report.take()
        assert after["type.Hoarded"] == "5000 (+5000)"
        grown = [k for k in after if k.startswith("line.") and k.endswith("test_memory.py:14")]
        assert grown, sorted(after)
        assert int(str(after[grown[0]]).split()[0]) >= 1_000  # KiB: ~5000 × 250 B
        del hoard
        again = report.take()
        assert "type.Hoarded" not in again or str(again["type.Hoarded"]).startswith("0 ")
    finally:
        if not was_tracing:
            tracemalloc.stop()
