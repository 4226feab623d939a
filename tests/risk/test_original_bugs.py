"""Each bug of the original on the risk path (§10.1, §6.3, §6.5), named, with the original's
value next to the corrected one."""

from __future__ import annotations

from decimal import Decimal, DivisionByZero, InvalidOperation

import pytest

from risk.caches import MarketCache
from risk.inputs import PositionKey, PositionRow
from risk.measurement import measure
from risk.prices import PriceSource, usd_rate
from risk.revalue import assumed_value, current_mark

from .helpers import BTC_OPT, bal, market, snap, swap_pos

D = Decimal


def test_bug_quote_price_stored_under_exposure_ccy_is_fixed() -> None:
    """§10.1 #5: an inverse swap (quote USD, unpriced) set BTC's price to 0 for everything after
    it; the linear swap's delta and the BTC exposure in quote then came out as 0."""
    m = market(mids={"BTC-USDT": "40000"})
    inverse = PositionRow("BTC-USD-SWAP", "SWAP", "cross", "net", D(100), D(40000), D(40000))
    linear = swap_pos("BTC-USDT-SWAP", "10", "40000", "40000", "0")
    s = snap(1, "0", [bal("BTC", "1"), bal("USDT", "1000")], [inverse, linear], m)
    original_btc_price, original_delta_usd = D(0), D(50000)
    assert s.price["BTC"] == D(40000) != original_btc_price
    assert s.price["USD"] == 1
    # cash 1 BTC + inverse 0.25 BTC + linear 0.1 BTC, all at 40000
    assert s.delta_usd == D(54000) != original_delta_usd
    inception = snap(0, "0", [bal("BTC", "1"), bal("USDT", "1000")], [inverse], m)
    meas = measure(inception, s, m, [("BTC-USDT-SWAP", "SWAP")])
    original_quote_exposure = D(0)  # 0.1 × price[BTC]=0 / 1
    assert meas.trading_instrument_exposure_in_quote("BTC-USDT-SWAP") == D(4000)
    assert original_quote_exposure != D(4000)


def test_bug_margin_quote_without_balance_priced_base_at_one_is_fixed() -> None:
    """§10.1 #5: a MARGIN ETH-USDT position without a USDT balance set ETH's price to 1."""
    m = market(mids={"ETH-USDT": "2000"})
    row = PositionRow("ETH-USDT", "MARGIN", "cross", "net", D(2), pos_ccy="ETH", ccy="ETH")
    s = snap(1, "0", [bal("ETH", "1")], [row], m)
    original_eth_price = D(1)
    assert s.price["ETH"] == D(2000) != original_eth_price
    assert s.price["USDT"] == 1


def test_bug_usdt_usd_rate_inverted_test_is_fixed() -> None:
    """§10.1 #6: the rate was always 1 (and raised with neither BTC swap mark)."""
    m = market(
        mids={"BTC-USDT": "40000"}, marks={"BTC-USD-SWAP": "40040", "BTC-USDT-SWAP": "40000"}
    )
    original_rate, original_btc_usd = D(1), D(40000)
    assert usd_rate(m) == D("1.001") != original_rate
    assert PriceSource(m).usd("BTC") == D(40040) != original_btc_usd
    assert PriceSource(m).usd("USDT") == D("1.001")
    # Neither mark cached: the original raised KeyError; 1 here.
    assert usd_rate(MarketCache()) == 1
    # Unquoted stablecoins: the original priced them 0.
    assert PriceSource(MarketCache()).usd("USDC") == 1
    assert PriceSource(MarketCache()).usd("DOGE") == 0


def test_bug_exposure_in_quote_raises_when_unpriced_is_fixed() -> None:
    """§10.1 #7: a USDT-only account quoting a swap while flat raised every loop."""
    m = market()  # no BTC price anywhere
    inception = snap(1, "1000", [bal("USDT", "1000")], [], m)
    current = snap(2, "1000", [bal("USDT", "1000")], [], m)
    meas = measure(inception, current, m, [("BTC-USDT-SWAP", "SWAP"), ("BTC-USDT", "SPOT")])
    assert meas.trading_instrument_exposure_in_base("BTC-USDT-SWAP") == 0
    assert meas.trading_instrument_exposure_in_quote("BTC-USDT-SWAP") == 0
    assert meas.trading_instrument_exposure_in_base("BTC-USDT") == 0  # no BTC cash entry
    # With a position and still no price: unknown (None), not an exception.
    pos = swap_pos("BTC-USDT-SWAP", "10", "40000", "0", "0")
    later = snap(3, "1000", [bal("USDT", "1000")], [pos], m)
    meas = measure(inception, later, m, [("BTC-USDT-SWAP", "SWAP")])
    assert meas.trading_instrument_exposure_in_base("BTC-USDT-SWAP") == D("0.1")
    assert meas.trading_instrument_exposure_in_quote("BTC-USDT-SWAP") is None


