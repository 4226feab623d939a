"""Instruments of the local exchange: integer ticks and lots inside, canonical strings outside.

Invariant: every price the exchange holds is an integer number of ``tickSz`` and every size an
integer number of ``lotSz``; :meth:`Instrument.px_str` / :meth:`Instrument.sz_str` render them as
canonical decimals (no exponent, no trailing zeros), the only spelling OKX clients hash.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from ops.exchange.config import InstrumentSpec

__all__ = ["Instrument", "canonical", "parse_decimal"]

_ZERO = Decimal(0)


def canonical(d: Decimal) -> str:
    """``Decimal`` → OKX spelling: ``8477``, ``0.001``, ``-0.5``; never ``1E+2`` or ``8477.0``."""
    if d == _ZERO:
        return "0"
    s = format(d.normalize(), "f")
    return s


def parse_decimal(value: object) -> Decimal | None:
    """A request number (string, int or float) → finite Decimal; None when absent or invalid."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        d = Decimal(value.strip())
    except InvalidOperation:
        return None
    return d if d.is_finite() else None


class Instrument:
    """One instrument's static data and unit conversions."""

    __slots__ = (
        "_px_cache",
        "_sz_cache",
        "base_ccy",
        "code",
        "ct_val",
        "inst_id",
        "inst_type",
        "is_swap",
        "lever",
        "lot",
        "max_lmt_lots",
        "max_mkt_lots",
        "min_lots",
        "quote_ccy",
        "settle_ccy",
        "spec",
        "start_tick",
        "state",
        "tick",
    )

    def __init__(self, spec: InstrumentSpec, code: int) -> None:
        self.spec = spec
        self.inst_id = spec.inst_id
        self.inst_type = spec.inst_type
        self.is_swap = spec.inst_type == "SWAP"
        self.code = code
        self.tick = Decimal(spec.tick_sz)
        self.lot = Decimal(spec.lot_sz)
        parts = spec.inst_id.split("-")
        self.base_ccy = parts[0]
        self.quote_ccy = parts[1] if len(parts) > 1 else "USDT"
        self.settle_ccy = self.quote_ccy if self.is_swap else ""
        self.ct_val = Decimal(spec.ct_val) if spec.ct_val else Decimal(1)
        self.min_lots = int(Decimal(spec.min_sz) / self.lot)
        self.max_lmt_lots = int(Decimal(spec.max_lmt_sz) / self.lot)
        self.max_mkt_lots = int(Decimal(spec.max_mkt_sz) / self.lot)
        self.start_tick = int(Decimal(spec.start_px) / self.tick)
        self.state = spec.state
        self.lever = "10"  # account leverage shown on orders; the exchange sets it from config
        self._px_cache: dict[int, str] = {}
        self._sz_cache: dict[int, str] = {}

    # -- conversions -------------------------------------------------------------------------
    def ticks(self, px: Decimal) -> int | None:
        """Price → ticks; None if not on the tick grid."""
        q = px / self.tick
        return int(q) if q == q.to_integral_value() else None

    def lots(self, sz: Decimal) -> int | None:
        """Size → lots; None if not a multiple of lotSz."""
        q = sz / self.lot
        return int(q) if q == q.to_integral_value() else None

    def px(self, ticks: int) -> Decimal:
        return self.tick * ticks

    def sz(self, lots: int) -> Decimal:
        return self.lot * lots

    def px_str(self, ticks: int) -> str:
        s = self._px_cache.get(ticks)
        if s is None:
            s = canonical(self.tick * ticks)
            if len(self._px_cache) > 200_000:
                self._px_cache.clear()
            self._px_cache[ticks] = s
        return s

    def sz_str(self, lots: int) -> str:
        s = self._sz_cache.get(lots)
        if s is None:
            s = canonical(self.lot * lots)
            if len(self._sz_cache) > 200_000:
                self._sz_cache.clear()
            self._sz_cache[lots] = s
        return s

    def base_qty(self, lots: int) -> Decimal:
        """Base-coin quantity of ``lots`` (contracts × ctVal for swaps)."""
        return self.lot * lots * self.ct_val if self.is_swap else self.lot * lots

    def notional(self, ticks: int, lots: int) -> Decimal:
        """Quote notional of ``lots`` at ``ticks``."""
        return self.base_qty(lots) * self.tick * ticks

    # -- public REST shape --------------------------------------------------------------------
    def to_okx(self) -> dict[str, object]:
        s = self.spec
        swap = self.is_swap
        return {
            "alias": "",
            "auctionEndTime": "",
            "baseCcy": "" if swap else self.base_ccy,
            "category": "1",
            "ctMult": "1" if swap else "",
            "ctType": "linear" if swap else "",
            "ctVal": s.ct_val if swap else "",
            "ctValCcy": self.base_ccy if swap else "",
            "contTdSwTime": "1606468572000",  # continuous trading since listing
            "expTime": "",
            "futureSettlement": False,
            "groupId": "1",
            "instCategory": "1",
            "instFamily": f"{self.base_ccy}-{self.quote_ccy}" if swap else "",
            "instId": s.inst_id,
            "instIdCode": self.code,
            "instType": s.inst_type,
            "lever": "100" if swap else "10",
            "listTime": "1606468572000",
            "lotSz": s.lot_sz,
            "maxIcebergSz": s.max_lmt_sz,
            "maxLmtAmt": "20000000",
            "maxLmtSz": s.max_lmt_sz,
            "maxMktAmt": "1000000",
            "maxMktSz": s.max_mkt_sz,
            "maxStopSz": s.max_mkt_sz,
            "maxTriggerSz": s.max_lmt_sz,
            "maxTwapSz": s.max_lmt_sz,
            "minSz": s.min_sz,
            "openType": "",
            "optType": "",
            "preMktSwTime": "",
            "quoteCcy": "" if swap else self.quote_ccy,
            "ruleType": "normal",
            "settleCcy": self.settle_ccy,
            "state": self.state,
            "stk": "",
            "tickSz": s.tick_sz,
            "tradeQuoteCcyList": [] if swap else [self.quote_ccy],
            "uly": f"{self.base_ccy}-{self.quote_ccy}" if swap else "",
            "upcChg": [],  # no scheduled parameter change
        }
