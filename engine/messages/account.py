"""Private venue state: balances, positions, venue orders and fills, stream status.

Part of :mod:`engine.messages` (import from there); the class name is the wire tag."""

from __future__ import annotations

from decimal import Decimal

from engine.messages.base import Msg, Side

__all__ = [
    "AccountConfig",
    "AccountUpdate",
    "BalanceDetail",
    "Fill",
    "OrderUpdate",
    "Position",
    "RecentFills",
    "StreamStatus",
]


# ------------------------------------------------------------------------------------- account
class BalanceDetail(Msg, frozen=True):
    """One currency of the account (OKX ``account`` details)."""

    ccy: str
    cash_bal: Decimal
    eq: Decimal | None = None
    avail_bal: Decimal | None = None
    avail_eq: Decimal | None = None
    frozen_bal: Decimal | None = None
    eq_usd: Decimal | None = None
    u_time_ms: int = 0
    upl: Decimal | None = None
    # multi-currency / portfolio margin (acctLv 3, 4): the haircut equity and the liability
    dis_eq: Decimal | None = None
    liab: Decimal | None = None


class AccountUpdate(Msg, frozen=True):
    """Account equity and balances (topic ``acct|``); ``details`` holds the changed currencies."""

    total_eq: Decimal | None
    u_time_ms: int
    details: list[BalanceDetail]
    snapshot: bool = False  # True: details is the whole account
    # the venue's margin numbers (OKX adjEq, imr, mmr, mgnRatio, notionalUsd); None: not sent
    adj_eq: Decimal | None = None
    imr: Decimal | None = None
    mmr: Decimal | None = None
    mgn_ratio: Decimal | None = None
    notional_usd: Decimal | None = None


class AccountConfig(Msg, frozen=True):
    """The account's mode (OKX ``account/config``; topic ``acctcfg|``, retained): ``acct_lv`` 1
    spot, 2 futures (single-currency margin), 3 multi-currency margin, 4 portfolio margin;
    ``pos_mode`` ``net_mode`` or ``long_short_mode``. Orders are built from it (tdMode, posSide,
    MARGIN ccy), so a worker quotes only once it knows it."""

    acct_lv: int
    pos_mode: str
    uid: str = ""


class Position(Msg, frozen=True):
    """One position as OKX reports it (topic ``pos|<inst>|``); flat positions have ``pos == 0``."""

    inst: str
    inst_type: str
    mgn_mode: str
    pos_side: str
    pos: Decimal
    avg_px: Decimal | None
    u_time_ms: int
    mark_px: Decimal | None = None
    upl: Decimal | None = None
    margin: Decimal | None = None
    liab: Decimal | None = None
    pos_ccy: str = ""
    ccy: str = ""
    opt_val: Decimal | None = None
    delta_bs: Decimal | None = None
    delta_pa: Decimal | None = None
    realized_pnl: Decimal | None = None
    fee: Decimal | None = None
    funding_fee: Decimal | None = None
    lever: Decimal | None = None
    liq_px: Decimal | None = None
    pos_id: str = ""


class OrderUpdate(Msg, frozen=True):
    """One venue order update as OKX pushed it (topic ``order|<inst>|``)."""

    inst: str
    inst_type: str
    ord_id: str
    cl_ord_id: str
    side: Side
    ord_type: str
    px: Decimal | None
    sz: Decimal
    state: str  # OKX state: live, partially_filled, filled, canceled, mmp_canceled
    acc_fill_sz: Decimal
    avg_px: Decimal | None
    u_time_ms: int
    fill_px: Decimal | None = None
    fill_sz: Decimal | None = None
    fill_fee: Decimal | None = None
    fill_fee_ccy: str = ""
    trade_id: str = ""
    fee: Decimal | None = None
    fee_ccy: str = ""
    exec_type: str = ""
    cancel_source: str = ""
    amend_result: str = ""
    req_id: str = ""
    code: str = ""
    msg: str = ""
    reduce_only: bool = False
    tag: str = ""
    c_time_ms: int = 0
    pos_side: str = ""
    td_mode: str = ""
    fill_time_ms: int = 0


class Fill(Msg, frozen=True):
    """One execution, de-duplicated by ``(inst, trade_id)`` (topic ``fill|<inst>|``)."""

    inst: str
    trade_id: str
    ord_id: str
    cl_ord_id: str
    side: Side
    px: Decimal
    sz: Decimal
    fee: Decimal
    fee_ccy: str
    ts_ms: int
    exec_type: str = ""
    inst_type: str = ""
    pos_side: str = ""


class StreamStatus(Msg, frozen=True):
    """State of a venue stream (topic ``stream|<name>|``): up, reconciling, down."""

    stream: str
    up: bool
    reason: str = ""


class RecentFills(Msg, frozen=True):
    """One slot of private-gw's bounded ring of the account's recent fills (topic
    ``recentfills|<slot>|``, retained), so a subscriber that was down replays them from the
    Clone snapshot; fills are de-duplicated by ``(inst, trade_id)`` like every ``Fill``."""

    slot: int
    fills: list[Fill]
