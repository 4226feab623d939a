"""Matching engine and trade requests: priority, partial fills, fees, balances, positions,
P&L, order types, self-trade prevention, amend rules, cancel-all-after, error codes."""

from __future__ import annotations

from decimal import Decimal as D  # noqa: N817 - money literals stay readable
from typing import Any

import pytest

from ops.exchange.accounts import Account
from ops.exchange.config import ExchangeConfig
from ops.exchange.matching import Exchange, OrderPush, TradePrint
from ops.exchange.ratelimit import RateLimiter
from ops.exchange.trading import Trading

SWAP = "BTC-USDT-SWAP"
SPOT = "BTC-USDT"
T0 = 1_700_000_000_000


class Env:
    def __init__(self, *, rate_limits: bool = False, **cfg: Any) -> None:
        self.ex = Exchange(ExchangeConfig(**cfg), T0)
        self.tr = Trading(self.ex, RateLimiter(rate_limits))
        bal = {"USDT": D(1_000_000), "BTC": D(10)}
        self.a = self.ex.add_account("a", dict(bal), T0)
        self.b = self.ex.add_account("b", dict(bal), T0)
        self.c = self.ex.add_account("c", dict(bal), T0)
        self.now = T0

    def run(self, kind: str, acct: Account, body: Any) -> Any:
        self.now += 1
        return self.tr.run(kind, acct, body, self.now)  # type: ignore[arg-type]

    def place(self, acct: Account, **fields: str) -> dict[str, Any]:
        body = {"instId": SWAP, "tdMode": "cross", "ordType": "limit", **fields}
        if body["instId"] == SPOT:
            body["tdMode"] = "cash"
        r = self.run("order", acct, body)
        return r.data[0] if r.data else {"code": r.code, "msg": r.msg, "sCode": r.code}

    def pushes(self, key: str | None = None) -> list[dict[str, Any]]:
        events, _ = self.ex.drain()
        return [e.data for e in events if isinstance(e, OrderPush) and key in (None, e.api_key)]

    def order(self, acct: Account, ord_id: str) -> Any:
        return acct.find(ord_id, "")


def test_price_then_time_priority_and_partial_fills() -> None:
    e = Env()
    a1 = e.place(e.a, side="sell", px="60001", sz="1")
    b1 = e.place(e.b, side="sell", px="60000", sz="1")
    a2 = e.place(e.a, side="sell", px="60000", sz="1")
    assert {a1["sCode"], b1["sCode"], a2["sCode"]} == {"0"}
    e.pushes()
    t = e.place(e.c, side="buy", px="60001", sz="1.5")
    assert t["sCode"] == "0"
    # best price first; at 60000 b (earlier) before a2
    assert e.order(e.b, b1["ordId"]).state == "filled"
    assert e.order(e.a, a2["ordId"]).state == "partially_filled"
    assert e.order(e.a, a2["ordId"]).acc_lots == 50
    assert e.order(e.a, a1["ordId"]).acc_lots == 0
    taker = e.order(e.c, t["ordId"])
    assert taker.state == "filled"
    assert taker.avg_px() == D("60000")
    events, _ = e.ex.drain()
    prints = [ev.data for ev in events if isinstance(ev, TradePrint)]
    assert [(p["px"], p["sz"], p["count"], p["side"]) for p in prints] == [
        ("60000", "1.5", "2", "buy")
    ]


def test_swap_fees_positions_and_pnl() -> None:
    e = Env(swap_maker_fee="0.0001", swap_taker_fee="-0.0005")  # maker rebate
    e.place(e.a, side="sell", px="60000", sz="2")
    e.place(e.b, side="buy", px="60000", sz="2")
    # 2 contracts × 0.01 BTC × 60000 = 1200 USDT notional
    assert e.b.balances["USDT"].cash == D(1_000_000) - D("0.6")
    assert e.a.balances["USDT"].cash == D(1_000_000) + D("0.12")
    pb = e.b.positions[SWAP]
    assert pb.lots == 200
    assert pb.avg_px == D(60000)
    assert e.a.positions[SWAP].lots == -200
    # mark up 1 % → long upl +12 USDT
    e.ex.marks[SWAP] = D(60600)
    assert pb.upl(e.ex.marks[SWAP]) == D(12)
    # b sells 1 at 61000 (taker) against a's bid: realises (61000-60000)*0.01 = 10
    e.place(e.a, side="buy", px="61000", sz="1")
    e.place(e.b, side="sell", px="61000", sz="1")
    assert pb.lots == 100
    assert pb.realized == D(10)
    assert e.b.balances["USDT"].cash == D(1_000_000) - D("0.6") + D(10) - D("0.305")
    # flip: b sells 3 at 61000 → closes 1 (+10), opens short 2 at 61000
    e.place(e.a, side="buy", px="61000", sz="3")
    e.place(e.b, side="sell", px="61000", sz="3")
    assert pb.lots == -200
    assert pb.avg_px == D(61000)
    assert pb.realized == D(20)


