"""Account and position modes: which ``tdMode`` / ``posSide`` / ``ccy`` a place may carry.

OKX's rules (okx-v5.md §6.3, §10.2; OKX docs, place order): ``acctLv`` 1 (spot mode) trades
SPOT with ``tdMode`` cash only; SPOT with cross/isolated is MARGIN trading (``acctLv`` ≥ 2),
whose ``ccy`` (margin currency, base or quote) is required for every isolated MARGIN order and
for cross MARGIN in single-currency margin (``acctLv`` 2); SWAP/FUTURES trade cross or isolated,
never cash. ``posSide`` is for SWAP/FUTURES only: omitted or ``net`` in ``net_mode``, ``long`` or
``short`` (required) in ``long_short_mode``, where an order closes its leg by trading against it
(sell long, buy short) and ``reduceOnly`` makes sense only on such a close.

Pure: :func:`check_place` either resolves the order's ``posSide`` or names OKX's refusal.
"""

from __future__ import annotations

from ops.exchange.codes import msg
from ops.exchange.events import Reject
from ops.exchange.instruments import Instrument

__all__ = ["POS_MODES", "check_place"]

POS_MODES = ("net_mode", "long_short_mode")


def check_place(
    *,
    acct_lv: int,
    pos_mode: str,
    inst: Instrument,
    td_mode: str,
    pos_side: str,
    ccy: str,
    side: str,
    reduce_only: bool,
) -> str | Reject:
    """The order's posSide (``""`` for SPOT) if the account may place it, else the refusal."""
    if td_mode not in ("cash", "cross", "isolated", "spot_isolated"):
        return Reject("51000", msg("51000", "tdMode"))
    if td_mode == "spot_isolated":
        # only spot lead traders may use it, and this venue has none
        return Reject("51074", msg("51074"))
    if inst.is_swap:
        return _derivative(acct_lv, pos_mode, inst, td_mode, pos_side, ccy, side, reduce_only)
    if pos_side not in ("", "net"):
        return Reject("51000", msg("51000", "posSide"))
    if td_mode == "cash":
        if ccy:
            return Reject("51000", msg("51000", "ccy"))
        return ""
    # SPOT with cross/isolated: MARGIN trading
    if acct_lv == 1:
        return Reject("51010", msg("51010"))
    needs_ccy = td_mode == "isolated" or acct_lv == 2
    if not ccy:
        return Reject("50014", msg("50014", "ccy")) if needs_ccy else ""
    if ccy not in (inst.base_ccy, inst.quote_ccy):
        return Reject("51000", msg("51000", "ccy"))
    return ""


def _derivative(
    acct_lv: int,
    pos_mode: str,
    inst: Instrument,
    td_mode: str,
    pos_side: str,
    ccy: str,
    side: str,
    reduce_only: bool,
) -> str | Reject:
    if acct_lv == 1:
        return Reject("51010", msg("51010"))
    if td_mode == "cash":
        return Reject("51000", msg("51000", "tdMode"))
    if ccy:  # the margin currency of a derivative is its settlement currency, never chosen
        return Reject("51000", msg("51000", "ccy"))
    if pos_mode == "long_short_mode":
        if pos_side not in ("long", "short"):
            return Reject("51000", msg("51000", "posSide"))
        opens = (pos_side == "long") == (side == "buy")
        if reduce_only and opens:
            return Reject("51170", msg("51170"))
        return pos_side
    if pos_side not in ("", "net"):
        return Reject("51000", msg("51000", "posSide"))
    return "net"
