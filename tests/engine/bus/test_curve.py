"""CURVE on the tcp bus: keys, the allowlist, refusals logged (public key only), config rules.

Real sockets on 127.0.0.1 with two contexts in one process: the server's context holds the ZAP
authenticator, the client's holds only its keypair (as two hosts would).
"""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import zmq
import zmq.asyncio
from loguru import logger
from pydantic import SecretStr, ValidationError

from engine.bus.command import CommandClient, CommandServer
from engine.bus.curve import CurveKeyError, _Allowlist, generate_keypair, load_keys, secure
from engine.bus.publisher import Publisher
from engine.bus.subscriber import Subscriber
from engine.clock import SystemClock
from engine.config import BusConfig, CurveConfig
from engine.messages import Hello, MarkPrice, PubHeartbeat

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    """server, a worker (allowlisted) and a stranger (not) under tmp_path/keys."""
    for name in ("server", "worker", "stranger"):
        generate_keypair(tmp_path / "keys", name)
    return tmp_path / "keys"


def _server_bus(keys: Path, port: int) -> BusConfig:
    return BusConfig(
        port_base=port,
        security="curve",
        curve=CurveConfig(
            server_public=str(keys / "server.key"),
            server_secret=SecretStr(str(keys / "server.key_secret")),
            allow=[str(keys / "worker.key")],
        ),
    )


def _client_bus(keys: Path, port: int, name: str) -> BusConfig:
    return BusConfig(
        port_base=port,
        security="curve",
        curve=CurveConfig(
            server_public=str(keys / "server.key"),
            client_secret=SecretStr(str(keys / f"{name}.key_secret")),
        ),
    )


@pytest.fixture
def log_lines() -> Iterator[list[str]]:
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m) + repr(m.record["extra"])), level="DEBUG")
    yield lines
    logger.remove(sink)


@pytest.fixture
async def contexts() -> AsyncIterator[tuple[zmq.asyncio.Context, zmq.asyncio.Context]]:
    a, b = zmq.asyncio.Context(), zmq.asyncio.Context()
    yield a, b
    a.destroy(linger=0)
    b.destroy(linger=0)


def _port_base() -> int:
    # 17 consecutive ports from a random high base (tests bind md.pub/md.snap/ord.cmd only)
    return 20000 + (os.getpid() * 37) % 20000


async def _heard(sub: Subscriber, timeout_s: float) -> bool:
    try:
        async with asyncio.timeout(timeout_s):
            while True:
                d = await sub.recv(0.05)
                if d is not None and isinstance(d.env.msg, PubHeartbeat):
                    return True
    except TimeoutError:
        return False


async def test_allowlisted_client_gets_the_stream_and_commands(
    keys: Path,
    contexts: tuple[zmq.asyncio.Context, zmq.asyncio.Context],
    log_lines: list[str],
) -> None:
    a, b = contexts
    port = _port_base()
    server_bus, client_bus = _server_bus(keys, port), _client_bus(keys, port, "worker")
    clock = SystemClock()
    sa, sb = secure(a, server_bus), secure(b, client_bus)
    pub = Publisher(
        a,
        server_bus.bind_endpoint("md.pub"),
        snap_endpoint=server_bus.bind_endpoint("md.snap"),
        src="md",
        epoch=1,
        clock=clock,
    )
    srv = CommandServer(a, server_bus.bind_endpoint("ord.cmd"), src="router", clock=clock)
    sub = Subscriber(
        b,
        client_bus.connect_endpoint("md.pub"),
        snap_endpoint=client_bus.connect_endpoint("md.snap"),
        name="w",
        clock=clock,
    )
    cli = CommandClient(
        b, client_bus.connect_endpoint("ord.cmd"), identity=b"w", src="w", epoch=1, clock=clock
    )
    try:
        await pub.start()
        await srv.start()
        pub.publish("mark|X", MarkPrice(inst="X", mark_px=Decimal("1"), ts_ms=1))
        await sub.start()
        await cli.start()
        assert await _heard(sub, 3.0), "an allowlisted client gets the CURVE stream"
        await cli.wait_connected(3.0)
        cli.send(Hello(strategy="w", epoch=1, inst="X"))
        got = await srv.recv(3.0)
        assert got is not None
        assert got[0] == b"w"
        assert isinstance(got[1].msg, Hello)
    finally:
        await cli.close()
        await sub.close()
        await srv.close()
        await pub.close()
        sa.close()
        sb.close()
    text = "\n".join(log_lines)
    assert "refused" not in text
    _no_secret_in(text, keys)


