"""Ground-floor configuration: credentials and the bus layout every actor shares.

The whole configuration (one YAML file plus ``OKXMM_`` environment overrides, every section) is
``ops.config.OkxmmConfig``: it lives where the actors are composed, as it names every
package's settings. Every bus endpoint is derived here and nowhere else.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, SecretStr

__all__ = ["DEMO_CREDENTIALS", "BusConfig", "Credentials"]


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
