"""clOrdId encoding: round trips, bounds, foreign ids."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.orders.clordid import (
    COUNTER_MAX,
    EPOCH_MAX,
    MAX_LEN,
    SHORT_ID_MAX,
    ClOrdIdParts,
    ClOrdIdSequence,
    decode,
    encode,
    is_ours,
    short_id_for,
)

_OKX_CLORDID = re.compile(r"^[A-Za-z0-9]{1,32}$")


@given(
    st.integers(0, SHORT_ID_MAX),
    st.integers(0, EPOCH_MAX),
    st.integers(0, COUNTER_MAX),
)
def test_round_trip_and_okx_format(index: int, epoch: int, counter: int) -> None:
    sid = short_id_for(index)
    cid = encode(sid, epoch, counter)
    assert _OKX_CLORDID.match(cid)
    assert len(cid) <= MAX_LEN
    assert decode(cid) == ClOrdIdParts(sid, epoch, counter)
    assert is_ours(cid)


@given(
    st.tuples(st.integers(0, 50), st.integers(0, 2**63), st.integers(0, 10**9)),
    st.tuples(st.integers(0, 50), st.integers(0, 2**63), st.integers(0, 10**9)),
)
def test_distinct_inputs_give_distinct_ids(
    a: tuple[int, int, int], b: tuple[int, int, int]
) -> None:
    ida = encode(short_id_for(a[0]), a[1], a[2])
    idb = encode(short_id_for(b[0]), b[1], b[2])
    assert (ida == idb) == (a == b)


def test_nanosecond_epoch_fits() -> None:
    cid = encode("00a", 1_795_000_000_123_456_789, 10**12)
    assert len(cid) <= MAX_LEN
    assert decode(cid) == ClOrdIdParts("00a", 1_795_000_000_123_456_789, 10**12)


@pytest.mark.parametrize(
    "foreign",
    [
        "",
        "om",
        "abc123",
        "b15",
        "oktswap6",
        "om00a",
        "om00a000000000001-",
        "om00a00000000000" + "01",
        "om" + "x" * 40,
    ],
)
def test_foreign_or_malformed_ids_decode_to_none(foreign: str) -> None:
    assert decode(foreign) is None
    assert not is_ours(foreign)


@pytest.mark.parametrize(
    ("sid", "epoch", "counter"),
    [
        ("0a", 1, 1),
        ("0-a", 1, 1),
        ("00a", -1, 1),
        ("00a", EPOCH_MAX + 1, 1),
        ("00a", 1, -1),
        ("00a", 1, COUNTER_MAX + 1),
    ],
)
def test_out_of_range_fields_raise(sid: str, epoch: int, counter: int) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - any field error is a ValueError
        encode(sid, epoch, counter)


def test_short_id_bounds() -> None:
    assert short_id_for(0) == "000"
    assert short_id_for(SHORT_ID_MAX) == "ZZZ"
    with pytest.raises(ValueError, match="out of range"):
        short_id_for(SHORT_ID_MAX + 1)


def test_sequence_is_monotonic_and_decodable() -> None:
    seq = ClOrdIdSequence("01Z", 123456789)
    ids = [seq.next() for _ in range(1000)]
    assert len(set(ids)) == 1000
    assert [decode(i) for i in ids] == [ClOrdIdParts("01Z", 123456789, n) for n in range(1, 1001)]
    assert seq.counter == 1000
    resumed = ClOrdIdSequence("01Z", 123456789, start=1000)
    assert resumed.next() not in ids