async def test_unknown_key_is_refused_and_logged_with_its_public_key_only(
    keys: Path,
    contexts: tuple[zmq.asyncio.Context, zmq.asyncio.Context],
    log_lines: list[str],
) -> None:
    a, b = contexts
    port = _port_base() + 20
    server_bus, client_bus = _server_bus(keys, port), _client_bus(keys, port, "stranger")
    clock = SystemClock()
    sa, sb = secure(a, server_bus), secure(b, client_bus)
    pub = Publisher(a, server_bus.bind_endpoint("md.pub"), src="md", epoch=1, clock=clock)
    sub = Subscriber(b, client_bus.connect_endpoint("md.pub"), name="s", clock=clock)
    stranger = load_keys(client_bus.curve).public.decode()
    refused = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_log(line: str) -> None:  # runs on the authenticator's thread
        if "bus client refused" in line and stranger in line:
            loop.call_soon_threadsafe(refused.set)

    sink = logger.add(lambda m: on_log(str(m) + repr(m.record["extra"])), level="WARNING")
    try:
        await pub.start()
        await sub.start()
        assert not await _heard(sub, 1.0), "a key not on the allowlist must get nothing"
        async with asyncio.timeout(3.0):
            await refused.wait()
        assert any("bus handshake refused" in line for line in log_lines), "client side too"
    finally:
        logger.remove(sink)
        await sub.close()
        await pub.close()
        sa.close()
        sb.close()
    _no_secret_in("\n".join(log_lines), keys)


async def test_a_plain_client_gets_nothing_from_a_curve_server(
    keys: Path, contexts: tuple[zmq.asyncio.Context, zmq.asyncio.Context]
) -> None:
    a, b = contexts
    port = _port_base() + 40
    server_bus = _server_bus(keys, port)
    clock = SystemClock()
    sa = secure(a, server_bus)
    pub = Publisher(a, server_bus.bind_endpoint("md.pub"), src="md", epoch=1, clock=clock)
    sub = Subscriber(b, BusConfig(port_base=port).connect_endpoint("md.pub"), name="p", clock=clock)
    try:
        await pub.start()
        await sub.start()
        assert not await _heard(sub, 1.0)
    finally:
        await sub.close()
        await pub.close()
        sa.close()


def _no_secret_in(text: str, keys: Path) -> None:
    for f in keys.glob("*.key_secret"):
        _, secret = zmq.auth.load_certificate(f)
        assert secret is not None
        assert secret.decode() not in text


def test_plain_tcp_to_a_non_loopback_host_is_a_config_error() -> None:
    with pytest.raises(ValidationError, match="plain tcp to a non-loopback host"):
        BusConfig(host="10.77.0.1")
    with pytest.raises(ValidationError, match="non-loopback"):
        BusConfig(bind_host="0.0.0.0")  # noqa: S104 — refused, that is the point
    with pytest.raises(ValidationError, match="non-loopback"):
        BusConfig(hosts={"md": "feeds.example"})
    BusConfig(host="127.0.0.1", bind_host="localhost")  # loopback: plain allowed
    BusConfig(transport="ipc", host="10.77.0.1")  # ipc: no tcp at all
    BusConfig(bind_host="0.0.0.0", plain_tcp_private_network=True)  # noqa: S104 — opted out


def test_curve_needs_keys() -> None:
    with pytest.raises(ValidationError, match="server_public"):
        BusConfig(security="curve", host="10.77.0.1")
    with pytest.raises(ValidationError, match="client_secret"):
        BusConfig(security="curve", curve=CurveConfig(server_public="x"))


