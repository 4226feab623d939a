"""The margin actor's core: bus messages in, MarginState and the report out."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from engine.messages import (
    AccountConfig,
    AccountUpdate,
    BalanceDetail,
    InstrumentInfo,
    MarkPrice,
    Position,
)
from risk.margin.config import MarginConfig
from risk.margin.core import MarginCore
from risk.margin.portfolio import PortfolioParams
from risk.margin.report import render_text, report_json
from risk.margin.stress import MarginThresholds
from risk.margin.tiers import DiscountTier, TierTable

D = Decimal
SWAP = "BTC-USDT-SWAP"
TIERS = TierTable(discount={"BTC": [DiscountTier(rate=D("0.9"))]})
CFG = MarginConfig(
    thresholds=MarginThresholds(warning=D(3), danger=D(2), liquidation=D(1)), halt_ratio=D("1.5")
)


def _core(usdt: str, btc: str, venue_ratio: str | None = None) -> MarginCore:
    c = MarginCore(CFG, TIERS, PortfolioParams())
    c.on_message(AccountConfig(acct_lv=3, pos_mode="net_mode"))
    c.on_message(
        InstrumentInfo(
            inst=SWAP,
            inst_type="SWAP",
            tick_sz=D("0.1"),
            lot_sz=D("0.01"),
            min_sz=D("0.01"),
            state="live",
            ct_val=D("0.01"),
            settle_ccy="USDT",
        )
    )
    details = [
        BalanceDetail(ccy="USDT", cash_bal=D(usdt)),
        BalanceDetail(ccy="BTC", cash_bal=D(btc)),
    ]
    ratio = None if venue_ratio is None else D(venue_ratio)
    c.on_message(
        AccountUpdate(total_eq=D(0), u_time_ms=1, details=details, snapshot=True, mgn_ratio=ratio)
    )
    # 100 contracts × 0.01 = 1 BTC long at 50 000
    c.on_message(
        Position(
            inst=SWAP,
            inst_type="SWAP",
            mgn_mode="cross",
            pos_side="net",
            pos=D(100),
            avg_px=D(50000),
            u_time_ms=1,
        )
    )
    c.on_message(MarkPrice(inst=SWAP, mark_px=D(50000), ts_ms=1))
    return c


def test_nothing_before_the_account_is_heard() -> None:
    assert MarginCore(CFG, TIERS, PortfolioParams()).report(0) is None


def test_state_from_bus_messages() -> None:
    c = _core("1000", "1")
    rep = c.report(5)
    assert rep is not None
    st = rep.state
    # adjEq 1 000 + 45 000; need 50 000 × (0.004 + 0.0005) = 225
    assert (st.adj_eq, st.mmr, st.notional_usd, st.acct_lv, st.ts_ms) == (
        D(46000),
        D(200),
        D(50000),
        3,
        5,
    )
    assert st.mgn_ratio == D(46000) / D(225)
    assert (st.status, st.action) == ("healthy", "")
    assert st.liq_px is not None
    assert st.liq_px == pytest.approx(D(49000) / D("1.8955"), abs=D("0.0001"))
    assert [r.shock_pct for r in rep.stress] == [D(x) for x in (-10, -20, -30, -40, -50, 20, 50)]


def test_danger_reduces_and_close_to_liquidation_halts() -> None:
    c = _core("700", "0")
    # adjEq = 700 + (P − 50 000) at mark P; need = 0.0045 P
    got = []
    for mark in ("50000", "49950", "49700", "49600", "49100"):
        c.on_message(MarkPrice(inst=SWAP, mark_px=D(mark), ts_ms=2))
        rep = c.report(2)
        assert rep is not None
        got.append((rep.state.status, rep.state.action))
    # ratios 3.11, 2.89, 1.79 (danger 2), 1.34 (halt 1.5), −0.9
    assert got == [
        ("healthy", ""),
        ("warning", ""),
        ("danger", "reduce"),
        ("danger", "halt"),
        ("liquidation", "halt"),
    ]


def test_disagreement_with_the_venue_is_reported_beyond_the_tolerance() -> None:
    ours = D(46000) / D(225)
    c = _core("1000", "1", venue_ratio=str(ours * D("1.005")))
    rep = c.report(0)
    assert rep is not None
    assert c.disagreement(rep.state) is None  # 0.5 % < 1 %
    c = _core("1000", "1", venue_ratio=str(ours * D("1.05")))
    rep = c.report(0)
    assert rep is not None
    gap = c.disagreement(rep.state)
    assert gap is not None
    assert gap == pytest.approx(D("0.05") / D("1.05"), abs=D("1e-9"))


def test_a_position_without_a_contract_size_is_named() -> None:
    c = MarginCore(CFG, TIERS, PortfolioParams())
    c.on_message(
        AccountUpdate(
            total_eq=D(0), u_time_ms=1, details=[BalanceDetail(ccy="USDT", cash_bal=D(1))]
        )
    )
    c.on_message(
        Position(
            inst=SWAP,
            inst_type="SWAP",
            mgn_mode="cross",
            pos_side="net",
            pos=D(1),
            avg_px=D(1),
            u_time_ms=1,
            mark_px=D(1),
        )
    )
    rep = c.report(0)
    assert rep is not None
    assert "no contract size for BTC-USDT-SWAP" in rep.state.reason


def test_the_report_has_the_seeds_sections_with_the_states_numbers() -> None:
    c = _core("1000", "1")
    rep = c.report(0)
    assert rep is not None
    r = json.loads(json.dumps(report_json(rep, c)))
    assert list(r) == [
        "mode",
        "summary",
        "collateral",
        "positions",
        "stress",
        "liquidation",
        "discount_tiers",
        "portfolio",
    ]
    assert r["mode"] == {"acct_lv": 3, "name": "multi-currency margin", "warning": ""}
    assert D(r["summary"]["mgn_ratio_pct"]) == rep.state.mgn_ratio * 100  # type: ignore[operator]
    assert D(r["summary"]["adj_eq"]) == rep.state.adj_eq
    btc = next(x for x in r["collateral"] if x["ccy"] == "BTC")
    assert (D(btc["discount"]), D(btc["dis_eq"])) == (D("0.9"), D(45000))
    (p,) = r["positions"]
    assert (p["side"], D(p["size"]), D(p["leverage"])) == ("long", D(1), D(100))
    assert D(p["liq_px"]) == D(r["liquidation"]["down"]["price"])
    assert D(r["liquidation"]["down"]["price"]) == rep.state.liq_px
    assert r["discount_tiers"]["BTC"] == [{"max_amt": None, "rate": "0.9"}]
    text = render_text(r)
    for title in (
        "Account summary",
        "Collateral assets",
        "Derivative positions",
        "Stress test",
        "Liquidation analysis",
        "Discount-rate tiers",
    ):
        assert title in text
