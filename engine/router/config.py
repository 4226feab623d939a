"""Configuration of the order router (section ``router``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["RouterConfig"]

_CAA_MIN_S = 10
_CAA_MAX_S = 120


class RouterConfig(BaseModel):
    """Router settings: limits, liveness, venue I/O, dead-man's switch, journal."""

    model_config = ConfigDict(extra="forbid")

    # --- liveness (architecture §3)
    heartbeat_ms: int = Field(default=50, gt=0)  # told to strategies in Welcome
    dead_after_ms: int = Field(
        default=150, gt=0
    )  # application-heartbeat silence that fences a strategy
    liveness_tick_ms: int = Field(default=10, gt=0)  # how often silence is checked
    restart_grace_ms: int = Field(
        default=1000, ge=0
    )  # after a router restart: time for known strategies to speak
    stale_cmd_ms: int = Field(
        default=1000, gt=0
    )  # commands older than this (by their ts_ns) are rejected
    future_cmd_ms: int = Field(default=1000, gt=0)  # ... and this far in the future (clock skew)
    # --- pre-trade limits (defaults; risk may tighten them)
    max_order_sz: str = "1000"
    max_order_notional: str = "1000000"
    max_open_orders: int = Field(default=100, gt=0)
    price_band_bps: int = Field(default=500, gt=0)
    require_risk_heartbeat: bool | None = None  # None: on for okx-live, off otherwise
    require_reference_price: bool | None = None  # None: on for okx-live, off otherwise
    # --- venue I/O
    use_ws_trade: bool = True  # WS trade ops (REST when the private WS is down)
    # self-trade prevention set on every place: several workers quoting one instrument must
    # never trade with each other (okx-v5.md §14); OKX's account default is cancel_maker too
    stp_mode: Literal["cancel_maker", "cancel_taker", "cancel_both"] = "cancel_maker"
    batch_max: int = Field(default=20, ge=1, le=20)
    batch_window_us: int = 0  # extra wait to coalesce commands; 0: drain-then-send
    venue_timeout_s: float = Field(
        default=2.0, gt=0
    )  # a trade op with no answer by then has an unknown outcome
    max_cancel_retries: int = Field(default=3, ge=0)
    max_place_retries: int = Field(default=1, ge=0)
    order_tag: str = Field(default="", pattern=r"^[A-Za-z0-9]{0,16}$")
    poll_when_ws_down_s: float = Field(
        default=1.0, gt=0
    )  # orders-pending poll while the private WS is down
    # --- dead-man's switch
    cancel_all_after_s: int = 15  # 0 disables; OKX accepts 10–120
    cancel_all_after_refresh_s: float = Field(default=2.0, gt=0)
    # --- journal / reconciliation
    journal_path: str = ""  # "" → ``<var_dir>/router.journal``
    journal_max_records: int = Field(default=20_000, ge=100)  # then compacted online (~4 MB)
    reconcile_fills_limit: int = Field(default=100, ge=1, le=100)

    @field_validator("cancel_all_after_s")
    @classmethod
    def _caa_range(cls, v: int) -> int:
        if v != 0 and not _CAA_MIN_S <= v <= _CAA_MAX_S:
            raise ValueError(f"cancel_all_after_s must be 0 or {_CAA_MIN_S}..{_CAA_MAX_S}")
        return v
