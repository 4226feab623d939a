"""Worker params: one YAML file per worker, validated by pydantic, hot-reloaded.

Keys are the port's names (reference §7.2) plus the original's (§7.1) as aliases, so the
original's ``params.yaml`` (a top-level ``strategy:`` mapping) loads unchanged. Unlike the
original (§10.1-17) the file is read only when it changes, every value is validated, and an
invalid or empty file is rejected with the exact problem while the previous params stay in force.

Ranges are the ones a market maker can mean (issue 13: ``step_pct: 0.49`` and
``single_order_size: 1e9`` were accepted, and the router then refused ~50 orders/s): a step or
skew of at most 5 % of the touch, the furthest level and the widest spread within 10 %, one
order no bigger than the position limits. What depends on the instrument and the router (lot
rounding, ``max_order_sz``) is checked by the worker once known, with :func:`size_problem`.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, model_validator

from engine.errors import ConfigError

__all__ = [
    "MAX_LADDER_PCT",
    "MAX_ORDER_SIZE",
    "MAX_STEP_PCT",
    "ParamsWatcher",
    "StrategyParams",
    "load_params",
    "parse_params",
    "size_problem",
]

MAX_STEP_PCT = 0.05  # one ladder step, one skew: beyond 5 % of the touch is not market making
MAX_LADDER_PCT = 0.1  # the furthest level / widest spread, relative to the touch
MAX_ORDER_SIZE = Decimal(10_000_000)  # a sanity cap (order-size units); real caps come at runtime


class StrategyParams(BaseModel):
    """Everything a worker's decision depends on. Sizes are in order-size units (contracts for
    SWAP/FUTURES/OPTION, base currency for SPOT/MARGIN), like the original's."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    inst_id: str | None = None  # when given it must equal the worker's instrument
    trading_mode: Literal["cash", "cross", "isolated"] = "cross"
    # --- ladder (original §3.2 / port §3.6)
    # Level i sits step·i from the touch; more than 5 % a level is outside the venue's price
    # limits (OKX swaps: a few % around the mark; the router's price_band_bps is 500).
    step_pct: float = Field(default=0.001, gt=0, le=MAX_STEP_PCT)
    num_orders_per_side: int = Field(
        default=5,
        ge=1,
        le=20,
        validation_alias=AliasChoices("num_orders_per_side", "num_of_order_each_side"),
    )
    # At most max_net_buy/max_net_sell (checked below): one fill must not overshoot the position
    # limit the ladder is thinned against. Against the instrument and the router's
    # max_order_sz it is checked by the worker once they are known (``size_problem``).
    single_order_size: Decimal | None = Field(default=None, gt=0, le=MAX_ORDER_SIZE)
    single_size_as_multiple_of_lot_size: int = Field(default=2, ge=1, le=1_000_000)
    single_order_size_multiplier: Decimal = Field(default=Decimal(1), gt=0, le=1000)
    price_integration: int | None = None  # original key, unused there too
    max_net_buy: Decimal = Field(
        default=Decimal(20),
        gt=0,
        le=MAX_ORDER_SIZE,
        validation_alias=AliasChoices("max_net_buy", "maximum_net_buy"),
    )
    max_net_sell: Decimal = Field(
        default=Decimal(20),
        gt=0,
        le=MAX_ORDER_SIZE,
        validation_alias=AliasChoices("max_net_sell", "maximum_net_sell"),
    )
    max_position_value_usd: Decimal | None = Field(default=None, gt=0)
    # position: the venue's position of the instrument (shared by every worker on it);
    # fills: this worker's fills since it started (the original's net_filled_qty)
    inventory_source: Literal["position", "fills"] = "position"
    # --- health (§2.3 / §2.4)
    orderbook_max_delay_sec: float = Field(default=5.0, gt=0)
    account_max_delay_sec: float = Field(default=10.0, gt=0)
    # --- skew and volatility (§4)
    skew_factor: float = Field(default=0.5, ge=0)
    max_skew_pct: float = Field(default=0.005, ge=0, le=MAX_STEP_PCT)  # same band as step_pct
    volatility_lookback: int = Field(default=20, ge=2, le=10_000)
    volatility_multiplier: float = Field(default=2.0, gt=0)
    volatility_sample_ms: int = Field(default=1000, ge=0)  # 0: every book update (the port)
    min_spread_pct: float = Field(default=0.001, gt=0, le=MAX_LADDER_PCT)
    max_spread_pct: float = Field(default=0.01, gt=0, le=MAX_LADDER_PCT)
    # --- Avellaneda–Stoikov
    as_gamma: float = Field(default=50.0, gt=0)  # risk aversion, per unit of relative price
    as_horizon_sec: float = Field(default=60.0, gt=0)  # rolling T − t
    as_kappa: float | None = Field(default=None, gt=0)  # fixed κ; None: estimated from trades
    as_kappa_default: float = Field(default=5000.0, gt=0)  # κ until enough trades are seen
    as_sigma_default: float = Field(default=0.0001, gt=0)  # σ (relative, per √s) until estimated
    as_window_sec: float = Field(default=300.0, gt=0)  # estimation window for σ, κ and A
    as_min_trades: int = Field(default=20, ge=1)
    as_min_samples: int = Field(default=10, ge=2)
    # --- engine behaviour (improvements over the seeds)
    post_only: bool = False  # the original sends plain limits
    allow_cross: bool = False  # port strategies: clamp quotes that would cross the book
    requote_threshold_ticks: int = Field(default=0, ge=0)  # keep an order this close to target
    requote_size_pct: float = Field(default=0.0, ge=0, lt=1)  # ... with a size this close
    min_requote_interval_ms: int = Field(default=50, ge=0)
    error_backoff_sec: float = Field(default=20.0, ge=0)  # the original's 20 s
    max_consecutive_errors: int = Field(default=5, ge=1)
    unacked_timeout_sec: float = Field(default=5.0, gt=0)  # SENT / CANCEL_PENDING this long: act
    # The router refusing this many commands within the window (terminal-order races aside):
    # pull the quotes and back off, refusal_backoff_sec doubling per trip up to the max.
    refusals_max: int = Field(default=10, ge=1, le=10_000)
    refusals_window_sec: float = Field(default=5.0, gt=0, le=3600)
    refusal_backoff_sec: float = Field(default=1.0, gt=0, le=3600)
    refusal_backoff_max_sec: float = Field(default=60.0, gt=0, le=3600)
    risk_required: bool = False  # True: no risk publisher heard → do not quote

    @model_validator(mode="after")
    def _spreads(self) -> StrategyParams:
        if self.min_spread_pct > self.max_spread_pct:
            raise ValueError("min_spread_pct must be <= max_spread_pct")
        if self.refusal_backoff_sec > self.refusal_backoff_max_sec:
            raise ValueError("refusal_backoff_sec must be <= refusal_backoff_max_sec")
        depth = self.step_pct * self.num_orders_per_side
        if depth > MAX_LADDER_PCT:
            raise ValueError(
                f"step_pct × num_orders_per_side = {depth:g} puts the last level more than "
                f"{MAX_LADDER_PCT:g} from the touch (outside any venue price limit)"
            )
        if self.single_order_size is not None:
            size = self.single_order_size * self.single_order_size_multiplier
            limit = min(self.max_net_buy, self.max_net_sell)
            if size > limit:
                raise ValueError(
                    f"single_order_size × multiplier = {size} exceeds min(max_net_buy, "
                    f"max_net_sell) = {limit}: one fill would overshoot the position limit"
                )
        return self

    def order_size(self, lot_sz: Decimal) -> Decimal:
        """The configured size of one level before lot/min rounding."""
        if self.single_order_size is not None:
            return self.single_order_size * self.single_order_size_multiplier
        return self.single_size_as_multiple_of_lot_size * lot_sz


