"""okxmm configuration: one YAML file plus ``OKXMM_`` environment overrides.

Precedence (highest first): environment (``OKXMM_ROUTER__MAX_OPEN_ORDERS=50``), the YAML file,
defaults. Environment beats YAML on purpose: the port of the sample market maker let YAML keys
silently win over env vars. Credentials come from ``OKX_API_KEY`` / ``OKX_API_SECRET`` /
``OKX_API_PASSPHRASE``, else a secrets file named in config, else (local venue only) built-in
demo credentials. Every endpoint is derived here and nowhere else.
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

from engine.errors import ConfigError
from engine.router.config import RouterConfig
from gateway.config import MdFeedConfig, PrivateGwConfig
from ops.exchange.config import ExchangeConfig
from risk.config import RiskConfig

__all__ = [
    "DEMO_CREDENTIALS",
    "BusConfig",
    "Credentials",
    "OkxmmConfig",
    "StrategySpec",
    "SupervisorConfig",
    "VenueConfig",
    "load_config",
    "resolve_credentials",
]

VenueKind = Literal["local", "okx-demo", "okx-live"]


class Credentials(BaseModel):
    """API credentials; values never appear in repr, logs or errors."""

    api_key: SecretStr
    secret: SecretStr
    passphrase: SecretStr

    def secret_values(self) -> list[str]:
        """Every secret value, for log redaction."""
        return [
            v
            for v in (
                self.api_key.get_secret_value(),
                self.secret.get_secret_value(),
                self.passphrase.get_secret_value(),
            )
            if v
        ]


DEMO_CREDENTIALS = Credentials(
    api_key=SecretStr("okxmm-local-key"),
    secret=SecretStr("okxmm-local-secret"),
    passphrase=SecretStr("okxmm-local-pass"),
)


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


# Fixed bus ports (architecture §2); ctl ports per stable actor.
_PORTS: dict[str, int] = {
    "md.pub": 7100,
    "md.snap": 7101,
    "acct.pub": 7102,
    "acct.snap": 7103,
    "ord.cmd": 7104,
    "ord.pub": 7105,
    "ord.snap": 7106,
    "risk.pub": 7107,
    "risk.snap": 7108,
    "sup.pub": 7109,
    "ctl.md-feed": 7110,
    "ctl.private-gw": 7111,
    "ctl.router": 7112,
    "ctl.risk": 7113,
    "ctl.supervisor": 7114,
    "ctl.recorder": 7115,
}


class BusConfig(BaseModel):
    """Where every bus socket lives. ``host`` is what connectors dial; binders bind ``bind_host``.

    ``hosts`` maps an endpoint family (``md``, ``acct``, ``ord``, ``risk``, ``ctl.<actor>``) to a
    host name for docker compose, where each actor is its own service."""

    model_config = ConfigDict(extra="forbid")

    transport: Literal["tcp", "ipc"] = "tcp"
    host: str = "127.0.0.1"
    bind_host: str = "127.0.0.1"
    port_base: int = 7100
    ipc_dir: str = "var/run"
    hosts: dict[str, str] = {}
    ports: dict[str, int] = {}

    def _port(self, name: str) -> int:
        if name in self.ports:
            return self.ports[name]
        return self.port_base + (_PORTS[name] - 7100)

    def _host(self, name: str) -> str:
        family = name if name.startswith("ctl.") else name.split(".")[0]
        return self.hosts.get(family, self.host)

    def connect_endpoint(self, name: str) -> str:
        """Endpoint a client connects to, e.g. ``connect_endpoint("md.pub")``."""
        if self.transport == "ipc" or (name.startswith("ctl.") and name not in _PORTS):
            return f"ipc://{Path(self.ipc_dir).resolve()}/{name}.sock"
        return f"tcp://{self._host(name)}:{self._port(name)}"

    def bind_endpoint(self, name: str) -> str:
        """Endpoint the owner binds."""
        if self.transport == "ipc" or (name.startswith("ctl.") and name not in _PORTS):
            Path(self.ipc_dir).mkdir(parents=True, exist_ok=True)
            return f"ipc://{Path(self.ipc_dir).resolve()}/{name}.sock"
        return f"tcp://{self.bind_host}:{self._port(name)}"

    def ctl_name(self, actor: str) -> str:
        """The endpoint name of an actor's ctl socket (workers get ipc by name)."""
        return f"ctl.{actor}"


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
    strategies: list[StrategySpec] = Field(default_factory=_default_strategies)
    supervisor: SupervisorConfig = SupervisorConfig()
    log_level: str = "INFO"
    log_dir: str = "var/log"
    var_dir: str = "var"

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
