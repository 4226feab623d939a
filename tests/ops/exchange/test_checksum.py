"""Checksum against the official vectors, derived edge cases, the replay and the erratum."""

from __future__ import annotations

import json
from pathlib import Path

from ops.exchange.checksum import book_checksum, check_string
from tests.ops.exchange.bookcheck import BookChecker


def _load(okx_fixtures: Path) -> dict:
    return json.loads((okx_fixtures / "checksum_vectors.json").read_text())


def test_official_and_derived_vectors(okx_fixtures: Path) -> None:
    vectors = _load(okx_fixtures)
    cases = vectors["official"] + vectors["derived"]
    assert len(vectors["official"]) == 2
    for case in cases:
        bids = [(b[0], b[1]) for b in case["bids"]]
        asks = [(a[0], a[1]) for a in case["asks"]]
        assert check_string(bids, asks) == case["check_string"], case["name"]
        assert book_checksum(bids, asks) == case["checksum"], case["name"]


def test_doc_erratum_hashes_to_the_corrected_value(okx_fixtures: Path) -> None:
    e = _load(okx_fixtures)["doc_errata"][0]
    bids = [(b[0], b[1]) for b in e["bids"]]
    asks = [(a[0], a[1]) for a in e["asks"]]
    assert book_checksum(bids, asks) == e["actual_checksum_of_levels"]
    assert book_checksum(bids, asks) != e["claimed_checksum"]


def test_independent_checker_follows_the_replay(okx_fixtures: Path) -> None:
    replay = _load(okx_fixtures)["replay"][0]
    checker = BookChecker()
    for msg, expected in zip(replay["messages"], replay["expected"], strict=True):
        checker.on_message(msg)
        bids, asks = checker.sorted_levels()
        assert [list(b) for b in bids] == expected["book_after"]["bids"]
        assert [list(a) for a in asks] == expected["book_after"]["asks"]
        assert checker.checksum() == expected["checksum"]
        assert book_checksum(bids, asks) == expected["checksum"]