def test_spot_balances_frozen_and_fees() -> None:
    e = Env()
    r = e.place(e.a, instId=SPOT, side="buy", px="50000", sz="0.1")
    assert r["sCode"] == "0"
    assert e.a.balances["USDT"].frozen == D(5000)
    e.place(e.b, instId=SPOT, side="sell", px="50000", sz="0.04")
    # maker a: -0.08 % of base received; taker b: -0.1 % of quote received
    assert e.a.balances["BTC"].cash == D(10) + D("0.04") - D("0.04") * D("0.0008")
    assert e.a.balances["USDT"].cash == D(1_000_000) - D(2000)
    assert e.a.balances["USDT"].frozen == D(3000)
    assert e.b.balances["USDT"].cash == D(1_000_000) + D(2000) - D(2)
    assert e.b.balances["BTC"].cash == D(10) - D("0.04")
    e.run("cancel-order", e.a, {"instId": SPOT, "ordId": r["ordId"]})
    assert e.a.balances["USDT"].frozen == 0


def test_insufficient_balance() -> None:
    e = Env()
    r = e.place(e.a, instId=SPOT, side="buy", px="50000", sz="100")
    assert (r["sCode"], r["subCode"]) == ("51008", "1000")
    r = e.place(e.a, side="buy", px="60000", sz="100000")
    assert (r["sCode"], r["subCode"]) == ("51008", "1001")


def test_post_only_crossing_is_accepted_then_canceled() -> None:
    e = Env()
    e.place(e.a, side="sell", px="60000", sz="1")
    e.pushes()
    r = e.place(e.b, side="buy", ordType="post_only", px="60000", sz="1")
    assert r["sCode"] == "0"
    pushes = e.pushes("b")
    assert [(p["state"], p["cancelSource"]) for p in pushes] == [("canceled", "31")]
    ok = e.place(e.b, side="buy", ordType="post_only", px="59999", sz="1")
    assert e.order(e.b, ok["ordId"]).state == "live"


def test_ioc_fok_market() -> None:
    e = Env()
    e.place(e.a, side="sell", px="60000", sz="1")
    ioc = e.place(e.b, side="buy", ordType="ioc", px="60000", sz="3")
    o = e.order(e.b, ioc["ordId"])
    assert (o.state, o.cancel_source, o.acc_lots) == ("canceled", "14", 100)
    e.place(e.a, side="sell", px="60000", sz="1")
    fok = e.place(e.b, side="buy", ordType="fok", px="60000", sz="2")
    o = e.order(e.b, fok["ordId"])
    assert (o.state, o.cancel_source, o.acc_lots) == ("canceled", "13", 0)
    fok2 = e.place(e.b, side="buy", ordType="fok", px="60000", sz="1")
    assert e.order(e.b, fok2["ordId"]).state == "filled"
    # spot market buy sized in quote
    e.place(e.a, instId=SPOT, side="sell", px="50000", sz="1")
    mkt = e.place(e.b, instId=SPOT, side="buy", ordType="market", sz="1000")
    o = e.order(e.b, mkt["ordId"])
    assert o.state == "filled"
    assert o.inst.sz(o.acc_lots) == D("0.02")
    assert o.to_okx(rest=True)["sz"] == "1000"


def test_self_trade_prevention() -> None:
    e = Env()
    own = e.place(e.a, side="sell", px="60000", sz="1")
    other = e.place(e.b, side="sell", px="60000", sz="1")
    t = e.place(e.a, side="buy", px="60000", sz="1")
    assert e.order(e.a, own["ordId"]).cancel_source == "32"
    assert e.order(e.b, other["ordId"]).state == "filled"
    assert e.order(e.a, t["ordId"]).state == "filled"
    e.place(e.a, side="sell", px="60000", sz="1")
    t2 = e.place(e.a, side="buy", px="60000", sz="1", stpMode="cancel_taker")
    assert e.order(e.a, t2["ordId"]).cancel_source == "32"


