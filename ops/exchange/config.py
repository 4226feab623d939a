"""Configuration of the local OKX exchange (section ``exchange`` of the okxmm config)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["ExchangeConfig"]


class ExchangeConfig(BaseModel):
    """Where the local exchange listens and how its synthetic market behaves."""

    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = 8900
    seed: int = 7
    tls: bool = False
    start_balances: dict[str, str] = {"USDT": "1000000", "BTC": "10", "ETH": "100"}
