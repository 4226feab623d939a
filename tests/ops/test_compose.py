"""docker-compose.yml is valid and every command it runs works outside docker."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ops.cli import ACTORS

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"


def services() -> dict[str, dict[str, object]]:
    data = yaml.safe_load(COMPOSE.read_text())
    svc: dict[str, dict[str, object]] = data["services"]
    return svc


def test_docker_compose_config_validates() -> None:
    exe = shutil.which("docker-compose")
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("docker-compose is not installed (.ci/run installs Debian's package)")
        pytest.skip("docker-compose not installed here")
    res = subprocess.run(
        [exe, "-f", str(COMPOSE), "config", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
    )
    assert res.returncode == 0, res.stderr


def test_one_service_per_actor_and_worker() -> None:
    names = set(services())
    assert {"exchange", "md-feed", "private-gw", "router", "risk"} <= names
    assert {"mm-btc", "skew-eth"} <= names


@pytest.mark.parametrize("name", sorted(services()))
def test_each_service_command_runs_outside_docker(name: str) -> None:
    cmd = services()[name]["command"]
    assert isinstance(cmd, list)
    if cmd[0] == "actor":
        assert cmd[1] in ACTORS
    # The same argv with --help must be accepted by the real CLI (options and config path valid).
    res = subprocess.run(
        [sys.executable, "-m", "ops.cli", *cmd, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
    )
    assert res.returncode == 0, res.stderr


def test_the_config_the_services_use_is_valid() -> None:
    configs = set()
    for svc in services().values():
        cmd = svc["command"]
        assert isinstance(cmd, list)
        configs.add(cmd[cmd.index("--config") + 1])
    for config in sorted(configs):
        check = subprocess.run(
            [sys.executable, "-m", "ops.cli", "config", "check", config],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            cwd=ROOT,
        )
        assert check.returncode == 0, check.stderr
