"""The ``okxmm`` command line.

Every actor is its own OS process. ``okxmm actor NAME`` runs one in the foreground (same as
``python -m <module>``); ``okxmm up`` runs the local exchange and every configured actor as
children of a supervisor; ``okxmm ctl`` talks to any actor's ctl endpoint; ``okxmm tap`` prints
decoded bus traffic.

Errors an operator can cause (a bad value, a port in use, another instance running, a missing
file) are one line on stderr and a non-zero exit, never a traceback: ConfigError and StartError
are caught by :func:`_operator_errors` around each command, and :func:`main` catches what
escapes (exit 1).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
import zmq.asyncio

from engine.bus.ctl import ctl_call
from engine.bus.curve import secure
from engine.clock import SystemClock
from engine.errors import ConfigError, OkxmmError, StartError
from engine.messages import CtlReply, CtlRequest
from ops.config import OkxmmConfig, load_config
from ops.exchange.profile import describe as describe_switches

__all__ = ["app", "main"]

app = typer.Typer(
    help="okxmm: an OKX v5 market-making engine of separate actor processes over ZeroMQ.",
    no_args_is_help=True,
    add_completion=False,
    # plain text: help strings hold "[...]" and "KEY:SECRET:..." that rich would eat as markup
    # and emoji codes
    rich_markup_mode=None,
)
config_app = typer.Typer(help="Configuration tools.", no_args_is_help=True)
strategy_app = typer.Typer(help="Strategy workers.", no_args_is_help=True)
app.add_typer(config_app, name="config")
keys_app = typer.Typer(help="CURVE keys of the tcp bus (several hosts).", no_args_is_help=True)
app.add_typer(strategy_app, name="strategy")
app.add_typer(keys_app, name="keys")

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", "-c", help="YAML config file (env OKXMM_* overrides).")
]

ACTORS = (
    "exchange",
    "md-feed",
    "private-gw",
    "router",
    "risk",
    "margin",
    "alerts",
    "strategy",
    "recorder",
)


@contextlib.contextmanager
def _operator_errors() -> Iterator[None]:
    """ConfigError → one ``error: <path>: <problem>`` line per problem; StartError → one line;
    both exit 2."""
    try:
        yield
    except ConfigError as exc:
        for path, msg in exc.problems:
            typer.echo(f"error: {path}: {msg}", err=True)
        raise typer.Exit(2) from None
    except StartError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


def _load(config: Path | None) -> OkxmmConfig:
    try:
        return load_config(config)
    except ConfigError as exc:
        for path, msg in exc.problems:
            typer.echo(f"config error: {path}: {msg}", err=True)
        raise typer.Exit(2) from None


@keys_app.command("generate")
def keys_generate(
    name: Annotated[str, typer.Argument(help="Key name: server, a host or a worker.")],
    directory: Annotated[
        Path, typer.Option("--dir", "-d", help="Where NAME.key and NAME.key_secret go.")
    ] = Path("var/keys"),
) -> None:
    """Write a CURVE keypair: NAME.key (public; list it in bus.curve.allow on the binding host)
    and NAME.key_secret (mode 0600; bus.curve.client_secret, or server_secret). Prints only
    the public key."""
    from engine.bus.curve import generate_keypair, load_public

    try:
        public_file, secret_file = generate_keypair(directory, name)
    except (FileExistsError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"public key {load_public(public_file).decode()}")
    typer.echo(f"  {public_file}")
    typer.echo(f"  {secret_file} (secret, mode 0600)")


@config_app.command("check")
def config_check(file: Annotated[Path, typer.Argument(help="The YAML file to validate.")]) -> None:
    """Validate FILE; print every problem with its path in the file; exit non-zero if any.

    Values (ranges, types) and cross-references (strategies known, instruments served, worker
    names unique, credentials for an OKX venue, params files valid) are both checked."""
    from ops.config_check import check_config

    try:
        cfg = load_config(file)
    except ConfigError as exc:
        for path, msg in exc.problems:
            typer.echo(f"{file}: {path}: {msg}", err=True)
        raise typer.Exit(1) from None
    problems = check_config(cfg)
    for path, msg in problems:
        typer.echo(f"{file}: {path}: {msg}", err=True)
    if problems:
        raise typer.Exit(1)
    typer.echo(f"{file}: ok (venue {cfg.venue.kind}, {len(cfg.strategies)} strategies)")


@config_app.command("prometheus")
def config_prometheus(
    config: ConfigOpt = None,
    interval: Annotated[float, typer.Option(help="Scrape interval in seconds.")] = 5.0,
) -> None:
    """Print a prometheus.yml scraping every actor ``okxmm up`` runs with this config."""
    import yaml

    from ops.monitoring import prometheus_config

    cfg = _load(config)
    if not cfg.metrics.enabled:
        typer.echo("note: metrics.enabled is false in this config: the actors serve none", err=True)
    typer.echo(
        yaml.safe_dump(prometheus_config(cfg, interval_s=interval), sort_keys=False), nl=False
    )


@app.command()
def up(
    config: ConfigOpt = None,
    duration: Annotated[
        float | None, typer.Option(help="Stop everything after N seconds (scripted runs).")
    ] = None,
    status_view: Annotated[bool, typer.Option("--status/--no-status", help="Live status view.")] = (
        True
    ),
) -> None:
    """Run the local exchange (unless the venue is OKX) and every actor, until Ctrl-C."""
    from ops.config_check import check_config
    from ops.supervisor import run_supervisor

    cfg = _load(config)
    problems = check_config(cfg)
    for path, msg in problems:
        typer.echo(f"config error: {path}: {msg}", err=True)
    if problems:
        raise typer.Exit(2)
    with _operator_errors():
        code = run_supervisor(cfg, config_path=config, duration_s=duration, status_view=status_view)
    raise typer.Exit(code)


@app.command()
def actor(
    name: Annotated[str, typer.Argument(help=f"One of: {', '.join(ACTORS)}.")],
    config: ConfigOpt = None,
) -> None:
    """Run one actor in the foreground (for debugging); same as ``python -m <module>``."""
    cfg = _load(config)
    with _operator_errors():
        code = _run_actor(name, cfg)
    raise typer.Exit(code)


def _run_actor(name: str, cfg: OkxmmConfig) -> int:
    # Imports are local: each actor pulls in only its own dependencies.
    if name == "md-feed":
        from gateway.md_feed import main as md_main

        return _code(md_main(cfg))
    if name == "private-gw":
        from gateway.private_gw import main as gw_main

        return _code(gw_main(cfg))
    if name == "router":
        from ops.router import main as router_main

        return _code(router_main(cfg))
    if name == "risk":
        from risk.monitor import main as risk_main

        return _code(risk_main(cfg))
    if name == "margin":
        from risk.margin.monitor import main as margin_main

        return _code(margin_main(cfg))
    if name == "exchange":
        from ops.exchange.server import main as ex_main

        return _code(ex_main(cfg, port=None, tls=False, cert_path=None, seed=None, accounts=[]))
    if name == "alerts":
        from ops.alerts.actor import main as alerts_main

        return _code(alerts_main(cfg))
    if name == "recorder":
        from ops.recorder import main as rec_main

        return _code(rec_main(cfg, out=None))
    typer.echo(f"unknown actor {name!r}; one of: {', '.join(ACTORS)}", err=True)
    typer.echo("strategy workers: okxmm strategy run --name N --strategy S --inst I", err=True)
    return 2


def _code(result: object) -> int:
    return result if isinstance(result, int) else 0


@app.command(epilog="Venue switches:\n\n" + "\n\n".join(describe_switches().splitlines()))
def exchange(
    config: ConfigOpt = None,
    port: Annotated[int | None, typer.Option(help="Listen port, 1..65535 (default 8900).")] = None,
    tls: Annotated[bool, typer.Option(help="Serve https/wss with a self-signed cert.")] = False,
    cert_path: Annotated[
        Path | None, typer.Option(help="Where to write the self-signed certificate (PEM).")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the synthetic market.")] = None,
    account: Annotated[
        list[str] | None, typer.Option(help="KEY:SECRET:PASSPHRASE (repeatable).")
    ] = None,
    profile: Annotated[
        str | None, typer.Option(help="Venue to imitate: current (today's OKX) | legacy.")
    ] = None,
    switch: Annotated[
        list[str] | None,
        typer.Option(help="NAME=VALUE: one venue switch over the profile (repeatable; below)."),
    ] = None,
) -> None:
    """Run the local OKX v5 exchange (REST + WS on one port, admin under /admin)."""
    from ops.exchange.server import main as ex_main

    cfg = _load(config)
    with _operator_errors():
        result = ex_main(
            cfg,
            port=port,
            tls=tls,
            cert_path=str(cert_path) if cert_path else None,
            seed=seed,
            accounts=account or [],
            profile=profile,
            switches=switch or [],
        )
    raise typer.Exit(_code(result))


@strategy_app.command("run")
def strategy_run(
    inst: Annotated[str, typer.Option(help="Instrument, e.g. BTC-USDT-SWAP.")],
    strategy: Annotated[
        str, typer.Option(help="sample_mm | inventory_skew | volatility | avellaneda_stoikov")
    ],
    name: Annotated[str, typer.Option(help="Worker name (alphanumerics and '-').")],
    params: Annotated[Path | None, typer.Option(help="Params YAML (hot-reloaded).")] = None,
    config: ConfigOpt = None,
) -> None:
    """Start one strategy worker; it joins the running engine."""
    from strategies.worker import main as worker_main

    cfg = _load(config)
    with _operator_errors():
        result = worker_main(
            cfg, name=name, strategy=strategy, inst=inst, params=str(params) if params else None
        )
    raise typer.Exit(_code(result))


def _ping_exchange(cfg: OkxmmConfig, timeout: float) -> int:
    """The local exchange has no ctl socket: ``ping`` asks its REST server the time."""
    import httpx

    if cfg.venue.kind != "local":
        typer.echo(f"exchange: the venue is {cfg.venue.kind}, not the local exchange", err=True)
        return 2
    url = cfg.venue.urls(cfg.exchange)[0] + "/api/v5/public/time"
    try:
        # the local exchange's --tls certificate is self-signed: liveness, not trust, is asked
        r = httpx.get(url, timeout=timeout, verify=False)  # noqa: S501
    except httpx.HTTPError as exc:
        typer.echo(f"exchange: no answer from {url}: {type(exc).__name__}", err=True)
        return 3
    if r.status_code != 200:
        typer.echo(f"exchange ping: FAILED HTTP {r.status_code}")
        return 1
    typer.echo("exchange ping: ok pong")
    return 0


def _ask(
    cfg: OkxmmConfig, target: str, cmd: str, args: dict[str, str], timeout: float
) -> CtlReply | None:
    """One ctl request; ``None`` (and a line on stderr) when the actor does not answer."""
    endpoint = cfg.bus.connect_endpoint(cfg.bus.ctl_name(target))

    async def call() -> CtlReply | None:
        ctx = zmq.asyncio.Context()
        secured = secure(ctx, cfg.bus)
        try:
            return await ctl_call(
                ctx,
                endpoint,
                CtlRequest(cmd=cmd, args=args),
                clock=SystemClock(),
                timeout_s=timeout,
            )
        except TimeoutError:
            typer.echo(f"{target}: no answer on {endpoint} within {timeout} s", err=True)
            return None
        finally:
            secured.close()
            ctx.destroy(linger=0)

    return asyncio.run(call())


def _ask_json(cfg: OkxmmConfig, target: str, cmd: str) -> Any:
    """A ctl command whose answer is JSON in ``detail``; exit 3 without an answer, 1 (with the
    actor's reason on stderr) when it refuses."""
    import json as _json

    reply = _ask(cfg, target, cmd, {}, 3.0)
    if reply is None:
        raise typer.Exit(3)
    if not reply.ok:
        typer.echo(f"{target}: {reply.detail}", err=True)
        raise typer.Exit(1)
    return _json.loads(reply.detail)


def _ctl(cfg: OkxmmConfig, target: str, cmd: str, args: dict[str, str], timeout: float) -> int:
    if target == "exchange" and cmd == "ping":
        return _ping_exchange(cfg, timeout)
    with _operator_errors():  # e.g. a CURVE key that cannot be read: one line, exit 2
        reply = _ask(cfg, target, cmd, args, timeout)
    if reply is None:
        return 3
    state = "ok" if reply.ok else "FAILED"
    typer.echo(f"{target} {cmd}: {state} {reply.detail}".rstrip())
    for key, value in sorted(reply.status.items()):
        typer.echo(f"  {key}: {value}")
    return 0 if reply.ok else 1


@app.command()
def ctl(
    target: Annotated[str, typer.Argument(help="Actor or worker (md-feed, router, mm-btc...).")],
    command: Annotated[
        str,
        typer.Argument(help="ping | status | memory | latencies | pause | resume | reload | stop"),
    ],
    arg: Annotated[list[str] | None, typer.Option(help="key=value (repeatable).")] = None,
    config: ConfigOpt = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the answer.")] = 3.0,
) -> None:
    """Send a control command to one actor and print its answer (``exchange ping``: the local
    exchange's REST answers; what the docker compose healthchecks run)."""
    cfg = _load(config)
    args = dict(a.split("=", 1) for a in (arg or []) if "=" in a)
    raise typer.Exit(_ctl(cfg, target, command, args, timeout))


@app.command()
def halt(
    reason: Annotated[str, typer.Option(help="Why (logged and published).")] = "manual halt",
    config: ConfigOpt = None,
) -> None:
    """Kill switch: risk goes HALTED, the router cancels everything and accepts only cancels."""
    cfg = _load(config)
    raise typer.Exit(_ctl(cfg, "risk", "halt", {"reason": reason}, 3.0))


@app.command()
def resume(config: ConfigOpt = None) -> None:
    """Lift the kill switch."""
    cfg = _load(config)
    raise typer.Exit(_ctl(cfg, "risk", "resume", {}, 3.0))


@app.command()
def margin(
    once: Annotated[bool, typer.Option("--once", help="Print one report and exit.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="The report as JSON.")] = False,
    interval: Annotated[float, typer.Option(help="Seconds between reports.")] = 5.0,
    config: ConfigOpt = None,
) -> None:
    """The margin report (account mode, summary, collateral, positions, stress test,
    liquidation analysis, discount tiers), from the running margin actor: the numbers it
    publishes on the bus."""
    import json as _json

    from risk.margin.report import render_text

    cfg = _load(config)
    while True:
        report = _ask_json(cfg, "margin", "margin")
        typer.echo(_json.dumps(report, indent=2) if as_json else render_text(report))
        if once:
            raise typer.Exit(0)
        asyncio.run(asyncio.sleep(interval))  # a refresh period for a person reading


@app.command()
def latencies(
    target: Annotated[str, typer.Argument(help="router (order round trips) or a worker (md).")],
    out: Annotated[Path, typer.Option(help="File to write: one latency in ms a line.")],
    config: ConfigOpt = None,
) -> None:
    """Save an actor's recent latencies (the router's order round trips, a worker's market-data
    delivery) for ``okxmm backtest --latency-file`` / ``--md-latency-file``."""

    body = _ask_json(_load(config), target, "latencies")
    samples: list[float] = body["ms"]
    if not samples:
        typer.echo(f"{target}: no {body['what']} recorded yet", err=True)
        raise typer.Exit(1)
    lines = [f"# {target}: {body['what']}, ms, {len(samples)} samples", *map(str, samples)]
    out.write_text("\n".join(lines) + "\n")
    typer.echo(f"{target}: {len(samples)} samples of {body['what']} -> {out}")


@app.command()
def tap(
    prefix: Annotated[list[str] | None, typer.Argument(help="Topic prefixes.")] = None,
    config: ConfigOpt = None,
    bus: Annotated[
        list[str] | None, typer.Option(help="Which publishers: md, acct, ord, risk (default all).")
    ] = None,
    count: Annotated[int, typer.Option(help="Stop after N messages (0: never).")] = 0,
    heartbeats: Annotated[bool, typer.Option(help="Show hb| messages too.")] = False,
) -> None:
    """Print decoded bus messages live."""
    from ops.tap import run_tap

    cfg = _load(config)
    raise typer.Exit(run_tap(cfg, prefix or [""], bus or [], count, heartbeats))


@app.command()
def record(
    out: Annotated[Path, typer.Option(help="Journal file to write (with --raw: the directory).")],
    config: ConfigOpt = None,
    raw: Annotated[
        bool,
        typer.Option(
            help="Record the venue's public WS frames verbatim (books, trades, tickers, "
            "marks; no engine needed), compressed, one file per hour."
        ),
    ] = False,
    snapshot_every: Annotated[
        float, typer.Option(help="With --raw: seconds between REST book snapshots.", min=0.5)
    ] = 60.0,
) -> None:
    """Record every published bus message to a journal file (until Ctrl-C); or, with --raw,
    the venue's market data."""
    cfg = _load(config)
    if raw:
        from gateway.raw_recorder import main as raw_main

        with _operator_errors():
            code = _code(raw_main(cfg, out=str(out), snapshot_every_s=snapshot_every))
        raise typer.Exit(code)
    from ops.recorder import main as rec_main

    with _operator_errors():
        code = _code(rec_main(cfg, out=str(out)))
    raise typer.Exit(code)


def _utc_ns(text: str | None, where: str) -> int | None:
    """An ISO time (UTC unless it says otherwise) in ns since the epoch."""
    import datetime as dt

    if text is None:
        return None
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError([(where, f"{text!r} is not an ISO time")]) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return int(when.timestamp() * 1e9)


@app.command()
def backtest(
    data: Annotated[list[Path], typer.Option(help="Raw recorder files/dirs or Tardis CSVs.")],
    strategy: Annotated[str, typer.Option(help="sample_mm | inventory_skew | volatility | ...")],
    inst: Annotated[str, typer.Option(help="Instrument, e.g. BTC-USDT-SWAP.")],
    out: Annotated[Path, typer.Option(help="Directory for summary.json, fills.csv, orders.csv.")],
    params: Annotated[Path | None, typer.Option(help="Strategy params YAML.")] = None,
    queue: Annotated[str, typer.Option(help="Queue model: proportional | pessimistic.")] = (
        "proportional"
    ),
    latency_ms: Annotated[float, typer.Option(help="Order entry latency, ms.", min=0)] = 2.0,
    md_latency_ms: Annotated[float, typer.Option(help="Market-data latency, ms.", min=0)] = 1.0,
    maker_fee: Annotated[str, typer.Option(help="OKX sign: negative = charged.")] = "-0.0002",
    taker_fee: Annotated[str, typer.Option(help="OKX sign: negative = charged.")] = "-0.0005",
    plots: Annotated[bool, typer.Option(help="PNG plots and report.html.")] = True,
    grid: Annotated[
        list[str] | None,
        typer.Option(help="NAME=V1,V2 (repeatable): run every combination, one process each."),
    ] = None,
    sort: Annotated[str, typer.Option(help="With --grid: the metric to sort by.")] = "pnl",
    latency_file: Annotated[
        Path | None,
        typer.Option(help="Order round trips recorded live, ms, one a line (not --latency-ms)."),
    ] = None,
    md_latency_file: Annotated[
        Path | None,
        typer.Option(help="Market-data latencies recorded live, ms (not --md-latency-ms)."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the latency draws.")] = 0,
    rate_limits: Annotated[
        bool, typer.Option(help="The router's OKX trade rate limits (batches wait for tokens).")
    ] = True,
    risk_config: Annotated[
        Path | None,
        typer.Option(help="An okxmm config whose `risk` limits the backtest applies."),
    ] = None,
    cluster: Annotated[
        str | None,
        typer.Option(help="With --grid: a Dask scheduler (tcp://host:8786) or 'local'."),
    ] = None,
    from_: Annotated[
        str | None, typer.Option("--from", help="Start, UTC ISO time (e.g. 2026-12-03T10:00).")
    ] = None,
    to: Annotated[str | None, typer.Option(help="End, UTC ISO time.")] = None,
) -> None:
    """Run a strategy's live code on recorded market data (simulated clock) and write a report."""
    from decimal import Decimal, InvalidOperation

    from loguru import logger

    from ops.backtest.data import frames_of, instrument_info, latency_samples
    from ops.backtest.engine import Backtest, BacktestConfig
    from ops.backtest.report import write_report
    from strategies.params import StrategyParams, load_params
    from strategies.registry import make_strategy

    with _operator_errors():
        if queue not in ("proportional", "pessimistic"):
            raise ConfigError([("--queue", f"{queue!r} is not proportional or pessimistic")])
        try:
            fees = Decimal(maker_fee), Decimal(taker_fee)
        except InvalidOperation:
            raise ConfigError([("--maker-fee/--taker-fee", "not numbers")]) from None
        try:
            make_strategy(strategy)
        except (KeyError, ValueError) as exc:
            raise ConfigError([("--strategy", str(exc))]) from None
        sp = load_params(params, inst=inst) if params else StrategyParams()
        frames = list(frames_of(data, _utc_ns(from_, "--from"), _utc_ns(to, "--to")))
        if not frames:
            raise ConfigError([("--from/--to", "no data in that window")])
        cfg = BacktestConfig(
            inst=inst,
            strategy=strategy,
            params=sp,
            info=instrument_info(inst, frames),
            maker_fee=fees[0],
            taker_fee=fees[1],
            queue=queue,  # type: ignore[arg-type]
            order_latency_ns=int(latency_ms * 1e6),
            response_latency_ns=int(latency_ms * 1e6),
            md_latency_ns=int(md_latency_ms * 1e6),
            risk=_load(risk_config).risk if risk_config is not None else None,
            latency_samples_ns=latency_samples(latency_file) if latency_file else (),
            md_latency_samples_ns=(
                latency_samples(md_latency_file, "--md-latency-file") if md_latency_file else ()
            ),
            seed=seed,
            rate_limits=rate_limits,
        )
        if grid:
            import json as _json

            from ops.backtest.sweep import parse_grid, run_sweep

            rows = run_sweep(data, cfg, parse_grid(grid), sort=sort, cluster=cluster)
            out.mkdir(parents=True, exist_ok=True)
            (out / "sweep.json").write_text(_json.dumps(rows, indent=2, sort_keys=True) + "\n")
            for r in rows:
                typer.echo(f"{r.get(sort)!s:>14}  {r['params']}  {r.get('error', '')}")
            typer.echo(f"sweep: {out / 'sweep.json'}")
            raise typer.Exit(0)
        bt = Backtest(cfg)
        # the worker core logs each decision at INFO: fine live, a flood at 100x real time
        logger.remove()
        logger.add(sys.stderr, level="WARNING")
        from rich.progress import MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        columns = (TextColumn("backtest"), MofNCompleteColumn(), TimeElapsedColumn(),
                   TextColumn("{task.fields[rate]} frames/s"))  # fmt: skip
        with Progress(*columns, transient=True, disable=not sys.stderr.isatty()) as bar:
            task = bar.add_task("run", total=len(frames), rate="-")
            t0 = time.perf_counter()

            def progress(n: int) -> None:
                rate = n / max(time.perf_counter() - t0, 1e-9)
                bar.update(task, completed=n, rate=f"{rate:,.0f}")

            bt.run(frames, progress=progress)
        summary = write_report(bt, out)
        if plots:
            from ops.backtest.plots import write_plots

            write_plots(bt, summary, out)
    for key in ("pnl", "fees", "fills", "volume", "fill_ratio", "max_drawdown", "markouts",
                "quote_uptime_bid", "quote_uptime_ask", "refused", "events"):  # fmt: skip
        typer.echo(f"{key:>18}: {summary[key]}")
    typer.echo(f"report: {out}")


@app.command()
def replay(
    journal: Annotated[Path, typer.Argument(help="Journal written by `okxmm record`.")],
    config: ConfigOpt = None,
    speed: Annotated[float, typer.Option(help="1.0 = real time, 0 = as fast as possible.")] = 1.0,
) -> None:
    """Publish a recorded journal back on the bus (deterministic tests, backtests)."""
    from ops.replay import check_journal, run_replay

    cfg = _load(config)
    with _operator_errors():
        check_journal(journal)  # before binding the bus: a typo must not look like a bus error
        code = run_replay(cfg, str(journal), speed)
    raise typer.Exit(code)


def main() -> None:
    """Console-script entry point: what escapes the commands is still one line, exit 1."""
    try:
        app()
    except (OkxmmError, OSError) as exc:
        sys.stderr.write(f"okxmm: error: {exc}\n")
        sys.exit(1)


if __name__ == "__main__":
    main()