def size_problem(size: Decimal, *, max_order_sz: Decimal | None) -> str | None:
    """Why a level of ``size`` cannot be quoted, once the router's limit is known; else None.

    ``max_order_sz`` is the router's per-order size limit (``Welcome.limits``): the router
    refuses every order above it, so the worker does not send them."""
    if max_order_sz is not None and size > max_order_sz:
        return f"params: order size {size} above the router's max_order_sz {max_order_sz}"
    return None


def _problems(exc: ValidationError) -> list[tuple[str, str]]:
    out = []
    for err in exc.errors():
        path = ".".join(str(p) for p in err["loc"]) or "(file)"
        out.append((path, f"{err['msg']} (got {err.get('input')!r})"))
    return out


def parse_params(text: str, *, source: str = "params", inst: str | None = None) -> StrategyParams:
    """Validate YAML text; raises ConfigError naming every problem."""
    try:
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError([(source, f"not valid YAML: {exc}")]) from None
    if data is None:
        raise ConfigError([(source, "empty params file")])
    if not isinstance(data, dict):
        raise ConfigError([(source, "params must be a mapping of key: value")])
    if set(data) == {"strategy"} and isinstance(data["strategy"], dict):
        data = data["strategy"]  # the original's layout
    try:
        params = StrategyParams.model_validate(data)
    except ValidationError as exc:
        raise ConfigError([(f"{source}:{p}", m) for p, m in _problems(exc)]) from None
    if inst is not None and params.inst_id not in (None, inst):
        raise ConfigError([(f"{source}:inst_id", f"{params.inst_id} but the worker trades {inst}")])
    return params


def load_params(path: str | Path, *, inst: str | None = None) -> StrategyParams:
    """Read and validate a params file; raises ConfigError."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([(str(p), f"cannot read: {exc.strerror}")]) from None
    return parse_params(text, source=str(p), inst=inst)


class ParamsWatcher:
    """Reloads a params file when its content changes; keeps the last good params.

    ``poll()`` returns new params when the file changed and is valid, raises ConfigError when it
    changed and is invalid (once per distinct content), and returns None otherwise."""

    def __init__(self, path: str | Path | None, *, inst: str | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self._inst = inst
        self._digest: bytes | None = None
        self._stat: tuple[int, int] | None = None
        self.current = StrategyParams() if self.path is None else self._first()
        self.reloads = 0
        self.rejected = 0
        self.last_error = ""

    def _first(self) -> StrategyParams:
        assert self.path is not None
        params = load_params(self.path, inst=self._inst)
        self._stat, self._digest = self._fingerprint()
        return params

    def _fingerprint(self) -> tuple[tuple[int, int] | None, bytes | None]:
        assert self.path is not None
        try:
            st = self.path.stat()
            data = self.path.read_bytes()
        except OSError:
            return None, None
        return (st.st_mtime_ns, st.st_size), hashlib.blake2b(data, digest_size=16).digest()

    def poll(self, *, force: bool = False) -> StrategyParams | None:
        """Check the file (cheap stat first); ``force`` re-reads even if it looks unchanged."""
        if self.path is None:
            return None
        if not force:
            try:
                st = self.path.stat()
            except OSError:
                return None
            if (st.st_mtime_ns, st.st_size) == self._stat:
                return None
        stat, digest = self._fingerprint()
        if digest is None or (digest == self._digest and not force):
            self._stat = stat
            return None
        self._stat, self._digest = stat, digest
        try:
            params = load_params(self.path, inst=self._inst)
        except ConfigError as exc:
            self.rejected += 1
            self.last_error = str(exc)
            raise
        self.current = params
        self.reloads += 1
        self.last_error = ""
        return params
