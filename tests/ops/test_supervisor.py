"""Supervisor pieces that are pure: restart policy, child specs (what `ps` shows)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import zmq.asyncio
from loguru import logger

from engine.actor import Actor
from engine.clock import SystemClock
from ops.config import SupervisorConfig, load_config
from ops.supervisor import ChildSpec, RestartPolicy, RestartWindow, Supervisor, build_specs


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


def test_the_margin_actor_starts_for_a_multi_currency_account(tmp_path: Path) -> None:
    cfg = load_config(None)
    assert "margin" not in [s.name for s in build_specs(cfg, None)]  # acctLv 2
    mc = cfg.model_copy(update={"exchange": cfg.exchange.model_copy(update={"acct_lv": 3})})
    names = [s.name for s in build_specs(mc, None)]
    assert names[4:6] == ["risk", "margin"]
    spec = next(s for s in build_specs(mc, None) if s.name == "margin")
    assert "risk.margin.monitor" in spec.argv
    off = mc.model_copy(update={"margin": mc.margin.model_copy(update={"enabled": False})})
    assert "margin" not in [s.name for s in build_specs(off, None)]


def test_restart_window_forgets_old_restarts() -> None:
    window = RestartWindow(window_s=60, limit=3)
    for t in (0, 10, 20):
        window.record(t * 1_000_000_000)
    assert window.count(30 * 1_000_000_000) == 3
    policy = RestartPolicy(SupervisorConfig(max_restarts=3, restart_window_s=60))
    assert not policy.should_restart(1, window.count(30 * 1_000_000_000), stopping=False)
    # a day later the same worker may crash again and is restarted: the budget is per window
    assert window.count(86_400 * 1_000_000_000) == 0
    assert policy.should_restart(1, window.count(86_400 * 1_000_000_000), stopping=False)


async def test_a_child_that_keeps_crashing_is_given_up_on_loudly(tmp_path: Path) -> None:
    """A real child process exiting 3 at once: restarted max_restarts times, then left down
    with the reason in its state and an ERROR in the log (it used to stop silently)."""
    cfg = load_config(None)
    cfg = cfg.model_copy(
        update={
            "log_dir": str(tmp_path),
            "supervisor": SupervisorConfig(
                max_restarts=2, restart_window_s=60, backoff_initial_s=0.01, backoff_max_s=0.02
            ),
        }
    )
    errors: list[str] = []
    sink = logger.add(
        lambda m: errors.append(f"{m.record['message']} {m.record['extra']}"), level="ERROR"
    )
    ctx = zmq.asyncio.Context()
    try:
        actor = Actor("supervisor", cfg, ctx, SystemClock(), epoch=1)
        crash = ChildSpec("crasher", [sys.executable, "-c", "import sys; sys.exit(3)"], "exchange")
        sup = Supervisor(actor, [crash])
        await sup.start_all()
        child = sup.children["crasher"]
        assert child.watcher is not None
        async with asyncio.timeout(20):
            await child.watcher  # returns when the supervisor stops restarting the child
        assert child.state.startswith("gave up")
        assert child.restarts == 2
        assert child.last_exit == 3
        assert "2 restarts in 60 s" in child.state
        assert any("keeps dying" in e and "crasher" in e for e in errors)
    finally:
        logger.remove(sink)
        ctx.destroy(linger=0)
