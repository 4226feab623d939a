"""``okxmm config check`` and ``okxmm up`` refuse bad values and bad cross-references (issue 13
item 6), each problem one line naming its field, with a non-zero exit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from engine.errors import ConfigError
from ops.cli import app
from ops.config import OkxmmConfig, StrategySpec, VenueConfig, load_config
from ops.config_check import check_config

REPO = Path(__file__).resolve().parents[2]
BTC = "BTC-USDT-SWAP"


def _write(tmp_path: Path, data: dict[str, object]) -> Path:
    f = tmp_path / "c.yaml"
    f.write_text(yaml.safe_dump(data))
    return f


@pytest.mark.parametrize(
    ("section", "path"),
    [
        ({"risk": {"loss_limit_usd": -5}}, "risk.loss_limit_usd"),
        ({"risk": {"max_position_base": {BTC: -1}}}, f"risk.max_position_base.{BTC}"),
        ({"risk": {"max_position_usd": 0}}, "risk.max_position_usd"),
        ({"risk": {"max_order_rate_per_s": -1}}, "risk.max_order_rate_per_s"),
        ({"router": {"max_open_orders": -1}}, "router.max_open_orders"),
        ({"router": {"heartbeat_ms": 0}}, "router.heartbeat_ms"),
        ({"router": {"dead_after_ms": 0}}, "router.dead_after_ms"),
        ({"risk": {"heartbeat_ms": 0}}, "risk.heartbeat_ms"),
        ({"risk": {"publish_interval_ms": -1}}, "risk.publish_interval_ms"),
        ({"md_feed": {"timer_ms": 0}}, "md_feed.timer_ms"),
        ({"private_gw": {"ping_after_s": 0}}, "private_gw.ping_after_s"),
        ({"exchange": {"port": 99999}}, "exchange.port"),
    ],
)
def test_non_positive_limits_and_intervals_are_refused_naming_the_field(
    tmp_path: Path, section: dict[str, object], path: str
) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(_write(tmp_path, section))
    assert [p for p, _ in err.value.problems] == [path]


def _cfg(**kw: object) -> OkxmmConfig:
    return OkxmmConfig.model_validate(kw)


def _paths(cfg: OkxmmConfig, env: dict[str, str] | None = None) -> list[str]:
    return [p for p, _ in check_config(cfg, env=env if env is not None else {})]


def test_the_shipped_configs_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)  # params paths are relative to where okxmm runs
    assert check_config(OkxmmConfig(), env={}) == []
    for f in ("config/okxmm.yaml", "deploy/okxmm.docker.yaml"):
        assert check_config(load_config(REPO / f), env={}) == [], f


def test_cross_references_are_refused_naming_the_field(tmp_path: Path) -> None:
    bad_params = tmp_path / "p.yaml"
    bad_params.write_text("step_pct: 0.49\n")
    cfg = _cfg(
        instruments=[BTC, "DOGE-USDT-SWAP"],
        strategies=[
            StrategySpec(name="mm-btc", strategy="sample_mm", inst=BTC),
            StrategySpec(name="mm-btc", strategy="sample_mm", inst=BTC),
            StrategySpec(name="x", strategy="nope", inst=BTC),
            StrategySpec(name="y", strategy="sample_mm", inst="XRP-USDT-SWAP"),
            StrategySpec(name="z", strategy="sample_mm", inst=BTC, params=str(bad_params)),
        ],
        router={"max_order_sz": "-1", "heartbeat_ms": 200, "dead_after_ms": 150},
    )
    problems = dict(check_config(cfg, env={}))
    assert "already names strategies.0" in problems["strategies.1.name"]
    assert "unknown strategy 'nope'" in problems["strategies.2.strategy"]
    assert "does not serve" in problems["strategies.3.inst"]
    assert "step_pct" in problems["strategies.4.params"]
    assert "not listed by the local exchange" in problems["instruments.1"]
    assert "must be > 0" in problems["router.max_order_sz"]
    assert "fenced" in problems["router.dead_after_ms"]
    assert len(problems) == 7


def test_okx_live_without_credentials_is_refused() -> None:
    live = _cfg(venue=VenueConfig(kind="okx-live"))
    assert _paths(live) == ["venue"]
    creds = {"OKX_API_KEY": "k", "OKX_API_SECRET": "s", "OKX_API_PASSPHRASE": "p"}
    assert _paths(live, creds) == []
    assert _paths(_cfg()) == []  # the local venue has its demo credentials


def test_a_params_order_above_the_router_limit_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "p.yaml"
    p.write_text("single_order_size: 5\nmax_net_buy: 10\nmax_net_sell: 10\n")
    spec = StrategySpec(name="a", strategy="sample_mm", inst=BTC, params=str(p))
    problems = check_config(_cfg(strategies=[spec], router={"max_order_sz": "2"}), env={})
    assert problems == [
        ("strategies.0.params", "params: order size 5 above the router's max_order_sz 2")
    ]


def test_config_check_cli_prints_one_line_per_problem_and_exits_1(tmp_path: Path) -> None:
    f = _write(
        tmp_path,
        {
            "strategies": [
                {"name": "a", "strategy": "sample_mm", "inst": BTC},
                {"name": "a", "strategy": "nope", "inst": BTC},
            ]
        },
    )
    res = subprocess.run(
        [sys.executable, "-m", "ops.cli", "config", "check", str(f)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)},
    )
    assert res.returncode == 1
    lines = res.stderr.strip().splitlines()
    assert [line.split(": ")[1] for line in lines] == ["strategies.1.name", "strategies.1.strategy"]
    assert "Traceback" not in res.stderr


def test_up_refuses_to_start_on_a_cross_reference_problem(tmp_path: Path) -> None:
    f = _write(tmp_path, {"strategies": [{"name": "a", "strategy": "nope", "inst": BTC}]})
    res = CliRunner().invoke(app, ["up", "--config", str(f), "--no-status", "--duration", "1"])
    assert res.exit_code == 2
    assert "strategies.0.strategy: unknown strategy 'nope'" in res.output


def test_a_params_order_above_the_local_instrument_max_size_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "p.yaml"
    p.write_text("single_order_size: 50\nmax_net_buy: 100\nmax_net_sell: 100\n")
    spec = StrategySpec(name="a", strategy="sample_mm", inst=BTC, params=str(p))
    cfg = _cfg(strategies=[spec])
    small = [i.model_copy(update={"max_lmt_sz": "10"}) for i in cfg.exchange.instruments]
    cfg = cfg.model_copy(
        update={"exchange": cfg.exchange.model_copy(update={"instruments": small})}
    )
    assert check_config(cfg, env={}) == [
        ("strategies.0.params", f"params: order size 50 above {BTC}'s maxLmtSz 10")
    ]


def test_metrics_ports_must_be_distinct_and_clear_of_the_bus() -> None:
    off = _cfg(metrics={"enabled": False, "ports": {"router": 7104}})
    assert _paths(off) == []  # metrics off: their ports do not matter
    clash = _cfg(metrics={"enabled": True, "ports": {"router": 7104, "risk": 9402}})
    problems = dict(check_config(clash, env={}))
    assert "already the bus's" in problems["metrics.ports.router"]
    assert "already md-feed's" in problems["metrics.ports.risk"]
    high = _cfg(metrics={"enabled": True, "port_base": 65530})  # alerts at +6, workers +10
    assert "out of range" in dict(check_config(high, env={}))["metrics.port_base"]
    assert _paths(_cfg(metrics={"enabled": True})) == []
