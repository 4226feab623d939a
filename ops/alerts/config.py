"""The ``alerts:`` section of the config: sinks (webhooks) and delivery rules."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["AlertsConfig", "SinkConfig", "SinkKind"]

SinkKind = Literal["json", "slack", "telegram"]


class SinkConfig(BaseModel):
    """One receiver; give ``url`` or ``url_env`` (telegram: ``token``/``token_env`` and
    ``chat_id``; ``url`` then defaults to the Bot API)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")
    kind: SinkKind = "json"
    url: str = ""
    url_env: str = ""
    token_env: str = ""
    chat_id: str = ""
    min_severity: Literal["info", "warning", "critical"] = "info"

    @model_validator(mode="after")
    def _complete(self) -> SinkConfig:
        if self.kind == "telegram":
            if not self.chat_id:
                raise ValueError("a telegram sink needs chat_id")
            if not self.token_env:
                raise ValueError("a telegram sink needs token_env (the bot token, from env)")
        elif not (self.url or self.url_env):
            raise ValueError(f"sink {self.name}: give url or url_env")
        return self


class AlertsConfig(BaseModel):
    """``alerts:`` in the config; the alerts actor runs under ``okxmm up`` when sinks exist."""

    model_config = ConfigDict(extra="forbid")

    sinks: list[SinkConfig] = []
    dedup_s: float = Field(300.0, ge=0)  # the same alert (key, severity) again: dropped
    rate_per_min: int = Field(20, ge=1)  # per sink; beyond, counted and summarised later
    book_invalid_s: float = Field(10.0, gt=0)
    queue_max: int = Field(1000, ge=1)  # per sink; beyond, the oldest is dropped (counted)
    timeout_s: float = Field(5.0, gt=0)
    retries: int = Field(3, ge=0)
    children_poll_s: float = Field(1.0, gt=0)
