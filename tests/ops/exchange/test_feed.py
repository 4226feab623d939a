"""The books stream: 10 minutes of simulated time with every checksum verified by an
independent checker, determinism, and the book-stream faults (skip seqId, corrupt checksum,
checksum 0, no initial snapshot, heartbeat)."""

from __future__ import annotations

import json
import random
from decimal import Decimal

import pytest

from engine.clock import FakeClock
from ops.exchange.config import AccountSpec, ExchangeConfig, InstrumentSpec
from ops.exchange.hub import Conn
from ops.exchange.venue import Venue
from tests.ops.exchange.bookcheck import BookChecker, ChainError, ChecksumError

INST = "BTC-USDT-SWAP"
ACCT = AccountSpec(api_key="k", secret="s", passphrase="p")


def _venue(**over: object) -> tuple[Venue, FakeClock]:
    cfg = ExchangeConfig(
        instruments=[
            InstrumentSpec(
                inst_id=INST,
                inst_type="SWAP",
                tick_sz="0.1",
                lot_sz="0.01",
                min_sz="0.01",
                ct_val="0.01",
                start_px="60000",
            )
        ],
        realtime=False,
        rate_limits=False,
        **{"profile": "legacy", **over},  # CRC-32 books; test_profile.py covers today's
    )
    clock = FakeClock(start_ns=1_767_225_600_000_000_000)
    return Venue(cfg, clock, [ACCT]), clock


def _subscribe(v: Venue, channel: str = "books") -> Conn:
    c = Conn(kind="public", conn_id="t", last_rx_ms=v.now_ms())
    v.hub.add(c)
    v.hub.subscribe_public(c, channel, INST)
    if channel == "books" and v.faults.initial_snapshot:
        snap = v.feeds[INST].snapshot(checksum_zero=v.faults.checksum_mode == "zero")
        c.push(
            json.dumps(
                {
                    "arg": {"channel": "books", "instId": INST},
                    "action": "snapshot",
                    "data": [snap.data],
                }
            )
        )
    return c


def _drain(c: Conn) -> list[dict]:
    out = [json.loads(t) for t in c.out]
    c.out.clear()
    return out


@pytest.mark.slow
def test_ten_minutes_of_books_keep_every_checksum() -> None:
    v, clock = _venue()
    c = _subscribe(v)
    checker = BookChecker()
    rng = random.Random(11)
    acct = v.account("k")
    assert acct is not None
    steps = 10 * 60 * 1000 // v.cfg.step_ms
    start_ms = v.market.sim_ms
    for i in range(steps):
        clock.advance(v.cfg.step_ms * 1_000_000)
        if i % 20 == 0:  # our own orders come and go inside the stream
            mark = v.ex.marks[INST]
            px = (mark * Decimal(1 + rng.uniform(-0.0005, 0.0005))).quantize(Decimal("0.1"))
            v.trading.run(
                "order",
                acct,
                {
                    "instId": INST,
                    "tdMode": "cross",
                    "side": rng.choice(["buy", "sell"]),
                    "ordType": "limit",
                    "px": str(px),
                    "sz": "0.5",
                },
                v.now_ms(),
            )
            if len(acct.live) > 5:
                oid = next(iter(acct.live))
                v.trading.run("cancel-order", acct, {"instId": INST, "ordId": str(oid)}, v.now_ms())
            v.flush()
        v.step(1)
        for msg in _drain(c):
            checker.on_message(msg)
    assert v.market.sim_ms - start_ms == 600_000
    assert checker.messages > steps * 0.9
    assert checker.checked == checker.messages
    # the client's book equals the exchange's top 400
    bids, asks = checker.sorted_levels()
    view_b, view_a = v.feeds[INST].top(400)
    assert [list(b) for b in bids] == [r[:2] for r in view_b]
    assert [list(a) for a in asks] == [r[:2] for r in view_a]
    assert len(bids) == 400


def test_same_seed_same_market_and_other_seed_differs() -> None:
    def run(seed: int) -> list[str]:
        v, clock = _venue(seed=seed)
        marks = []
        for _ in range(50):
            clock.advance(100_000_000)
            v.step(1)
            marks.append(str(v.ex.marks[INST]))
        return marks

    assert run(3) == run(3)
    assert run(3) != run(4)


def test_skip_seq_is_a_gap_for_clients() -> None:
    v, clock = _venue()
    c = _subscribe(v)
    checker = BookChecker()
    v.faults.skip_seq = 1
    msgs = []
    for _ in range(20):
        clock.advance(100_000_000)
        v.step(1)
        msgs += _drain(c)
    assert v.faults.skip_seq == 0

    def replay() -> None:
        for msg in msgs:
            checker.on_message(msg)

    with pytest.raises(ChainError):
        replay()


def test_corrupt_checksum_is_detected_once() -> None:
    v, clock = _venue()
    c = _subscribe(v)
    checker = BookChecker()
    v.faults.corrupt_checksum = 1
    errors = 0
    for _ in range(20):
        clock.advance(100_000_000)
        v.step(1)
        for msg in _drain(c):
            try:
                checker.on_message(msg)
            except ChecksumError:
                errors += 1
                checker = BookChecker()  # resync: a fresh snapshot
                snap = v.feeds[INST].snapshot()
                checker.on_message({"action": "snapshot", "data": [snap.data]})
    assert errors == 1


def test_checksum_zero_and_no_initial_snapshot_bootstrap_from_rest_view() -> None:
    v, clock = _venue()
    v.faults.checksum_mode = "zero"
    v.faults.initial_snapshot = False
    c = _subscribe(v)
    assert _drain(c) == []  # no snapshot on subscribe
    clock.advance(100_000_000)
    v.step(1)
    buffered = _drain(c)
    assert buffered
    assert all(m["data"][0]["checksum"] == 0 for m in buffered)
    # bootstrap as okx-v5.md §9.4: REST snapshot seqId S, drop updates <= S
    v.publish()
    snap = v.feeds[INST].snapshot(checksum_zero=True)
    s = snap.data["seqId"]
    checker = BookChecker()
    checker.on_message({"action": "snapshot", "data": [snap.data]})
    for _ in range(30):
        clock.advance(100_000_000)
        v.step(1)
        for m in _drain(c):
            if m["data"][0]["seqId"] <= s:
                continue
            checker.on_message(m)
    v.faults.checksum_mode = "crc32"
    clock.advance(100_000_000)
    v.step(1)
    for m in _drain(c):
        checker.on_message(m)
    assert checker.checked >= 1


def test_heartbeat_after_quiet_period() -> None:
    v, clock = _venue(book_heartbeat_s=1.0)
    v.faults.freeze = True
    c = _subscribe(v)
    v.step(1)
    _drain(c)
    clock.advance(1_500_000_000)
    v.step(1)
    msgs = _drain(c)
    assert len(msgs) == 1
    d = msgs[0]["data"][0]
    assert d["bids"] == []
    assert d["asks"] == []
    assert d["prevSeqId"] == d["seqId"]
