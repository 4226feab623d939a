"""Configuration: YAML + env precedence, every problem reported with its path, credentials."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from engine.config import DEMO_CREDENTIALS
from engine.errors import ConfigError
from ops.config import load_config, resolve_credentials


def test_defaults_quote_two_swaps_on_the_local_exchange() -> None:
    cfg = load_config(None)
    assert cfg.venue.kind == "local"
    assert cfg.instruments == ["BTC-USDT-SWAP", "ETH-USDT-SWAP"]
    assert cfg.venue.urls(cfg.exchange)[0] == "http://127.0.0.1:8900"
    assert cfg.bus.connect_endpoint("md.pub") == "tcp://127.0.0.1:7100"
    ports = [int(cfg.bus.connect_endpoint(n).rsplit(":", 1)[1]) for n in ("md.pub", "ctl.risk")]
    assert all(7100 <= p <= 7199 for p in ports)


def test_env_overrides_yaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "c.yaml"
    f.write_text("router:\n  max_open_orders: 5\n  heartbeat_ms: 10\n")
    monkeypatch.setenv("OKXMM_ROUTER__HEARTBEAT_MS", "77")
    cfg = load_config(f)
    assert cfg.router.heartbeat_ms == 77  # env wins (the port let YAML silently win)
    assert cfg.router.max_open_orders == 5  # YAML still beats defaults


def test_every_problem_is_reported_with_its_path(tmp_path: Path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text(
        "router:\n  max_open_orders: lots\n  bogus: 1\n"
        "venue:\n  kind: mainnet\n"
        "strategies:\n  - {name: 'bad name!', strategy: sample_mm, inst: X}\n"
    )
    with pytest.raises(ConfigError) as info:
        load_config(f)
    paths = {p for p, _ in info.value.problems}
    assert {"router.max_open_orders", "router.bogus", "venue.kind", "strategies.0.name"} <= paths


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    f = tmp_path / "broken.yaml"
    f.write_text("router:\n  a: [1, 2\n")
    with pytest.raises(ConfigError) as info:
        load_config(f)
    assert ":3:" in info.value.problems[0][0] or ":2:" in info.value.problems[0][0]


def test_credentials_env_then_file_then_demo(tmp_path: Path) -> None:
    cfg = load_config(None)
    assert resolve_credentials(cfg, env={}) == DEMO_CREDENTIALS
    creds = resolve_credentials(
        cfg, env={"OKX_API_KEY": "k1", "OKX_API_SECRET": "s1", "OKX_API_PASSPHRASE": "p1"}
    )
    assert creds.api_key.get_secret_value() == "k1"
    assert "s1" not in repr(creds)
    secrets = tmp_path / "secrets.yaml"
    secrets.write_text("api_key: k2\nsecret: s2\npassphrase: p2\n")
    venue = cfg.venue.model_copy(update={"secrets_file": str(secrets)})
    cfg2 = cfg.model_copy(update={"venue": venue})
    assert resolve_credentials(cfg2, env={}).secret.get_secret_value() == "s2"
    live = cfg.model_copy(update={"venue": cfg.venue.model_copy(update={"kind": "okx-live"})})
    with pytest.raises(ConfigError):
        resolve_credentials(live, env={})


def test_config_check_cli_exits_nonzero_with_paths(tmp_path: Path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text("md_feed:\n  depth: -x\n")
    res = subprocess.run(
        [sys.executable, "-m", "ops.cli", "config", "check", str(f)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert res.returncode == 1
    assert "md_feed.depth" in res.stderr
    good = tmp_path / "good.yaml"
    good.write_text("md_feed:\n  depth: 10\n")
    ok = subprocess.run(
        [sys.executable, "-m", "ops.cli", "config", "check", str(good)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    assert "ok" in ok.stdout
