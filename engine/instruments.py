"""Instrument metadata: the one model the router, risk and strategies share. Pure.

Built from md-feed's ``InstrumentInfo`` (``inst|<inst>|``, OKX ``public/instruments``) with
:meth:`Instrument.from_info`. ``ct_val``/``ct_mult`` are None for instruments that are not
contracts (spot, margin). The local exchange (``ops.exchange``) keeps its own listing model.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from engine.messages import InstrumentInfo

__all__ = ["Instrument"]

_ZERO = Decimal(0)
_ONE = Decimal(1)


@dataclass(frozen=True, slots=True)
class Instrument:
    """What an instrument is and allows: type, tick/lot/min size, contract terms, currencies."""

    inst: str
    inst_type: str  # SPOT, MARGIN, SWAP, FUTURES, OPTION
    tick_sz: Decimal = _ZERO
    lot_sz: Decimal = _ZERO
    min_sz: Decimal = _ZERO
    ct_val: Decimal | None = None
    ct_mult: Decimal | None = None
    ct_type: str = ""  # linear / inverse ("" for SPOT/MARGIN/OPTION)
    settle_ccy: str = ""
    base_ccy: str = ""
    quote_ccy: str = ""
    state: str = "live"

    @classmethod
    def from_info(cls, info: InstrumentInfo) -> Instrument:
        return cls(
            inst=info.inst,
            inst_type=info.inst_type,
            tick_sz=info.tick_sz,
            lot_sz=info.lot_sz,
            min_sz=info.min_sz,
            ct_val=info.ct_val,
            ct_mult=info.ct_mult,
            ct_type=info.ct_type,
            settle_ccy=info.settle_ccy,
            base_ccy=info.base_ccy,
            quote_ccy=info.quote_ccy,
            state=info.state,
        )

    @property
    def inverse(self) -> bool:
        return self.ct_type == "inverse"

    @property
    def live(self) -> bool:
        """Tradable (an unknown state counts as live: the venue refuses if it is not)."""
        return self.state in ("", "live")

    @property
    def multiplier(self) -> Decimal:
        """Contract size in ``ct_val`` units: ``ctMult × ctVal`` (1 for what they do not set)."""
        mult = _ONE if self.ct_mult is None else self.ct_mult
        return mult * (_ONE if self.ct_val is None else self.ct_val)
