"""Builders for OKX-shaped risk inputs used across the risk tests."""

from __future__ import annotations

from decimal import Decimal

from risk.caches import MarketCache
from risk.inputs import BalanceRow, InstrumentSpec, PositionRow
from risk.snapshot import RiskSnap, build_snapshot

D = Decimal

BTC_SWAP = InstrumentSpec(
    inst="BTC-USDT-SWAP",
    inst_type="SWAP",
    settle_ccy="USDT",
    ct_val=D("0.01"),
    ct_mult=D(1),
    ct_type="linear",
)
ETH_SWAP = InstrumentSpec(
    inst="ETH-USDT-SWAP",
    inst_type="SWAP",
    settle_ccy="USDT",
    ct_val=D("0.1"),
    ct_mult=D(1),
    ct_type="linear",
)
BTC_INV = InstrumentSpec(
    inst="BTC-USD-SWAP",
    inst_type="SWAP",
    settle_ccy="BTC",
    ct_val=D(100),
    ct_mult=D(1),
    ct_type="inverse",
)
BTC_OPT = InstrumentSpec(
    inst="BTC-USD-261225-50000-C",
    inst_type="OPTION",
    settle_ccy="BTC",
    ct_val=D("0.01"),
    ct_mult=D(1),
)
BTC_SPOT = InstrumentSpec(inst="BTC-USDT", inst_type="SPOT", base_ccy="BTC", quote_ccy="USDT")


def bal(ccy: str, cash: str, t: int = 0) -> BalanceRow:
    c = D(cash)
    return BalanceRow(ccy=ccy, cash_bal=c, eq=c, avail_eq=c, avail_bal=c, u_time_ms=t)


def swap_pos(
    inst: str,
    pos: str,
    avg: str,
    mark: str,
    upl: str,
    *,
    side: str = "net",
    margin: str = "0",
    mode: str = "cross",
    t: int = 0,
) -> PositionRow:
    return PositionRow(
        inst=inst,
        inst_type="SWAP",
        mgn_mode=mode,
        pos_side=side,
        pos=D(pos),
        avg_px=D(avg),
        mark_px=D(mark),
        upl=D(upl),
        margin=D(margin),
        u_time_ms=t,
    )


def market(
    *,
    mids: dict[str, str] | None = None,
    marks: dict[str, str] | None = None,
    specs: tuple[InstrumentSpec, ...] = (BTC_SWAP, ETH_SWAP, BTC_INV, BTC_OPT, BTC_SPOT),
) -> MarketCache:
    m = MarketCache()
    for spec in specs:
        m.on_instrument(spec)
    for inst, mid in (mids or {}).items():
        m.on_ticker(inst, D(mid), D(mid))
    for inst, mk in (marks or {}).items():
        m.on_mark(inst, D(mk))
    return m


def snap(
    ts: int,
    total_eq: str,
    balances: list[BalanceRow],
    positions: list[PositionRow],
    mkt: MarketCache,
    extra: tuple[str, ...] = (),
) -> RiskSnap:
    return build_snapshot(ts, D(total_eq), balances, positions, mkt, extra_ccys=extra)
