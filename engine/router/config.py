"""Configuration of the order router (section ``router``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["RouterConfig"]


class RouterConfig(BaseModel):
    """Router settings: limits, liveness, dead-man's switch, journal."""

    model_config = ConfigDict(extra="forbid")

    heartbeat_ms: int = 50
    dead_after_ms: int = 150
    max_order_sz: str = "1000"
    max_order_notional: str = "1000000"
    max_open_orders: int = 100
    price_band_bps: int = 500
    cancel_all_after_s: int = 15
    cancel_all_after_refresh_s: float = 2.0
    journal_path: str = "var/router.journal"
    require_risk_heartbeat: bool | None = None  # None: on for okx-live, off otherwise
