"""L2Book: every checksum vector (official, derived, replay, erratum) and a model-based check."""

from __future__ import annotations

import json
import zlib
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.book import L2Book, checksum_of, price_key, signed_crc32


def _vectors(okx_fixtures: Path) -> dict[str, Any]:
    return json.loads((okx_fixtures / "checksum_vectors.json").read_text())  # type: ignore[no-any-return]


def test_official_and_derived_vectors(okx_fixtures: Path) -> None:
    v = _vectors(okx_fixtures)
    cases = v["official"] + v["derived"]
    assert len(cases) >= 9
    for case in cases:
        book = L2Book("X")
        book.load_snapshot(case["bids"], case["asks"])
        assert book.check_string() == case["check_string"], case["name"]
        assert book.checksum() == case["checksum"], case["name"]


def test_doc_erratum_levels_hash_to_actual_not_claimed(okx_fixtures: Path) -> None:
    errata = _vectors(okx_fixtures)["doc_errata"]
    assert errata
    for case in errata:
        book = L2Book("X")
        book.load_snapshot(case["bids"], case["asks"])
        assert book.checksum() == case["actual_checksum_of_levels"]
        assert book.checksum() != case["claimed_checksum"]


def test_replay_sequence_book_and_checksum_after_each_message(okx_fixtures: Path) -> None:
    (replay,) = _vectors(okx_fixtures)["replay"]
    book = L2Book("BTC-USDT-SWAP")
    for msg, exp in zip(replay["messages"], replay["expected"], strict=True):
        d = msg["data"][0]
        if msg["action"] == "snapshot":
            book.load_snapshot(d["bids"], d["asks"])
        else:
            book.apply(d["bids"], d["asks"])
        bids, asks = book.top_strings(400)
        assert [list(x) for x in bids] == exp["book_after"]["bids"]
        assert [list(x) for x in asks] == exp["book_after"]["asks"]
        assert book.check_string() == exp["check_string"]
        assert book.checksum() == exp["checksum"] == d["checksum"]


def test_signed_crc32_matches_python_rule() -> None:
    for s in ("3366.1:7:3366.8:9:3366:6:3368:8", "a", "x" * 100):
        c = zlib.crc32(s.encode())
        assert signed_crc32(s) == (c - 2**32 if c >= 2**31 else c)
    assert checksum_of([], []) == 0


def test_top_is_exact_decimal_and_best_first() -> None:
    book = L2Book("X")
    book.load_snapshot(
        [["100.1", "2", "0", "1"], ["100.25", "1", "0", "1"]], [["100.3", "0.5", "0", "1"]]
    )
    bids, asks = book.top(5)
    assert bids == [(Decimal("100.25"), Decimal(1)), (Decimal("100.1"), Decimal(2))]
    assert asks == [(Decimal("100.3"), Decimal("0.5"))]
    assert book.best() == (Decimal("100.25"), Decimal("100.3"))
    book.apply([["100.25", "0", "0", "0"]], [["100.3", "7", "0", "2"], ["100.27", "1", "0", "1"]])
    assert book.top_strings(1) == ([("100.1", "2")], [("100.27", "1")])
    assert book.depth() == (1, 2)


# Model-based check: the book against a naive dict model, driven by hypothesis.
ticks = st.integers(min_value=1, max_value=300)
sizes = st.sampled_from(["0", "1", "2.5", "0.001", "10"])
level_changes = st.lists(st.tuples(st.booleans(), ticks, sizes), max_size=12)


def _px(t: int) -> str:
    q, r = divmod(t, 10)
    return f"{q}.{r}" if r else str(q)


@settings(max_examples=150, deadline=None)
@given(st.lists(level_changes, min_size=1, max_size=30))
def test_book_matches_naive_model(updates: list[list[tuple[bool, int, str]]]) -> None:
    book = L2Book("X")
    model: dict[bool, dict[int, str]] = {True: {}, False: {}}
    for upd in updates:
        bids = [[_px(t), sz, "0", "1"] for is_bid, t, sz in upd if is_bid]
        asks = [[_px(t), sz, "0", "1"] for is_bid, t, sz in upd if not is_bid]
        book.apply(bids, asks)
        for is_bid, t, sz in upd:
            if sz == "0":
                model[is_bid].pop(t, None)
            else:
                model[is_bid][t] = sz
        mb = sorted(model[True], reverse=True)[:25]
        ma = sorted(model[False])[:25]
        parts_b = [f"{_px(t)}:{model[True][t]}" for t in mb]
        parts_a = [f"{_px(t)}:{model[False][t]}" for t in ma]
        assert book.checksum() == checksum_of(parts_b, parts_a)
        bids_top, asks_top = book.top_strings(25)
        assert [f"{p}:{s}" for p, s in bids_top] == parts_b
        assert [f"{p}:{s}" for p, s in asks_top] == parts_a


def test_same_price_spelled_differently_is_one_level() -> None:
    book = L2Book("X")
    book.load_snapshot([["8477", "1", "0", "1"]], [])
    book.apply([["8477.0", "2", "0", "1"]], [])
    assert book.depth() == (1, 0)
    assert book.top_strings(5)[0] == [("8477.0", "2")]
    book.apply([["8477.0", "0", "0", "0"]], [])
    assert book.depth() == (0, 0)


def test_a_known_price_deleted_under_another_spelling_is_gone() -> None:
    book = L2Book("X")
    book.load_snapshot(
        [["8477", "1", "0", "1"], ["8476", "3", "0", "1"]], [["8478", "1", "0", "1"]]
    )
    book.apply([["8477.0", "0", "0", "0"]], [["8478.00", "0", "0", "0"]])
    assert book.top_strings(5) == ([("8476", "3")], [])
    assert book.checksum() == checksum_of(["8476:3"], [])
    book.apply([["8477.0", "0", "0", "0"]], [])  # unknown in every spelling: nothing to do
    assert book.depth() == (1, 0)


