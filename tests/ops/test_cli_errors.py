"""Operator mistakes at the command line: one clear line on stderr, a non-zero exit, no traceback
(issue 13 item 6). Each case runs the real CLI in a subprocess."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from engine.config import BusConfig
from engine.runlock import AlreadyRunningError, RunLock

REPO = Path(__file__).resolve().parents[2]
BTC = "BTC-USDT-SWAP"


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OKX_API_", "OKXMM_"))}
    env["PYTHONPATH"] = str(REPO)
    return env


def _okxmm(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ops.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=_env(),
        cwd=REPO,
    )


def _one_error_line(res: subprocess.CompletedProcess[str], *words: str) -> str:
    """The run failed with exactly one error line holding ``words`` and no traceback."""
    assert res.returncode != 0, res.stderr
    assert "Traceback" not in res.stderr, res.stderr
    errors = [line for line in res.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1, res.stderr
    for word in words:
        assert word in errors[0], errors[0]
    return errors[0]


@pytest.fixture
def cfg_file(tmp_path: Path, bus_config: BusConfig) -> Path:
    f = tmp_path / "c.yaml"
    bus = {"transport": "ipc", "ipc_dir": bus_config.ipc_dir}
    f.write_text(yaml.safe_dump({"bus": bus, "log_dir": str(tmp_path / "log")}))
    return f


@pytest.fixture
def held_port() -> Iterator[int]:
    """A TCP port on 127.0.0.1 someone else is listening on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield int(s.getsockname()[1])


def test_exchange_refuses_a_port_out_of_range_instead_of_logging_it(cfg_file: Path) -> None:
    res = _okxmm("exchange", "--config", str(cfg_file), "--port", "99999", timeout=20)
    assert res.returncode == 2
    _one_error_line(res, "--port", "99999", "1..65535")
    assert "exchange ready" not in res.stderr


def test_exchange_refuses_a_malformed_account(cfg_file: Path) -> None:
    res = _okxmm("exchange", "--config", str(cfg_file), "--account", "badformat", timeout=20)
    assert res.returncode == 2
    line = _one_error_line(res, "--account", "KEY:SECRET:PASSPHRASE")
    assert "badformat" not in line  # the value may be a secret: never echoed


def test_exchange_on_a_port_in_use(cfg_file: Path, held_port: int) -> None:
    res = _okxmm("exchange", "--config", str(cfg_file), "--port", str(held_port), timeout=30)
    assert res.returncode == 2
    _one_error_line(res, f"127.0.0.1:{held_port}", "in use")


def test_an_actor_whose_bus_port_is_in_use(tmp_path: Path, held_port: int) -> None:
    f = tmp_path / "tcp.yaml"
    # md.pub is port_base + 0: the port someone holds; the rest of the range is very likely free
    f.write_text(yaml.safe_dump({"bus": {"port_base": held_port}, "log_dir": str(tmp_path)}))
    res = _okxmm("actor", "md-feed", "--config", str(f), timeout=30)
    assert res.returncode == 2
    _one_error_line(res, f"tcp://127.0.0.1:{held_port}", "in use")


def test_an_actor_whose_metrics_port_is_in_use(cfg_file: Path, held_port: int) -> None:
    data = yaml.safe_load(cfg_file.read_text())
    data["metrics"] = {"enabled": True, "port": held_port}
    cfg_file.write_text(yaml.safe_dump(data))
    res = _okxmm("actor", "risk", "--config", str(cfg_file), timeout=30)
    assert res.returncode == 2
    _one_error_line(res, f"metrics port 127.0.0.1:{held_port}", "in use")


def test_strategy_run_of_an_unknown_strategy(cfg_file: Path) -> None:
    res = _okxmm(
        "strategy", "run", "--config", str(cfg_file), "--inst", BTC, "--strategy", "nope",
        "--name", "x",
    )  # fmt: skip
    assert res.returncode == 2
    _one_error_line(res, "unknown strategy 'nope'", "sample_mm")


def test_replay_checks_the_file_before_binding_the_bus(cfg_file: Path, tmp_path: Path) -> None:
    res = _okxmm("replay", "/nonexistent", "--config", str(cfg_file), timeout=20)
    assert res.returncode == 2
    _one_error_line(res, "/nonexistent", "no such journal file")
    not_a_journal = tmp_path / "x.bin"
    not_a_journal.write_text("hello: world\n")
    res = _okxmm("replay", str(not_a_journal), "--config", str(cfg_file), timeout=20)
    assert res.returncode == 2
    _one_error_line(res, str(not_a_journal), "not a journal")


