"""Any JSON the clients may send: the trade layer answers with an OKX code, never raises."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ops.exchange.config import ExchangeConfig
from ops.exchange.matching import Exchange
from ops.exchange.ratelimit import RateLimiter
from ops.exchange.trading import Trading

KEYS = [
    "instId",
    "instIdCode",
    "tdMode",
    "side",
    "ordType",
    "px",
    "sz",
    "clOrdId",
    "tag",
    "ordId",
    "newSz",
    "newPx",
    "reduceOnly",
    "tgtCcy",
    "stpMode",
    "posSide",
    "cxlOnFail",
    "reqId",
    "expTime",
]
VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(
        [
            "",
            "BTC-USDT-SWAP",
            "BTC-USDT",
            "cross",
            "cash",
            "buy",
            "sell",
            "limit",
            "market",
            "post_only",
            "fok",
            "ioc",
            "0.01",
            "60000",
            "1e5",
            "-1",
            "NaN",
            "true",
            "abc",
            "1000000000002",
            "net",
            "base_ccy",
        ]
    ),
    st.text(max_size=8),
    st.lists(st.integers(), max_size=2),
)
ITEM = st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=10)
BODY = st.one_of(ITEM, st.lists(ITEM, max_size=4), VALUES)
KINDS = st.sampled_from(
    [
        "order",
        "batch-orders",
        "cancel-order",
        "cancel-batch-orders",
        "amend-order",
        "amend-batch-orders",
    ]
)


@settings(max_examples=200, deadline=None)
@given(kind=KINDS, body=BODY)
def test_trade_requests_never_raise(kind: str, body: Any) -> None:
    ex = Exchange(ExchangeConfig(), 0)
    acct = ex.add_account("k", {"USDT": Decimal(10**6), "BTC": Decimal(10)}, 0)
    tr = Trading(ex, RateLimiter(False))
    r = tr.run(kind, acct, body, 1)  # type: ignore[arg-type]
    assert isinstance(r.code, str)
    assert r.code.isdigit()
    for item in r.data:
        assert isinstance(item["sCode"], str)
