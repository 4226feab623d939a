"""The recorder's journal file: length-prefixed msgpack records ``[bus, topic, body, recv_ns]``.

Each record is a 4-byte big-endian length then the msgpack array. ``body`` is the bus body exactly
as received, so replay republishes byte-identical frames. A torn last record (crash mid-write) is
ignored on read.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import msgspec

__all__ = ["JournalRecord", "JournalWriter", "read_journal"]

_LEN = struct.Struct(">I")


class JournalRecord(msgspec.Struct, array_like=True, frozen=True):
    """One recorded frame."""

    bus: str
    topic: bytes
    body: bytes
    recv_ns: int


class JournalWriter:
    """Appends records; flushes every ``flush_every`` records and on close."""

    def __init__(self, path: str | Path, flush_every: int = 100) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._fh: BinaryIO = Path(path).open("ab")  # noqa: SIM115 — lives as long as the writer
        self._enc = msgspec.msgpack.Encoder()
        self._flush_every = flush_every
        self._pending = 0
        self.written = 0

    def write(self, record: JournalRecord) -> None:
        data = self._enc.encode(record)
        self._fh.write(_LEN.pack(len(data)) + data)
        self.written += 1
        self._pending += 1
        if self._pending >= self._flush_every:
            self._fh.flush()
            self._pending = 0

    def close(self) -> None:
        self._fh.flush()
        self._fh.close()


def read_journal(path: str | Path) -> Iterator[JournalRecord]:
    """Every complete record of the file, in order."""
    data = Path(path).read_bytes()
    dec = msgspec.msgpack.Decoder(JournalRecord)
    pos = 0
    while pos + _LEN.size <= len(data):
        (size,) = _LEN.unpack_from(data, pos)
        start = pos + _LEN.size
        if start + size > len(data):
            return  # torn last record
        yield dec.decode(data[start : start + size])
        pos = start + size
