"""What an actor's memory holds: live objects by type and, when tracing, by source line.

Used by the ``memory`` ctl command (every actor) and the soak's ``--memprofile`` mode to find
what grows over a long run. Counting objects walks the GC's lists (tens of milliseconds for a
busy actor), so it runs only when asked. Source lines need ``tracemalloc``: ``take(trace=True)``
starts it (only what is allocated from then on is traced — what a search for growth needs —
at a cost of roughly 2× on allocation, so only in the actors under study), or start the actor
with ``PYTHONTRACEMALLOC=1`` (Python's own switch).
"""

from __future__ import annotations

import gc
import tracemalloc
from collections import Counter

__all__ = ["MemoryReport"]


class MemoryReport:
    """Top object types by count and top allocating lines, each with its change since the
    previous call (the first call is the baseline). Holds one snapshot at most: bounded."""

    def __init__(self, top: int = 15) -> None:
        self.top = top
        self._types: Counter[str] = Counter()
        self._snapshot: tracemalloc.Snapshot | None = None

    def take(self, *, trace: bool = False) -> dict[str, str | int | float | bool]:
        """One flat report (ctl status values are scalars): ``type.<name>`` counts with
        ``+delta``, and ``line.<file:line>`` KiB with ``+delta`` when tracing; ``trace``
        starts tracing if it is off."""
        if trace and not tracemalloc.is_tracing():
            tracemalloc.start()
        out: dict[str, str | int | float | bool] = {}
        types = Counter(type(o).__name__ for o in gc.get_objects())
        for name, n in _top_by_growth(types, self._types, self.top):
            out[f"type.{name}"] = f"{n} ({n - self._types.get(name, 0):+d})"
        self._types = types
        out["tracing"] = tracemalloc.is_tracing()
        if tracemalloc.is_tracing():
            snap = tracemalloc.take_snapshot().filter_traces(
                (tracemalloc.Filter(False, tracemalloc.__file__),)
            )
            if self._snapshot is None:
                stats = [(s.traceback[0], s.size, s.size) for s in snap.statistics("lineno")]
            else:
                stats = [
                    (s.traceback[0], s.size, s.size_diff)
                    for s in snap.compare_to(self._snapshot, "lineno")
                ]
            stats.sort(key=lambda t: t[2], reverse=True)
            for frame, size, diff in stats[: self.top]:
                out[f"line.{frame.filename}:{frame.lineno}"] = (
                    f"{size / 1024:.0f} KiB ({diff / 1024:+.0f})"
                )
            out["traced_kib"] = round(tracemalloc.get_traced_memory()[0] / 1024)
            self._snapshot = snap
        return out


def _top_by_growth(now: Counter[str], before: Counter[str], top: int) -> list[tuple[str, int]]:
    """The types that grew most since ``before`` (all of them on the first call: by count)."""
    if not before:
        return now.most_common(top)
    grown = sorted(now, key=lambda k: now[k] - before.get(k, 0), reverse=True)
    return [(k, now[k]) for k in grown[:top]]
