"""Multi-currency margin accounts (acctLv 3) on a real in-process server: the balance and
position margin fields from the shared tier table, the tier and risk-state endpoints, and the
venue's liquidation after an admin price crash (risk cancellation first, then the position)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from ops.exchange.testing import rest_headers
from tests.ops.exchange.conftest import Server

SWAP = "BTC-USDT-SWAP"
MC = ("mc3", "ms3", "mp3")
D = Decimal


@pytest.fixture
def exchange_overrides() -> dict[str, Any]:
    return {
        "rate_limits": False,
        "accounts": [
            {
                "api_key": MC[0],
                "secret": MC[1],
                "passphrase": MC[2],
                "acct_lv": 3,
                "balances": {"USDT": "1000", "BTC": "1"},
            },
        ],
        "margin_tiers": {
            "discount": {"BTC": [{"max_amt": "5", "rate": "0.9"}, {"rate": "0.5"}]},
            "position": {
                "BTC": [
                    {"max_size": "10", "mmr": "0.004", "imr": "0.01"},
                    {"mmr": "0.01", "imr": "0.02"},
                ]
            },
            "liq_fee_rate": "0.0005",
        },
    }


async def _get(s: Server, path: str) -> Any:
    r = await s.http.get(path, headers=rest_headers(MC, "GET", path))
    return r.json()


def _long_one_btc(
    s: Server, px: str = "50000", btc: str | None = None, usdt: str | None = None
) -> None:
    """A 1 BTC long at ``px`` with both marks at ``px`` (set in the venue: exact numbers)."""
    ex = s.venue.ex
    acct = ex.accounts[MC[0]]
    if btc is not None:
        acct.balances["BTC"].cash = D(btc)
    if usdt is not None:
        acct.balances["USDT"].cash = D(usdt)
    inst = ex.instruments[SWAP]
    ex.marks[SWAP] = ex.marks["BTC-USDT"] = D(px)
    acct.position(inst, 1, 0).apply(10_000, D(px))  # 10 000 lots × 0.01 × 0.01 BTC = 1 BTC
    assert inst.base_qty(10_000) == 1


async def test_balance_and_position_fields_follow_the_tier_table(server: Server) -> None:
    _long_one_btc(server)
    bal = (await _get(server, "/api/v5/account/balance"))["data"][0]
    # BTC 1 @ 50 000 × 0.9 = 45 000; USDT 1 000 → adjEq 46 000; notional 50 000 → MMR 200,
    # IMR 500, liquidation fee 25 → ratio 46 000 / 225
    assert (D(bal["adjEq"]), D(bal["totalEq"])) == (D(46000), D(51000))
    assert (D(bal["mmr"]), D(bal["imr"]), D(bal["notionalUsd"])) == (D(200), D(500), D(50000))
    assert D(bal["mgnRatio"]) == pytest.approx(D(46000) / D(225), rel=D("1e-20"))
    btc = next(d for d in bal["details"] if d["ccy"] == "BTC")
    assert (D(btc["eq"]), D(btc["eqUsd"]), D(btc["disEq"]), D(btc["liab"])) == (
        D(1),
        D(50000),
        D(45000),
        D(0),
    )
    (pos,) = (await _get(server, "/api/v5/account/positions"))["data"]
    assert (D(pos["mmr"]), D(pos["imr"]), D(pos["notionalUsd"])) == (D(200), D(500), D(50000))
    assert pos["mgnRatio"] == bal["mgnRatio"]
    # adjEq(P) = 1 000 + (P − 50 000) + 0.9 P; need 0.0045 P; ratio 1 at P = 49 000 / 1.8955
    assert D(pos["liqPx"]) == pytest.approx(D(49000) / D("1.8955"), abs=D("0.0001"))


async def test_a_liability_shows_in_the_currency_details(server: Server) -> None:
    _long_one_btc(server, btc="0")
    server.venue.ex.marks[SWAP] = D(48000)  # upl −2 000: USDT eq −1 000
    bal = (await _get(server, "/api/v5/account/balance"))["data"][0]
    usdt = next(d for d in bal["details"] if d["ccy"] == "USDT")
    assert (D(usdt["eq"]), D(usdt["liab"]), D(usdt["disEq"])) == (D(-1000), D(1000), D(-1000))
    assert D(bal["mgnRatio"]) < 0


async def test_tier_and_risk_state_endpoints(server: Server) -> None:
    (btc,) = (await _get(server, "/api/v5/public/discount-rate-interest-free-quota?ccy=BTC"))[
        "data"
    ]
    assert [(t["minAmt"], t["maxAmt"], t["discountRate"]) for t in btc["details"]] == [
        ("0", "5", "0.9"),
        ("5", "", "0.5"),
    ]
    path = "/api/v5/public/position-tiers?instType=SWAP&tdMode=cross&instFamily=BTC-USDT"
    tiers = (await _get(server, path))["data"]
    assert [(t["minSz"], t["maxSz"], t["mmr"], t["maxLever"]) for t in tiers] == [
        ("0", "10", "0.004", "100"),
        ("10", "", "0.01", "50"),
    ]
    mine = (await _get(server, path.replace("public", "account")))["data"]
    assert mine == tiers
    bad = await _get(server, "/api/v5/public/position-tiers?instFamily=BTC-USDT")
    assert bad["code"] == "50014"
    (risk,) = (await _get(server, "/api/v5/account/risk-state"))["data"]
    assert risk["atRisk"] is False


async def test_a_crash_liquidates_after_canceling_orders(server: Server) -> None:
    # at the market's own 60 000; the sell's margin fits before the crash
    _long_one_btc(server, px="60000", btc="0", usdt="7000")
    body = (
        '{"instId":"BTC-USDT-SWAP","tdMode":"cross","side":"sell","ordType":"limit",'
        '"px":"62000","sz":"10","clOrdId":"liq1"}'
    )
    path = "/api/v5/trade/order"
    r = await server.http.post(path, content=body, headers=rest_headers(MC, "POST", path, body))
    assert r.json()["data"][0]["sCode"] == "0", r.json()
    await server.admin("/admin/faults", {"shock_pct": -20})
    mark = server.venue.ex.marks[SWAP]
    assert mark < D(50000)  # adjEq 7 000 − 12 000 < 0
    order = (await _get(server, f"/api/v5/trade/order?instId={SWAP}&clOrdId=liq1"))["data"][0]
    assert (order["state"], order["cancelSource"]) == ("canceled", "3")
    assert (await _get(server, "/api/v5/account/positions"))["data"] == []
    bal = (await _get(server, "/api/v5/account/balance"))["data"][0]
    usdt = next(d for d in bal["details"] if d["ccy"] == "USDT")
    # closed at the mark: 7 000 + (mark − 60 000) − 0.0005 × mark
    assert D(usdt["cashBal"]) == 7000 + (mark - 60000) - D("0.0005") * mark
    events = await server.admin("/admin/events?kind=liquidation")
    assert events["events"], events
