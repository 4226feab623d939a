"""Revaluing an inception position at today's mark (§6.5: the original's "assumed value").

The value, in the position's value currency, the inception position would have now if it had
been held untouched (``mult = ctMult × ctVal``; ``pos`` signed by ``posSide``; ``m`` = mark):

| type | condition | assumed value |
|---|---|---|
| MARGIN | posCcy = base = ccy | pos + liab / m |
| MARGIN | posCcy = quote = ccy | pos + liab × m |
| MARGIN | posCcy = base ≠ ccy | pos × m + liab |
| MARGIN | posCcy = quote ≠ ccy | pos / m + liab + margin |
| SWAP/FUTURES linear | – | pos × mult × (m − avgPx) + margin |
| SWAP/FUTURES inverse | – | pos × mult × (1/avgPx − 1/m) + margin |
| OPTION | – | pos × mult × m + margin |
| unknown | – | the inception value (nothing better is known) |

``m`` is the current snapshot's mark for the instId if non-zero, else the market's mark, else its
current mid, else the last mark known (a position push's markPx, e.g. the one that closed it, or
the mid when it closed), else the inception mark (the original raised "no current mark px"). A
position closed since inception is so revalued at the price current when it was closed, never at
the stale inception mark (which would count the whole move of the held position as trading P&L).
Corrections (§10.1): #8 an assumed value of exactly 0 is a value (the original replaced it by
the inception value, so a mark back at avgPx gave a wrong P&L); #10 the quote-posCcy MARGIN row
adds the margin, held in the base currency apart from ``pos``; #9 shorts of long/short mode are
negative; #12 an empty avgPx (flat inverse position) never divides by zero.
"""

from __future__ import annotations

from decimal import Decimal

from risk.caches import MarketCache
from risk.inputs import base_of, quote_of
from risk.snapshot import PositionValue, RiskSnap

__all__ = ["assumed_value", "current_mark"]


def current_mark(inst: str, current: RiskSnap, market: MarketCache, fallback: Decimal) -> Decimal:
    """The mark to revalue ``inst`` at (see module docstring)."""
    marks = (
        current.mark.get(inst),
        market.marks.get(inst),
        market.mid(inst),
        market.last_marks.get(inst),
    )
    for m in marks:
        if m is not None and m != 0:
            return m
    return fallback


def assumed_value(pv: PositionValue, m: Decimal) -> Decimal:
    """Value of inception position ``pv`` at mark ``m`` (table in the module docstring)."""
    row, spec = pv.row, pv.spec
    kind = row.inst_type or (spec.inst_type if spec is not None else "")
    if m == 0:
        return pv.asset_value
    if kind == "MARGIN":
        base, quote = base_of(row.inst), quote_of(row.inst)
        pos_ccy = row.pos_ccy or base
        if pos_ccy == base and row.ccy == base:
            return row.pos + row.liab / m
        if pos_ccy == quote and row.ccy == quote:
            return row.pos + row.liab * m
        if pos_ccy == base:
            return row.pos * m + row.liab
        return row.pos / m + row.liab + row.margin
    if spec is None:
        return pv.asset_value
    pos = row.signed_pos
    if kind in ("SWAP", "FUTURES"):
        if spec.inverse:
            if row.avg_px == 0:
                return row.margin  # flat: no P&L to carry
            return pos * spec.multiplier * (1 / row.avg_px - 1 / m) + row.margin
        return pos * spec.multiplier * (m - row.avg_px) + row.margin
    if kind == "OPTION":
        return pos * spec.multiplier * m + row.margin
    return pv.asset_value
