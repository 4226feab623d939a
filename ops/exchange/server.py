"""The local OKX v5 exchange process: REST + WS on one aiohttp port, timers for the market.

Entry points: :func:`main` (blocking; the okxmm CLI calls it) and ``python -m ops.exchange``.
Routes: ``/api/v5/...`` (:mod:`ops.exchange.rest`), ``/ws/v5/{public,private,business}``
(:mod:`ops.exchange.wsserver`), ``/admin/...`` (:mod:`ops.exchange.admin`, documented there).
Timers: every ``step_ms`` the synthetic market steps and books are published (when
``realtime``); every 100 ms cancel-all-after timers fire and idle WS connections are closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from aiohttp import web
from loguru import logger

from engine.clock import Clock, SystemClock
from engine.errors import BindError, ConfigError, StartError
from engine.log import setup_logging
from engine.metrics import ActorMetrics, MetricsServer
from ops.config import OkxmmConfig, resolve_credentials
from ops.exchange.admin import AdminApi
from ops.exchange.config import AccountSpec, ExchangeConfig
from ops.exchange.profile import parse_switches, resolve
from ops.exchange.rest import RestApi
from ops.exchange.venue import Venue
from ops.exchange.wsserver import WsApi

__all__ = ["build_app", "main", "parse_accounts", "serve"]


def parse_accounts(items: list[str]) -> list[AccountSpec]:
    """``KEY:SECRET:PASSPHRASE`` strings → account specs (the passphrase may contain ``:``)."""
    out = []
    for item in items:
        parts = item.split(":", 2)
        if len(parts) != 3 or not all(parts):
            raise ValueError("--account must be KEY:SECRET:PASSPHRASE")
        out.append(AccountSpec(api_key=parts[0], secret=parts[1], passphrase=parts[2]))
    return out


def build_app(venue: Venue) -> web.Application:
    """The aiohttp application serving ``venue``."""
    app = web.Application(client_max_size=1024 * 1024)
    rest = RestApi(venue)
    ws = WsApi(venue)
    admin = AdminApi(venue)
    app.add_routes(
        [
            web.route("*", "/api/v5/{tail:.*}", rest.handle),
            web.get("/ws/v5/{kind:(public|private|business)}", ws.handle),
            *admin.routes(),
        ]
    )
    return app


async def _every(period_s: float, fn: Callable[[], None], stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    due = loop.time()
    while not stop.is_set():
        due += period_s
        try:
            fn()
        except Exception:  # noqa: BLE001 - a timer must survive one bad tick; logged
            logger.exception("exchange timer failed")
        delay = due - loop.time()
        if delay < -1.0:
            due = loop.time()  # fell far behind (paused process): don't burst
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), max(delay, 0.0))


async def _replay(venue: Venue, stop: asyncio.Event) -> None:
    """Push the replayed frames at their times (``venue.replay_started`` wakes it)."""
    while not stop.is_set():
        try:
            due = venue.replay_step()
        except Exception:  # noqa: BLE001 - logged; the replay stops, the venue serves on
            logger.exception("replay failed")
            return
        wait = venue.replay_wake.wait()
        if due is not None:
            delay = max((due - venue.clock.now_ns()) / 1e9, 0.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            wait.close()
            continue
        waiter = asyncio.ensure_future(wait)
        stopper = asyncio.ensure_future(stop.wait())
        await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
        for t in (waiter, stopper):
            t.cancel()
        venue.replay_wake.clear()


async def serve(
    venue: Venue,
    *,
    host: str,
    port: int,
    ssl_cert: tuple[Path, Path] | None,
    stop: asyncio.Event,
    ready: asyncio.Event | None = None,
) -> None:
    """Serve until ``stop`` is set; ``ready`` is set once the port accepts connections."""
    app = build_app(venue)
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
    await runner.setup()
    ssl_ctx = None
    if ssl_cert is not None:
        from ops.exchange.tls import server_context

        ssl_ctx = server_context(*ssl_cert)
    site = web.TCPSite(runner, host, port, ssl_context=ssl_ctx, reuse_address=True)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise BindError(f"{host}:{port}", os.strerror(exc.errno or 0).lower()) from None
    scheme = "https" if ssl_ctx else "http"
    logger.info(
        "exchange ready",
        url=f"{scheme}://{host}:{port}",
        seed=venue.cfg.seed,
        instruments=list(venue.ex.instruments),
    )
    if ready is not None:
        ready.set()
    tasks = [asyncio.create_task(_every(0.1, venue.housekeeping, stop))]
    if venue.cfg.realtime:
        tasks.append(asyncio.create_task(_every(venue.cfg.step_ms / 1000, venue.step, stop)))
    if venue.replay is not None:
        if venue.cfg.replay is not None and venue.cfg.replay.autostart:
            venue.replay.start(venue.clock.now_ns())
        tasks.append(asyncio.create_task(_replay(venue, stop)))
    try:
        await stop.wait()
    finally:
        for c in list(venue.hub.conns):
            c.close(1001)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await runner.cleanup()
        logger.info("exchange stopped")


async def _start_metrics(cfg: OkxmmConfig, venue: Venue) -> MetricsServer | None:
    """The exchange's /metrics when ``metrics.enabled`` (process series, WS connections)."""
    where = cfg.metrics_endpoint("exchange")
    if where is None:
        return None
    metrics = ActorMetrics("exchange")
    metrics.add(
        lambda snap: snap.gauge(
            "okxmm_exchange_ws_connections", "Open WS connections.", len(venue.hub.conns)
        )
    )
    server = MetricsServer(metrics, *where)
    try:
        await server.start()
    except OSError as exc:
        raise BindError(f"{where[0]}:{where[1]}", os.strerror(exc.errno or 0).lower()) from None
    logger.info("exchange metrics", port=server.port)
    return server


