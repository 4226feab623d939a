"""BookReplay's use of a REST snapshot recorded before the book asked for it: joined when the
buffered pushes chain from it, never used to bridge a gap or across a reconnect."""

from __future__ import annotations

import json

from gateway.book_replay import BookReplay
from ops.marketdata.rawfile import RawFrame

INST = "BTC-USDT-SWAP"
MS = 1_000_000


def _rest(t_ms: int, seq: int, bid: str = "100.0") -> RawFrame:
    body = {"code": "0", "msg": "", "data": [{
        "asks": [["100.5", "2", "0", "1"]], "bids": [[bid, "3", "0", "1"]],
        "ts": str(t_ms), "seqId": seq, "prevSeqId": -1, "checksum": 0}]}  # fmt: skip
    return RawFrame(t_ms * MS, f"rest:books:{INST}", json.dumps(body))


def _push(t_ms: int, prev: int, seq: int, bid: str = "100.1") -> RawFrame:
    msg = {"arg": {"channel": "books", "instId": INST}, "action": "update", "data": [{
        "asks": [], "bids": [[bid, "1", "0", "1"]], "ts": str(t_ms), "seqId": seq,
        "prevSeqId": prev, "checksum": 0}]}  # fmt: skip
    return RawFrame(t_ms * MS, "ws:public", json.dumps(msg))


def test_a_snapshot_recorded_just_before_the_first_push_is_joined() -> None:
    replay = BookReplay([INST])
    list(replay.run([_rest(1000, 100), _push(1001, 100, 101)]))
    assert replay.valid(INST)  # not left waiting for the next periodic snapshot
    assert replay.reports[INST].snapshots_used == 1
    bids, _ = replay.syncs[INST].book.top_strings(5)
    assert [p for p, _ in bids] == ["100.1", "100.0"]  # the snapshot and the push on it


def test_an_earlier_snapshot_does_not_bridge_missing_updates() -> None:
    replay = BookReplay([INST])
    # updates 101..104 happened between the snapshot and the subscription: never received
    list(replay.run([_rest(1000, 100), _push(1001, 104, 105)]))
    assert not replay.valid(INST)
    list(replay.run([_rest(1002, 105), _push(1003, 105, 106)]))  # the answer to its own ask
    assert replay.valid(INST)


def test_a_snapshot_from_before_a_reconnect_or_too_old_is_not_used() -> None:
    replay = BookReplay([INST])
    frames = [_rest(1000, 100), RawFrame(1000 * MS + 1, "note", "disconnected: 1006"),
              _push(1001, 100, 101)]  # fmt: skip
    list(replay.run(frames))
    assert not replay.valid(INST)
    late = BookReplay([INST])
    list(late.run([_rest(1000, 100), _push(7000, 100, 101)]))  # 6 s later
    assert not late.valid(INST)
