"""Configuration of the margin actor (section ``margin``)."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from risk.margin.portfolio import PortfolioParams
from risk.margin.stress import MarginThresholds
from risk.margin.tiers import TierTable

__all__ = ["DEFAULT_STRESS_PCT", "MarginConfig"]

# the seeds' stress table: moves of the main underlying, in %
DEFAULT_STRESS_PCT = [Decimal(x) for x in (-10, -20, -30, -40, -50, 20, 50)]


class MarginConfig(BaseModel):
    """Margin monitoring of a multi-currency (acctLv 3) or portfolio (4) margin account.

    ``tiers`` / ``portfolio`` ``None``: the local exchange's (``exchange.margin_tiers``,
    ``exchange.portfolio``), so the actor and the venue price margin from one table."""

    model_config = ConfigDict(extra="forbid")

    # None: started by ``okxmm up`` when the local exchange's account is acctLv 3 or 4
    enabled: bool | None = None
    thresholds: MarginThresholds = MarginThresholds()
    # HALTED at or below this ratio: close to liquidation, before the venue acts
    halt_ratio: Decimal = Field(Decimal("1.2"), gt=0)
    underlying: str = "BTC"  # the main underlying: stress table and liquidation price
    stress_pct: list[Decimal] = Field(default_factory=lambda: list(DEFAULT_STRESS_PCT))
    tiers: TierTable | None = None
    portfolio: PortfolioParams | None = None
    # |ours − venue's| / venue's above this: logged as a disagreement
    disagreement_rel: Decimal = Field(Decimal("0.01"), ge=0)
    heartbeat_ms: int = Field(100, gt=0)
    eval_interval_ms: int = Field(250, gt=0)  # at most this often
    republish_ms: int = Field(1000, gt=0)
    md_silence_ms: int = Field(1000, gt=0)
    private_silence_ms: int = Field(3000, gt=0)

    @model_validator(mode="after")
    def _halt_between(self) -> MarginConfig:
        th = self.thresholds
        if not th.liquidation < self.halt_ratio <= th.danger:
            raise ValueError(
                "halt_ratio must be above the liquidation and at most the danger level"
            )
        return self
