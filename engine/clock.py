"""Time, injected: ``now_ns()`` is wall time (``ts_ns``, venue timestamps),
``monotonic_ns()`` is for timeouts. Cores take ``now_ns`` as an argument; shells own a Clock."""

from __future__ import annotations

import time
from typing import Protocol

__all__ = ["Clock", "FakeClock", "SystemClock"]


class Clock(Protocol):
    """Source of wall and monotonic time in nanoseconds."""

    def now_ns(self) -> int: ...

    def monotonic_ns(self) -> int: ...


class SystemClock:
    """The real clocks."""

    def now_ns(self) -> int:
        return time.time_ns()

    def monotonic_ns(self) -> int:
        return time.monotonic_ns()


class FakeClock:
    """A hand-advanced clock for deterministic tests."""

    def __init__(self, start_ns: int = 1_700_000_000_000_000_000) -> None:
        self._wall = start_ns
        self._mono = 0

    def now_ns(self) -> int:
        return self._wall

    def monotonic_ns(self) -> int:
        return self._mono

    def advance(self, ns: int) -> None:
        """Move both clocks forward by ``ns``."""
        self._wall += ns
        self._mono += ns

    def advance_s(self, seconds: float) -> None:
        self.advance(int(seconds * 1_000_000_000))