def test_a_second_up_is_refused_naming_the_first(cfg_file: Path, bus_config: BusConfig) -> None:
    # the first `okxmm up` is stood for by its lock: this process holds it
    with RunLock(Path(bus_config.ipc_dir) / "up.lock", "okxmm up"):
        res = _okxmm("up", "--config", str(cfg_file), "--no-status", "--duration", "5")
    assert res.returncode == 2
    _one_error_line(res, "okxmm up is already running", f"pid {os.getpid()}")


def test_run_lock_is_exclusive_and_names_the_holder(tmp_path: Path) -> None:
    path = tmp_path / "run" / "x.lock"
    with RunLock(path, "thing"):
        assert path.read_text().strip() == str(os.getpid())
        with pytest.raises(
            AlreadyRunningError, match=f"thing is already running \\(pid {os.getpid()}"
        ):
            RunLock(path, "thing").acquire()
    RunLock(path, "thing").acquire().release()  # free again once released


async def test_a_second_worker_of_the_same_name_is_refused_before_it_starts(
    cfg_file: Path,
) -> None:
    argv = ["-m", "strategies.worker", "--config", str(cfg_file), "--name", "mm-btc"]
    argv += ["--strategy", "sample_mm", "--inst", BTC]
    first = await asyncio.create_subprocess_exec(
        sys.executable, *argv, stderr=asyncio.subprocess.PIPE, env=_env(), cwd=REPO
    )
    try:
        assert first.stderr is not None
        async with asyncio.timeout(30):
            while b"worker started" not in await first.stderr.readline():
                pass
        second = await asyncio.create_subprocess_exec(
            sys.executable, *argv, stderr=asyncio.subprocess.PIPE, env=_env(), cwd=REPO
        )
        async with asyncio.timeout(30):
            _, err = await second.communicate()
        assert second.returncode == 2
        text = err.decode()
        assert "Traceback" not in text
        assert f"worker mm-btc is already running (pid {first.pid}" in text
        assert "started" not in text  # refused before its ctl socket or Hello
        assert first.returncode is None  # the first one is untouched
    finally:
        first.terminate()
        await first.wait()


def test_record_to_a_path_that_cannot_be_written(cfg_file: Path, tmp_path: Path) -> None:
    a_file = tmp_path / "f"
    a_file.write_text("")
    res = _okxmm("record", "--config", str(cfg_file), "--out", str(a_file / "x.jnl"), timeout=20)
    assert res.returncode == 2
    _one_error_line(res, "--out", "cannot write")
    assert "recorder started" not in res.stderr


@pytest.mark.parametrize(
    ("option", "value", "words"),
    [
        ("--name", "bad_name!", "letters, digits or '-'"),
        ("--inst", "DOGE-USDT-SWAP", "not served by md-feed"),
    ],
)
def test_strategy_run_refuses_a_bad_name_or_an_instrument_nobody_serves(
    cfg_file: Path, option: str, value: str, words: str
) -> None:
    args = {"--name": "ok", "--inst": BTC, option: value}
    res = _okxmm(
        "strategy", "run", "--config", str(cfg_file), "--strategy", "sample_mm",
        "--name", args["--name"], "--inst", args["--inst"], timeout=20,
    )  # fmt: skip
    assert res.returncode == 2
    _one_error_line(res, option, words)


def test_exchange_ping_without_an_exchange_says_so(tmp_path: Path, cfg_file: Path) -> None:
    """The healthcheck of the compose exchange service: nothing listening → exit 3, one line."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: a connect is refused
        data = yaml.safe_load(cfg_file.read_text())
        data["exchange"] = {"port": port}
        cfg_file.write_text(yaml.safe_dump(data))
        res = _okxmm("ctl", "exchange", "ping", "--config", str(cfg_file), "--timeout", "2")
    assert res.returncode == 3, (res.stdout, res.stderr)
    assert "Traceback" not in res.stderr
    assert res.stderr.strip() == (
        f"exchange: no answer from http://127.0.0.1:{port}/api/v5/public/time: ConnectError"
    )
