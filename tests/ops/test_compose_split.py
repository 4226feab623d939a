"""The split deployment (deploy/compose.core.yml + deploy/compose.workers.yml) is valid.

Each compose file passes ``docker-compose config``; every service command is accepted by the
real CLI; the configs they use pass ``okxmm config check`` with real keys (made here, pointed
at by environment overrides, as an operator would mount them); host A publishes every bus
port a worker dials, and only over CURVE.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.bus.curve import generate_keypair
from ops.config import load_config

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "deploy" / "compose.core.yml"
WORKERS = ROOT / "deploy" / "compose.workers.yml"
# what a worker connects to on host A, by the compose service that binds it
WORKER_DIALS = {
    "md-feed": ("md.pub", "md.snap"),
    "private-gw": ("acct.pub", "acct.snap"),
    "router": ("ord.cmd", "ord.pub", "ord.snap"),
    "risk": ("risk.pub", "risk.snap"),
}


def _services(path: Path) -> dict[str, dict[str, Any]]:
    svc: dict[str, dict[str, Any]] = yaml.safe_load(path.read_text())["services"]
    return svc


def _run(argv: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, capture_output=True, text=True, timeout=60, check=False, cwd=ROOT, env=env
    )


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OKXMM_", "OKX_API_"))}
    env.update(extra)
    return env


@pytest.mark.parametrize("path", [CORE, WORKERS], ids=["core", "workers"])
def test_docker_compose_config_validates(path: Path) -> None:
    exe = shutil.which("docker-compose")
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("docker-compose is not installed (.ci/run installs Debian's package)")
        pytest.skip("docker-compose not installed here")
    res = _run([exe, "-f", str(path), "config", "-q"], _clean_env(OKXMM_CORE_HOST="10.0.0.1"))
    assert res.returncode == 0, res.stderr
    if path == WORKERS:  # host A's address is mandatory: no silent default
        res = _run([exe, "-f", str(path), "config", "-q"], _clean_env())
        assert res.returncode != 0
        assert "OKXMM_CORE_HOST" in res.stderr


def test_the_roles_split_the_actors() -> None:
    core, workers = set(_services(CORE)), set(_services(WORKERS))
    assert core == {"exchange", "md-feed", "private-gw", "router", "risk"}
    assert workers == {"mm-btc", "skew-eth"}
    for svc in _services(WORKERS).values():
        assert svc["command"][:2] == ["strategy", "run"]


@pytest.mark.parametrize(
    ("path", "name"),
    [(CORE, n) for n in sorted(_services(CORE))]
    + [(WORKERS, n) for n in sorted(_services(WORKERS))],
)
def test_each_service_command_runs_outside_docker(path: Path, name: str) -> None:
    cmd = _services(path)[name]["command"]
    res = _run([sys.executable, "-m", "ops.cli", *cmd, "--help"])
    assert res.returncode == 0, res.stderr


def _config_of(path: Path) -> str:
    (config,) = {s["command"][s["command"].index("--config") + 1] for s in _services(path).values()}
    return str(config)


def test_the_configs_pass_config_check_with_real_keys(tmp_path: Path) -> None:
    generate_keypair(tmp_path, "server")
    generate_keypair(tmp_path / "clients", "worker-b1")
    check = [sys.executable, "-m", "ops.cli", "config", "check"]
    core_env = _clean_env(
        OKXMM_BUS__CURVE__SERVER_PUBLIC=str(tmp_path / "server.key"),
        OKXMM_BUS__CURVE__SERVER_SECRET=str(tmp_path / "server.key_secret"),
        OKXMM_BUS__CURVE__ALLOW=f'["{tmp_path / "clients"}"]',
    )
    res = _run([*check, _config_of(CORE)], core_env)
    assert res.returncode == 0, res.stderr
    workers_env = _clean_env(
        OKXMM_BUS__HOST="10.0.0.1",
        OKXMM_BUS__CURVE__SERVER_PUBLIC=str(tmp_path / "server.key"),
        OKXMM_BUS__CURVE__CLIENT_SECRET=str(tmp_path / "clients" / "worker-b1.key_secret"),
    )
    res = _run([*check, _config_of(WORKERS)], workers_env)
    assert res.returncode == 0, res.stderr
    # the keys the files name (/app/keys in the containers) are not here: named, refused
    res = _run([*check, _config_of(WORKERS)], _clean_env(OKXMM_BUS__HOST="10.0.0.1"))
    assert res.returncode == 1
    assert "bus.curve.server_public" in res.stderr


def test_host_a_publishes_every_bus_port_a_worker_dials_over_curve() -> None:
    cfg = load_config(ROOT / _config_of(CORE))
    assert cfg.bus.security == "curve"
    assert cfg.bus.curve.server_secret is not None
    services = _services(CORE)
    for service, names in WORKER_DIALS.items():
        published: set[int] = set()
        for mapping in services[service].get("ports", []):
            host_part, _, container = str(mapping).rpartition(":")
            lo, _, hi = container.partition("-")
            assert host_part.split(":")[-1] == container, "same port numbers outside"
            published.update(range(int(lo), int(hi or lo) + 1))
        for name in names:
            port = int(cfg.bus.bind_endpoint(name).rsplit(":", 1)[1])
            assert port in published, (service, name, port)


def test_keys_stay_out_of_git_and_the_image() -> None:
    """The compose files mount deploy/keys; the Dockerfile copies deploy/: both must skip it."""
    for ignore in (".gitignore", ".dockerignore"):
        lines = {ln.strip().lstrip("/") for ln in (ROOT / ignore).read_text().splitlines()}
        assert "deploy/keys/" in lines, ignore
    for path in (CORE, WORKERS):
        svc = next(iter(_services(path).values()))
        assert "./keys:/app/keys:ro" in svc["volumes"]
