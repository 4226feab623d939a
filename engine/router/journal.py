"""The router's append-only journal: every command, venue request and answer, update and fill.

One JSON object per line (msgspec, tagged by ``k``), written with one ``os.write`` on an
``O_APPEND`` descriptor per record: a ``kill -9`` of the router loses nothing already written
(the kernel holds it); a torn last line is skipped on replay. No fsync: surviving a host crash is
the venue's and reconciliation's job. Secrets are never journalled (no record has a field for
them).

:func:`replay` folds a journal into :class:`JournalState`: short ids, strategy epochs, every order
with its last known state, and the trade ids already seen (so fills are never counted twice).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import msgspec

from engine.messages import OrderState, OrdType, Side

__all__ = [
    "JAck",
    "JCommand",
    "JEpoch",
    "JFill",
    "JOrder",
    "JRequest",
    "JShortId",
    "JUpdate",
    "Journal",
    "JournalState",
    "JournaledOrder",
    "Record",
    "compact",
    "read_records",
    "replay",
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


class Journal:
    """Appends records to ``path`` (created with its directory). ``path=None``: memory only.

    Compacted while running: it folds what it appends into a :class:`JournalState` and, once
    ``compact_after`` records (or four times the live state, if larger) have been appended
    since the last rewrite, rewrites the file as the live state (:func:`live_records`) and
    forgets the ended orders. Bound: the file and the fold hold the live orders plus at most
    that many records, however long the router runs (issue 13: 152 MB after 51 min before)."""

    def __init__(self, path: str | Path | None, *, compact_after: int = 20_000) -> None:
        self._enc = msgspec.json.Encoder(decimal_format="string")
        self._fd: int | None = None
        self.path = None if path is None else Path(path)
        self.memory: list[Record] = []
        self.written = 0
        self.compactions = 0
        self.compact_after = compact_after
        self.state = JournalState()
        self._fills: dict[str, list[JFill]] = {}  # clOrdId -> its fills, while it is live
        self._since = 0  # records appended since the last rewrite
        self._live = 0  # records the last rewrite kept
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            for rec in read_records(self.path):
                self._fold(rec)
            self._live = self.state.records
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def _fold(self, rec: Record) -> None:
        self.state.apply(rec)
        if isinstance(rec, JFill):
            self._fills.setdefault(rec.cl_ord_id, []).append(rec)

    def append(self, rec: Record) -> None:
        self.written += 1
        if self._fd is None:
            self.memory.append(rec)
            return
        os.write(self._fd, self._enc.encode(rec) + b"\n")
        self._fold(rec)
        self._since += 1
        if self._since >= max(self.compact_after, 4 * self._live):
            self.compact_now(rec.ts_ns)

    def compact_now(self, now_ns: int) -> int:
        """Rewrite the file as the live state and drop ended orders from the fold; records kept."""
        if self.path is None or self._fd is None:
            return 0
        st = self.state
        fills = [f for cid, fs in self._fills.items() if cid in st.orders for f in fs]
        recs = live_records(st, fills, now_ns)
        _write_atomic(self.path, recs)
        os.close(self._fd)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        fresh = JournalState()
        self._fills = {}
        for rec in recs:
            fresh.apply(rec)
            if isinstance(rec, JFill):
                self._fills.setdefault(rec.cl_ord_id, []).append(rec)
        self.state = fresh
        self._since = 0
        self._live = len(recs)
        self.compactions += 1
        return len(recs)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def read_records(path: str | Path) -> Iterator[Record]:
    """Every well-formed record of a journal file, in order (a torn/bad line is skipped)."""
    p = Path(path)
    if not p.exists():
        return
    dec = msgspec.json.Decoder(Record)
    with p.open("rb") as fh:
        for line in fh:
            try:
                yield dec.decode(line)
            except (msgspec.DecodeError, msgspec.ValidationError):
                continue


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
    records: int = 0

    def apply(self, rec: Record) -> None:
        self.records += 1
        if isinstance(rec, JShortId):
            self.short_ids[rec.strategy] = rec.short_id
        elif isinstance(rec, JEpoch):
            if rec.event == "welcome":
                self.epochs[rec.strategy] = max(rec.epoch, self.epochs.get(rec.strategy, 0))
            else:
                self.fenced.add((rec.strategy, rec.epoch))
        elif isinstance(rec, JOrder):
            self.orders[rec.cl_ord_id] = JournaledOrder(rec, sz=rec.sz, px=rec.px)
        elif isinstance(rec, JRequest):
            if rec.op == "place":
                for cid in rec.cl_ord_ids:
                    jo = self.orders.get(cid)
                    if jo is not None:
                        jo.sent = True
        elif isinstance(rec, JUpdate):
            jo = self.orders.get(rec.cl_ord_id)
            if jo is not None:
                jo.state = rec.state
                jo.ord_id = rec.ord_id or jo.ord_id
                jo.acc_fill_sz = max(jo.acc_fill_sz, rec.acc_fill_sz)
                jo.sz = rec.sz if rec.sz is not None else jo.sz
                jo.px = rec.px if rec.px is not None else jo.px
        elif isinstance(rec, JFill):
            self.trade_ids.add((rec.inst, rec.trade_id))


_TERMINAL = (OrderState.FILLED, OrderState.CANCELED, OrderState.REJECTED)


def live_records(state: JournalState, fills: list[JFill], now_ns: int) -> list[Record]:
    """What ``state`` still needs, as records: short ids, epochs and fences, non-terminal orders
    with their last state, and ``fills`` of those orders (others are dropped)."""
    live = {cid: jo for cid, jo in state.orders.items() if jo.state not in _TERMINAL}
    recs: list[Record] = [
        JShortId(ts_ns=now_ns, strategy=k, short_id=v) for k, v in state.short_ids.items()
    ]
    recs += [
        JEpoch(ts_ns=now_ns, strategy=k, epoch=e, event="welcome") for k, e in state.epochs.items()
    ]
    recs += [
        JEpoch(ts_ns=now_ns, strategy=k, epoch=e, event="fenced", reason="compacted")
        for k, e in sorted(state.fenced)
    ]
    for cid, jo in live.items():
        recs.append(jo.order)
        if jo.sent:
            recs.append(JRequest(ts_ns=now_ns, op="place", transport="journal", cl_ord_ids=[cid]))
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
    recs += [f for f in fills if f.cl_ord_id in live]
    return recs


def _write_atomic(p: Path, recs: list[Record]) -> None:
    enc = msgspec.json.Encoder(decimal_format="string")
    tmp = p.with_name(p.name + ".compact")
    with tmp.open("wb") as fh:
        fh.write(b"".join(enc.encode(r) + b"\n" for r in recs))
    os.replace(tmp, p)


def compact(path: str | Path, state: JournalState, now_ns: int) -> int:
    """Rewrite the journal at ``path`` as what ``state`` still needs (:func:`live_records`).
    Atomic (temp file + rename); call before opening a :class:`Journal` on ``path``. Returns the
    number of records written."""
    p = Path(path)
    if not p.exists():
        return 0
    fills = [r for r in read_records(p) if isinstance(r, JFill)]
    recs = live_records(state, fills, now_ns)
    _write_atomic(p, recs)
    return len(recs)


def replay(path: str | Path) -> JournalState:
    """Fold the journal at ``path`` (missing file: empty state)."""
    state = JournalState()
    for rec in read_records(path):
        state.apply(rec)
    return state
