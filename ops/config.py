"""okxmm configuration: one YAML file plus ``OKXMM_`` environment overrides.

Precedence (highest first): environment (``OKXMM_ROUTER__MAX_OPEN_ORDERS=50``), the YAML file,
defaults. Environment beats YAML on purpose: the port of the sample market maker let YAML keys
silently win over env vars. Credentials come from ``OKX_API_KEY`` / ``OKX_API_SECRET`` /
``OKX_API_PASSPHRASE``, else a secrets file named in config, else (local venue only) built-in
demo credentials. Venue URLs are derived here; bus endpoints in ``engine.config.BusConfig``.

This is the whole-config model: it names the settings of every package (engine, gateway, risk,
ops), so it lives in ops, where the actors are composed; the ground floor (``engine``) only
knows its own pieces.
"""

from __future__ import annotations

import contextvars
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from engine.config import DEMO_CREDENTIALS, BusConfig, Credentials
from engine.errors import ConfigError
from engine.metrics import MetricsConfig
from engine.router.config import RouterConfig
from gateway.config import MdFeedConfig, PrivateGwConfig
from ops.alerts.config import AlertsConfig
from ops.exchange.config import ExchangeConfig
from risk.config import RiskConfig
from risk.margin.config import MarginConfig

__all__ = [
    "DEMO_CREDENTIALS",
    "BusConfig",
    "Credentials",
    "MetricsConfig",
    "OkxmmConfig",
    "StrategySpec",
    "SupervisorConfig",
    "VenueConfig",
    "load_config",
    "resolve_credentials",
]

VenueKind = Literal["local", "okx-demo", "okx-live"]


class VenueConfig(BaseModel):
    """Which venue to talk to. URLs left empty are derived from ``kind``."""

    model_config = ConfigDict(extra="forbid")

    kind: VenueKind = "local"
    rest_url: str = ""
    ws_public_url: str = ""
    ws_private_url: str = ""
    ws_business_url: str = ""
    secrets_file: str | None = None

    def urls(self, exchange: ExchangeConfig) -> tuple[str, str, str, str]:
        """(rest, ws public, ws private, ws business) for this venue."""
        if self.kind == "local":
            scheme, ws = ("https", "wss") if exchange.tls else ("http", "ws")
            base = f"{exchange.host}:{exchange.port}"
            defaults = (
                f"{scheme}://{base}",
                f"{ws}://{base}/ws/v5/public",
                f"{ws}://{base}/ws/v5/private",
                f"{ws}://{base}/ws/v5/business",
            )
        elif self.kind == "okx-demo":
            defaults = (
                "https://www.okx.com",
                "wss://wspap.okx.com:8443/ws/v5/public",
                "wss://wspap.okx.com:8443/ws/v5/private",
                "wss://wspap.okx.com:8443/ws/v5/business",
            )
        else:
            defaults = (
                "https://www.okx.com",
                "wss://ws.okx.com:8443/ws/v5/public",
                "wss://ws.okx.com:8443/ws/v5/private",
                "wss://ws.okx.com:8443/ws/v5/business",
            )
        given = (self.rest_url, self.ws_public_url, self.ws_private_url, self.ws_business_url)
        r, p, q, b = (g or d for g, d in zip(given, defaults, strict=True))
        return r, p, q, b

    @property
    def simulated(self) -> bool:
        """OKX demo trading needs the ``x-simulated-trading: 1`` header."""
        return self.kind == "okx-demo"


class StrategySpec(BaseModel):
    """One strategy worker to run: ``okxmm strategy run --name N --strategy S --inst I``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9-]{1,24}$")
    strategy: str
    inst: str
    params: str | None = None  # YAML params file; hot-reloaded
    enabled: bool = True


class SupervisorConfig(BaseModel):
    """Restart policy of ``okxmm up``."""

    model_config = ConfigDict(extra="forbid")

    restart: Literal["always", "on-failure", "never"] = "on-failure"
    # CPU niceness every strategy worker takes at start (however it was started), so that the
    # router, feeds and risk win the CPU from them. Off by default: at 32 workers on 2 cores
    # it did not shorten cancel-on-death (docs/perf.md, "scale") and it slows a worker's own
    # reaction whenever anything else loads the machine
    worker_nice: int = Field(default=0, ge=0, le=19)
    max_restarts: int = Field(default=5, ge=0)  # within restart_window_s, then given up on
    restart_window_s: float = Field(default=600.0, gt=0)
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 10.0
    stop_timeout_s: float = 5.0
    start_exchange: bool = True


def _default_strategies() -> list[StrategySpec]:
    return [
        StrategySpec(name="mm-btc", strategy="sample_mm", inst="BTC-USDT-SWAP"),
        StrategySpec(name="skew-eth", strategy="inventory_skew", inst="ETH-USDT-SWAP"),
    ]


_yaml_data: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "okxmm_yaml", default=None
)


class _YamlSource(PydanticBaseSettingsSource):
    """The YAML file's contents, loaded beforehand by :func:`load_config`."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return (_yaml_data.get() or {}).get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(_yaml_data.get() or {})


