"""Tardis.dev CSV importer: snapshot and incremental rows become OKX books frames the live book
code rebuilds; trades become trades frames; a bad row names its file and line."""

from __future__ import annotations

import gzip
import json
from decimal import Decimal
from pathlib import Path

import pytest

from gateway.book_replay import BookReplay
from ops.marketdata.tardis import TardisError, read_tardis_book, read_tardis_trades

INST = "BTC-USDT-SWAP"
HEAD = "exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount\n"
ROWS = [
    f"okex-swap,{INST},1000000,1000100,true,bid,50000.0,3",
    f"okex-swap,{INST},1000000,1000100,true,bid,49999.9,5",
    f"okex-swap,{INST},1000000,1000100,true,ask,50000.1,2",
    f"okex-swap,{INST},1000000,1000100,true,ask,50000.2,4",
    f"okex-swap,{INST},2000000,2000100,false,bid,50000.0,0",  # best bid deleted
    f"okex-swap,{INST},2000000,2000100,false,ask,50000.1,7",
    f"okex-swap,{INST},3000000,3000100,false,bid,50000.05,1",
]


def test_books_rebuild_from_tardis_rows(tmp_path: Path) -> None:
    path = tmp_path / "book.csv.gz"
    with gzip.open(path, "wt") as f:
        f.write(HEAD + "\n".join(ROWS) + "\n")
    frames = list(read_tardis_book(path))
    assert len(frames) == 3  # one push per local_timestamp
    first = json.loads(frames[0].text)
    assert first["action"] == "snapshot"
    assert frames[0].recv_ns == 1_000_100_000
    replay = BookReplay([INST])
    list(replay.run(frames))
    assert replay.valid(INST)
    book = replay.syncs[INST].book
    top = replay.syncs[INST].top_message(0)
    assert top.best_bid() == Decimal("50000.05")
    assert top.best_ask() == Decimal("50000.1")
    assert replay.reports[INST].gaps == []
    assert book is not None


def test_trades_and_bad_rows(tmp_path: Path) -> None:
    trades = tmp_path / "trades.csv"
    trades.write_text(
        "exchange,symbol,timestamp,local_timestamp,id,side,price,amount\n"
        f"okex-swap,{INST},1000000,1000200,t1,buy,50000.1,2\n"
    )
    (t,) = list(read_tardis_trades(trades))
    d = json.loads(t.text)["data"][0]
    assert (d["tradeId"], d["side"], d["px"], d["sz"]) == ("t1", "buy", "50000.1", "2")
    bad = tmp_path / "bad.csv"
    bad.write_text(HEAD + ROWS[0] + "\n" + ROWS[1].replace("bid", "middle") + "\n")
    with pytest.raises(TardisError, match=r"bad.csv:3: side 'middle'"):
        list(read_tardis_book(bad))
    bad.write_text(HEAD + ROWS[0].replace("50000.0", "fifty") + "\n")
    with pytest.raises(TardisError, match=r":2: price 'fifty' is not a number"):
        list(read_tardis_book(bad))
    bad.write_text("a,b,c\n")
    with pytest.raises(TardisError, match=r":1: header"):
        list(read_tardis_book(bad))
    cut = tmp_path / "cut.csv.gz"
    cut.write_bytes(gzip.compress((HEAD + "\n".join(ROWS)).encode())[:-20])
    with pytest.raises(TardisError, match="unreadable") as err:
        list(read_tardis_book(cut))
    assert err.value.line > 1  # where the cut file stopped, not "somewhere"
