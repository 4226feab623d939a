"""Snapshot, revaluation and P&L for each position type, several currencies, a closed position."""

from __future__ import annotations

from decimal import Decimal

from risk.inputs import InstrumentSpec, PositionKey, PositionRow
from risk.measurement import measure
from risk.prices import PriceSource
from risk.revalue import assumed_value
from risk.snapshot import PositionValue

from .helpers import BTC_INV, BTC_OPT, bal, market, snap, swap_pos

D = Decimal


def test_linear_closed_position_pnl_includes_fee_and_forgone_markup() -> None:
    m0 = market(mids={"BTC-USDT": "40100"})
    inception = snap(
        1,
        "20050",
        [bal("USDT", "20000")],
        [swap_pos("BTC-USDT-SWAP", "50", "40000", "40100", "50")],
        m0,
    )
    # Sold all 50 contracts at 40200: +100 realised, fee 10.05; the mark then went to 40300.
    m1 = market(mids={"BTC-USDT": "40300"}, marks={"BTC-USDT-SWAP": "40300"})
    current = snap(2, "20089.95", [bal("USDT", "20089.95")], [], m1)
    meas = measure(inception, current, m1, [("BTC-USDT-SWAP", "SWAP")])
    # Holding would have been worth 50 × 0.01 × (40300 − 40000) = 150 now.
    assert meas.pnl_in_usd_since_running == D("-60.05")
    assert meas.pnl_in_usd_since_running == D("0.5") * (40200 - 40300) - D("10.05")
    assert meas.trading_instrument_exposure_in_base("BTC-USDT-SWAP") == D("-0.5")
    assert meas.asset_value_change_in_usd_since_running == D("39.95")


def test_inverse_swap_value_exposure_and_pnl_in_coin() -> None:
    m0 = market(mids={"BTC-USDT": "40000"})
    inv0 = PositionRow("BTC-USD-SWAP", "SWAP", "cross", "net", D(400), D(40000), D(40000))
    inception = snap(1, "40000", [bal("BTC", "1")], [inv0], m0)
    pv = inception.positions[PositionKey("BTC-USD-SWAP", "cross", "net")]
    assert (pv.value_ccy, pv.exposure_ccy, pv.exposure) == ("BTC", "BTC", D(1))
    # Bought 400 more at 40000 (fee 0.0005 BTC); mark 50000.
    m1 = market(mids={"BTC-USDT": "50000"}, marks={"BTC-USD-SWAP": "50000"})
    inv1 = PositionRow(
        "BTC-USD-SWAP", "SWAP", "cross", "net", D(800), D(40000), D(50000), upl=D("0.4")
    )
    current = snap(2, "69975", [bal("BTC", "0.9995")], [inv1], m1)
    assert assumed_value(pv, D(50000)) == D("0.2")
    meas = measure(inception, current, m1, [("BTC-USD-SWAP", "SWAP")])
    assert meas.pnl_by_ccy == {"BTC": D("0.1995")}
    assert meas.pnl_in_usd_since_running == D("9975")
    assert meas.trading_instrument_exposure_in_base("BTC-USD-SWAP") == D(1)
    assert meas.trading_instrument_exposure_in_quote("BTC-USD-SWAP") == D(50000)
    assert current.price["USD"] == 1


def _opt(pos: str, mark: str, delta_pa: str) -> PositionRow:
    opt_val = D(pos) * D("0.01") * D(mark)
    return PositionRow(
        BTC_OPT.inst,
        "OPTION",
        "cross",
        "net",
        D(pos),
        D("0.06"),
        D(mark),
        opt_val=opt_val,
        delta_bs=D(9999),
        delta_pa=D(delta_pa),
    )


def test_option_value_revaluation_and_pnl() -> None:
    m0 = market(mids={"BTC-USDT": "50000"})
    inception = snap(1, "0", [bal("BTC", "1")], [_opt("10", "0.05", "0.03")], m0)
    key = PositionKey(BTC_OPT.inst, "cross", "net")
    assert inception.positions[key].asset_value == D("0.005")
    assert inception.positions[key].exposure == D("0.03")
    # Untouched, mark up: no trading P&L.
    held = snap(2, "0", [bal("BTC", "1")], [_opt("10", "0.07", "0.04")], m0)
    assert measure(inception, held, m0).pnl_in_usd_since_running == 0
    # Bought 10 more at 0.06 (0.006 BTC) with a 0.0003 BTC fee.
    current = snap(3, "0", [bal("BTC", "0.9937")], [_opt("20", "0.07", "0.08")], m0)
    meas = measure(inception, current, m0, [(BTC_OPT.inst, "OPTION")])
    assert meas.pnl_by_ccy["BTC"] == D("0.0007")
    assert meas.pnl_in_usd_since_running == D(35)
    assert meas.trading_instrument_exposure_in_base(BTC_OPT.inst) == D("0.05")


