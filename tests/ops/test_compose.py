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


def okxmm_services() -> dict[str, dict[str, object]]:
    """The services running okxmm (not the optional monitoring profile's)."""
    return {n: s for n, s in services().items() if "profiles" not in s}


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


@pytest.mark.parametrize("name", sorted(okxmm_services()))
def test_each_service_command_runs_outside_docker(name: str) -> None:
    cmd = okxmm_services()[name]["command"]
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
    for svc in okxmm_services().values():
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


def _compose_config(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("docker-compose")
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("docker-compose is not installed (.ci/run installs Debian's package)")
        pytest.skip("docker-compose not installed here")
    return subprocess.run(
        [exe, "-f", str(COMPOSE), *args, "config", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
    )


def test_monitoring_profile_validates() -> None:
    res = _compose_config("--profile", "monitoring")
    assert res.returncode == 0, res.stderr


def test_every_service_has_a_healthcheck_and_waits_for_health() -> None:
    for name, svc in services().items():
        health = svc.get("healthcheck")
        assert isinstance(health, dict), f"{name} has no healthcheck"
        test = health["test"]
        assert isinstance(test, list)
        assert test[0] == "CMD", name
        if name in okxmm_services():
            # the actor's own ctl ping, by its service name (compose DNS = the bus host)
            assert test[1:5] == ["okxmm", "ctl", name, "ping"], (name, test)
        deps = svc.get("depends_on", {})
        assert isinstance(deps, dict), f"{name}: depends_on needs conditions"
        for dep, cond in deps.items():
            assert cond == {"condition": "service_healthy"}, (name, dep)
    assert set(services()["risk"]["depends_on"]) == {"md-feed", "private-gw", "router"}  # type: ignore[arg-type]


def test_monitoring_images_are_pinned_and_optional() -> None:
    mon = {n: s for n, s in services().items() if "profiles" in s}
    assert set(mon) == {"prometheus", "grafana"}
    for name, svc in mon.items():
        assert svc["profiles"] == ["monitoring"], name
        image = str(svc["image"])
        tag = image.rpartition(":")[2]
        assert ":" in image, f"{name}: {image} has no tag"
        assert tag not in ("", "latest"), f"{name}: {image} is not pinned"


def test_prometheus_scrapes_every_actor_service_at_its_metrics_port() -> None:
    from ops.config import load_config

    cfg = load_config(ROOT / "deploy" / "okxmm.docker.yaml")
    assert cfg.metrics.enabled
    prom = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text())
    (job,) = prom["scrape_configs"]
    got = {t["labels"]["actor"]: target for t in job["static_configs"] for target in t["targets"]}
    want = {name: f"{name}:{cfg.metrics_port(name)}" for name in okxmm_services()}
    assert got == want


def test_env_example_names_every_variable_compose_reads() -> None:
    import re

    used = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", COMPOSE.read_text()))
    example = (ROOT / ".env.example").read_text()
    given = set(re.findall(r"^([A-Z_][A-Z0-9_]*)=", example, flags=re.MULTILINE))
    assert used == given, (used - given, given - used)


def test_grafana_dashboard_uses_the_provisioned_datasource() -> None:
    import json

    dash = json.loads((ROOT / "deploy" / "grafana" / "dashboards" / "okxmm.json").read_text())
    ds = yaml.safe_load(
        (
            ROOT / "deploy" / "grafana" / "provisioning" / "datasources" / "prometheus.yml"
        ).read_text()
    )["datasources"][0]
    targets = [t for p in dash["panels"] for t in p.get("targets", [])]
    assert len(targets) >= 20
    assert {t["datasource"]["uid"] for t in targets} == {ds["uid"]}
    assert all("okxmm_" in t["expr"] or "process_" in t["expr"] for t in targets)
