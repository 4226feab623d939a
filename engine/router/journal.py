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
    "JournalWriter",
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

    def rewrite(self, recs: list[Record]) -> None:
        """Replace the whole journal by ``recs`` (atomically) and append after them."""
        if self.path is None:
            self.memory = list(recs)
            return
        self.close()
        _write_atomically(self.path, recs)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

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


def _write_atomically(p: Path, recs: list[Record]) -> None:
    enc = msgspec.json.Encoder(decimal_format="string")
    tmp = p.with_name(p.name + ".compact")
    with tmp.open("wb") as fh:
        fh.write(b"".join(enc.encode(r) + b"\n" for r in recs))
    os.replace(tmp, p)


def compact(path: str | Path, state: JournalState, now_ns: int) -> int:
    """Rewrite the journal at ``path`` as what ``state`` still needs
    (:meth:`JournalState.live_records`). Atomic (temp file + rename); call before opening a
    :class:`Journal` on ``path``. Returns the number of records written."""
    p = Path(path)
    if not p.exists():
        return 0
    recs = state.live_records(now_ns)
    _write_atomically(p, recs)
    return len(recs)


class JournalWriter:
    """The shell's journal while it runs: appends, keeps the fold, and compacts online.

    Bound: the file never holds more than ``max(max_records, 2 × kept)`` records, where kept is
    what the last compaction kept (:meth:`JournalState.live_records`: sessions, open orders and
    their fills). Past that it is rewritten as the live records (atomically) and appending
    continues on the new file; the fold is rebuilt from those records, so memory is bounded the
    same way. Doubling the kept size keeps compaction amortised O(1) per record even when most
    of the file is live. A ``kill -9`` during a rewrite leaves the old or the new file, both
    complete. ``state`` must be the fold of what the file at ``path`` holds.
    """

    def __init__(self, path: str | Path | None, state: JournalState, max_records: int) -> None:
        self.journal = Journal(path)
        self.state = state
        self.max_records = max_records
        self.in_file = state.records  # records the file holds now
        self._limit = max(max_records, 2 * self.in_file)
        self.compactions = 0

    @property
    def written(self) -> int:
        return self.journal.written

    def append(self, rec: Record) -> None:
        """Append ``rec``; compact first-thing after it if the file is over its bound."""
        self.journal.append(rec)
        self.state.apply(rec)
        self.in_file += 1
        if self.in_file > self._limit:
            self.compact(rec.ts_ns)

    def compact(self, now_ns: int) -> None:
        """Rewrite the file as the live records and fold again from them."""
        recs = self.state.live_records(now_ns)
        self.journal.rewrite(recs)
        state = JournalState()
        for r in recs:
            state.apply(r)
        self.state = state
        self.in_file = len(recs)
        self._limit = max(self.max_records, 2 * self.in_file)
        self.compactions += 1

    def close(self) -> None:
        self.journal.close()


def replay(path: str | Path) -> JournalState:
    """Fold the journal at ``path`` (missing file: empty state)."""
    state = JournalState()
    for rec in read_records(path):
        state.apply(rec)
    return state
