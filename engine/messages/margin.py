"""Margin: the margin actor's view of the account's margin (topic ``margin|``, retained).

Part of :mod:`engine.messages` (import from there); the class name is the wire tag."""

from __future__ import annotations

from decimal import Decimal

from engine.messages.base import Msg

__all__ = ["MarginState"]


class MarginState(Msg, frozen=True):
    """The margin ratio recomputed from account, positions and marks, and the venue's own.

    ``status`` is ``healthy`` / ``warning`` / ``danger`` / ``liquidation`` against the
    configured thresholds; ratios are plain ratios (1 = 100 %), ``None`` when nothing needs
    margin. ``liq_px`` is the main underlying's price at which the projected ratio reaches the
    liquidation threshold (``None``: none within range)."""

    acct_lv: int
    status: str
    mgn_ratio: Decimal | None
    venue_mgn_ratio: Decimal | None
    adj_eq: Decimal
    total_eq: Decimal
    imr: Decimal
    mmr: Decimal
    notional_usd: Decimal
    uly: str = ""
    price: Decimal | None = None
    liq_px: Decimal | None = None
    liq_move_pct: Decimal | None = None
    ts_ms: int = 0
    reason: str = ""
    # what risk must do: "" (nothing), "reduce" (at danger), "halt" (close to liquidation)
    action: str = ""
