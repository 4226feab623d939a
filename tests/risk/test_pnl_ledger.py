"""Realised/unrealised P&L, fees by currency, per strategy and instrument; fill counters."""

from __future__ import annotations

from decimal import Decimal

from risk.fills import FillCounters
from risk.pnl import FillRecord, PnlBook, PnlLedger, pnl_ccy

from .helpers import BTC_INV, BTC_SPOT, BTC_SWAP, ETH_SWAP

D = Decimal
SPECS = {s.inst: s for s in (BTC_SWAP, ETH_SWAP, BTC_INV, BTC_SPOT)}


def fill(
    t: int,
    tid: str,
    inst: str,
    side: str,
    px: str,
    sz: str,
    fee: str = "0",
    fee_ccy: str = "USDT",
    cl: str = "",
) -> FillRecord:
    return FillRecord(t, tid, inst, side, D(px), D(sz), D(fee), fee_ccy, cl)


def test_linear_round_trip_realises_and_flips() -> None:
    book = PnlBook("BTC-USDT-SWAP", mult=D("0.01"))
    book.apply(fill(1, "1", "BTC-USDT-SWAP", "buy", "40000", "10", "-0.2"))
    book.apply(fill(2, "2", "BTC-USDT-SWAP", "buy", "40100", "10", "-0.2"))
    assert (book.qty, book.avg_px) == (D(20), D(40050))
    assert book.unrealised(D(40250)) == D(40)  # 20 × 0.01 × 200
    book.apply(fill(3, "3", "BTC-USDT-SWAP", "sell", "40200", "30", "-0.3"))
    assert book.realised == D(30)  # 20 × 0.01 × (40200 − 40050)
    assert (book.qty, book.avg_px) == (D(-10), D(40200))
    assert book.unrealised(D(40000)) == D(20)
    assert book.fees == {"USDT": D("-0.7")}


def test_inverse_round_trip_realises_in_coin() -> None:
    book = PnlBook("BTC-USD-SWAP", mult=D(100), inverse=True)
    book.apply(fill(1, "1", "BTC-USD-SWAP", "buy", "40000", "400"))
    assert book.unrealised(D(50000)) == D("0.2")
    book.apply(fill(2, "2", "BTC-USD-SWAP", "sell", "50000", "400"))
    assert book.realised == D("0.2")
    assert book.qty == 0


def test_ledger_dedups_attributes_and_splits_by_strategy_and_instrument() -> None:
    led = PnlLedger()
    assert led.on_fill(fill(1, "a", "BTC-USDT-SWAP", "buy", "40000", "10", "-0.2", cl="c1"))
    assert not led.on_fill(fill(1, "a", "BTC-USDT-SWAP", "buy", "40000", "10", "-0.2", cl="c1"))
    led.on_fill(fill(2, "b", "ETH-USDT-SWAP", "sell", "2000", "5", "-0.01", cl="c2"))
    led.on_fill(fill(3, "c", "BTC-USDT-SWAP", "sell", "40100", "10", "-0.2", cl="c3"))
    led.claim("c1", "mm-btc")
    led.claim("c3", "mm-btc")
    books = led.books(SPECS.get)
    assert set(books) == {("mm-btc", "BTC-USDT-SWAP"), ("", "ETH-USDT-SWAP")}
    btc = books[("mm-btc", "BTC-USDT-SWAP")]
    assert (btc.realised, btc.qty, btc.fees) == (D(10), D(0), {"USDT": D("-0.4")})
    eth = books[("", "ETH-USDT-SWAP")]
    assert (eth.qty, eth.avg_px) == (D(-5), D(2000))


def test_relayed_fill_is_replaced_by_the_authoritative_one() -> None:
    led = PnlLedger()
    assert led.on_fill(
        fill(1, "a", "BTC-USDT-SWAP", "buy", "40000", "10", "0"), authoritative=False
    )
    assert led.on_fill(fill(1, "a", "BTC-USDT-SWAP", "buy", "40000", "10", "-0.2"))
    assert not led.on_fill(
        fill(1, "a", "BTC-USDT-SWAP", "buy", "40000", "10", "0"), authoritative=False
    )
    (book,) = led.books(SPECS.get).values()
    assert book.fees == {"USDT": D("-0.2")}
    assert book.fills == 1