def test_amend_rules() -> None:
    e = Env()
    first = e.place(e.a, side="sell", px="60000", sz="2")
    second = e.place(e.b, side="sell", px="60000", sz="1")
    r = e.run(
        "amend-order", e.a, {"instId": SWAP, "ordId": first["ordId"], "newSz": "1", "reqId": "r1"}
    )
    assert r.data[0]["sCode"] == "0"
    assert r.data[0]["reqId"] == "r1"
    pushes = e.pushes("a")
    assert pushes[-1]["amendResult"] == "0"
    assert pushes[-1]["reqId"] == "r1"
    assert pushes[-1]["sz"] == "1"
    e.place(e.c, side="buy", px="60000", sz="1")  # size down kept priority: first fills
    assert e.order(e.a, first["ordId"]).state == "filled"
    assert e.order(e.b, second["ordId"]).acc_lots == 0
    # price change loses priority
    x = e.place(e.a, side="sell", px="60001", sz="1")
    e.run("amend-order", e.a, {"instId": SWAP, "ordId": x["ordId"], "newPx": "60000"})
    e.place(e.c, side="buy", px="60000", sz="1")
    assert e.order(e.b, second["ordId"]).state == "filled"
    assert e.order(e.a, x["ordId"]).acc_lots == 0
    # errors
    r = e.run("amend-order", e.a, {"instId": SWAP, "ordId": x["ordId"]})
    assert r.data[0]["sCode"] == "51500"
    r = e.run("amend-order", e.a, {"instId": SWAP, "ordId": first["ordId"], "newSz": "3"})
    assert r.data[0]["sCode"] == "51503"
    po = e.place(e.b, side="buy", ordType="post_only", px="59990", sz="1")
    r = e.run("amend-order", e.b, {"instId": SWAP, "ordId": po["ordId"], "newPx": "60000"})
    assert r.data[0]["sCode"] == "51511"
    r = e.run(
        "amend-batch-orders",
        e.b,
        [
            {"instId": SWAP, "ordId": po["ordId"], "newSz": "2"},
            {"instId": SWAP, "ordId": po["ordId"], "newSz": "3"},
        ],
    )
    assert [d["sCode"] for d in r.data] == ["0", "51512"]
    assert r.code == "2"
    # newSz <= filled → filled
    e.run("cancel-order", e.a, {"instId": SWAP, "ordId": x["ordId"]})
    part = e.place(e.a, side="sell", px="60000", sz="2")
    e.place(e.c, side="buy", px="60000", sz="1")
    e.run("amend-order", e.a, {"instId": SWAP, "ordId": part["ordId"], "newSz": "1"})
    assert e.order(e.a, part["ordId"]).state == "filled"


def test_cancel_all_after_fires_with_source_20() -> None:
    e = Env()
    e.place(e.a, side="buy", px="59000", sz="1", tag="t1")
    e.place(e.a, side="buy", px="59000", sz="1")
    trig = e.ex.arm_cancel_all_after(e.a, 10, "", e.now)
    assert trig == e.now + 10_000
    assert e.ex.fire_timers(e.now + 9_999) == 0
    e.pushes()
    assert e.ex.fire_timers(e.now + 10_000) == 2
    assert e.a.live == {}
    assert {p["cancelSource"] for p in e.pushes("a")} == {"20"}
    e.place(e.a, side="buy", px="59000", sz="1")
    e.ex.arm_cancel_all_after(e.a, 10, "", e.now)
    e.ex.arm_cancel_all_after(e.a, 0, "", e.now)
    assert e.ex.fire_timers(e.now + 60_000) == 0
    assert len(e.a.live) == 1


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"px": "60000", "sz": "0.001"}, "51121"),
        ({"instId": SPOT, "px": "60000", "sz": "0.000001"}, "51020"),
        ({"px": "60000.05", "sz": "1"}, "51000"),
        ({"instId": "NOPE-USDT", "px": "1", "sz": "1"}, "51001"),
        ({"px": "60000", "sz": "1", "side": "up"}, "51000"),
        ({"px": "60000", "sz": "1", "ordType": "stop"}, "51000"),
        ({"px": "60000", "sz": "1", "clOrdId": "bad-id!"}, "51000"),
        ({"px": "90000", "sz": "1"}, "51006"),
        ({"px": "60000", "sz": "1", "reduceOnly": "true"}, "51169"),
        ({"px": "60000", "sz": "abc"}, "51000"),
        ({"px": "60000", "sz": "1", "tdMode": "cash"}, "51000"),
    ],
)
def test_place_rejections(fields: dict[str, str], code: str) -> None:
    e = Env()
    r = e.place(e.a, **{"side": "buy", **fields})
    assert r["sCode"] == code, r


