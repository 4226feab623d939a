"""Configuration of the gateway actors (sections ``md_feed`` and ``private_gw``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["MdFeedConfig", "PrivateGwConfig"]


class MdFeedConfig(BaseModel):
    """Market-data feed settings."""

    model_config = ConfigDict(extra="forbid")

    depth: int = 5  # levels per side in published BookTop messages
    channel: str = "books"


class PrivateGwConfig(BaseModel):
    """Private-stream gateway settings."""

    model_config = ConfigDict(extra="forbid")

    reconcile_fills_limit: int = 100
