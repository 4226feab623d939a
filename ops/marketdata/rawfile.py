"""Raw market-data files: the venue's frames verbatim, with receive times, compressed.

A file is a sequence of gzip members (RFC 1952 allows concatenation; ``zcat`` reads it whole).
Each member holds whole lines ``<recv_ns>\\t<stream>\\t<frame>\\n``: ``recv_ns`` the wall-clock
receive time in ns, ``stream`` where the frame came from (``ws:public``, ``ws:business``,
``rest:books``), ``frame`` the text exactly as the venue sent it (OKX frames are one-line JSON; a
raw newline, impossible inside a JSON string, is replaced by a space). The writer appends a
member every ``flush_every`` frames or ``flush_ms``, so a crash loses at most that much and
never corrupts what is written: a reader sees every complete member and reports a truncated
last one with its byte offset. Files rotate per UTC hour (or day):
``<dir>/<prefix>-YYYYMMDD-HH.okxraw.gz``.
"""

from __future__ import annotations

import datetime as dt
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

__all__ = ["RawFileError", "RawFrame", "RawWriter", "read_raw"]

SUFFIX = ".okxraw.gz"


class RawFileError(Exception):
    """A raw file that cannot be read past ``offset`` (bytes into the file)."""

    def __init__(self, path: Path, offset: int, problem: str) -> None:
        super().__init__(f"{path}: {problem} at byte {offset}")
        self.path, self.offset, self.problem = path, offset, problem


@dataclass(frozen=True, slots=True)
class RawFrame:
    recv_ns: int
    stream: str
    text: str


class RawWriter:
    """Appends frames to the current hour's (or day's) file; ``close`` flushes."""

    def __init__(
        self,
        directory: Path,
        *,
        prefix: str = "okx",
        rotate: Literal["hour", "day"] = "hour",
        flush_every: int = 1000,
        flush_ms: int = 1000,
        fsync: bool = False,
    ) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.prefix = prefix
        self._fmt = "%Y%m%d-%H" if rotate == "hour" else "%Y%m%d"
        self._flush_every = flush_every
        self._flush_ns = flush_ms * 1_000_000
        self._fsync = fsync
        self._lines: list[str] = []
        self._first_ns = 0
        self._path: Path | None = None
        self.frames = 0
        self.members = 0
        self.files: list[Path] = []

    def _path_for(self, recv_ns: int) -> Path:
        when = dt.datetime.fromtimestamp(recv_ns / 1e9, dt.UTC)
        return self.dir / f"{self.prefix}-{when.strftime(self._fmt)}{SUFFIX}"

    def write(self, recv_ns: int, stream: str, text: str | bytes) -> None:
        """Queue one frame; written when the member is due (or the hour changes)."""
        if isinstance(text, bytes):
            text = text.decode("utf-8", errors="replace")
        path = self._path_for(recv_ns)
        if path != self._path:
            self.flush()
            self._path = path
            if path not in self.files:
                self.files.append(path)
        if not self._lines:
            self._first_ns = recv_ns
        self._lines.append(f"{recv_ns}\t{stream}\t{text.replace(chr(10), ' ')}\n")
        self.frames += 1
        if len(self._lines) >= self._flush_every or recv_ns - self._first_ns >= self._flush_ns:
            self.flush()

    def flush(self) -> None:
        """Append the queued lines as one gzip member."""
        if not self._lines or self._path is None:
            return
        body = "".join(self._lines).encode()
        self._lines.clear()
        comp = zlib.compressobj(6, zlib.DEFLATED, 31)  # wbits 31: a gzip member
        data = comp.compress(body) + comp.flush()
        with self._path.open("ab") as f:
            f.write(data)
            if self._fsync:
                f.flush()
                os.fsync(f.fileno())
        self.members += 1

    def close(self) -> None:
        self.flush()


def read_raw(path: Path, chunk: int = 1 << 16) -> Iterator[RawFrame]:
    """Every frame of ``path`` in order, streamed; RawFileError names the byte offset of the
    member where reading stopped."""
    member_at = 0  # file offset where the current member starts
    consumed = 0  # bytes of the file fed to decompressors so far
    d = zlib.decompressobj(31)
    tail = ""  # a line cut at a chunk boundary
    records = 0
    with path.open("rb") as f:
        pending = b""
        while True:
            if not pending:
                pending = f.read(chunk)
                if not pending:
                    break
                consumed += len(pending)
            try:
                text = d.decompress(pending)
            except zlib.error as exc:
                raise RawFileError(path, member_at, f"corrupt gzip member ({exc})") from None
            pending = b""
            lines = (tail + text.decode("utf-8", errors="replace")).split("\n")
            tail = lines.pop()
            for line in lines:
                records += 1
                parts = line.split("\t", 2)
                if len(parts) != 3 or not parts[0].isdigit():
                    raise RawFileError(
                        path, member_at, f"malformed record {records}: {line[:80]!r}"
                    )
                yield RawFrame(int(parts[0]), parts[1], parts[2])
            if d.eof:
                if tail:
                    raise RawFileError(path, member_at, "member ends inside a record")
                pending = d.unused_data
                member_at = consumed - len(pending)
                d = zlib.decompressobj(31)
    if member_at < consumed:
        raise RawFileError(path, member_at, "truncated gzip member (a crash while writing?)")