class OkxmmConfig(BaseSettings):
    """The whole configuration."""

    model_config = SettingsConfigDict(
        env_prefix="OKXMM_", env_nested_delimiter="__", extra="forbid", case_sensitive=False
    )

    venue: VenueConfig = VenueConfig()
    bus: BusConfig = BusConfig()
    instruments: list[str] = ["BTC-USDT-SWAP", "ETH-USDT-SWAP"]
    exchange: ExchangeConfig = ExchangeConfig()
    md_feed: MdFeedConfig = MdFeedConfig()
    private_gw: PrivateGwConfig = PrivateGwConfig()
    router: RouterConfig = RouterConfig()
    risk: RiskConfig = RiskConfig()
    margin: MarginConfig = MarginConfig()
    strategies: list[StrategySpec] = Field(default_factory=_default_strategies)
    supervisor: SupervisorConfig = SupervisorConfig()
    alerts: AlertsConfig = AlertsConfig()
    metrics: MetricsConfig = MetricsConfig()
    log_level: str = "INFO"
    log_dir: str = "var/log"
    var_dir: str = "var"

    @property
    def margin_on(self) -> bool:
        """The margin actor runs: when asked to, or (``margin.enabled`` unset) when the local
        exchange's accounts are in multi-currency (3) or portfolio (4) margin mode."""
        if self.margin.enabled is not None:
            return self.margin.enabled
        return self.venue.kind == "local" and self.exchange.acct_lv in (3, 4)

    @property
    def live(self) -> bool:
        """Real money: the stricter defaults (risk heartbeat, reference price) apply."""
        return self.venue.kind == "okx-live"

    def metrics_port(self, actor: str) -> int:
        """The scheme's metrics port of ``actor``: a worker's by its place in ``strategies``."""
        names = [s.name for s in self.strategies]
        index = names.index(actor) if actor in names else None
        return self.metrics.port_for(actor, index)

    def metrics_endpoint(self, actor: str) -> tuple[str, int] | None:
        """Where this process serves its metrics (``metrics.port`` pins it); None when off."""
        if not self.metrics.enabled:
            return None
        port = self.metrics.port if self.metrics.port is not None else self.metrics_port(actor)
        return self.metrics.host, port

    def secret_values(self) -> list[str]:
        """Every secret value, for log redaction (none when credentials cannot be resolved)."""
        bus = self.bus.secret_values()
        try:
            return resolve_credentials(self).secret_values() + bus
        except ConfigError:
            return bus

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        assert isinstance(env_settings, EnvSettingsSource)
        return (init_settings, env_settings, _YamlSource(settings_cls))


def _problems(exc: ValidationError) -> list[tuple[str, str]]:
    out = []
    for err in exc.errors():
        path = ".".join(str(p) for p in err["loc"]) or "<root>"
        out.append((path, err["msg"]))
    return out


def load_config(path: str | Path | None = None) -> OkxmmConfig:
    """Load and validate; raise :class:`ConfigError` listing every problem with its path."""
    data: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        try:
            text = p.read_text()
        except OSError as exc:
            raise ConfigError([(str(p), f"cannot read: {exc.strerror}")]) from None
        try:
            loaded = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"{p}:{mark.line + 1}:{mark.column + 1}" if mark else str(p)
            problem = getattr(exc, "problem", None) or str(exc)
            raise ConfigError([(where, f"not valid YAML: {problem}")]) from None
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError([("<root>", "the file must hold a mapping of sections")])
        data = loaded
    token = _yaml_data.set(data)
    try:
        return OkxmmConfig()
    except ValidationError as exc:
        raise ConfigError(_problems(exc)) from None
    finally:
        _yaml_data.reset(token)


def resolve_credentials(cfg: OkxmmConfig, env: dict[str, str] | None = None) -> Credentials:
    """Credentials from env, then the secrets file, then (local venue only) the demo ones."""
    environ = dict(os.environ) if env is None else env
    key, secret, phrase = (
        environ.get("OKX_API_KEY", ""),
        environ.get("OKX_API_SECRET", ""),
        environ.get("OKX_API_PASSPHRASE", ""),
    )
    if key and secret and phrase:
        return Credentials(
            api_key=SecretStr(key), secret=SecretStr(secret), passphrase=SecretStr(phrase)
        )
    if cfg.venue.secrets_file:
        path = Path(cfg.venue.secrets_file)
        try:
            raw = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError):
            raise ConfigError([("venue.secrets_file", "cannot read or parse the file")]) from None
        if not isinstance(raw, dict) or not all(
            isinstance(raw.get(k), str) for k in ("api_key", "secret", "passphrase")
        ):
            raise ConfigError(
                [("venue.secrets_file", "needs string keys api_key, secret, passphrase")]
            )
        return Credentials(
            api_key=SecretStr(raw["api_key"]),
            secret=SecretStr(raw["secret"]),
            passphrase=SecretStr(raw["passphrase"]),
        )
    if cfg.venue.kind == "local":
        return DEMO_CREDENTIALS
    raise ConfigError(
        [("venue", "OKX venues need OKX_API_KEY/OKX_API_SECRET/OKX_API_PASSPHRASE or secrets_file")]
    )
