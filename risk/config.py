"""Configuration of the risk monitor (section ``risk``)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["RiskConfig"]

# A limit is positive or off (None): a negative or zero limit would halt at start or never.
_Limit = Annotated[Decimal, Field(gt=0)]


class RiskConfig(BaseModel):
    """Risk limits, publishing and persistence. ``None`` switches a limit off.

    Positions are in base currency (contracts × ctMult × ctVal for derivatives); USD values use
    the monitor's own prices (``risk.prices``)."""

    model_config = ConfigDict(extra="forbid")

    publish_interval_ms: int = Field(250, gt=0)  # at most one RiskSnapshot per interval (on change)
    eval_min_interval_ms: int = Field(
        10, ge=0
    )  # re-measure at most this often (market bursts coalesce)
    heartbeat_ms: int = Field(100, gt=0)
    # Every state and the latest snapshot are re-sent this often even when unchanged, so a
    # subscriber that lost a topic's first message (slow joiner) still converges.
    republish_ms: int = Field(1000, gt=0)
    # Inception, peaks, halts, fills: what survives restarts. "" → ``<var_dir>/risk.state``.
    state_path: str = ""
    persist_interval_ms: int = Field(1000, gt=0)
    # The original printed its measurement every loop; a summary log line this often (0: off).
    summary_interval_ms: int = Field(10_000, ge=0)
    # Loss limit: HALTED when P&L falls this far below its peak since inception (USD).
    loss_limit_usd: _Limit | None = None
    strategy_loss_limit_usd: _Limit | None = None
    # REDUCING when the instrument's position exceeds these (absolute values).
    max_position_base: dict[str, _Limit] = {}  # per instId
    max_position_usd: _Limit | None = None  # per instrument
    # REDUCING when position + every open and in-flight order on one side exceeds this (USD).
    max_worst_case_exposure_usd: _Limit | None = None
    # REDUCING for a strategy sending more new orders than this in any 1 s window.
    max_order_rate_per_s: int | None = Field(50, gt=0)
    # No update of an instrument's book/mark/ticker for this long (the original's 60 s
    # ORDER_BOOK_DELAYED_SEC), or a RESYNCING book → REDUCING for the instrument.
    md_stale_ms: int = Field(60_000, gt=0)
    # md-feed not heard at all (its 100 ms heartbeats included) → REDUCING for every instrument.
    md_silence_ms: int = Field(1000, gt=0)
    # Private stream (acct publisher) silent this long or reported down → REDUCING everywhere.
    private_silence_ms: int = Field(3000, gt=0)
    # Recompute SWAP/FUTURES upl at the latest mark (the pushed upl goes stale between pushes).
    revalue_at_latest_mark: bool = True
    # Instruments traded besides ``instruments`` and the strategies' ones (for exposures).
    extra_instruments: list[str] = []
