"""Run the local exchange as a real subprocess from tests (any package's integration tests).

    async with running_exchange(tmp_path, port=free_port, seed=7) as ex:
        ex.rest_url, ex.ws_public, ex.ws_private         # where to connect
        await ex.admin("/admin/orders?apiKey=K")           # GET → parsed JSON
        await ex.admin("/admin/faults", {"freeze": True})  # POST
        await ex.step(10); await ex.live_orders(key)

``accounts`` defaults to the built-in demo credentials (what actors use on the local venue).
``config`` is the ``exchange`` section as a dict (e.g. ``{"realtime": False}``), written to a
YAML file. ``tls=True`` serves https/wss with a certificate at ``ex.cert_path`` (set
``SSL_CERT_FILE`` to it for clients that verify). :class:`ExchangeProcess` is the sync variant.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import yaml

from engine.config import DEMO_CREDENTIALS
from ops.exchange.auth import sign

__all__ = [
    "DEMO_ACCOUNT",
    "ExchangeProcess",
    "RunningExchange",
    "rest_headers",
    "running_exchange",
    "ws_login_args",
]

_REPO = Path(__file__).resolve().parents[2]
DEMO_ACCOUNT = (
    DEMO_CREDENTIALS.api_key.get_secret_value(),
    DEMO_CREDENTIALS.secret.get_secret_value(),
    DEMO_CREDENTIALS.passphrase.get_secret_value(),
)


def rest_headers(
    account: tuple[str, str, str],
    method: str,
    request_path: str,
    body: str = "",
    *,
    ts: str | None = None,
    simulated: bool = True,
) -> dict[str, str]:
    """Signed OKX REST headers (``request_path`` includes ``?query`` for GET)."""
    key, secret, phrase = account
    if ts is None:
        ts = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    h = {
        "OK-ACCESS-KEY": key,
        "OK-ACCESS-SIGN": sign(secret, ts + method.upper() + request_path + body),
        "OK-ACCESS-TIMESTAMP": ts,
        "OK-ACCESS-PASSPHRASE": phrase,
        "Content-Type": "application/json",
    }
    if simulated:
        h["x-simulated-trading"] = "1"
    return h


def ws_login_args(account: tuple[str, str, str], ts_s: int | None = None) -> dict[str, str]:
    """The ``args[0]`` of a WS login for ``account``."""
    key, secret, phrase = account
    ts = str(ts_s if ts_s is not None else int(datetime.now(UTC).timestamp()))
    return {
        "apiKey": key,
        "passphrase": phrase,
        "timestamp": ts,
        "sign": sign(secret, ts + "GET/users/self/verify"),
    }


def _command(
    tmp_path: Path,
    port: int,
    seed: int,
    accounts: list[tuple[str, str, str]],
    tls: bool,
    config: Mapping[str, Any] | None,
    extra_args: list[str],
) -> tuple[list[str], Path | None]:
    cmd = [sys.executable, "-m", "ops.exchange", "--port", str(port), "--seed", str(seed)]
    for k, s, p in accounts:
        cmd += ["--account", f"{k}:{s}:{p}"]
    cert = None
    if tls:
        cert = tmp_path / f"exchange-{port}-cert.pem"
        cmd += ["--tls", "--cert-path", str(cert)]
    if config is not None:
        cfg_file = tmp_path / f"exchange-{port}.yaml"
        cfg_file.write_text(yaml.safe_dump({"exchange": dict(config)}))
        cmd += ["--config", str(cfg_file)]
    return cmd + list(extra_args), cert


def _env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["OKXMM_LOG_DIR"] = str(tmp_path / "exchange-logs")
    env["PYTHONPATH"] = str(_REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


@dataclass
class RunningExchange:
    """A started exchange subprocess and how to reach it."""

    host: str
    port: int
    tls: bool
    cert_path: Path | None
    accounts: list[tuple[str, str, str]]
    log_path: Path
    client: httpx.AsyncClient = field(repr=False)

    @property
    def base(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    @property
    def rest_url(self) -> str:
        return self.base

    def _ws(self, kind: str) -> str:
        return f"{'wss' if self.tls else 'ws'}://{self.host}:{self.port}/ws/v5/{kind}"

    @property
    def ws_public(self) -> str:
        return self._ws("public")

    @property
    def ws_private(self) -> str:
        return self._ws("private")

    @property
    def ws_business(self) -> str:
        return self._ws("business")

    async def admin(self, path: str, json: Any = None) -> Any:
        """GET (``json is None``) or POST an admin endpoint; the parsed JSON answer."""
        if json is None:
            r = await self.client.get(self.base + path)
        else:
            r = await self.client.post(self.base + path, json=json)
        r.raise_for_status()
        return r.json()

    async def live_orders(self, api_key: str | None = None) -> list[dict[str, Any]]:
        key = api_key or self.accounts[0][0]
        out: list[dict[str, Any]] = (await self.admin(f"/admin/orders?apiKey={key}"))["orders"]
        return out

    async def step(self, n: int = 1) -> Any:
        return await self.admin("/admin/step", {"n": n})

    async def faults(self, **knobs: Any) -> Any:
        return await self.admin("/admin/faults", knobs)


async def _wait_ready(
    client: httpx.AsyncClient,
    url: str,
    proc: asyncio.subprocess.Process,
    log: Path,
    timeout_s: float,
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        if proc.returncode is not None:
            raise RuntimeError(f"exchange exited {proc.returncode}: {_tail(log)}")
        try:
            r = await client.get(url, timeout=1.0)
            if r.status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if loop.time() > deadline:
            raise TimeoutError(f"exchange not ready after {timeout_s}s: {_tail(log)}")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), 0.05)


def _tail(log: Path) -> str:
    try:
        return log.read_text()[-2000:]
    except OSError:
        return "<no log>"


@contextlib.asynccontextmanager
async def running_exchange(
    tmp_path: Path,
    *,
    port: int,
    seed: int = 7,
    accounts: list[tuple[str, str, str]] | None = None,
    tls: bool = False,
    config: Mapping[str, Any] | None = None,
    extra_args: list[str] | None = None,
    ready_timeout_s: float = 30.0,
) -> AsyncIterator[RunningExchange]:
    """Start ``python -m ops.exchange`` and yield once it answers; stop it on exit."""
    accts = list(accounts) if accounts else [DEMO_ACCOUNT]
    cmd, cert = _command(tmp_path, port, seed, accts, tls, config, list(extra_args or []))
    log = tmp_path / f"exchange-{port}.log"
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            *cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=str(_REPO),
            env=_env(tmp_path),
        )
    try:
        probe = httpx.AsyncClient(verify=False)  # noqa: S501 - readiness probe of our own cert
        try:
            scheme = "https" if tls else "http"
            await _wait_ready(
                probe, f"{scheme}://127.0.0.1:{port}/admin/health", proc, log, ready_timeout_s
            )
        finally:
            await probe.aclose()
        verify: ssl.SSLContext | bool = (
            ssl.create_default_context(cafile=str(cert)) if cert else True
        )
        async with httpx.AsyncClient(verify=verify, timeout=10.0) as client:
            yield RunningExchange("127.0.0.1", port, tls, cert, accts, log, client)
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 5.0)
            except TimeoutError:
                proc.kill()
                await proc.wait()


class ExchangeProcess:
    """Sync variant: ``with ExchangeProcess(tmp_path, port=p) as ex: ex.admin(...)``."""

    def __init__(
        self,
        tmp_path: Path,
        *,
        port: int,
        seed: int = 7,
        accounts: list[tuple[str, str, str]] | None = None,
        tls: bool = False,
        config: Mapping[str, Any] | None = None,
        extra_args: list[str] | None = None,
        ready_timeout_s: float = 30.0,
    ) -> None:
        self.port = port
        self.tls = tls
        self.accounts = list(accounts) if accounts else [DEMO_ACCOUNT]
        self._cmd, self.cert_path = _command(
            tmp_path, port, seed, self.accounts, tls, config, list(extra_args or [])
        )
        self.log_path = tmp_path / f"exchange-{port}.log"
        self._tmp = tmp_path
        self._timeout = ready_timeout_s
        self._proc: subprocess.Popen[bytes] | None = None
        self.base = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
        self.rest_url = self.base
        ws = "wss" if tls else "ws"
        self.ws_public = f"{ws}://127.0.0.1:{port}/ws/v5/public"
        self.ws_private = f"{ws}://127.0.0.1:{port}/ws/v5/private"

    def __enter__(self) -> ExchangeProcess:
        with self.log_path.open("wb") as out:
            self._proc = subprocess.Popen(  # noqa: S603 - our own module, fixed argv
                self._cmd,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=str(_REPO),
                env=_env(self._tmp),
            )
        for _ in self._poll():
            pass
        return self

    def _poll(self) -> Iterator[None]:
        assert self._proc is not None
        with httpx.Client(verify=False) as c:  # noqa: S501 - readiness probe of our own cert
            attempts = int(self._timeout / 0.05)
            for _ in range(attempts):
                if self._proc.poll() is not None:
                    raise RuntimeError(f"exchange exited: {_tail(self.log_path)}")
                try:
                    if c.get(self.base + "/admin/health", timeout=1.0).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self._proc.wait(0.05)
                yield None
        raise TimeoutError(f"exchange not ready: {_tail(self.log_path)}")

    def admin(self, path: str, json: Any = None) -> Any:
        verify: ssl.SSLContext | bool = (
            ssl.create_default_context(cafile=str(self.cert_path)) if self.cert_path else True
        )
        with httpx.Client(verify=verify) as c:
            r = c.get(self.base + path) if json is None else c.post(self.base + path, json=json)
            r.raise_for_status()
            return r.json()

    def __exit__(self, *exc: object) -> None:
        p = self._proc
        if p is not None and p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(5.0)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
