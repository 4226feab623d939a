"""Venue requests waiting to go: queues per operation → batches of ≤ 20, within rate limits. Pure.

Invariants:
- Cancels go first, then amends, then places: a cancel is never stuck behind new orders.
- A batch holds ≤ ``batch_max`` items of one operation; a clOrdId appears at most once in it
  (OKX: ``51016`` place, ``51512`` amend).
- Tokens are taken from the gateway's OKX buckets (``gateway.okx.ratelimit``) per instrument:
  a one-item batch spends the single-order bucket, a larger one the batch bucket (as OKX counts
  it); places and amends also spend the sub-account bucket. An operation without tokens stays
  queued and :meth:`Batcher.take` reports when to try again.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass
from typing import Literal

from gateway.okx.ratelimit import RateLimiter
from gateway.okx.schemas import AmendOrderReq, CancelOrderReq, PlaceOrderReq

__all__ = ["Batch", "Batcher", "Op", "VenueReq"]

Op = Literal["cancel", "amend", "place"]
VenueReq = PlaceOrderReq | CancelOrderReq | AmendOrderReq

_BUCKETS: dict[str, tuple[str, str]] = {
    "place": ("order", "batch-orders"),
    "cancel": ("cancel", "batch-cancel"),
    "amend": ("amend", "batch-amend"),
}
_ORDER = ("cancel", "amend", "place")


@dataclass(frozen=True, slots=True)
class Batch:
    """One venue request: ``op`` over ``reqs`` (request order = response order)."""

    op: Op
    reqs: list[VenueReq]

    @property
    def cl_ord_ids(self) -> list[str]:
        return [r.clOrdId for r in self.reqs]


class Batcher:
    """Queues per operation; :meth:`take` cuts the batches that may go now."""

    def __init__(self, limiter: RateLimiter, batch_max: int = 20) -> None:
        self._limiter = limiter
        self._max = batch_max
        self._queues: dict[str, deque[VenueReq]] = {op: deque() for op in _ORDER}
        self._paused_until: dict[str, int] = {}
        self.retry_at_ns = 0

    def pause(self, op: Op, until_ns: int) -> None:
        """Hold ``op`` until ``until_ns`` (the venue said 50011: our buckets were optimistic)."""
        self._paused_until[op] = max(self._paused_until.get(op, 0), until_ns)

    def add(self, op: Op, req: VenueReq) -> None:
        self._queues[op].append(req)

    def drop(self, op: Op, cl_ord_id: str) -> bool:
        """Remove a queued request (e.g. a place withdrawn before it was sent)."""
        q = self._queues[op]
        for r in q:
            if r.clOrdId == cl_ord_id:
                q.remove(r)
                return True
        return False

    def queued(self, op: Op | None = None) -> int:
        if op is not None:
            return len(self._queues[op])
        return sum(len(q) for q in self._queues.values())

    def _spend(self, op: Op, reqs: list[VenueReq], now_ns: int) -> int:
        single, batch = _BUCKETS[op]
        bucket = single if len(reqs) == 1 else batch
        wait = 0
        for inst, n in Counter(r.instId for r in reqs).items():
            wait = max(wait, self._limiter.reserve(bucket, inst, now_ns, n))
        if op != "cancel" and wait == 0:
            wait = self._limiter.reserve("sub-account-orders", "", now_ns, len(reqs))
        return wait

    def take(self, now_ns: int) -> list[Batch]:
        """Every batch that may be sent now; what has no tokens stays queued."""
        out: list[Batch] = []
        self.retry_at_ns = 0
        for op in _ORDER:
            q = self._queues[op]
            paused = self._paused_until.get(op, 0)
            if q and paused > now_ns:
                self.retry_at_ns = max(self.retry_at_ns, paused)
                continue
            while q:
                reqs: list[VenueReq] = []
                seen: set[str] = set()
                while q and len(reqs) < self._max and q[0].clOrdId not in seen:
                    r = q.popleft()
                    seen.add(r.clOrdId)
                    reqs.append(r)
                wait = self._spend(op, reqs, now_ns)  # type: ignore[arg-type]
                if wait:
                    q.extendleft(reversed(reqs))
                    self.retry_at_ns = max(self.retry_at_ns, now_ns + wait)
                    break
                out.append(Batch(op, reqs))  # type: ignore[arg-type]
        return out