def test_spot_fees_in_base_and_quote_and_pnl_ccy() -> None:
    led = PnlLedger()
    led.on_fill(fill(1, "a", "BTC-USDT", "buy", "40000", "0.5", "-0.0005", "BTC"))
    led.on_fill(fill(2, "b", "BTC-USDT", "sell", "41000", "0.5", "-20.5", "USDT"))
    (book,) = led.books(SPECS.get).values()
    assert book.realised == D(500)
    assert book.fees == {"BTC": D("-0.0005"), "USDT": D("-20.5")}
    assert pnl_ccy("BTC-USDT", BTC_SPOT) == "USDT"
    assert pnl_ccy("BTC-USD-SWAP", BTC_INV) == "BTC"


def test_fill_counters_are_exact_under_repeats_and_reordering() -> None:
    c = FillCounters()
    c.on_order("o1", "", "BTC-USDT-SWAP", "buy", D(3), "mm")
    c.on_order("o1", "", "BTC-USDT-SWAP", "buy", D(5), "mm")
    c.on_order("o1", "", "BTC-USDT-SWAP", "buy", D(3))  # stale, late
    c.on_order("o2", "", "BTC-USDT-SWAP", "sell", D(2))
    c.on_order("o3", "", "BTC-USDT-SWAP", "sell", D(0))  # never filled: not stored
    t = c.by_inst()["BTC-USDT-SWAP"]
    assert (t.buy_filled_qty, t.sell_filled_qty, t.net_filled_qty, t.trading_volume) == (
        D(5),
        D(2),
        D(3),
        D(7),
    )
    assert set(c.by_strategy()) == {"mm", ""}
    assert len(c.orders) == 2


def test_ledger_folds_old_fills_without_changing_the_books() -> None:
    fills = [
        fill(
            t,
            f"t{t}",
            "BTC-USDT-SWAP",
            "buy" if t % 3 else "sell",
            str(40000 + t * 7),
            str(1 + t % 4),
            "-0.01",
            cl=f"c{t % 2}",
        )
        for t in range(1, 60)
    ]
    small, full = PnlLedger(keep_fills=10), PnlLedger()
    for led in (small, full):
        led.claim("c1", "odd")
        for f in fills:
            led.on_fill(f)
            led.books(SPECS.get)  # folding happens on read
    assert len(small.fills) <= 10
    assert small.base
    assert small.books(SPECS.get) == full.books(SPECS.get)
    assert not small.on_fill(fills[0])  # still de-duplicated after folding


def test_counters_fold_terminal_orders_and_accept_late_attribution() -> None:
    c = FillCounters()
    c.on_order("o1", "", "BTC-USDT-SWAP", "buy", D(4), terminal=True)  # venue: filled
    assert c.orders == {}
    assert c.by_strategy() == {"": c.by_strategy()[""]}
    c.on_order("o1", "", "BTC-USDT-SWAP", "buy", D(2), "mm")  # router, late and partial
    assert c.by_strategy()["mm"].buy_filled_qty == D(4)
    assert c.by_strategy()[""].buy_filled_qty == 0
    assert c.by_inst()["BTC-USDT-SWAP"].net_filled_qty == D(4)


def test_fills_are_attributed_by_the_strategy_epoch_in_the_clordid() -> None:
    from engine.orders.clordid import encode

    cl = encode("00a", 1_795_000_000_000_000_000, 7)
    led = PnlLedger()
    led.on_fill(fill(1, "a", "BTC-USDT-SWAP", "buy", "40000", "1", cl=cl))
    assert set(led.books(SPECS.get)) == {("", "BTC-USDT-SWAP")}
    led.claim_epoch(1_795_000_000_000_000_000, "mm-btc")  # e.g. from its StrategyStatus
    assert set(led.books(SPECS.get)) == {("mm-btc", "BTC-USDT-SWAP")}
    assert led.owner("foreign-id") == ""
