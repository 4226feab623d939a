"""Signing against the fixture vectors (docs example secret)."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import SecretStr

from engine.config import Credentials
from gateway.okx.signing import auth_headers, iso_timestamp, login_args, prehash, sign


def _vectors(okx_fixtures: Path) -> dict[str, object]:
    return json.loads((okx_fixtures / "signature_vectors.json").read_text())  # type: ignore[no-any-return]


def test_rest_vectors(okx_fixtures: Path) -> None:
    v = _vectors(okx_fixtures)
    secret = str(v["secret"])
    rest = v["rest"]
    assert isinstance(rest, list)
    assert len(rest) >= 5
    for case in rest:
        ph = prehash(case["OK-ACCESS-TIMESTAMP"], case["method"], case["requestPath"], case["body"])
        assert ph == case["prehash"], case["name"]
        assert sign(secret, ph) == case["OK-ACCESS-SIGN"], case["name"]


def test_ws_login_vectors(okx_fixtures: Path) -> None:
    v = _vectors(okx_fixtures)
    creds = Credentials(
        api_key=SecretStr("k"), secret=SecretStr(str(v["secret"])), passphrase=SecretStr("p")
    )
    cases = v["ws_login"]
    assert isinstance(cases, list)
    for case in cases:
        args = login_args(creds, int(case["timestamp"]))
        assert args["sign"] == case["sign"]
        assert args["timestamp"] == case["timestamp"]
        assert args["apiKey"] == "k"
        assert args["passphrase"] == "p"


def test_iso_timestamp_has_three_fraction_digits() -> None:
    # 2020-12-08T09:08:57.715Z is the docs' example timestamp
    assert iso_timestamp(1607418537715) == "2020-12-08T09:08:57.715Z"
    assert iso_timestamp(1607418537005) == "2020-12-08T09:08:57.005Z"


def test_auth_headers_sign_what_is_sent(okx_fixtures: Path) -> None:
    v = _vectors(okx_fixtures)
    creds = Credentials(
        api_key=SecretStr("key"), secret=SecretStr(str(v["secret"])), passphrase=SecretStr("pp")
    )
    h = auth_headers(creds, 1607418537715, "GET", "/api/v5/account/balance?ccy=BTC")
    assert h["OK-ACCESS-SIGN"] == "HiZhvSfMtWJA3uUIVXV3a/bSXNPCWvYFXoGCVS8V4zY="
    assert h["OK-ACCESS-TIMESTAMP"] == "2020-12-08T09:08:57.715Z"
    assert h["OK-ACCESS-KEY"] == "key"
    assert h["OK-ACCESS-PASSPHRASE"] == "pp"
