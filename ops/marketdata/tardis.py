"""Tardis.dev CSV importer: ``incremental_book_L2`` and ``trades`` as OKX-shaped frames.

Tardis rows (``exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount`` for
books; ``exchange,symbol,timestamp,local_timestamp,id,side,price,amount`` for trades; times in
µs; ``.csv`` or ``.csv.gz``) become the frames the raw recorder writes — one ``books`` push per
run of rows sharing ``local_timestamp`` (``action: snapshot`` for snapshot rows), seqIds chained
by the importer (Tardis has none: a gap in Tardis data cannot be seen), checksum 0 — so every
consumer (book replay, backtest) reads one format. ``amount`` 0 deletes a level, as in OKX.
A malformed row is a :class:`TardisError` naming the file and line.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from ops.marketdata.rawfile import RawFrame

__all__ = ["TardisError", "read_tardis_book", "read_tardis_trades"]

_BOOK_COLS = ("exchange", "symbol", "timestamp", "local_timestamp", "is_snapshot", "side",
              "price", "amount")  # fmt: skip
_TRADE_COLS = ("exchange", "symbol", "timestamp", "local_timestamp", "id", "side", "price",
               "amount")  # fmt: skip


class TardisError(Exception):
    def __init__(self, path: Path, line: int, problem: str) -> None:
        super().__init__(f"{path}:{line}: {problem}")
        self.path, self.line, self.problem = path, line, problem


def _open(path: Path) -> TextIO:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return path.open(encoding="utf-8", newline="")


def _rows(path: Path, cols: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    line = 0  # the last line read: where a cut or corrupt file is reported
    try:
        with _open(path) as f:
            reader = csv.reader(f)
            header = next(reader, None)
            line = reader.line_num
            if header is None or tuple(header[: len(cols)]) != cols:
                raise TardisError(path, 1, f"header is not {','.join(cols)}")
            for row in reader:
                line = reader.line_num
                if len(row) < len(cols):
                    raise TardisError(path, line, f"{len(row)} fields, want {len(cols)}")
                yield line, dict(zip(cols, row, strict=False))
    except (EOFError, gzip.BadGzipFile, OSError, UnicodeDecodeError) as exc:
        raise TardisError(path, line + 1, f"unreadable ({type(exc).__name__}: {exc})") from None


def _num(path: Path, line: int, name: str, value: str) -> str:
    try:
        float(value)
    except ValueError:
        raise TardisError(path, line, f"{name} {value!r} is not a number") from None
    return value


def read_tardis_book(path: Path) -> Iterator[RawFrame]:
    """``incremental_book_L2`` rows as OKX ``books`` frames (receive time = local_timestamp)."""
    seq = 0
    group: list[dict[str, str]] = []
    key: tuple[str, str, bool] | None = None

    def frame() -> RawFrame:
        nonlocal seq
        first = group[0]
        bids = [[r["price"], r["amount"], "0", "0"] for r in group if r["side"] == "bid"]
        asks = [[r["price"], r["amount"], "0", "0"] for r in group if r["side"] == "ask"]
        snapshot = first["is_snapshot"] == "true"
        prev = -1 if snapshot else seq
        seq += 1
        data = {"asks": asks, "bids": bids, "ts": str(int(first["timestamp"]) // 1000),
                "checksum": 0, "prevSeqId": prev, "seqId": seq}  # fmt: skip
        text = json.dumps(
            {"arg": {"channel": "books", "instId": first["symbol"]},
             "action": "snapshot" if snapshot else "update", "data": [data]},
            separators=(",", ":"),
        )  # fmt: skip
        return RawFrame(int(first["local_timestamp"]) * 1000, "ws:public", text)

    for line, r in _rows(path, _BOOK_COLS):
        if r["side"] not in ("bid", "ask"):
            raise TardisError(path, line, f"side {r['side']!r} is not bid/ask")
        if r["is_snapshot"] not in ("true", "false"):
            raise TardisError(path, line, f"is_snapshot {r['is_snapshot']!r} is not true/false")
        for name in ("price", "amount", "timestamp", "local_timestamp"):
            _num(path, line, name, r[name])
        k = (r["symbol"], r["local_timestamp"], r["is_snapshot"] == "true")
        if key is not None and k != key:
            yield frame()
            group = []
        key = k
        group.append(r)
    if group:
        yield frame()


def read_tardis_trades(path: Path) -> Iterator[RawFrame]:
    """``trades`` rows as OKX ``trades`` frames."""
    for line, r in _rows(path, _TRADE_COLS):
        if r["side"] not in ("buy", "sell"):
            raise TardisError(path, line, f"side {r['side']!r} is not buy/sell")
        for name in ("price", "amount", "timestamp", "local_timestamp"):
            _num(path, line, name, r[name])
        data = {"instId": r["symbol"], "tradeId": r["id"], "px": r["price"], "sz": r["amount"],
                "side": r["side"], "ts": str(int(r["timestamp"]) // 1000)}  # fmt: skip
        text = json.dumps(
            {"arg": {"channel": "trades", "instId": r["symbol"]}, "data": [data]},
            separators=(",", ":"),
        )
        yield RawFrame(int(r["local_timestamp"]) * 1000, "ws:public", text)
