"""Delivery to real HTTP receivers: formats, de-duplication, rate limit, retries, no blocking,
no secret in a log."""

from __future__ import annotations

import asyncio
import time

import pytest
from loguru import logger

from engine.clock import SystemClock
from engine.errors import ConfigError
from ops.alerts.config import AlertsConfig, SinkConfig
from ops.alerts.dispatch import Dispatcher
from ops.alerts.rules import Alert
from ops.alerts.sinks import build_sinks
from tests.ops.alerts.receiver import receiving

CLOCK = SystemClock()
TOKEN = "123456:bot-SECRET-token-7f"


def _dispatcher(cfg: AlertsConfig, env: dict[str, str] | None = None) -> Dispatcher:
    return Dispatcher(
        cfg,
        build_sinks(cfg, env or {}),
        source="host-a",
        mono_ns=CLOCK.monotonic_ns,
        wall_ms=lambda: CLOCK.now_ns() // 1_000_000,
    )


async def test_each_format_reaches_its_receiver(free_port: int) -> None:
    async with receiving(free_port) as rec:
        cfg = AlertsConfig(
            sinks=[
                SinkConfig(name="hook", kind="json", url=f"{rec.base}/hook"),
                SinkConfig(name="slack", kind="slack", url_env="SLACK_URL"),
                SinkConfig(name="tg", kind="telegram", url=rec.base, token_env="TG", chat_id="42"),
            ]
        )
        d = _dispatcher(cfg, {"SLACK_URL": f"{rec.base}/slack", "TG": TOKEN})
        d.start()
        try:
            assert d.submit(Alert("risk:account:*", "critical", "risk HALTED (account)", "halt"))
            got = dict(await rec.wait_for(3))
        finally:
            await d.close()
    assert got["/hook"]["severity"] == "critical"
    assert got["/hook"]["source"] == "host-a"
    assert got["/hook"]["key"] == "risk:account:*"
    assert got["/slack"]["text"].startswith("[CRIT] okxmm host-a: risk HALTED (account)")
    tg = got[f"/bot{TOKEN}/sendMessage"]
    assert tg["chat_id"] == "42"
    assert "risk HALTED" in tg["text"]
    assert TOKEN not in str(tg)  # the token is in the URL only, as the Bot API wants


async def test_repeats_are_dropped_and_a_resolution_re_arms(free_port: int) -> None:
    async with receiving(free_port) as rec:
        cfg = AlertsConfig(sinks=[SinkConfig(name="hook", url=f"{rec.base}/h")], dedup_s=300)
        d = _dispatcher(cfg)
        d.start()
        try:
            halt = Alert("risk:account:*", "critical", "risk HALTED")
            assert d.submit(halt)
            assert not d.submit(halt)  # the same within the window
            assert d.submit(Alert("risk:account:*", "info", "risk ACTIVE again", resolved=True))
            assert d.submit(halt)  # a new episode is told again
            got = await rec.wait_for(3)
        finally:
            await d.close()
    assert [b["severity"] for _, b in got] == ["critical", "info", "critical"]
    assert d.deduplicated == 1


async def test_a_flood_is_rate_limited_into_a_summary_but_criticals_wait_their_turn(
    free_port: int,
) -> None:
    async with receiving(free_port) as rec:
        cfg = AlertsConfig(sinks=[SinkConfig(name="hook", url=f"{rec.base}/h")], rate_per_min=60)
        d = _dispatcher(cfg)
        d.start()
        try:
            for i in range(60):  # the whole minute's budget at once
                d.submit(Alert(f"book:{i}", "warning", f"book {i} invalid"))
            await rec.wait_for(60)
            for i in range(30):  # over budget now
                d.submit(Alert(f"worker:{i}", "warning", f"worker {i} fenced"))
            d.submit(Alert("risk:account:*", "critical", "risk HALTED"))
            got = await rec.wait_for(62, timeout_s=15)
        finally:
            await d.close()
    later = [b["title"] for _, b in got[60:]]
    assert "risk HALTED" in later  # never summarised away
    assert any("held back by the rate limit" in t for t in later)
    assert len(got) <= 63  # 31 more alerts became a couple of messages


async def test_a_failing_receiver_is_retried_and_submit_never_blocks(free_port: int) -> None:
    async with receiving(free_port) as rec:
        rec.fail_next = 2
        cfg = AlertsConfig(sinks=[SinkConfig(name="hook", url=f"{rec.base}/h")], retries=3)
        d = _dispatcher(cfg)
        d.start()
        try:
            t0 = time.perf_counter()
            for i in range(500):
                d.submit(Alert(f"k{i}", "warning", "x"))
            assert time.perf_counter() - t0 < 0.5  # no network on the caller's path
            got = await rec.wait_for(1)
        finally:
            await d.close()
    assert got[0][1]["key"] == "k0"  # delivered after two 503s


async def test_an_unreachable_receiver_is_logged_by_name_without_its_url(free_port: int) -> None:
    lines: list[str] = []
    sink = logger.add(
        lambda m: lines.append(f"{m.record['message']} {m.record['extra']}"), level="WARNING"
    )
    secret_url = f"http://127.0.0.1:{free_port}/hook/SECRET-path-19a"
    cfg = AlertsConfig(sinks=[SinkConfig(name="hook", url=secret_url)], retries=1, timeout_s=1)
    d = _dispatcher(cfg)
    d.start()
    try:
        d.submit(Alert("k", "critical", "risk HALTED"))
        for _ in range(200):  # up to 10 s for the sender task to give up
            if d.lanes[0].failed:
                break
            await asyncio.sleep(0.05)
        assert d.lanes[0].failed == 1
    finally:
        await d.close()
        logger.remove(sink)
    text = "\n".join(lines)
    assert "alert not delivered" in text
    assert "hook" in text
    assert "SECRET-path" not in text


def test_a_missing_secret_is_a_config_error_naming_the_variable_not_a_value() -> None:
    cfg = AlertsConfig(
        sinks=[SinkConfig(name="tg", kind="telegram", token_env="TG_TOKEN", chat_id="1")]
    )
    with pytest.raises(ConfigError, match="TG_TOKEN not set"):
        build_sinks(cfg, {})
    with pytest.raises(ValueError, match="chat_id"):
        SinkConfig(name="tg", kind="telegram", token_env="X")
