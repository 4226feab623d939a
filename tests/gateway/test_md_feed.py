"""md-feed helpers that need no process."""

from __future__ import annotations

from gateway.md_feed import inst_type_of


def test_inst_type_of() -> None:
    assert inst_type_of("BTC-USDT-SWAP") == "SWAP"
    assert inst_type_of("BTC-USDT") == "SPOT"
    assert inst_type_of("BTC-USD-250328") == "FUTURES"
    assert inst_type_of("BTC-USD-250328-60000-C") == "OPTION"
