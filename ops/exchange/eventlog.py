"""What happened at the venue, in order, on the exchange's own monotonic clock.

A bounded ring (the oldest events are dropped; ``dropped`` counts them) of: ``shock`` (an admin
price shock), ``book`` (a books update pushed, with its seqId), ``request`` (a trade op received,
per account and connection, before any injected ack delay), ``order`` (an order state pushed).
A benchmark reads it through ``GET /admin/events`` to time reactions on the venue's clock: from
the book push that carried a shock to the first order request reacting to it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

__all__ = ["Event", "EventLog", "inst_ids"]


@dataclass(frozen=True, slots=True)
class Event:
    seq: int
    mono_ns: int
    kind: str  # shock | book | request | order | liquidation
    inst: str = ""
    account: str = ""  # account uid
    conn: str = ""  # connection id, "rest" for REST
    detail: str = ""

    def as_dict(self) -> dict[str, object]:
        return {
            "seq": self.seq,
            "monoNs": self.mono_ns,
            "kind": self.kind,
            "instId": self.inst,
            "uid": self.account,
            "connId": self.conn,
            "detail": self.detail,
        }


class EventLog:
    """The ring; ``add`` is one tuple append, cheap enough for every book push."""

    def __init__(self, mono_ns: Callable[[], int], size: int = 200_000) -> None:
        self._mono_ns = mono_ns
        self._ring: deque[Event] = deque(maxlen=size)
        self.seq = 0
        self.dropped = 0

    def add(
        self, kind: str, *, inst: str = "", account: str = "", conn: str = "", detail: str = ""
    ) -> None:
        self.seq += 1
        if len(self._ring) == self._ring.maxlen:
            self.dropped += 1
        self._ring.append(Event(self.seq, self._mono_ns(), kind, inst, account, conn, detail))

    def since(self, seq: int, kinds: Iterable[str] = (), limit: int = 10_000) -> list[Event]:
        """Events after ``seq`` (oldest first), of ``kinds`` if given, at most ``limit``."""
        want = set(kinds)
        out: list[Event] = []
        for ev in self._ring:
            if ev.seq > seq and (not want or ev.kind in want):
                out.append(ev)
                if len(out) >= limit:
                    break
        return out


def inst_ids(args: object, resolve: Callable[[dict[str, object]], str]) -> str:
    """The instruments a trade op's args name (``resolve`` maps one arg to its instId),
    comma-joined."""
    items = args if isinstance(args, list) else [args]
    seen: list[str] = []
    for a in items:
        if isinstance(a, dict):
            name = resolve(a)
            if name and name not in seen:
                seen.append(name)
    return ",".join(seen)
