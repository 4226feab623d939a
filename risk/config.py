"""Configuration of the risk monitor (section ``risk``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["RiskConfig"]


class RiskConfig(BaseModel):
    """Risk limits and persistence."""

    model_config = ConfigDict(extra="forbid")

    publish_interval_ms: int = 250
    state_path: str = "var/risk.state"
    loss_limit_usd: str | None = None
