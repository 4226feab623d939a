"""L2Book: every checksum vector (official, derived, replay, erratum) and a model-based check."""

from __future__ import annotations

import json
import zlib
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.book import L2Book, checksum_of, signed_crc32


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