def test_keys_from_env_text_and_bad_keys_named(keys: Path) -> None:
    _, secret = zmq.auth.load_certificate(keys / "worker.key_secret")
    assert secret is not None
    server_pub, _ = zmq.auth.load_certificate(keys / "server.key")
    cfg = CurveConfig(server_public=server_pub.decode(), client_secret=SecretStr(secret.decode()))
    loaded = load_keys(cfg)
    assert loaded.public == zmq.curve_public(secret)
    assert secret.decode() not in repr(loaded)
    with pytest.raises(CurveKeyError, match="server_public"):
        load_keys(CurveConfig(server_public=str(keys / "missing.key")))
    with pytest.raises(CurveKeyError, match="no secret key"):
        load_keys(
            CurveConfig(
                server_public=server_pub.decode(),
                client_secret=SecretStr(str(keys / "worker.key")),
            )
        )
    # a directory allows every NAME.key in it
    d = load_keys(
        CurveConfig(
            server_public=server_pub.decode(),
            server_secret=SecretStr(str(keys / "server.key_secret")),
            allow=[str(keys)],
        )
    )
    assert len(d.allow) == 3


def test_env_overrides_reach_the_bus_keys(keys: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ops.config import OkxmmConfig

    _, secret = zmq.auth.load_certificate(keys / "worker.key_secret")
    assert secret is not None
    monkeypatch.setenv("OKXMM_BUS__SECURITY", "curve")
    monkeypatch.setenv("OKXMM_BUS__HOST", "10.77.0.1")
    monkeypatch.setenv("OKXMM_BUS__CURVE__SERVER_PUBLIC", str(keys / "server.key"))
    monkeypatch.setenv("OKXMM_BUS__CURVE__CLIENT_SECRET", secret.decode())
    cfg = OkxmmConfig()
    assert load_keys(cfg.bus.curve).secret == secret
    assert secret.decode() in cfg.secret_values()  # redacted from every log line


def test_keys_generate_writes_a_0600_secret_and_prints_the_public_key(tmp_path: Path) -> None:
    res = subprocess.run(
        [sys.executable, "-m", "ops.cli", "keys", "generate", "w1", "--dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=REPO,
    )
    assert res.returncode == 0, res.stderr
    secret_file = tmp_path / "w1.key_secret"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    public, secret = zmq.auth.load_certificate(secret_file)
    assert secret is not None
    assert public.decode() in res.stdout
    assert secret.decode() not in res.stdout
    again = subprocess.run(
        [sys.executable, "-m", "ops.cli", "keys", "generate", "w1", "--dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=REPO,
    )
    assert again.returncode == 2
    assert "exists" in again.stderr


def test_a_retrying_refused_key_is_logged_once_per_interval(log_lines: list[str]) -> None:
    allowed, stranger = b"A" * 40, b"B" * 40
    allow = _Allowlist([allowed])
    assert allow.callback("okxmm", allowed)
    for _ in range(5):  # a refused client reconnects every second: one line, five refusals
        assert not allow.callback("okxmm", stranger)
    assert allow.refused == 5
    assert sum("bus client refused" in line for line in log_lines) == 1
    assert any(stranger.decode() in line for line in log_lines)


def test_an_unreadable_key_is_one_line_and_exit_2(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.yaml"
    missing = tmp_path / "nowhere"
    cfg.write_text(
        "bus:\n  security: curve\n  host: 10.77.0.1\n  curve:\n"
        f"    server_public: {missing / 'server.key'}\n"
        f"    client_secret: {missing / 'w.key_secret'}\n"
        f"log_dir: {tmp_path / 'logs'}\n"
    )
    for argv in (["ctl", "router", "ping"], ["actor", "router"]):
        res = subprocess.run(
            [sys.executable, "-m", "ops.cli", *argv, "--config", str(cfg)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            cwd=REPO,
        )
        assert res.returncode == 2, (argv, res.stderr)
        assert "bus.curve.server_public" in res.stderr + res.stdout
        assert "Traceback" not in res.stderr
