"""BookSync: sequencing, checksum, resync paths (WS snapshot and REST bootstrap), table."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.messages import BookState
from gateway.book import L2Book
from gateway.book_sync import TRANSITIONS, BookSync, SyncEvent
from gateway.okx.schemas import BookData

S = 1_000_000_000
INST = "BTC-USDT-SWAP"


def _replay(okx_fixtures: Path) -> list[dict[str, Any]]:
    v = json.loads((okx_fixtures / "checksum_vectors.json").read_text())
    return v["replay"][0]["messages"]  # type: ignore[no-any-return]


def _data(msg: dict[str, Any]) -> BookData:
    return msgspec.convert(msg["data"][0], BookData)


def _bd(
    prev: int,
    seq: int,
    bids: list[list[str]] | None = None,
    asks: list[list[str]] | None = None,
    checksum: int | None = None,
    base: L2Book | None = None,
) -> BookData:
    """An update; with ``base`` the checksum is what the venue would send after applying it."""
    bids, asks = bids or [], asks or []
    if checksum is None and base is not None:
        base.apply(bids, asks)
        checksum = base.checksum()
    return BookData(
        bids=bids, asks=asks, ts=str(1000 + seq), checksum=checksum or 0, prevSeqId=prev, seqId=seq
    )


def test_table_is_complete() -> None:
    for state, ev in itertools.product(BookState, SyncEvent):
        assert (state, ev) in TRANSITIONS
    assert all(TRANSITIONS[(s, SyncEvent.SYNCED)] is BookState.VALID for s in BookState)


def test_replay_is_valid_throughout_with_heartbeat_and_reset(okx_fixtures: Path) -> None:
    sync = BookSync(INST, depth=3, republish_ms=0)
    msgs = _replay(okx_fixtures)
    out = sync.on_book(msgs[0]["action"], _data(msgs[0]), 0)
    assert out.status is not None
    assert out.status.state is BookState.VALID
    for i, m in enumerate(msgs[1:], start=1):
        out = sync.on_book(m["action"], _data(m), i)
        assert out.book_changed or (out.book is not None)
        assert sync.top_message(i).state is BookState.VALID
        assert out.status is None
        assert not out.resubscribe
    assert sync.state is BookState.VALID
    assert sync.resyncs == 0
    assert sync.checksums_verified == 5
    assert sync.seq_id == 5
    top = sync.top_message(99)
    assert [str(p) for p, _ in top.asks] == ["60000.2", "60000.3", "60000.4"]


def test_gap_resyncs_then_ws_snapshot_restores(okx_fixtures: Path) -> None:
    msgs = _replay(okx_fixtures)
    sync = BookSync(INST)
    sync.on_book("snapshot", _data(msgs[0]), 0)
    out = sync.on_book("update", _bd(11, 12), 1)  # prevSeqId 11 != 10
    assert sync.state is BookState.RESYNCING
    assert out.resubscribe
    assert out.status is not None
    assert out.status.state is BookState.RESYNCING
    assert out.book is not None
    assert out.book.state is BookState.RESYNCING
    assert out.book.bids == []
    assert sync.gaps == 1
    assert sync.resyncs == 1
    out = sync.on_book("snapshot", _data(msgs[0]), 2)
    assert sync.state is BookState.VALID
    assert out.status is not None
    assert out.status.state is BookState.VALID


def test_checksum_mismatch_resyncs_and_zero_is_not_checked(okx_fixtures: Path) -> None:
    msgs = _replay(okx_fixtures)
    sync = BookSync(INST)
    sync.on_book("snapshot", _data(msgs[0]), 0)
    out = sync.on_book("update", _bd(10, 11, bids=[["59000", "1", "0", "1"]], checksum=0), 1)
    assert sync.state is BookState.VALID  # checksum 0 = not provided
    assert out.book_changed
    out = sync.on_book("update", _bd(11, 12, bids=[["59001", "1", "0", "1"]], checksum=12345), 2)
    assert sync.state is BookState.RESYNCING
    assert sync.checksum_failures == 1
    assert out.resubscribe
    bad_snap = msgspec.structs.replace(_data(msgs[0]), checksum=42)
    sync.on_book("snapshot", bad_snap, 3)
    assert sync.state is BookState.RESYNCING


def test_no_snapshot_mode_bootstraps_from_rest() -> None:
    venue = L2Book(INST)
    venue.load_snapshot([["100", "1", "0", "1"]], [["101", "1", "0", "1"]])
    rest = BookData(bids=[["100", "1", "0", "1"]], asks=[["101", "1", "0", "1"]], ts="1", seqId=20)
    sync = BookSync(INST)
    # updates arrive first: 18->19 and 19->20 (contained in the REST snapshot), 20->21 after it
    out = sync.on_book("update", _bd(18, 19, checksum=0), 1)
    assert out.fetch_snapshot is not None
    attempt = out.fetch_snapshot
    assert sync.on_book("update", _bd(19, 20, checksum=0), 2).fetch_snapshot is None
    u21 = _bd(20, 21, bids=[["100.5", "2", "0", "1"]], base=venue)
    sync.on_book("update", u21, 3)
    assert sync.state is BookState.RESYNCING
    assert sync.on_rest_snapshot(attempt + 99, rest, 4).book is None  # stale attempt ignored
    out = sync.on_rest_snapshot(attempt, rest, 5)
    assert sync.state is BookState.VALID
    assert sync.seq_id == 21
    assert out.book is not None
    assert str(out.book.bids[0][0]) == "100.5"
    assert sync.book.checksum() == venue.checksum()
    sync.on_book("update", _bd(21, 22, asks=[["101", "0", "0", "0"]], base=venue), 6)
    assert sync.state is BookState.VALID


def test_rest_bootstrap_without_buffered_updates_uses_relaxed_first_rule() -> None:
    sync = BookSync(INST, snapshot_wait_s=1.0)
    sync.on_connected(0)
    assert sync.on_timer(S // 2).fetch_snapshot is None
    out = sync.on_timer(2 * S)  # quiet book, no snapshot: fall back to REST
    assert out.fetch_snapshot is not None
    rest = BookData(bids=[["100", "1", "0", "1"]], asks=[], ts="1", seqId=50)
    sync.on_rest_snapshot(out.fetch_snapshot, rest, 2 * S)
    assert sync.state is BookState.VALID
    assert (
        sync.on_book("update", _bd(48, 50), 3 * S).book_changed is False
    )  # already in the snapshot
    out = sync.on_book(
        "update", _bd(49, 52, bids=[["99", "1", "0", "1"]]), 3 * S
    )  # prev <= 50 < seq
    assert out.book_changed
    assert sync.state is BookState.VALID
    sync.on_book("update", _bd(51, 53), 3 * S)  # now strict chaining: 51 != 52
    assert sync.state is BookState.RESYNCING


def test_rest_snapshot_that_does_not_join_buffer_refetches() -> None:
    sync = BookSync(INST)
    out = sync.on_book("update", _bd(30, 31), 0)
    assert out.fetch_snapshot is not None
    rest = BookData(bids=[], asks=[], ts="1", seqId=25)  # older than the buffer's 30
    again = sync.on_rest_snapshot(out.fetch_snapshot, rest, 1)
    assert again.fetch_snapshot == out.fetch_snapshot + 1
    assert sync.state is BookState.RESYNCING


def test_disconnect_and_stale(okx_fixtures: Path) -> None:
    msgs = _replay(okx_fixtures)
    sync = BookSync(INST, stale_after_s=5)
    sync.on_book("snapshot", _data(msgs[0]), 0)
    out = sync.on_disconnect(1)
    assert sync.state is BookState.RESYNCING
    assert not out.resubscribe  # the connection manager resubscribes on reconnect
    assert out.status is not None
    sync.on_connected(2)
    sync.on_book("snapshot", _data(msgs[0]), 3)
    assert sync.state is BookState.VALID
    assert sync.on_timer(4 * S).status is None
    out = sync.on_timer(10 * S)
    assert sync.state is BookState.RESYNCING
    assert out.resubscribe
    assert sync.resyncs == 2


@pytest.mark.parametrize("n", [1, 5])
def test_published_top_has_n_levels(okx_fixtures: Path, n: int) -> None:
    sync = BookSync(INST, depth=n)
    out = sync.on_book("snapshot", _data(_replay(okx_fixtures)[0]), 0)
    assert out.book is not None
    assert len(out.book.bids) == min(n, 3)
    assert out.book.seq_id == 10
    assert out.book.ts_ms == 1767225600000


def test_unchanged_top_is_conflated_but_republished_periodically(okx_fixtures: Path) -> None:
    msgs = _replay(okx_fixtures)
    sync = BookSync(INST, depth=1, republish_ms=100)
    sync.on_book("snapshot", _data(msgs[0]), 0)
    venue = L2Book(INST)
    venue.load_snapshot(_data(msgs[0]).bids, _data(msgs[0]).asks)
    deep = _bd(10, 11, bids=[["59990", "1", "0", "1"]], base=venue)  # below the top-1
    assert sync.on_book("update", deep, 1).book_changed is False
    top = _bd(11, 12, bids=[["60000", "9", "0", "1"]], base=venue)
    out = sync.on_book("update", top, 2)
    assert out.book_changed
    assert sync.top_message(2).bids == [("60000", "9")]
    deep2 = _bd(12, 13, bids=[["59991", "1", "0", "1"]], base=venue)
    out = sync.on_book("update", deep2, 2 + 100_000_000)  # unchanged, but 100 ms passed
    assert out.book_changed
    assert sync.top_message(3).seq_id == 13


def test_update_chaining_from_minus_one_is_still_a_snapshot() -> None:
    # a snapshot without seqId leaves seq_id at -1; an update whose prevSeqId is -1 too must
    # take the snapshot rule (replace the book), not the chained-update fast path
    sync = BookSync(INST)
    snap = BookData(bids=[["100", "1", "0", "1"]], asks=[["101", "1", "0", "1"]], ts="1")
    sync.on_book("snapshot", snap, 0)
    assert (sync.state, sync.seq_id) == (BookState.VALID, -1)
    upd = BookData(bids=[["99", "2", "0", "1"]], asks=[], ts="2")
    sync.on_book("update", upd, 1)
    assert sync.book.top_strings(5) == ([("99", "2")], [])


# Ops on a venue stream: 0 chained update, 1 heartbeat, 2 gap, 3 bad checksum, 4 snapshot.
_ops = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=4),
        st.lists(
            st.tuples(
                st.booleans(),
                st.integers(min_value=0, max_value=40),
                st.sampled_from(["0", "1", "7"]),
            ),
            max_size=4,
        ),
    ),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(_ops)
def test_sync_follows_the_venue_and_fails_exactly_on_gaps_and_bad_checksums(
    ops: list[tuple[int, list[tuple[bool, int, str]]]],
) -> None:
    venue = L2Book(INST)
    bids = [[str(1000 - i), "1", "0", "1"] for i in range(30)]
    asks = [[str(2000 + i), "1", "0", "1"] for i in range(30)]
    venue.load_snapshot(bids, asks)
    seq = 100
    sync = BookSync(INST, depth=3, republish_ms=0)
    sync.on_book(
        "snapshot",
        BookData(bids=bids, asks=asks, ts="1", checksum=venue.checksum(), prevSeqId=-1, seqId=seq),
        0,
    )
    valid = True
    for n, (op, changes) in enumerate(ops, start=1):
        b = [[str(1000 - t), sz, "0", "1"] for is_bid, t, sz in changes if is_bid]
        a = [[str(2000 + t), sz, "0", "1"] for is_bid, t, sz in changes if not is_bid]
        if op == 4:
            seq += 1
            top_b, top_a = venue.top_strings(400)
            snap = BookData(
                bids=[[p, s, "0", "1"] for p, s in top_b],
                asks=[[p, s, "0", "1"] for p, s in top_a],
                ts=str(n),
                checksum=venue.checksum(),
                prevSeqId=-1,
                seqId=seq,
            )
            sync.on_book("snapshot", snap, n)
            valid = True
            continue
        prev = seq
        if op == 1:
            b, a = [], []  # heartbeat: seqId == prevSeqId
        else:
            seq += 1
        venue.apply(b, a)
        checksum = venue.checksum()
        if op == 3:
            checksum = checksum + 1 if checksum < 2**31 - 1 else checksum - 1
        sent_prev = prev - 1 if op == 2 else prev
        out = sync.on_book(
            "update",
            BookData(bids=b, asks=a, ts=str(n), checksum=checksum, prevSeqId=sent_prev, seqId=seq),
            n,
        )
        if valid and op in (2, 3):
            assert out.resubscribe
        if op in (2, 3):
            valid = False
        assert (sync.state is BookState.VALID) == valid, (n, op)
        if valid:
            assert sync.seq_id == seq
            assert sync.book.checksum() == venue.checksum()
            top = sync.top_message(n)
            assert (top.bids, top.asks) == venue.top_strings(3)
