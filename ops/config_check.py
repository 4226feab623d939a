"""Checks across sections of a loaded config: what no single section's model can see.

The per-section models (``risk.config``, ``gateway.config``, ``engine.router.config``, ...) refuse
values that are wrong on their own (a negative limit, a zero interval). This module refuses what
is wrong only in relation to the rest of the file, before anything starts: ``okxmm config check``
prints every problem, ``okxmm up`` refuses to start on any (issue 13 item 6: a config naming an
instrument no feed serves, an unknown strategy or okx-live without credentials used to start and
then fail at run time, or never).

Each problem is ``(path, message)`` with the path as in the file (``strategies.1.inst``).
Params files are read relative to the working directory, as the workers read them.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from pathlib import Path

from engine.bus.curve import CurveKeyError, load_keys
from engine.errors import ConfigError
from ops.config import OkxmmConfig, resolve_credentials
from strategies.params import load_params, size_problem
from strategies.registry import STRATEGIES

__all__ = ["check_config"]

Problem = tuple[str, str]


def check_config(cfg: OkxmmConfig, *, env: dict[str, str] | None = None) -> list[Problem]:
    """Every cross-reference problem of ``cfg`` (empty: it may start). ``env`` stands for the
    environment when credentials are looked up (tests); default ``os.environ``."""
    return [
        *_strategies(cfg),
        *_instruments(cfg),
        *_credentials(cfg, env),
        *_router(cfg),
        *_supervisor(cfg),
        *_bus(cfg),
        *_metrics(cfg),
    ]


def _strategies(cfg: OkxmmConfig) -> list[Problem]:
    out: list[Problem] = []
    seen: dict[str, int] = {}
    served = set(cfg.instruments)
    max_sz = _decimal(cfg.router.max_order_sz)
    for i, spec in enumerate(cfg.strategies):
        where = f"strategies.{i}"
        if spec.name in seen:
            out.append(
                (f"{where}.name", f"{spec.name!r} already names strategies.{seen[spec.name]}")
            )
        seen.setdefault(spec.name, i)
        if spec.strategy not in STRATEGIES:
            known = ", ".join(sorted(STRATEGIES))
            out.append((f"{where}.strategy", f"unknown strategy {spec.strategy!r}; known: {known}"))
        if spec.inst not in served:
            out.append(
                (f"{where}.inst", f"{spec.inst} is not in instruments: md-feed does not serve it")
            )
        if spec.params:
            try:
                params = load_params(Path(spec.params), inst=spec.inst)
            except ConfigError as exc:
                out += [(f"{where}.params", f"{path}: {msg}") for path, msg in exc.problems]
                continue
            if params.single_order_size is None:
                continue  # a multiple of the lot: known only once md-feed has the instrument
            size = params.single_order_size * params.single_order_size_multiplier
            problem = size_problem(size, max_order_sz=max_sz)
            venue_max = _venue_max_size(cfg, spec.inst)
            if problem is None and venue_max is not None and size > venue_max:
                problem = f"params: order size {size} above {spec.inst}'s maxLmtSz {venue_max}"
            if problem is not None:
                out.append((f"{where}.params", problem))
    return out


def _venue_max_size(cfg: OkxmmConfig, inst: str) -> Decimal | None:
    """The local exchange's maxLmtSz of ``inst`` (OKX's is known only at run time)."""
    if cfg.venue.kind != "local":
        return None
    for spec in cfg.exchange.instruments:
        if spec.inst_id == inst:
            return _decimal(spec.max_lmt_sz)
    return None


def _instruments(cfg: OkxmmConfig) -> list[Problem]:
    """On the local venue, every instrument must be one the exchange lists (OKX's own list
    is known only at run time: md-feed reports an unknown one)."""
    if cfg.venue.kind != "local":
        return []
    listed = {spec.inst_id for spec in cfg.exchange.instruments}
    return [
        (f"instruments.{i}", f"{inst} is not listed by the local exchange (exchange.instruments)")
        for i, inst in enumerate(cfg.instruments)
        if inst not in listed
    ]


def _credentials(cfg: OkxmmConfig, env: dict[str, str] | None) -> list[Problem]:
    try:
        resolve_credentials(cfg, env)
    except ConfigError as exc:
        return [(path, f"{msg} (venue {cfg.venue.kind})") for path, msg in exc.problems]
    return []


def _decimal(text: str) -> Decimal | None:
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def _router(cfg: OkxmmConfig) -> list[Problem]:
    r = cfg.router
    out: list[Problem] = []
    for key in ("max_order_sz", "max_order_notional"):
        value = _decimal(getattr(r, key))
        if value is None or not value.is_finite():
            out.append((f"router.{key}", f"not a number: {getattr(r, key)!r}"))
        elif value <= 0:
            out.append((f"router.{key}", f"must be > 0 (got {value})"))
    if r.dead_after_ms <= r.heartbeat_ms:
        out.append(
            (
                "router.dead_after_ms",
                f"{r.dead_after_ms} must exceed router.heartbeat_ms {r.heartbeat_ms}: "
                "every worker would be fenced between two heartbeats",
            )
        )
    return out


def _supervisor(cfg: OkxmmConfig) -> list[Problem]:
    s = cfg.supervisor
    out: list[Problem] = []
    for key in ("backoff_initial_s", "backoff_max_s", "stop_timeout_s"):
        value = getattr(s, key)
        if value <= 0:
            out.append((f"supervisor.{key}", f"must be > 0 (got {value})"))
    if 0 < s.backoff_max_s < s.backoff_initial_s:
        out.append(("supervisor.backoff_max_s", "must be >= supervisor.backoff_initial_s"))
    return out


def _bus(cfg: OkxmmConfig) -> list[Problem]:
    b = cfg.bus
    out: list[Problem] = []
    if cfg.bus.transport == "tcp" and not 1024 <= b.port_base <= 65535 - 20:
        out.append(("bus.port_base", f"{b.port_base} leaves no room for the 20 bus ports"))
    for name, port in b.ports.items():
        if not 1 <= port <= 65535:
            out.append((f"bus.ports.{name}", f"port {port} out of range 1..65535"))
    if b.transport == "tcp" and b.security == "curve":
        try:  # the key files exist, parse, and the server pair matches
            load_keys(b.curve)
        except CurveKeyError as exc:
            setting, _, why = str(exc).partition(": ")
            out.append((setting, why))
    return out


def _metrics(cfg: OkxmmConfig) -> list[Problem]:
    """With metrics on, every actor needs its own port, clear of the exchange and the bus."""
    if not cfg.metrics.enabled:
        return []
    names = ["supervisor", "exchange", "md-feed", "private-gw", "router", "risk", "alerts"]
    names += [s.name for s in cfg.strategies]
    taken: dict[int, str] = {cfg.exchange.port: "the exchange"}
    if cfg.bus.transport == "tcp":
        taken.update({cfg.bus.port_base + i: "the bus" for i in range(20)})
        taken.update(dict.fromkeys(cfg.bus.ports.values(), "the bus"))
    out: list[Problem] = []
    for name in names:
        port = cfg.metrics_port(name)
        where = f"metrics.ports.{name}" if name in cfg.metrics.ports else "metrics.port_base"
        if port == 0:
            continue  # chosen by the system
        if not 1 <= port <= 65535:
            out.append((where, f"{name}'s metrics port {port} out of range 1..65535"))
        elif port in taken:
            out.append((where, f"{name}'s metrics port {port} is already {taken[port]}'s"))
        taken[port] = name
    return out
