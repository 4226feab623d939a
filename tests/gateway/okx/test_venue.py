"""Venue selection: URLs, demo header and credentials come from the config."""

from __future__ import annotations

import pytest

from engine.clock import SystemClock
from gateway.okx.venue import make_private_ws, make_public_ws, make_rest
from ops.config import OkxmmConfig, VenueConfig


async def test_okx_demo_uses_demo_urls_header_and_env_credentials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OKX_API_KEY", "demo-key")
    monkeypatch.setenv("OKX_API_SECRET", "demo-secret")
    monkeypatch.setenv("OKX_API_PASSPHRASE", "demo-pass")
    cfg = OkxmmConfig(venue=VenueConfig(kind="okx-demo"))
    clock = SystemClock()
    rest = make_rest(cfg, clock)
    try:
        assert rest._http.headers["x-simulated-trading"] == "1"
        assert rest._base == "https://www.okx.com"
        assert rest._creds is not None
        assert rest._creds.api_key.get_secret_value() == "demo-key"
        assert "demo-secret" not in repr(rest._creds)
    finally:
        await rest.close()
    pub = make_public_ws(cfg, clock, lambda ev: None)
    priv = make_private_ws(cfg, clock, lambda ev: None)
    assert pub.url == "wss://wspap.okx.com:8443/ws/v5/public"
    assert priv.url == "wss://wspap.okx.com:8443/ws/v5/private"


async def test_live_has_no_demo_header_and_local_is_default() -> None:
    live = make_rest(OkxmmConfig(venue=VenueConfig(kind="okx-live")), SystemClock(), private=False)
    try:
        assert "x-simulated-trading" not in live._http.headers
        assert (
            make_public_ws(
                OkxmmConfig(venue=VenueConfig(kind="okx-live")), SystemClock(), lambda ev: None
            ).url
            == "wss://ws.okx.com:8443/ws/v5/public"
        )
    finally:
        await live.close()
    local = make_rest(OkxmmConfig(), SystemClock())
    try:
        assert local._base.startswith("http://127.0.0.1:")
        assert "x-simulated-trading" not in local._http.headers
    finally:
        await local.close()
