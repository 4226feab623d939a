"""Worker context: freshness rules, position source, sampled mids."""

from __future__ import annotations

from decimal import Decimal

import pytest

from engine.messages import (
    AccountUpdate,
    BookState,
    BookStatus,
    BookTop,
    InstrumentInfo,
    Position,
    RiskState,
    StreamStatus,
    TradingState,
)
from strategies.context import WorkerContext
from strategies.params import StrategyParams
from strategies.series import MidSeries
from strategies.skew import volatility_of

D = Decimal
NS = 1_000_000_000
INST = "BTC-USDT-SWAP"


def ready(params: StrategyParams | None = None) -> WorkerContext:
    c = WorkerContext("w", INST, params or StrategyParams(orderbook_max_delay_sec=5))
    c.on_message(InstrumentInfo(INST, "SWAP", D("0.1"), D(1), D(1), "live", ct_val=D("0.01")), 0, 0)
    c.on_message(BookTop(INST, BookState.VALID, 1, 0, [(D(100), D(1))], [(D(101), D(1))]), 0, 0)
    c.on_message(AccountUpdate(D(1), 0, [], snapshot=True), 0, 0)
    return c


def test_healthy() -> None:
    h = ready().health(NS, {})
    assert h.ok
    assert h.state is TradingState.ACTIVE


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda c: setattr(c, "instrument", None), "no instrument"),
        (lambda c: c.on_message(BookStatus(INST, BookState.RESYNCING), 0, 0), "book RESYNCING"),
        (lambda c: setattr(c, "account", None), "no account data"),
        (lambda c: c.on_message(StreamStatus("private", False), 0, 0), "stream down"),
        (
            lambda c: c.on_message(RiskState("account", "*", TradingState.HALTED, "kill"), 0, 0),
            "risk account HALTED: kill",
        ),
        (
            lambda c: c.on_message(
                BookTop(INST, BookState.VALID, 2, 0, [(D(100), D(1))], []), 0, 0
            ),
            "one-sided book",
        ),
    ],
)
def test_weak_spot_10_1_2_unhealthy_reasons(mutate: object, reason: str) -> None:
    c = ready()
    assert callable(mutate)
    mutate(c)
    h = c.health(NS, {})
    assert not h.ok
    assert h.reason.startswith(reason)


def test_book_age_uses_local_receive_time() -> None:
    c = ready()
    assert c.health(5 * NS, {}).ok
    h = c.health(6 * NS, {})
    assert not h.ok
    assert h.reason == "book stale 6.0s"


def test_account_confirmed_by_gateway_stays_fresh() -> None:
    c = ready(StrategyParams(account_max_delay_sec=10, orderbook_max_delay_sec=100))
    assert not c.health(11 * NS, {}).ok
    c.touch_account(10 * NS)  # the gateway spoke while its stream is up
    assert c.health(11 * NS, {}).ok


def test_silent_publishers_pull_quotes_and_risk_is_optional() -> None:
    c = ready()
    assert c.health(NS, {"md": True}).reason == "md publisher silent"
    assert c.health(NS, {"risk": True}).ok  # no risk actor: allowed by default
    strict = ready(StrategyParams(risk_required=True))
    assert strict.health(NS, {"risk": True}).reason == "risk publisher silent"


def test_reducing_is_healthy_but_says_so() -> None:
    c = ready()
    c.on_message(RiskState("strategy", "w", TradingState.REDUCING, "loss"), 0, 0)
    h = c.health(NS, {})
    assert h.ok
    assert h.state is TradingState.REDUCING


def test_weak_spot_10_1_4_position_from_the_venue_not_only_fills() -> None:
    c = ready()
    assert c.net_position() == 0
    c.fill_book.buy_qty = D(3)
    assert c.net_position() == D(3)  # no venue data yet: fills since start
    c.on_message(Position(INST, "SWAP", "cross", "net", D(-7), None, 0), 0, 0)
    assert c.net_position() == D(-7)
    c.on_message(Position(INST, "SWAP", "cross", "long", D(2), None, 0), 0, 0)
    c.on_message(Position(INST, "SWAP", "cross", "short", D(5), None, 0), 0, 0)
    assert c.net_position() == D(-10)  # net −7, long +2, short −5 (weak spot 10.1-9)


def test_weak_spot_10_2_7_volatility_lookback_counts_time_not_book_updates() -> None:
    s = MidSeries(interval_ns=NS, capacity=200)
    for i in range(1000):  # 1000 book updates within 10 s
        s.add(i * NS // 100, D(100) + D(i % 7))
    assert len(s) == 10  # one sample per second
    assert volatility_of(s.values(), 9) is not None
    port = MidSeries(interval_ns=0, capacity=100)  # the port: every update, capped at 100
    for i in range(1000):
        port.add(i, D(100) + D(i % 7))
    assert volatility_of(port.values(), 100) is None  # lookback ≥ 100 never computed
    c = ready(StrategyParams(volatility_lookback=150))
    assert c.mids.capacity >= 151


def test_inventory_from_own_fills_when_asked() -> None:
    c = ready(StrategyParams(inventory_source="fills"))
    c.on_message(Position(INST, "SWAP", "cross", "net", D(-7), None, 0), 0, 0)
    c.fill_book.buy_qty = D(3)
    assert c.net_position() == D(3)  # another worker on the instrument owns the rest