def test_bug_revalued_zero_treated_as_missing_is_fixed() -> None:
    """§10.1 #8: mark back exactly at avgPx → assumed value 0 → original used the inception
    value (50) instead, reporting a loss of 50 with nothing traded."""
    m0 = market(mids={"BTC-USDT": "40100"})
    inception = snap(
        1,
        "20050",
        [bal("USDT", "20000")],
        [swap_pos("BTC-USDT-SWAP", "50", "40000", "40100", "50")],
        m0,
    )
    m1 = market(mids={"BTC-USDT": "40000"})
    current = snap(
        2,
        "20000",
        [bal("USDT", "20000")],
        [swap_pos("BTC-USDT-SWAP", "50", "40000", "40000", "0")],
        m1,
    )
    original_pnl = D(-50)
    assert measure(inception, current, m1).pnl_in_usd_since_running == 0 != original_pnl


def test_bug_hedge_mode_short_counted_as_long_is_fixed() -> None:
    """§10.1 #9: posSide=short with positive pos was a long: exposure and revaluation flipped."""
    m0 = market(mids={"BTC-USDT": "40000"})
    short0 = swap_pos("BTC-USDT-SWAP", "10", "40000", "40000", "0", side="short")
    inception = snap(1, "0", [bal("USDT", "1000")], [short0], m0)
    key = PositionKey("BTC-USDT-SWAP", "cross", "short")
    original_exposure = D("0.1")
    assert inception.positions[key].exposure == D("-0.1") != original_exposure
    m1 = market(mids={"BTC-USDT": "41000"})
    short1 = swap_pos("BTC-USDT-SWAP", "10", "40000", "41000", "-100", side="short")
    current = snap(2, "0", [bal("USDT", "1000")], [short1], m1)
    original_pnl = D(-200)  # upl −100 minus a "long" revaluation of +100
    assert measure(inception, current, m1).pnl_in_usd_since_running == 0 != original_pnl


def test_bug_option_exposure_from_usd_delta_is_fixed() -> None:
    """§10.1 #10: option exposure used deltaBS (USD); the coin delta is deltaPA."""
    m = market(mids={"BTC-USDT": "50000"})
    row = PositionRow(
        BTC_OPT.inst,
        "OPTION",
        "cross",
        "net",
        D(10),
        mark_px=D("0.05"),
        opt_val=D("0.005"),
        delta_bs=D(2000),
        delta_pa=D("0.04"),
    )
    s = snap(1, "0", [bal("BTC", "1")], [row], m)
    original_exposure = D(2000)
    assert s.positions[row.key].exposure == D("0.04") != original_exposure
    # Without deltaPA: deltaBS converted to coins at the BTC price.
    no_pa = PositionRow(BTC_OPT.inst, "OPTION", "cross", "net", D(10), delta_bs=D(2000))
    assert snap(1, "0", [], [no_pa], m).positions[no_pa.key].exposure == D("0.04")


def test_bug_margin_exposure_raw_pos_in_quote_is_fixed() -> None:
    """§10.1 #10: a short MARGIN position (posCcy = quote) reported its USDT amount as BTC."""
    m = market(mids={"BTC-USDT": "40000"})
    row = PositionRow(
        "BTC-USDT",
        "MARGIN",
        "cross",
        "net",
        D(4000),
        mark_px=D(40000),
        liab=D("-0.1"),
        pos_ccy="USDT",
        ccy="USDT",
    )
    s = snap(1, "0", [bal("USDT", "100")], [row], m)
    original_exposure = D(4000)
    assert s.positions[row.key].exposure == D("-0.1") != original_exposure


