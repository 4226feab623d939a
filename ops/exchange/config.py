"""Configuration of the local OKX exchange (section ``exchange`` of the okxmm config).

Every knob of okx-v5.md §13 is here with its documented default. ``accounts`` adds API keys
beside the one the CLI derives from ``ops.config.resolve_credentials``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from risk.margin.portfolio import PortfolioParams
from risk.margin.tiers import TierTable

# OKX account modes (``account/config`` acctLv): 1 spot, 2 futures (single-currency margin),
# 3 multi-currency margin, 4 portfolio margin
AcctLv = Literal[1, 2, 3, 4]
PosMode = Literal["net_mode", "long_short_mode"]

__all__ = [
    "AccountSpec",
    "AcctLv",
    "ExchangeConfig",
    "FaultConfig",
    "InstrumentSpec",
    "MarketSpec",
    "ReplaySpec",
]


class InstrumentSpec(BaseModel):
    """One tradable instrument. Decimal fields are canonical decimal strings."""

    model_config = ConfigDict(extra="forbid")

    inst_id: str
    inst_type: Literal["SPOT", "SWAP"]
    tick_sz: str
    lot_sz: str
    min_sz: str
    ct_val: str = ""  # SWAP only: base coin per contract (linear)
    state: Literal["live", "suspend", "preopen", "test"] = "live"
    start_px: str = "100"
    max_lmt_sz: str = "1000000"
    max_mkt_sz: str = "10000"


class MarketSpec(BaseModel):
    """The synthetic background market of one instrument (defaults apply to all)."""

    model_config = ConfigDict(extra="forbid")

    volatility_bps: float = 1.0  # stdev of the fair price per second, in basis points
    half_spread_ticks: int = 5  # synthetic best bid/ask distance from fair
    levels: int = 400  # synthetic depth per side
    level_gap_ticks: int = 1
    level_size_min_lots: int = 100
    level_size_max_lots: int = 5000
    taker_rate_per_s: float = 4.0  # Poisson rate of synthetic taker orders
    taker_size_min_lots: int = 10
    taker_size_max_lots: int = 2000


class FaultConfig(BaseModel):
    """Fault knobs; all may also be changed at runtime through ``POST /admin/faults``."""

    model_config = ConfigDict(extra="forbid")

    ack_delay_ms: int = 0
    error_rate: float = 0.0  # share of /api/v5 requests and WS trade ops answered with error_code
    error_code: Literal["50011", "50001", "50026", "50013"] = "50011"
    freeze: bool = False  # synthetic market stops moving and trading
    clock_offset_ms: int = 0
    # None: what the venue profile says (ops/exchange/profile.py)
    checksum_mode: Literal["crc32", "zero"] | None = None
    initial_snapshot: bool | None = None
    skip_seq: int = 0  # the first N book updates skip a seqId
    corrupt_checksum: int = 0  # the first N book updates carry a wrong checksum
    drop_ws_every_s: float = 0.0  # > 0: close every WS connection this often (1001)


class ReplaySpec(BaseModel):
    """Replay mode (ops/exchange/replay.py): ``inst_id``'s public market is a recorded raw file,
    pushed from when ``POST /admin/replay`` starts it (or at once with ``autostart``)."""

    model_config = ConfigDict(extra="forbid")

    path: str
    inst_id: str
    speed: float = Field(1.0, gt=0)  # 2.0: twice as fast as recorded
    queue: Literal["proportional", "pessimistic"] = "proportional"
    autostart: bool = False


class AccountSpec(BaseModel):
    """An extra API key served by the exchange."""

    model_config = ConfigDict(extra="forbid")

    api_key: str
    secret: str
    passphrase: str
    balances: dict[str, str] | None = None  # None: ``start_balances``
    # identity verification level (account/config kycLv); below 2 placing orders is refused
    # with 59113, as OKX does since April 2026 (okx-v5.md §14)
    kyc_level: int = Field(3, ge=0, le=3)
    acct_lv: AcctLv | None = None  # None: ``ExchangeConfig.acct_lv``
    pos_mode: PosMode | None = None  # None: ``ExchangeConfig.pos_mode``


def _default_instruments() -> list[InstrumentSpec]:
    return [
        InstrumentSpec(
            inst_id="BTC-USDT",
            inst_type="SPOT",
            tick_sz="0.1",
            lot_sz="0.00000001",
            min_sz="0.00001",
            start_px="60000",
        ),
        InstrumentSpec(
            inst_id="ETH-USDT",
            inst_type="SPOT",
            tick_sz="0.01",
            lot_sz="0.000001",
            min_sz="0.0001",
            start_px="3000",
        ),
        InstrumentSpec(
            inst_id="BTC-USDT-SWAP",
            inst_type="SWAP",
            tick_sz="0.1",
            lot_sz="0.01",
            min_sz="0.01",
            ct_val="0.01",
            start_px="60000",
        ),
        InstrumentSpec(
            inst_id="ETH-USDT-SWAP",
            inst_type="SWAP",
            tick_sz="0.01",
            lot_sz="0.01",
            min_sz="0.01",
            ct_val="0.1",
            start_px="3000",
        ),
    ]


class ExchangeConfig(BaseModel):
    """Where the local exchange listens and how its synthetic market behaves."""

    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(8900, ge=1, le=65535)
    seed: int = 7
    tls: bool = False
    cert_path: str = "var/exchange-cert.pem"
    start_balances: dict[str, str] = {"USDT": "1000000", "BTC": "10", "ETH": "100"}
    accounts: list[AccountSpec] = []
    # account mode of every account that does not set its own (the CLI's key included)
    acct_lv: AcctLv = 2
    pos_mode: PosMode = "net_mode"
    instruments: list[InstrumentSpec] = Field(default_factory=_default_instruments)
    market: MarketSpec = MarketSpec()
    market_overrides: dict[str, MarketSpec] = {}  # per instId
    faults: FaultConfig = FaultConfig()
    # which OKX to imitate (ops/exchange/profile.py): today's by default; ``venue`` overrides
    # single switches of the profile, e.g. {ws_ops_need_inst_id_code: false}
    profile: Literal["current", "legacy"] = "current"
    venue: dict[str, str | int | float | bool] = {}
    # fees: negative = charged, positive = rebate (OKX sign convention)
    spot_maker_fee: str = "-0.0008"
    spot_taker_fee: str = "-0.001"
    swap_maker_fee: str = "-0.0002"
    swap_taker_fee: str = "-0.0005"
    leverage: str = "10"
    mmr_rate: str = "0.004"
    # acctLv 3 / 4 accounts: discount and position tiers (shared with the margin actor's
    # config), the simplified portfolio-margin stress parameters, the liquidation level
    margin_tiers: TierTable = TierTable()
    portfolio: PortfolioParams = PortfolioParams()
    liquidation_level: str = "1"
    price_limit_pct: str = "0.05"  # derivative price band around mark
    step_ms: int = Field(100, gt=0)  # simulated time per market step
    realtime: bool = True  # False: the market moves only through POST /admin/step
    rate_limits: bool = True
    status_rate_limit: bool = False  # system/status limit off by default (okx-v5.md §5)
    idle_timeout_s: float = Field(30.0, gt=0)
    book_heartbeat_s: float = Field(60.0, gt=0)
    post_only_cross_emits_live: bool = False
    amend_keeps_priority_on_size_down: bool = True
    max_pending_per_inst: int = 500
    max_pending_per_account: int = 4000
    enforce_env_header: bool = False
    replay: ReplaySpec | None = None
