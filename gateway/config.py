"""Configuration of the gateway actors (sections ``md_feed`` and ``private_gw``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["MdFeedConfig", "PrivateGwConfig"]


class MdFeedConfig(BaseModel):
    """Market-data feed settings."""

    model_config = ConfigDict(extra="forbid")

    depth: int = Field(5, ge=1, le=400)  # levels per side in published BookTop messages
    channel: str = "books"  # books | books-l2-tbt | books50-l2-tbt (checksummed, incremental)
    trades: bool = True
    tickers: bool = True
    mark_price: bool = True  # derivatives only
    rest_depth: int = Field(400, ge=1, le=400)  # levels of the REST bootstrap snapshot
    snapshot_wait_s: float = Field(1.0, gt=0)  # no WS snapshot after this → REST bootstrap
    rest_retry_s: float = Field(3.0, gt=0)  # REST bootstrap unanswered → ask again
    stale_after_s: float = Field(
        90.0, gt=0
    )  # VALID book without any message (OKX heartbeats every 60 s)
    timer_ms: int = Field(100, gt=0)  # staleness / resync timer tick
    republish_ms: int = Field(
        100, ge=0
    )  # unchanged top-N: publish at most this often (0: every update)
    # WS keep-alive: at most 15 s between pings, whatever the inbound traffic (OKX closes a
    # connection after 30 s without data; a late ping under load must still be in time)
    ping_after_s: float = Field(15.0, gt=0, le=15.0)


class PrivateGwConfig(BaseModel):
    """Private-stream gateway settings."""

    model_config = ConfigDict(extra="forbid")

    reconcile_fills_limit: int = Field(100, ge=1, le=100)
    inst_type: str = "ANY"  # instType of the orders / positions subscriptions
    ping_after_s: float = Field(15.0, gt=0, le=15.0)  # as md-feed's
    fill_dedup_size: int = Field(100_000, ge=1)  # remembered (inst, tradeId) pairs
    reconcile_retry_s: float = Field(2.0, gt=0)
