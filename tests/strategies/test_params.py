"""Params: validation with exact problems, the original's layout, hot reload keeping good params."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from engine.errors import ConfigError
from strategies.params import (
    ParamsWatcher,
    StrategyParams,
    load_params,
    parse_params,
    size_problem,
)


def test_defaults_and_port_keys() -> None:
    p = parse_params("step_pct: 0.002\nnum_orders_per_side: 3\nmax_net_buy: 100\n")
    assert p.step_pct == 0.002
    assert p.num_orders_per_side == 3
    assert p.max_net_buy == Decimal(100)
    assert p.max_net_sell == Decimal(20)
    assert p.error_backoff_sec == 20.0  # the original's back-off


def test_original_layout_and_names() -> None:
    p = parse_params(
        "strategy:\n  step_pct: 0.001\n  num_of_order_each_side: 5\n"
        "  single_size_as_multiple_of_lot_size: 2\n  price_integration: 10\n"
        "  maximum_net_buy: 20\n  maximum_net_sell: 20\n"
    )
    assert p.num_orders_per_side == 5
    assert p.order_size(Decimal("0.01")) == Decimal("0.02")


@pytest.mark.parametrize(
    ("text", "path", "words"),
    [
        ("step_pct: -1\n", "step_pct", "greater than 0"),
        ("num_orders_per_side: 50\n", "num_orders_per_side", "less than or equal to 20"),
        ("single_size_as_multiple_of_lot_size: 1.5\n", "single_size_as_multiple", "integer"),
        ("stepp_pct: 0.1\n", "stepp_pct", "Extra inputs are not permitted"),
        ("min_spread_pct: 0.1\nmax_spread_pct: 0.01\n", "(file)", "min_spread_pct"),
        ("", "params", "empty params file"),
        ("- 1\n- 2\n", "params", "mapping"),
        ("step_pct: [\n", "params", "not valid YAML"),
    ],
)
def test_weak_spot_10_1_17_invalid_params_name_the_exact_problem(
    text: str, path: str, words: str
) -> None:
    with pytest.raises(ConfigError) as err:
        parse_params(text)
    assert any(path in p and words in m for p, m in err.value.problems), err.value.problems


def test_inst_id_must_match_the_worker() -> None:
    with pytest.raises(ConfigError, match="ETH-USDT-SWAP"):
        parse_params("inst_id: ETH-USDT-SWAP\n", inst="BTC-USDT-SWAP")
    assert parse_params("inst_id: BTC-USDT-SWAP\n", inst="BTC-USDT-SWAP").inst_id


def test_watcher_reloads_on_change_and_keeps_last_good(tmp_path: Path) -> None:
    f = tmp_path / "p.yaml"
    f.write_text("step_pct: 0.001\n")
    w = ParamsWatcher(f)
    assert w.current.step_pct == 0.001
    assert w.poll() is None  # unchanged: not even re-read
    f.write_text("step_pct: 0.002\n")
    new = w.poll()
    assert new is not None
    assert new.step_pct == 0.002
    f.write_text("step_pct: nope\n")
    with pytest.raises(ConfigError, match="step_pct"):
        w.poll()
    assert w.current.step_pct == 0.002  # previous params in force
    assert w.rejected == 1
    assert w.poll() is None  # the same bad content is reported once
    f.write_text("")  # the original: an empty file wiped the params
    with pytest.raises(ConfigError, match="empty"):
        w.poll()
    assert w.current.step_pct == 0.002
    f.write_text("step_pct: 0.003\n")
    assert w.poll(force=True) is not None
    assert w.current.step_pct == 0.003
    assert w.reloads == 2


def test_watcher_without_file_uses_defaults() -> None:
    w = ParamsWatcher(None)
    assert w.current == StrategyParams()
    assert w.poll(force=True) is None


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_params(tmp_path / "nope.yaml")


@pytest.mark.parametrize(
    "path", sorted((Path(__file__).resolve().parents[2] / "strategies" / "examples").glob("*.yaml"))
)
def test_example_params_files_are_valid(path: Path) -> None:
    params = load_params(path)
    assert params.num_orders_per_side >= 1


def test_worker_cli_rejects_a_bad_params_file_with_the_problem(tmp_path: Path) -> None:
    import subprocess
    import sys

    bad = tmp_path / "bad.yaml"
    bad.write_text("num_orders_per_side: 0\n")
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "strategies.worker",
            "--name",
            "x",
            "--strategy",
            "sample_mm",
            "--inst",
            "BTC-USDT-SWAP",
            "--params",
            str(bad),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert res.returncode == 2
    assert "num_orders_per_side: Input should be greater than or equal to 1" in res.stderr


@pytest.mark.parametrize(
    ("text", "path", "words"),
    [
        ("step_pct: 0.49\n", "step_pct", "less than or equal to 0.05"),
        ("step_pct: 0.03\nnum_orders_per_side: 5\n", "(file)", "last level"),
        ("single_order_size: 1e9\n", "single_order_size", "less than or equal to"),
        ("single_order_size: 50\n", "(file)", "overshoot the position limit"),
        ("single_order_size: 5\nsingle_order_size_multiplier: 10\n", "(file)", "overshoot"),
        ("max_skew_pct: 0.3\n", "max_skew_pct", "less than or equal to 0.05"),
        ("max_spread_pct: 0.5\n", "max_spread_pct", "less than or equal to 0.1"),
        ("max_net_buy: 1e12\n", "max_net_buy", "less than or equal to"),
    ],
)
def test_issue_13_out_of_range_params_are_refused(text: str, path: str, words: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_params(text)
    assert any(path in p and words in m for p, m in err.value.problems), err.value.problems


def test_every_example_params_file_is_in_range() -> None:
    examples = sorted((Path(__file__).parents[2] / "strategies/examples").glob("*.yaml"))
    assert examples
    for f in examples:
        load_params(f)


def test_size_problem_names_the_router_limit() -> None:
    assert size_problem(Decimal(2), max_order_sz=Decimal(1)) == (
        "params: order size 2 above the router's max_order_sz 1"
    )
    assert size_problem(Decimal(1), max_order_sz=Decimal(1)) is None
    assert size_problem(Decimal(10**9), max_order_sz=None) is None  # not known yet