def _run(coro: Coroutine[Any, Any, None]) -> None:
    try:
        import uvloop
    except ImportError:
        asyncio.run(coro)
        return
    uvloop.run(coro)


def main(
    cfg: OkxmmConfig,
    *,
    port: int | None = None,
    tls: bool = False,
    cert_path: str | None = None,
    seed: int | None = None,
    accounts: list[str] | None = None,
    profile: str | None = None,
    switches: list[str] | None = None,
    clock: Clock | None = None,
) -> int:
    """Run the exchange until SIGINT/SIGTERM and return the exit code. Without ``accounts``
    the account uses the actors' credentials (``resolve_credentials``).

    Raises ConfigError for a port outside 1..65535 or a malformed account (before anything is
    bound: a port of 99999 used to be logged as the URL while another one was bound); a port in
    use is one ERROR line and exit code 2."""
    if port is not None and not 1 <= port <= 65535:
        raise ConfigError([("--port", f"{port} is not a TCP port (1..65535)")])
    try:
        parse_accounts(accounts or [])
    except ValueError:
        # the value itself is not echoed: it may hold a secret
        raise ConfigError([("--account", "must be KEY:SECRET:PASSPHRASE, none empty")]) from None
    ex_cfg: ExchangeConfig = cfg.exchange
    updates: dict[str, object] = {}
    if seed is not None:
        updates["seed"] = seed
    if port is not None:
        updates["port"] = port
    if tls:
        updates["tls"] = True
    if profile is not None or switches:
        # checked here, before anything binds: a wrong name or value is one clear line
        chosen = profile if profile is not None else ex_cfg.profile
        try:
            venue: dict[str, object] = {**ex_cfg.venue, **parse_switches(switches or [])}
            resolve(chosen, venue)
        except ValueError as exc:
            raise ConfigError([("--profile/--switch", str(exc))]) from None
        updates["profile"] = chosen
        updates["venue"] = venue
    if updates:
        ex_cfg = ex_cfg.model_copy(update=updates)
    specs = parse_accounts(accounts or [])
    secrets = [s.secret for s in specs] + [s.passphrase for s in specs]
    if not specs:
        cred = resolve_credentials(cfg)
        specs = [
            AccountSpec(
                api_key=cred.api_key.get_secret_value(),
                secret=cred.secret.get_secret_value(),
                passphrase=cred.passphrase.get_secret_value(),
            )
        ]
        secrets = cred.secret_values()
    setup_logging("exchange", cfg.log_level, cfg.log_dir, secrets)
    ssl_cert = None
    if ex_cfg.tls:
        from ops.exchange.tls import ensure_cert

        ssl_cert = ensure_cert(cert_path or ex_cfg.cert_path)
        logger.info("tls certificate", path=str(ssl_cert[0]))

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        venue = Venue(ex_cfg, clock or SystemClock(), specs)
        metrics = await _start_metrics(cfg, venue)
        try:
            await serve(venue, host=ex_cfg.host, port=ex_cfg.port, ssl_cert=ssl_cert, stop=stop)
        finally:
            if metrics is not None:
                await metrics.close()

    try:
        _run(run())
    except StartError as exc:
        logger.error("exchange cannot start: {}", exc)
        return 2
    return 0
