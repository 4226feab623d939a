"""The router's append-only journal: every command, venue request and answer, update and fill.

One JSON object per line (msgspec, tagged by ``k``), written with one ``os.write`` on an
``O_APPEND`` descriptor per record: a ``kill -9`` of the router loses nothing already written
(the kernel holds it); a torn last line is skipped on replay. No fsync: surviving a host crash is
the venue's and reconciliation's job. Secrets are never journalled (no record has a field for
them).

:func:`replay` folds a journal into :class:`JournalState`: short ids, strategy epochs, every order
with its last known state, and the trade ids already seen (so fills are never counted twice).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import msgspec

from engine.messages import OrderState
from engine.router.records import (
    JAck,
    JCommand,
    JEpoch,
    JFill,
    JOrder,
    JournaledOrder,
    JournalState,
    JRequest,
    JShortId,
    JUpdate,
    Record,
)

__all__ = [
    "JAck",
    "JCommand",
    "JEpoch",
    "JFill",
    "JOrder",
    "JRequest",
    "JShortId",
    "JUpdate",
    "Journal",
    "JournalState",
    "JournaledOrder",
    "Record",
    "compact",
    "read_records",
    "replay",
]


class Journal:
    """Appends records to ``path`` (created with its directory). ``path=None``: memory only."""

    def __init__(self, path: str | Path | None) -> None:
        self._enc = msgspec.json.Encoder(decimal_format="string")
        self._fd: int | None = None
        self.path = None if path is None else Path(path)
        self.memory: list[Record] = []
        self.written = 0
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def append(self, rec: Record) -> None:
        self.written += 1
        if self._fd is None:
            self.memory.append(rec)
            return
        os.write(self._fd, self._enc.encode(rec) + b"\n")

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def read_records(path: str | Path) -> Iterator[Record]:
    """Every well-formed record of a journal file, in order (a torn/bad line is skipped)."""
    p = Path(path)
    if not p.exists():
        return
    dec = msgspec.json.Decoder(Record)
    with p.open("rb") as fh:
        for line in fh:
            try:
                yield dec.decode(line)
            except (msgspec.DecodeError, msgspec.ValidationError):
                continue


def compact(path: str | Path, state: JournalState, now_ns: int) -> int:
    """Rewrite the journal at ``path`` as what ``state`` still needs: short ids, epochs and
    fences, non-terminal orders with their last state, and the fills of those orders' trades.
    Atomic (temp file + rename); call before opening a :class:`Journal` on ``path``. Returns the
    number of records written."""
    p = Path(path)
    if not p.exists():
        return 0
    live = {
        cid: jo
        for cid, jo in state.orders.items()
        if jo.state not in (OrderState.FILLED, OrderState.CANCELED, OrderState.REJECTED)
    }
    fills = [r for r in read_records(p) if isinstance(r, JFill) and r.cl_ord_id in live]
    recs: list[Record] = [
        JShortId(ts_ns=now_ns, strategy=k, short_id=v) for k, v in state.short_ids.items()
    ]
    recs += [
        JEpoch(ts_ns=now_ns, strategy=k, epoch=e, event="welcome") for k, e in state.epochs.items()
    ]
    recs += [
        JEpoch(ts_ns=now_ns, strategy=k, epoch=e, event="fenced", reason="compacted")
        for k, e in sorted(state.fenced)
    ]
    for cid, jo in live.items():
        recs.append(jo.order)
        if jo.sent:
            recs.append(JRequest(ts_ns=now_ns, op="place", transport="journal", cl_ord_ids=[cid]))
        recs.append(
            JUpdate(
                ts_ns=now_ns,
                cl_ord_id=cid,
                state=jo.state,
                ord_id=jo.ord_id,
                acc_fill_sz=jo.acc_fill_sz,
                sz=jo.sz,
                px=jo.px,
                source="compacted",
            )
        )
    recs += fills
    enc = msgspec.json.Encoder(decimal_format="string")
    tmp = p.with_name(p.name + ".compact")
    with tmp.open("wb") as fh:
        for r in recs:
            fh.write(enc.encode(r) + b"\n")
    os.replace(tmp, p)
    return len(recs)


def replay(path: str | Path) -> JournalState:
    """Fold the journal at ``path`` (missing file: empty state)."""
    state = JournalState()
    for rec in read_records(path):
        state.apply(rec)
    return state