def test_bug_quote_posccy_margin_revaluation_omits_margin_is_fixed() -> None:
    """§10.1 #10: posCcy = quote ≠ ccy left the (base-currency) margin out of the revaluation."""
    row = PositionRow(
        "BTC-USDT",
        "MARGIN",
        "isolated",
        "net",
        D(4000),
        margin=D("0.05"),
        liab=D("-0.1"),
        pos_ccy="USDT",
        ccy="BTC",
    )
    from risk.snapshot import PositionValue

    pv = PositionValue(row, None, "BTC", D("0.04"), "BTC", D(0))
    original = D(4000) / 50000 - D("0.1")  # −0.02
    assert assumed_value(pv, D(50000)) == D("0.03") != original


def test_bug_exposure_substring_match_of_instid_is_fixed() -> None:
    """§10.1 #11: exposure of BTC-USDT (MARGIN) also summed BTC-USDT-SWAP positions."""
    m = market(mids={"BTC-USDT": "40000"})
    inception = snap(
        1, "0", [bal("USDT", "1")], [swap_pos("BTC-USDT-SWAP", "50", "40000", "40000", "0")], m
    )
    current = snap(
        2, "0", [bal("USDT", "1")], [swap_pos("BTC-USDT-SWAP", "80", "40000", "40000", "0")], m
    )
    meas = measure(inception, current, m, [("BTC-USDT", "MARGIN"), ("BTC-USDT-SWAP", "SWAP")])
    original_margin_exposure = D("0.3")
    assert meas.trading_instrument_exposure_in_base("BTC-USDT") == 0 != original_margin_exposure
    assert meas.trading_instrument_exposure_in_base("BTC-USDT-SWAP") == D("0.3")


def test_bug_flat_inverse_empty_avgpx_division_by_zero_is_fixed() -> None:
    """§10.1 #12: a flat inverse position with empty avgPx divided by zero in the snapshot."""
    with pytest.raises((DivisionByZero, InvalidOperation)):
        _ = D(0) * 100 / D(0)  # what the original computed
    m = market(mids={"BTC-USDT": "40000"})
    flat = PositionRow("BTC-USD-SWAP", "SWAP", "cross", "net", D(0))
    s = snap(1, "0", [bal("BTC", "1")], [flat], m)
    assert s.positions[flat.key].exposure == 0
    assert assumed_value(s.positions[flat.key], D(40000)) == 0
    # Non-flat with avgPx missing: the mark stands in.
    odd = PositionRow("BTC-USD-SWAP", "SWAP", "cross", "net", D(100), mark_px=D(50000))
    assert snap(1, "0", [], [odd], m).positions[odd.key].exposure == D("0.2")


def test_bug_no_current_mark_raises_for_retired_instrument_is_fixed() -> None:
    """§6.5: an inception position whose instrument no longer has a mark raised ("retired");
    the last mark seen, else the inception mark, is used instead."""
    m0 = market(mids={"BTC-USDT": "40000"}, marks={"BTC-USDT-SWAP": "40500"})
    row = swap_pos("BTC-USDT-SWAP", "50", "40000", "40500", "250")
    inception = snap(1, "0", [bal("USDT", "1000")], [row], m0)
    m0.marks.clear()  # stopped quoting; last_marks keeps 40500
    current = snap(2, "0", [bal("USDT", "1000")], [], m0)
    assert current_mark("BTC-USDT-SWAP", current, m0, D(1)) == D(40500)
    assert measure(inception, current, m0).pnl_in_usd_since_running == D(-250)
    assert current_mark("BTC-USDT-SWAP", current, MarketCache(), row.mark_px) == D(40500)


def test_bug_value_ccy_priced_without_usd_rate_is_fixed() -> None:
    """§6.3: a position's value currency missing from the balances was priced with
    ``usdt_price`` (no USDT→USD rate) while every other price had the rate."""
    m = market(
        mids={"BTC-USDT": "40000"}, marks={"BTC-USD-SWAP": "40040", "BTC-USDT-SWAP": "40000"}
    )
    inverse = PositionRow("BTC-USD-SWAP", "SWAP", "cross", "net", D(100), D(40000), D(40040))
    s = snap(1, "0", [bal("USDT", "1000")], [inverse], m)  # no BTC balance
    original_btc_price = D(40000)
    assert s.price["BTC"] == D(40040) != original_btc_price
