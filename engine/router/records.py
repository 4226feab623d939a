"""The router journal's records and what they fold into. Pure: no files (``journal`` writes them).

The core returns records as ``Journal`` effects; the shell appends them to the file
(:mod:`engine.router.journal`) and, on start, folds the file back into :class:`JournalState`.
:class:`JOrder` is also the placed order itself: ``OwnedOrder.spec`` is the very record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import msgspec

from engine.messages import OrderState, OrdType, Side

_FINAL = (OrderState.FILLED, OrderState.CANCELED, OrderState.REJECTED)

__all__ = [
    "JAck",
    "JCommand",
    "JEpoch",
    "JFill",
    "JOrder",
    "JRequest",
    "JShortId",
    "JUpdate",
    "JournalState",
    "JournaledOrder",
    "Record",
]


class _Rec(msgspec.Struct, frozen=True, tag_field="k", kw_only=True):
    ts_ns: int


class JShortId(_Rec, frozen=True, tag="sid"):
    strategy: str
    short_id: str


class JEpoch(_Rec, frozen=True, tag="epoch"):
    strategy: str
    epoch: int
    event: str  # "welcome" | "fenced"
    reason: str = ""


class JCommand(_Rec, frozen=True, tag="cmd"):
    peer: str
    cmd_seq: int
    kind: str
    cl_ord_id: str = ""
    detail: str = ""


class JOrder(_Rec, frozen=True, tag="order"):
    cl_ord_id: str
    strategy: str
    epoch: int
    inst: str
    side: Side
    ord_type: OrdType
    sz: Decimal
    px: Decimal | None
    td_mode: str = "cross"
    pos_side: str = ""
    reduce_only: bool = False
    ccy: str = ""


class JRequest(_Rec, frozen=True, tag="req"):
    op: str
    transport: str
    cl_ord_ids: list[str]


class JAck(_Rec, frozen=True, tag="ack"):
    op: str
    cl_ord_id: str
    code: str
    msg: str = ""
    ord_id: str = ""


class JUpdate(_Rec, frozen=True, tag="upd"):
    cl_ord_id: str
    state: OrderState
    ord_id: str = ""
    acc_fill_sz: Decimal = Decimal(0)
    sz: Decimal | None = None
    px: Decimal | None = None
    source: str = ""


class JFill(_Rec, frozen=True, tag="fill"):
    inst: str
    trade_id: str
    cl_ord_id: str
    ord_id: str
    side: Side
    px: Decimal
    sz: Decimal
    fee: Decimal
    fee_ccy: str = ""
    ts_ms: int = 0


Record = JShortId | JEpoch | JCommand | JOrder | JRequest | JAck | JUpdate | JFill


@dataclass(slots=True)
class JournaledOrder:
    """An order as the journal last knew it."""

    order: JOrder
    state: OrderState = OrderState.PENDING
    ord_id: str = ""
    acc_fill_sz: Decimal = Decimal(0)
    sz: Decimal | None = None
    px: Decimal | None = None
    sent: bool = False


@dataclass(slots=True)
class JournalState:
    """What a journal says, folded."""

    short_ids: dict[str, str] = field(default_factory=dict)  # strategy -> short id
    epochs: dict[str, int] = field(default_factory=dict)  # strategy -> latest welcomed epoch
    fenced: set[tuple[str, int]] = field(default_factory=set)
    orders: dict[str, JournaledOrder] = field(default_factory=dict)
    trade_ids: set[tuple[str, str]] = field(default_factory=set)  # (inst, tradeId)
    fills: dict[str, list[JFill]] = field(default_factory=dict)  # clOrdId -> its fills
    records: int = 0

    def apply(self, rec: Record) -> None:
        # most frequent first: the shell folds every record it writes
        self.records += 1
        if isinstance(rec, JUpdate):
            jo = self.orders.get(rec.cl_ord_id)
            if jo is not None:
                jo.state = rec.state
                jo.ord_id = rec.ord_id or jo.ord_id
                jo.acc_fill_sz = max(jo.acc_fill_sz, rec.acc_fill_sz)
                jo.sz = rec.sz if rec.sz is not None else jo.sz
                jo.px = rec.px if rec.px is not None else jo.px
        elif isinstance(rec, JAck | JCommand):
            return
        elif isinstance(rec, JRequest):
            if rec.op == "place":
                for cid in rec.cl_ord_ids:
                    jo = self.orders.get(cid)
                    if jo is not None:
                        jo.sent = True
        elif isinstance(rec, JOrder):
            self.orders[rec.cl_ord_id] = JournaledOrder(rec, sz=rec.sz, px=rec.px)
        elif isinstance(rec, JFill):
            self.trade_ids.add((rec.inst, rec.trade_id))
            self.fills.setdefault(rec.cl_ord_id, []).append(rec)
        elif isinstance(rec, JShortId):
            self.short_ids[rec.strategy] = rec.short_id
        elif rec.event == "welcome":
            self.epochs[rec.strategy] = max(rec.epoch, self.epochs.get(rec.strategy, 0))
        else:
            self.fenced.add((rec.strategy, rec.epoch))

    def live_records(self, now_ns: int) -> list[Record]:
        """What a compacted journal holds: short ids, epochs and fences, every non-final order
        with its last state, and the fills of those orders (their trades are never counted
        twice). Folding these gives the same sessions, open orders and their trade ids."""
        live = {cid: jo for cid, jo in self.orders.items() if jo.state not in _FINAL}
        recs: list[Record] = [
            JShortId(ts_ns=now_ns, strategy=k, short_id=v) for k, v in self.short_ids.items()
        ]
        recs += [
            JEpoch(ts_ns=now_ns, strategy=k, epoch=e, event="welcome")
            for k, e in self.epochs.items()
        ]
        recs += [
            JEpoch(ts_ns=now_ns, strategy=k, epoch=e, event="fenced", reason="compacted")
            for k, e in sorted(self.fenced)
        ]
        for cid, jo in live.items():
            recs.append(jo.order)
            if jo.sent:
                recs.append(
                    JRequest(ts_ns=now_ns, op="place", transport="journal", cl_ord_ids=[cid])
                )
            recs.append(
                JUpdate(
                    ts_ns=now_ns,
                    cl_ord_id=cid,
                    state=jo.state,
                    ord_id=jo.ord_id,
                    acc_fill_sz=jo.acc_fill_sz,
                    sz=jo.sz,
                    px=jo.px,
                    source="compacted",
                )
            )
        for cid in live:
            recs += self.fills.get(cid, [])
        return recs
