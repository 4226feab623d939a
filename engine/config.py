"""Ground-floor configuration: credentials and the bus layout every actor shares.

The whole configuration (one YAML file plus ``OKXMM_`` environment overrides, every section) is
``ops.config.OkxmmConfig``: it lives where the actors are composed, as it names every
package's settings. Every bus endpoint is derived here and nowhere else.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, SecretStr, model_validator

__all__ = ["DEMO_CREDENTIALS", "BusConfig", "Credentials", "CurveConfig", "is_loopback"]


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
    "ctl.alerts": 7116,
    "margin.pub": 7117,
    "margin.snap": 7118,
    "ctl.margin": 7119,
}


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve anywhere


class CurveConfig(BaseModel):
    """CURVE keys of the tcp bus. Each key is its z85 text (40 characters) or the path of a key
    file written by ``okxmm keys generate`` (``NAME.key`` public, ``NAME.key_secret`` secret).

    Binding hosts set ``server_secret`` and ``allow``; every process sets ``server_public``;
    a process without the server secret sets ``client_secret`` (its own keypair)."""

    model_config = ConfigDict(extra="forbid")

    server_public: str = ""
    server_secret: SecretStr | None = None
    # own keypair for connecting; default: the server's (actors on the binding host)
    client_secret: SecretStr | None = None
    # client public keys the binders accept (z85, a .key file, or a directory of .key files);
    # the server's own key is always accepted
    allow: list[str] = []

    def secret_values(self) -> list[str]:
        """Secret key values (or file paths), for log redaction."""
        return [s.get_secret_value() for s in (self.server_secret, self.client_secret) if s]


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
    # tcp security: "plain" only with every host on loopback (or plain_tcp_private_network);
    # "curve" encrypts and authenticates every tcp socket with the keys in ``curve``
    security: Literal["plain", "curve"] = "plain"
    curve: CurveConfig = CurveConfig()
    # plain tcp between containers of ONE private docker network (the single-host compose):
    # an explicit, loudly named opt-out; never for a bus that crosses machines
    plain_tcp_private_network: bool = False

    @model_validator(mode="after")
    def _secure_tcp(self) -> Self:
        if self.transport != "tcp":
            return self
        if self.security == "curve":
            if not self.curve.server_public:
                raise ValueError("bus.security curve needs bus.curve.server_public")
            if self.curve.server_secret is None and self.curve.client_secret is None:
                raise ValueError(
                    "bus.security curve needs bus.curve.server_secret (binding host) "
                    "or bus.curve.client_secret (connecting host)"
                )
            return self
        if self.plain_tcp_private_network:
            return self
        remote = sorted(
            {h for h in (self.host, self.bind_host, *self.hosts.values()) if not is_loopback(h)}
        )
        if remote:
            raise ValueError(
                f"plain tcp to a non-loopback host ({', '.join(remote)}): set bus.security "
                "curve with bus.curve keys (okxmm keys generate), or keep every host on loopback"
            )
        return self

    def secret_values(self) -> list[str]:
        """CURVE secrets, for log redaction."""
        return self.curve.secret_values()

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