def test_margin_long_isolated_value_exposure_and_pnl() -> None:
    m0 = market(mids={"BTC-USDT": "40000"})
    inception = snap(1, "10000", [bal("USDT", "10000")], [], m0)
    # 5000 USDT margin moved in, 15000 borrowed, 0.5 BTC bought at 40000; mark 42000.
    row = PositionRow(
        "BTC-USDT",
        "MARGIN",
        "isolated",
        "net",
        D("0.5"),
        D(40000),
        D(42000),
        upl=D(1000),
        margin=D(5000),
        liab=D(-15000),
        pos_ccy="BTC",
        ccy="USDT",
    )
    m1 = market(mids={"BTC-USDT": "42000"})
    current = snap(2, "11000", [bal("USDT", "5000")], [row], m1)
    pv = current.positions[row.key]
    assert (pv.value_ccy, pv.asset_value, pv.exposure) == ("USDT", D(6000), D("0.5"))
    assert assumed_value(pv, D(42000)) == D(6000)  # pos × m + liab: the same equity
    meas = measure(inception, current, m1, [("BTC-USDT", "MARGIN")])
    assert meas.pnl_in_usd_since_running == D(1000)
    assert meas.trading_instrument_exposure_in_base("BTC-USDT") == D("0.5")
    assert meas.trading_instrument_exposure_in_quote("BTC-USDT") == D(21000)


def test_margin_revaluation_rows() -> None:
    def pv(pos_ccy: str, ccy: str, pos: str, liab: str, margin: str = "0") -> PositionValue:
        row = PositionRow(
            "BTC-USDT",
            "MARGIN",
            "isolated",
            "net",
            D(pos),
            margin=D(margin),
            liab=D(liab),
            pos_ccy=pos_ccy,
            ccy=ccy,
        )
        return PositionValue(row, None, ccy, D(7), "BTC", D(0))

    m = D(50000)
    assert assumed_value(pv("BTC", "BTC", "1", "-25000"), m) == D("0.5")  # pos + liab/m
    assert assumed_value(pv("USDT", "USDT", "60000", "-1"), m) == D(10000)  # pos + liab·m
    assert assumed_value(pv("BTC", "USDT", "1", "-25000"), m) == D(25000)  # pos·m + liab
    assert assumed_value(pv("USDT", "BTC", "40000", "-1", "0.5"), m) == D("0.3")


def test_spot_several_currencies_with_cross_priced_eth() -> None:
    # No ETH-USDT ticker: ETH is priced through ETH-BTC × BTC-USDT.
    m = market(mids={"BTC-USDT": "40000", "ETH-BTC": "0.05"})
    assert PriceSource(m).usd("ETH") == D(2000)
    inception = snap(1, "0", [bal("BTC", "1"), bal("ETH", "10"), bal("USDT", "1000")], [], m)
    assert inception.price == {"BTC": D(40000), "ETH": D(2000), "USDT": D(1)}
    assert inception.delta_usd == D(60000)  # USDT is risk-free: no delta
    # Sold 5 ETH for 0.2505 BTC (at 0.0501), fee 0.0001 BTC.
    current = snap(2, "0", [bal("BTC", "1.2504"), bal("ETH", "5"), bal("USDT", "1000")], [], m)
    meas = measure(inception, current, m, [("ETH-BTC", "SPOT")])
    assert meas.pnl_by_ccy == {"BTC": D("0.2504"), "ETH": D(-5), "USDT": D(0)}
    assert meas.pnl_in_usd_since_running == D("0.2504") * 40000 - 5 * 2000
    assert meas.trading_instrument_exposure_in_base("ETH-BTC") == D(-5)
    assert meas.trading_instrument_exposure_in_quote("ETH-BTC") == D("-0.25")


def test_inverse_spec_multiplier_used() -> None:
    assert BTC_INV.multiplier == D(100)
    assert InstrumentSpec("X-USDT-SWAP", "SWAP", ct_val=D("0.1"), ct_mult=D(10)).multiplier == 1
    assert swap_pos("BTC-USDT-SWAP", "1", "1", "1", "0").signed_pos == 1


def test_stale_pushed_upl_is_revalued_at_the_latest_mark() -> None:
    """Beyond the original: positions are pushed on events only, so their upl goes stale."""
    m = market(mids={"BTC-USDT": "40300"}, marks={"BTC-USDT-SWAP": "40300"})
    stale = swap_pos("BTC-USDT-SWAP", "50", "40000", "40100", "50")
    key = PositionKey("BTC-USDT-SWAP", "cross", "net")
    s = snap(1, "0", [], [stale], m)
    assert s.positions[key].asset_value == D(150)
    assert s.mark["BTC-USDT-SWAP"] == D(40300)
    from risk.snapshot import build_snapshot

    as_pushed = build_snapshot(1, D(0), [], [stale], m, revalue_at_mark=False)
    assert as_pushed.positions[key].asset_value == D(50)  # the original's number
    inverse = PositionRow("BTC-USD-SWAP", "SWAP", "cross", "net", D(400), D(40000), D(40000))
    m.on_mark("BTC-USD-SWAP", D(50000))
    assert snap(1, "0", [], [inverse], m).positions[inverse.key].asset_value == D("0.2")
