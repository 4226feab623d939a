"""The margin actor's Prometheus series: the ratio (ours and the venue's), the status as a
state set, equity and margins, the distance to liquidation."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

from engine.messages import MarginState
from engine.metrics import Snapshot
from risk.margin.monitor import MarginMonitor


def test_margin_series() -> None:
    st = MarginState(
        acct_lv=3, status="warning", mgn_ratio=Decimal("3.5"), venue_mgn_ratio=Decimal("3.4"),
        adj_eq=Decimal(100000), total_eq=Decimal(101000), imr=Decimal(20000),
        mmr=Decimal(28000), notional_usd=Decimal(200000), uly="BTC-USDT",
        liq_move_pct=Decimal("-18.5"),
    )  # fmt: skip
    snap = Snapshot("margin")
    MarginMonitor.metrics(SimpleNamespace(published=7, last=st), snap)  # type: ignore[arg-type]
    text = "".join(snap.text())
    assert 'okxmm_margin_ratio{actor="margin",source="okxmm"} 3.5' in text
    assert 'okxmm_margin_ratio{actor="margin",source="venue"} 3.4' in text
    assert 'okxmm_margin_status{actor="margin",state="warning"} 1.0' in text
    assert 'okxmm_margin_status{actor="margin",state="healthy"} 0.0' in text
    assert 'okxmm_margin_liquidation_move_pct{actor="margin",uly="BTC-USDT"} -18.5' in text
    assert "okxmm_margin_states_published_total" in text
