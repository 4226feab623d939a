"""Which strategy peers went quiet. Pure: the caller supplies the time.

Invariant: a peer is reported by :meth:`expired` at most once per :meth:`on_message` streak; after
that it is forgotten until it speaks again. The router's timer calls ``expired(now)`` every
10–20 ms, so a peer silent for ``dead_after_ns`` is reported within one timer period of it.
"""

from __future__ import annotations

__all__ = ["Liveness"]


class Liveness:
    """Last-seen time per peer (routing identity) and the peers silent for too long."""

    def __init__(self, dead_after_ns: int) -> None:
        self._dead_after_ns = dead_after_ns
        self._last_seen: dict[bytes, int] = {}

    def on_message(self, peer: bytes, now_ns: int) -> None:
        """Any command from ``peer`` counts as a heartbeat."""
        self._last_seen[peer] = now_ns

    def forget(self, peer: bytes) -> None:
        self._last_seen.pop(peer, None)

    def watching(self, peer: bytes) -> bool:
        return peer in self._last_seen

    def silence_ns(self, peer: bytes, now_ns: int) -> int | None:
        seen = self._last_seen.get(peer)
        return None if seen is None else now_ns - seen

    def credit(self, stall_ns: int) -> None:
        """We (the router) could not run for ``stall_ns``: heartbeats sent meanwhile may not even
        be readable yet, so that silence is ours, not the peers'."""
        for peer in self._last_seen:
            self._last_seen[peer] += stall_ns

    def expired(self, now_ns: int) -> list[bytes]:
        """Peers silent for more than ``dead_after_ns``; each is forgotten once returned."""
        limit = self._dead_after_ns
        dead = [p for p, t in self._last_seen.items() if now_ns - t > limit]
        for p in dead:
            del self._last_seen[p]
        return dead

    def __len__(self) -> int:
        return len(self._last_seen)
