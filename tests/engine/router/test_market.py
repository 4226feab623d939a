"""Market: the reference price, the most severe risk state, tightened limits, halt cancels."""

from __future__ import annotations

from decimal import Decimal

from engine.messages import MarkPrice, RiskLimits, RiskState, Ticker, TradingState
from engine.router.config import RouterConfig
from engine.router.effects import Effect
from engine.router.market import Market
from tests.engine.router.helpers import INST
from tests.engine.router.subcores import desk, owned


def test_reference_price_is_mark_first_then_mid() -> None:
    m = Market(RouterConfig(), desk(), require_risk=False)
    m.on_message(
        [],
        Ticker(
            inst=INST,
            last=None,
            bid_px=Decimal(99),
            bid_sz=None,
            ask_px=Decimal(101),
            ask_sz=None,
            ts_ms=0,
        ),
    )
    assert m.ref_px(INST) == Decimal(100)
    m.on_message([], MarkPrice(inst=INST, mark_px=Decimal(98), ts_ms=0))
    assert m.ref_px(INST) == Decimal(98)


def test_limits_take_the_tightest_scope_and_the_worst_state() -> None:
    m = Market(RouterConfig(), desk(), require_risk=False)
    m.on_message([], RiskLimits(scope="inst", key=INST, max_notional_usd=Decimal(10)))
    m.on_message([], RiskState(scope="strategy", key="alpha", state=TradingState.REDUCING))
    lim = m.limits_for("alpha", INST)
    assert lim.max_order_notional == Decimal(10)
    assert lim.trading_state is TradingState.REDUCING
    assert m.limits_for("beta", "ETH-USDT-SWAP").trading_state is TradingState.ACTIVE


def test_a_halt_cancels_the_orders_in_its_scope_only() -> None:
    d = desk()
    m = Market(RouterConfig(), d, require_risk=False)
    mine = owned(d, 1, strategy="alpha")
    other = owned(d, 2, strategy="beta")
    out: list[Effect] = []
    m.on_message(out, RiskState(scope="strategy", key="alpha", state=TradingState.HALTED))
    assert mine.want_cancel
    assert not other.want_cancel
