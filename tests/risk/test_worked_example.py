"""§6.10 worked example of the original, number for number, plus its spot sanity check."""

from __future__ import annotations

from decimal import Decimal

from risk.inputs import PositionKey
from risk.measurement import measure
from risk.revalue import assumed_value

from .helpers import BTC_SPOT, bal, market, snap, swap_pos

D = Decimal
KEY = PositionKey("BTC-USDT-SWAP", "cross", "net")


def test_worked_example_snapshots_pnl_asset_change_and_exposure() -> None:
    m0 = market(mids={"BTC-USDT": "40100"}, marks={"BTC-USDT-SWAP": "40100"})
    inception = snap(
        1,
        "28070",
        [bal("BTC", "0.2"), bal("USDT", "20000")],
        [swap_pos("BTC-USDT-SWAP", "50", "40000", "40100", "50")],
        m0,
    )
    assert inception.price == {"BTC": D(40100), "USDT": D(1)}
    assert inception.positions[KEY].value_ccy == "USDT"
    assert inception.positions[KEY].asset_value == D(50)
    assert inception.positions[KEY].exposure == D("0.5")
    assert inception.delta_usd == D(28070)

    m1 = market(mids={"BTC-USDT": "40300"}, marks={"BTC-USDT-SWAP": "40300"})
    current = snap(
        2,
        "28248.9775",
        [bal("BTC", "0.2"), bal("USDT", "19993.9775")],
        [swap_pos("BTC-USDT-SWAP", "80", "40056.25", "40300", "195")],
        m1,
    )
    assert current.price == {"BTC": D(40300), "USDT": D(1)}
    assert current.positions[KEY].asset_value == D(195)
    assert current.positions[KEY].exposure == D("0.8")
    assert current.delta_usd == D(40300)

    assert assumed_value(inception.positions[KEY], D(40300)) == D(150)

    meas = measure(inception, current, m1, [("BTC-USDT-SWAP", "SWAP")])
    assert meas.pnl_by_ccy["USDT"] == D("38.9775")
    assert meas.pnl_by_ccy["BTC"] == 0
    assert meas.pnl_in_usd_since_running == D("38.9775")
    # = 0.3 BTC × (40300 − 40150) − 6.0225 fee
    assert meas.pnl_in_usd_since_running == D("0.3") * (40300 - 40150) - D("6.0225")
    assert meas.asset_value_change_in_usd_since_running == D("178.9775")
    assert meas.trading_instrument_exposure_in_base("BTC-USDT-SWAP") == D("0.3")
    assert meas.trading_instrument_exposure_in_quote("BTC-USDT-SWAP") == D(12090)


def test_spot_sanity_check_from_the_original_docstring() -> None:
    m = market(mids={"BTC-USDT": "36000"}, specs=(BTC_SPOT,))
    inception = snap(1, "66000", [bal("BTC", "1"), bal("USDT", "30000")], [], m)
    current = snap(2, "69000", [bal("BTC", "1.5"), bal("USDT", "15000")], [], m)
    meas = measure(inception, current, m, [("BTC-USDT", "SPOT")])
    assert meas.pnl_in_usd_since_running == D(3000)
    assert meas.trading_instrument_exposure_in_base("BTC-USDT") == D("0.5")
    assert meas.trading_instrument_exposure_in_quote("BTC-USDT") == D(18000)
