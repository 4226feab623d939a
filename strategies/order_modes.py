"""What an order trades as, from the account's mode: tdMode, posSide and the MARGIN ``ccy``.

The original market maker's tables (sample-mm-behaviour.md §3.5; ``m`` is the worker's
``trading_mode``, valid when one of cash/cross/isolated):

* **InstType (3.5-B)**: a spot pair is SPOT in spot mode (acctLv 1); SPOT if m = cash, else
  MARGIN, in single-currency margin (2); MARGIN if m = isolated, else SPOT, in multi-currency
  (3) and portfolio margin (4). Derivatives are what the venue says they are.
* **tdMode (3.5-A)**: spot mode: SPOT or OPTION only → ``cash`` (a derivative cannot be traded:
  :class:`AccountModeError`). Single-currency: m valid → m = cash on a derivative → ``cross``,
  SPOT → ``cash``, else m; m invalid → SPOT ``cash``, else ``cross``. Multi-currency/portfolio:
  m valid → m = cash → ``cross``, MARGIN → ``isolated``, SPOT → ``cross``, else m; m invalid →
  MARGIN ``isolated``, else ``cross``.
* **ccy (3.4)**: MARGIN orders only: the base currency for buys, the quote currency for sells.
* **posSide**: SWAP/FUTURES only. ``net`` in net mode. In long/short mode a buy opens (adds to)
  the long leg unless the short leg can take it as a close (then ``short``), a sell opens the
  short leg unless the long leg can take it (then ``long``): the original sent ``net`` always,
  so a long/short account had every derivative order refused (its weak spot 9).

Pure functions; the worker core feeds them the account config and its legs.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from engine.messages import Side

__all__ = ["AccountModeError", "OrderMode", "order_mode", "pos_side"]

_VALID = ("cash", "cross", "isolated")
_DERIVATIVES = ("SWAP", "FUTURES")


class AccountModeError(ValueError):
    """The account's mode cannot trade this instrument (e.g. a swap in spot mode)."""


@dataclass(frozen=True, slots=True)
class OrderMode:
    """How orders of one instrument are sent: what they trade as and with which tdMode."""

    trade_type: str  # SPOT, MARGIN, SWAP, FUTURES, OPTION
    td_mode: str
    base_ccy: str = ""
    quote_ccy: str = ""

    def ccy(self, side: Side) -> str:
        """OKX ``ccy`` of an order: the margin currency of a MARGIN order, else ``""``."""
        if self.trade_type != "MARGIN":
            return ""
        return self.base_ccy if side is Side.BUY else self.quote_ccy


def _trade_type(acct_lv: int, inst_type: str, m: str) -> str:
    if inst_type not in ("SPOT", "MARGIN"):
        return inst_type
    if acct_lv == 1:
        return "SPOT"
    if acct_lv == 2:
        return "SPOT" if m == "cash" else "MARGIN"
    return "MARGIN" if m == "isolated" else "SPOT"


def order_mode(
    acct_lv: int, inst_type: str, trading_mode: str, *, base_ccy: str = "", quote_ccy: str = ""
) -> OrderMode:
    """The tdMode table (3.5-A) on the InstType table (3.5-B); ``inst_type`` is the venue's
    (SPOT for a spot pair, SWAP, FUTURES, OPTION)."""
    m = trading_mode
    t = _trade_type(acct_lv, inst_type, m)
    valid = m in _VALID
    if acct_lv == 1:
        if t not in ("SPOT", "OPTION"):
            raise AccountModeError(f"spot mode (acctLv 1) cannot trade {inst_type}")
        td = "cash"
    elif acct_lv == 2:
        if not valid:
            td = "cash" if t == "SPOT" else "cross"
        elif t not in ("SPOT", "MARGIN") and m == "cash":
            td = "cross"
        elif t == "SPOT":
            td = "cash"
        else:
            td = m
    elif acct_lv in (3, 4):
        if not valid:
            td = "isolated" if t == "MARGIN" else "cross"
        elif m == "cash":
            td = "cross"
        elif t == "MARGIN":
            td = "isolated"
        elif t == "SPOT":
            td = "cross"
        else:
            td = m
    else:
        raise AccountModeError(f"unknown account mode acctLv {acct_lv}")
    return OrderMode(t, td, base_ccy, quote_ccy)


def pos_side(
    pos_mode: str,
    trade_type: str,
    side: Side,
    sz: Decimal,
    *,
    long_closable: Decimal = Decimal(0),
    short_closable: Decimal = Decimal(0),
) -> str:
    """OKX ``posSide`` of one order. ``*_closable``: what the leg holds minus what live
    closing orders of it already will close (OKX refuses a close beyond that, 51112)."""
    if trade_type not in _DERIVATIVES:
        return ""
    if pos_mode != "long_short_mode":
        return "net"
    if side is Side.BUY:
        return "short" if short_closable >= sz > 0 else "long"
    return "long" if long_closable >= sz > 0 else "short"
