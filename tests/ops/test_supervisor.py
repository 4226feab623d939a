"""Supervisor pieces that are pure: restart policy, child specs (what `ps` shows)."""

from __future__ import annotations

from pathlib import Path

from engine.config import SupervisorConfig, load_config
from ops.supervisor import RestartPolicy, build_specs


def test_restart_policy_backs_off_and_gives_up() -> None:
    policy = RestartPolicy(
        SupervisorConfig(
            restart="on-failure", max_restarts=3, backoff_initial_s=0.5, backoff_max_s=3
        )
    )
    assert policy.should_restart(1, 0, stopping=False)
    assert not policy.should_restart(0, 0, stopping=False)  # clean exit: leave it
    assert not policy.should_restart(1, 3, stopping=False)  # gave up
    assert not policy.should_restart(1, 0, stopping=True)
    assert [policy.backoff_s(i) for i in range(4)] == [0.5, 1.0, 2.0, 3.0]
    always = RestartPolicy(SupervisorConfig(restart="always"))
    assert always.should_restart(0, 0, stopping=False)


def test_children_start_in_order_and_name_themselves(tmp_path: Path) -> None:
    cfg = load_config(None)
    specs = build_specs(cfg, tmp_path / "c.yaml")
    names = [s.name for s in specs]
    assert names[:5] == ["exchange", "md-feed", "private-gw", "router", "risk"]
    assert names[5:] == ["mm-btc", "skew-eth"]
    worker = specs[5].argv
    assert "strategies.worker" in worker
    assert worker[worker.index("--name") + 1] == "mm-btc"
    assert worker[worker.index("--inst") + 1] == "BTC-USDT-SWAP"
    assert worker[worker.index("--strategy") + 1] == "sample_mm"
    live = cfg.model_copy(update={"venue": cfg.venue.model_copy(update={"kind": "okx-live"})})
    assert "exchange" not in [s.name for s in build_specs(live, None)]
