"""Request signing: the fixture vectors, and every rejection in OKX's order."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ops.exchange.auth import Keyring, sign

SECRET = "22582BD0CFF14C41EDBF1AB98506286D"
TS = "2020-12-08T09:08:57.715Z"
TS_MS = 1607418537715


def _vectors(okx_fixtures: Path) -> dict:
    return json.loads((okx_fixtures / "signature_vectors.json").read_text())


def test_sign_matches_every_fixture_vector(okx_fixtures: Path) -> None:
    v = _vectors(okx_fixtures)
    for case in v["rest"]:
        assert sign(v["secret"], case["prehash"]) == case["OK-ACCESS-SIGN"], case["name"]
    for case in v["ws_login"]:
        assert sign(v["secret"], case["prehash"]) == case["sign"]


def _ring() -> Keyring:
    ring = Keyring()
    ring.add("key1", SECRET, "phrase1")
    return ring


def _headers(case: dict, **over: str) -> dict[str, str]:
    h = {
        "OK-ACCESS-KEY": "key1",
        "OK-ACCESS-SIGN": case["OK-ACCESS-SIGN"],
        "OK-ACCESS-TIMESTAMP": case["OK-ACCESS-TIMESTAMP"],
        "OK-ACCESS-PASSPHRASE": "phrase1",
    }
    h.update(over)
    return {k: v for k, v in h.items() if v != "<drop>"}


def test_valid_signatures_verify_on_raw_bytes(okx_fixtures: Path) -> None:
    ring = _ring()
    for case in _vectors(okx_fixtures)["rest"]:
        res = ring.verify_rest(
            _headers(case), case["method"], case["requestPath"], case["body"].encode(), TS_MS + 1000
        )
        assert res.api_key == "key1", case["name"]


@pytest.mark.parametrize(
    ("over", "now_ms", "code"),
    [
        ({"OK-ACCESS-KEY": "<drop>"}, TS_MS, "50103"),
        ({"OK-ACCESS-PASSPHRASE": "<drop>"}, TS_MS, "50104"),
        ({"OK-ACCESS-SIGN": "<drop>"}, TS_MS, "50106"),
        ({"OK-ACCESS-TIMESTAMP": "<drop>"}, TS_MS, "50107"),
        ({"OK-ACCESS-TIMESTAMP": "yesterday"}, TS_MS, "50112"),
        ({}, TS_MS + 30_001, "50102"),
        ({}, TS_MS - 30_001, "50102"),
        ({"OK-ACCESS-KEY": "nope"}, TS_MS, "50111"),
        ({"OK-ACCESS-PASSPHRASE": "wrong"}, TS_MS, "50105"),
        ({"OK-ACCESS-SIGN": "AAAA"}, TS_MS, "50113"),
    ],
)
def test_rejections(okx_fixtures: Path, over: dict[str, str], now_ms: int, code: str) -> None:
    case = _vectors(okx_fixtures)["rest"][0]
    res = _ring().verify_rest(_headers(case, **over), "GET", case["requestPath"], b"", now_ms)
    assert res.api_key is None
    assert res.code == code


def test_body_reencoding_breaks_the_signature(okx_fixtures: Path) -> None:
    compact, spaced = _vectors(okx_fixtures)["rest"][2:4]
    res = _ring().verify_rest(
        _headers(compact), "POST", compact["requestPath"], spaced["body"].encode(), TS_MS
    )
    assert res.code == "50113"


def test_ws_login_checks() -> None:
    ring = _ring()
    ts = "1538054050"
    good = {
        "apiKey": "key1",
        "passphrase": "phrase1",
        "timestamp": ts,
        "sign": "+LdIr8lkkvhr5hoA3g9TMC0+uQJ849ftAcocA/ouu4M=",
    }
    now = 1538054050_000
    assert ring.verify_login(good, now).api_key == "key1"
    assert ring.verify_login(good, now + 31_000).code == "60006"
    assert ring.verify_login({**good, "timestamp": "x"}, now).code == "60004"
    assert ring.verify_login({**good, "apiKey": "other"}, now).code == "60005"
    assert ring.verify_login({**good, "passphrase": "bad"}, now).code == "60024"
    assert ring.verify_login({**good, "sign": "AAAA"}, now).code == "60007"
    assert ring.verify_login({"apiKey": "key1"}, now).code == "60009"
    assert "phrase1" not in repr(ring)