def test_missing_required_field_fails_the_request() -> None:
    e = Env()
    r = e.run("order", e.a, {"instId": SWAP, "tdMode": "cross", "side": "buy", "sz": "1"})
    assert (r.code, r.http, r.data) == ("50014", 400, [])
    r = e.run(
        "order",
        e.a,
        {"instId": SWAP, "tdMode": "cross", "side": "buy", "ordType": "limit", "sz": "1"},
    )
    assert r.code == "50014"
    assert "px" in r.msg


def test_batch_codes_and_duplicates() -> None:
    e = Env()
    good = {
        "instId": SWAP,
        "tdMode": "cross",
        "side": "buy",
        "ordType": "limit",
        "px": "59000",
        "sz": "1",
    }
    r = e.run("batch-orders", e.a, [{**good, "clOrdId": "x1"}, {**good, "clOrdId": "x2"}])
    assert r.code == "0"
    r = e.run(
        "batch-orders",
        e.a,
        [{**good, "clOrdId": "x1"}, {**good, "clOrdId": "x3"}, {**good, "clOrdId": "x3"}],
    )
    assert r.code == "2"
    assert r.msg == "Bulk operation partially succeeded."
    assert [d["sCode"] for d in r.data] == ["51016", "0", "51016"]
    r = e.run("batch-orders", e.a, [{**good, "sz": "0.001"}])
    assert r.code == "1"
    assert r.data[0]["sCode"] == "51121"
    r = e.run("batch-orders", e.a, [good] * 21)
    assert r.code == "51111"
    r = e.run(
        "cancel-batch-orders",
        e.a,
        [{"instId": SWAP, "clOrdId": "x1"}, {"instId": SWAP, "ordId": "123"}, {"instId": SWAP}],
    )
    assert [d["sCode"] for d in r.data] == ["0", "51400", "51003"]
    # clOrdId reusable once the order is terminal
    r = e.run("order", e.a, {**good, "clOrdId": "x1"})
    assert r.code == "0"


def test_numeric_and_boolean_field_spellings() -> None:
    e = Env()
    r = e.run(
        "order",
        e.a,
        {
            "instId": SWAP,
            "tdMode": "cross",
            "side": "buy",
            "ordType": "limit",
            "px": 59000,
            "sz": 1,
            "reduceOnly": False,
            "clOrdId": "",
            "tag": None,
            "posSide": "",
        },
    )
    assert r.code == "0", r
    code = e.ex.instruments[SWAP].code
    r = e.run(
        "order",
        e.a,
        {
            "instIdCode": code,
            "tdMode": "cross",
            "side": "buy",
            "ordType": "limit",
            "px": "59000",
            "sz": "1",
        },
    )
    assert r.code == "0", r


def test_rate_limits_per_instrument_and_batch_of_one_counts_as_single() -> None:
    e = Env(rate_limits=True)
    good = {
        "instId": SWAP,
        "tdMode": "cross",
        "side": "buy",
        "ordType": "limit",
        "px": "59000",
        "sz": "0.01",
    }
    now = T0
    codes = [e.tr.run("order", e.a, good, now).code for _ in range(60)]
    assert set(codes) == {"0"}
    r = e.tr.run("order", e.a, good, now + 10)
    assert (r.code, r.http) == ("50011", 429)
    r = e.tr.run("batch-orders", e.a, [good], now + 10)  # one-element batch: single limit
    assert r.data[0]["sCode"] == "50011"
    r = e.tr.run("order", e.a, {**good, "instId": "ETH-USDT-SWAP", "px": "2900"}, now + 10)
    assert r.code == "0"  # other instrument, own bucket
    r = e.tr.run("batch-orders", e.a, [good, good], now + 10)  # batch bucket is separate
    assert r.code == "0"
    assert e.tr.run("order", e.a, good, now + 2_001).code == "0"  # window passed


def test_self_trade_prevention_cancel_both_and_its_fok_refusal() -> None:
    e = Env()
    own = e.place(e.a, side="sell", px="60000", sz="1")
    t = e.place(e.a, side="buy", px="60000", sz="1", stpMode="cancel_both")
    assert e.order(e.a, own["ordId"]).cancel_source == "32"
    assert e.order(e.a, t["ordId"]).cancel_source == "32"
    assert e.order(e.a, t["ordId"]).acc_lots == 0  # never filled against its own order
    r = e.run(
        "order",
        e.a,
        {
            "instId": SWAP,
            "tdMode": "cross",
            "side": "buy",
            "ordType": "fok",
            "px": "60000",
            "sz": "1",
            "stpMode": "cancel_both",
        },
    )
    assert r.data[0]["sCode"] == "50016"