# price_key: exact order for any spelling (int fast path and Decimal fallback mixed).
_plain = st.builds(
    lambda i, f: f"{i}.{f}" if f else str(i),
    st.integers(min_value=0, max_value=10**9),
    st.text(alphabet="0123456789", max_size=22),  # > 18 decimals takes the Decimal path
)
_other = st.decimals(allow_nan=False, allow_infinity=False, places=None).map(str)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_plain, _other), min_size=2, max_size=8))
def test_price_key_orders_and_equates_exactly_like_decimal(pxs: list[str]) -> None:
    for a in pxs:
        for b in pxs:
            ka, kb = price_key(a), price_key(b)
            assert (ka < kb) == (Decimal(a) < Decimal(b)), (a, b)
            assert (ka == kb) == (Decimal(a) == Decimal(b)), (a, b)


def test_price_key_is_an_int_for_plain_prices() -> None:
    assert price_key("60000.5") == 60000_5 * 10**17
    assert isinstance(price_key("0.00000001"), int)
    assert price_key("8477") == price_key("8477.0") == price_key("8477.000")
    assert not isinstance(price_key("1E+3"), int)
    assert price_key("1E+3") == price_key("1000")


# The deep-book checksum (both sides ≥ 25 levels: the interleaving buffer is reused) and the
# cached Decimal top against the straightforward computation from a naive model.
deep_changes = st.lists(
    st.tuples(st.booleans(), st.integers(min_value=0, max_value=80), sizes), max_size=10
)


@settings(max_examples=150, deadline=None)
@given(st.lists(deep_changes, min_size=1, max_size=25), st.integers(min_value=1, max_value=30))
def test_deep_book_checksum_and_published_top_match_straightforward(
    updates: list[list[tuple[bool, int, str]]], pub_depth: int
) -> None:
    # bids at ticks 1000-off, asks at 2000+off: 40 levels each to start, so the usual deep-book
    # path runs until deletes thin a side below 25 (then the general path takes over)
    model = {True: {1000 - i: "1" for i in range(40)}, False: {2000 + i: "2" for i in range(40)}}
    book = L2Book("X", pub_depth=pub_depth)
    book.load_snapshot(
        [[_px(t), sz, "0", "1"] for t, sz in model[True].items()],
        [[_px(t), sz, "0", "1"] for t, sz in model[False].items()],
    )
    for upd in updates:
        bids = [[_px(1000 - off), sz, "0", "1"] for is_bid, off, sz in upd if is_bid]
        asks = [[_px(2000 + off), sz, "0", "1"] for is_bid, off, sz in upd if not is_bid]
        book.apply(bids, asks)
        for is_bid, off, sz in upd:
            t = 1000 - off if is_bid else 2000 + off
            if sz == "0":
                model[is_bid].pop(t, None)
            else:
                model[is_bid][t] = sz
        mb = sorted(model[True], reverse=True)
        ma = sorted(model[False])
        parts_b = [f"{_px(t)}:{model[True][t]}" for t in mb[:25]]
        parts_a = [f"{_px(t)}:{model[False][t]}" for t in ma[:25]]
        # OKX's rule spelled out: bid, ask per level; a side that ran out is skipped
        interleaved: list[str] = []
        for i in range(max(len(parts_b), len(parts_a))):
            interleaved += parts_b[i : i + 1] + parts_a[i : i + 1]
        text = ":".join(interleaved)
        assert book.check_string() == text
        assert book.checksum() == (signed_crc32(text) if text else 0)
        bids_top, asks_top = book.published_top()
        # published as the exact strings received (the bus carries OKX's text)
        assert bids_top == [(_px(t), model[True][t]) for t in mb[:pub_depth]]
        assert asks_top == [(_px(t), model[False][t]) for t in ma[:pub_depth]]
        assert book.top_changed is False


def test_published_top_is_rebuilt_only_when_it_changed_and_reuses_levels() -> None:
    book = L2Book("X", pub_depth=2)
    book.load_snapshot(
        [["100", "1", "0", "1"], ["99", "2", "0", "1"], ["98", "3", "0", "1"]],
        [["101", "1", "0", "1"], ["102", "2", "0", "1"]],
    )
    first = book.published_top()
    book.apply([["98", "4", "0", "1"]], [])  # below the top-2: nothing to rebuild
    assert book.top_changed is False
    assert book.published_top() is first
    book.apply([["100", "5", "0", "1"]], [])
    assert book.top_changed is True
    bids, asks = book.published_top()
    assert bids == [("100", "5"), ("99", "2")]
    assert bids[1] is first[0][1]  # unchanged levels are reused, not rebuilt
    assert asks is not first[1]
    assert asks == first[1]
    assert book.best() == (Decimal(100), Decimal(101))


def test_prices_beyond_int_keys_still_order_exactly_on_both_sides() -> None:
    # 40 significant digits: past the int keys' 18 decimals and Decimal's default 28 digits
    lo, hi = "1." + "0" * 38 + "1", "1." + "0" * 38 + "2"
    book = L2Book("X")
    book.load_snapshot([[lo, "1", "0", "1"], ["0.5", "1", "0", "1"]], [[lo, "1", "0", "1"]])
    book.apply([[hi, "2", "0", "1"]], [[hi, "2", "0", "1"], ["1", "3", "0", "1"]])
    bids, asks = book.top_strings(5)
    assert bids == [(hi, "2"), (lo, "1"), ("0.5", "1")]
    assert asks == [("1", "3"), (lo, "1"), (hi, "2")]
