"""The router's venue vocabulary: what it asks the venue and what the venue answers. Pure types.

These are our domain types, not OKX wire objects: the gateway (``gateway.okx.convert``) turns
OKX payloads into them and back, so the router core never parses venue strings. Numbers are
``Decimal``; OKX error codes travel as opaque ``code`` strings (for replies and the journal) next
to their meaning (:class:`Outcome`), which the gateway decides (``gateway.okx.codes``).
"""

from __future__ import annotations

from decimal import Decimal
from enum import Enum
from typing import Literal

import msgspec

from engine.messages import OrdType, Side

__all__ = [
    "AmendReq",
    "CancelReq",
    "Op",
    "Outcome",
    "PlaceReq",
    "VenueAck",
    "VenueFailure",
    "VenueFill",
    "VenueNotFound",
    "VenueOrder",
    "VenueReq",
    "VenueResult",
]

Op = Literal["cancel", "amend", "place"]
_ZERO = Decimal(0)


class Outcome(Enum):
    """What a venue answer means for the router (the gateway maps OKX codes to these)."""

    OK = "ok"
    RATE_LIMITED = "rate_limited"  # refused before processing: the same request may go again
    UNKNOWN = "unknown"  # timeout, 5xx, dropped connection: the result must be looked up
    DUPLICATE = "duplicate"  # place: this clOrdId already exists (an earlier attempt landed)
    GONE = "gone"  # cancel: already filled, canceled or not found
    ALREADY_CANCELING = "already_canceling"  # cancel: one is in progress, as good as accepted
    AMEND_ON_DONE = "amend_on_done"  # amend: the order is already final
    # place: the account may not place orders at all (e.g. identity verification below the
    # venue's level): configuration, not this order — nothing was done and no retry can help
    ACCOUNT_BLOCKED = "account_blocked"
    REFUSED = "refused"  # anything else: nothing was done


class PlaceReq(msgspec.Struct, frozen=True):
    inst: str
    cl_ord_id: str
    side: Side
    ord_type: OrdType
    sz: Decimal
    px: Decimal | None
    td_mode: str = "cross"
    pos_side: str = ""
    reduce_only: bool = False
    tag: str = ""
    ccy: str = ""


class CancelReq(msgspec.Struct, frozen=True):
    inst: str
    cl_ord_id: str


class AmendReq(msgspec.Struct, frozen=True):
    inst: str
    cl_ord_id: str
    new_sz: Decimal | None = None
    new_px: Decimal | None = None


VenueReq = PlaceReq | CancelReq | AmendReq


class VenueAck(msgspec.Struct, frozen=True):
    """The venue's answer to one item of a trade request (in request order)."""

    cl_ord_id: str
    outcome: Outcome
    code: str = "0"
    msg: str = ""
    ord_id: str = ""


class VenueFailure(msgspec.Struct, frozen=True):
    """A request-level failure: nothing per item is known (``outcome`` is never OK)."""

    outcome: Outcome
    code: str
    msg: str = ""


class VenueNotFound(msgspec.Struct, frozen=True):
    """A query's answer: the venue has no order with that clOrdId (``code``: the venue's)."""

    code: str


VenueResult = list[VenueAck] | VenueFailure


class VenueOrder(msgspec.Struct, frozen=True):
    """One venue order object (a push, a query answer or a pending order at reconciliation).

    ``state`` is the venue's lifecycle word (``live``, ``partially_filled``, ``filled``,
    ``canceled``, ...), read by ``engine.orders.fsm.trigger_for_push``. ``sz`` is 0 and ``px``
    None when the venue did not say. ``fill_*``/``trade_id`` describe the execution this update
    carries, if any."""

    inst: str
    cl_ord_id: str
    ord_id: str
    state: str
    side: Side = Side.BUY
    ord_type: OrdType = OrdType.LIMIT
    sz: Decimal = _ZERO
    px: Decimal | None = None
    acc_fill_sz: Decimal = _ZERO
    avg_px: Decimal | None = None
    fill_px: Decimal | None = None
    fill_sz: Decimal = _ZERO
    fill_fee: Decimal | None = None
    fee_ccy: str = ""  # of the fill's fee (the order's fee currency when the fill has none)
    trade_id: str = ""
    fill_time_ms: int = 0
    u_time_ms: int = 0
    amend_result: str = ""  # "0" amended, "-1" failed, "" no amend
    cancel_source: str = ""
    td_mode: str = "cross"
    pos_side: str = ""
    reduce_only: bool = False
    ccy: str = ""


class VenueFill(msgspec.Struct, frozen=True):
    """One execution from the venue's fill list (reconciliation)."""

    inst: str
    trade_id: str
    cl_ord_id: str
    ord_id: str
    px: Decimal
    sz: Decimal
    fee: Decimal
    fee_ccy: str = ""
    ts_ms: int = 0
