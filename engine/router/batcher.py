"""Venue requests waiting to go: queues per operation → batches of ≤ 20, within rate limits. Pure.

Invariants:
- Cancels go first, then amends, then places: a cancel is never stuck behind new orders.
- A batch holds ≤ ``batch_max`` items of one operation; a clOrdId appears at most once in it
  (OKX: ``51016`` place, ``51512`` amend).
- Tokens are taken from a :class:`TradeLimiter` the shell injects (the venue's buckets, e.g.
  ``gateway.okx.ratelimit.OkxTradeLimiter``): it is told the operation, the batch size and the
  items per instrument. An operation without tokens stays queued and :meth:`Batcher.take`
  reports when to try again.
"""

from __future__ import annotations

from collections import deque
from typing import Protocol

import msgspec

from engine.router.events import Op, VenueReq

__all__ = ["Batch", "Batcher", "Op", "TradeLimiter", "Unlimited", "VenueReq"]

_ORDER = ("cancel", "amend", "place")


class TradeLimiter(Protocol):
    """The venue's trade rate limits: spend tokens for one batch or say how long to wait."""

    def reserve_trade(self, op: Op, per_inst: dict[str, int], size: int, now_ns: int) -> int:
        """Spend for ``size`` items of ``op`` (``per_inst``: items per instrument) and return
        0, or spend nothing and return the ns to wait."""
        ...


class Unlimited:
    """A limiter that never waits (tests of logic that does not depend on rate limits)."""

    def reserve_trade(self, op: Op, per_inst: dict[str, int], size: int, now_ns: int) -> int:
        return 0


class Batch(msgspec.Struct, frozen=True):
    """One venue request: ``op`` over ``reqs`` (request order = response order)."""

    op: Op
    reqs: list[VenueReq]

    @property
    def cl_ord_ids(self) -> list[str]:
        return [r.cl_ord_id for r in self.reqs]


class Batcher:
    """Queues per operation; :meth:`take` cuts the batches that may go now."""

    def __init__(self, limiter: TradeLimiter, batch_max: int = 20) -> None:
        self._limiter = limiter
        self._max = batch_max
        self._queues: dict[str, deque[VenueReq]] = {op: deque() for op in _ORDER}
        self._paused_until: dict[str, int] = {}
        self.retry_at_ns = 0
        # times a queue was held for rate limits, per op (our buckets, or the venue's 50011)
        self.waits: dict[str, int] = dict.fromkeys(_ORDER, 0)

    def pause(self, op: Op, until_ns: int) -> None:
        """Hold ``op`` until ``until_ns`` (the venue said 50011: our buckets were optimistic)."""
        self._paused_until[op] = max(self._paused_until.get(op, 0), until_ns)

    def add(self, op: Op, req: VenueReq) -> None:
        self._queues[op].append(req)

    def drop(self, op: Op, cl_ord_id: str) -> bool:
        """Remove a queued request (e.g. a place withdrawn before it was sent)."""
        q = self._queues[op]
        for r in q:
            if r.cl_ord_id == cl_ord_id:
                q.remove(r)
                return True
        return False

    def queued(self, op: Op | None = None) -> int:
        if op is not None:
            return len(self._queues[op])
        return sum(len(q) for q in self._queues.values())

    def _spend(self, op: Op, reqs: list[VenueReq], now_ns: int) -> int:
        per_inst: dict[str, int] = {}  # not a Counter: this runs for every batch
        for r in reqs:
            per_inst[r.inst] = per_inst.get(r.inst, 0) + 1
        return self._limiter.reserve_trade(op, per_inst, len(reqs), now_ns)

    def take(self, now_ns: int) -> list[Batch]:
        """Every batch that may be sent now; what has no tokens stays queued."""
        out: list[Batch] = []
        self.retry_at_ns = 0
        for op in _ORDER:
            q = self._queues[op]
            paused = self._paused_until.get(op, 0)
            if q and paused > now_ns:
                self.retry_at_ns = max(self.retry_at_ns, paused)
                self.waits[op] += 1
                continue
            while q:
                reqs: list[VenueReq] = []
                seen: set[str] = set()
                while q and len(reqs) < self._max and q[0].cl_ord_id not in seen:
                    r = q.popleft()
                    seen.add(r.cl_ord_id)
                    reqs.append(r)
                wait = self._spend(op, reqs, now_ns)  # type: ignore[arg-type]
                if wait:
                    self.waits[op] += 1
                    q.extendleft(reversed(reqs))
                    self.retry_at_ns = max(self.retry_at_ns, now_ns + wait)
                    break
                out.append(Batch(op, reqs))  # type: ignore[arg-type]
        return out
