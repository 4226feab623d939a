"""Replay mode: the exchange serves a recorded raw market (``.okxraw.gz``) as its public market
for one instrument and fills our orders against it with the backtest's own queue model.

What clients see: the recorded ``books``/``trades``/``tickers``/``mark-price`` frames of the
instrument verbatim (seqIds, checksums, sizes), pushed at their recorded receive times (scaled by
``speed``) with every ``ts`` moved to the exchange's clock; ``market/books`` answers with the
recorded book as of the last pushed frame (same seqId chain). The synthetic market does not run
on that instrument, and our orders are not shown in its public book: the recording was made
without them, exactly what the backtest assumes.

How our orders fill: :class:`ReplayExchange` keeps each resting order of ours in the exchange's
book (balances, positions, order pushes and amend/cancel rules are the matching engine's) and
mirrors it into a :class:`~ops.backtest.venue.SimVenue` that follows the recorded book and trades
the way the backtest's venue does (same code: queue ahead of us at arrival, trades at our price
eat it, cancellations shrink it in proportion or not at all, trades or a book through our price
fill the rest). Its fills are executed on the order as maker fills (or taker, when an order
crosses the recorded book on arrival) with the exchange's fees.

Pure apart from reading the file: time comes in as arguments.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from engine.messages import OrdType, Side
from ops.backtest.venue import Fill as SimFill
from ops.backtest.venue import SimOrder, SimVenue
from ops.exchange.accounts import Account
from ops.exchange.config import ExchangeConfig
from ops.exchange.events import Reject
from ops.exchange.matching import Exchange
from ops.exchange.orders import Order
from ops.marketdata.rawfile import RawFrame, read_raw

__all__ = ["Replay", "ReplayExchange"]

_CHANNELS = ("books", "trades", "tickers", "mark-price")


@dataclass
class _Frame:
    recv_ns: int
    channel: str
    msg: dict[str, Any]


@dataclass
class Replay:
    """The recorded market of one instrument and where the replay is in it."""

    inst_id: str
    frames: list[_Frame]
    speed: float = 1.0
    bids: dict[str, str] = field(default_factory=dict)
    asks: dict[str, str] = field(default_factory=dict)
    seq_id: int = -1
    next: int = 0  # index of the next frame to push
    start_wall_ns: int | None = None
    ticker: dict[str, Any] | None = None
    mark: str = ""
    venue: SimVenue = field(default_factory=SimVenue)
    # the quotes we had at the venue when each frame was pushed: recorded time, our best bid
    # and ask (None: none resting), our position; and our fills (recorded time, side, px, sz)
    states: list[tuple[int, str | None, str | None, str]] = field(default_factory=list)
    fills: list[tuple[int, str, str, str, bool]] = field(default_factory=list)
    position: Decimal = Decimal(0)
    pending: list[SimFill] = field(default_factory=list)  # fills the last frame caused

    @classmethod
    def load(cls, path: Path, inst_id: str, speed: float, venue: SimVenue) -> Replay:
        """Read the file; apply it up to its first complete book (a WS snapshot, or a REST
        snapshot with the WS updates that chain after it): that is where the replay starts."""
        frames: list[_Frame] = []
        first: dict[str, Any] | None = None
        first_at = -1
        for f in read_raw(path):
            if f.stream == f"rest:books:{inst_id}" and first is None:
                body = json.loads(f.text)
                first, first_at = body["data"][0], len(frames)
                continue
            fr = _parse(f, inst_id)
            if fr is None:
                continue
            if first is None and fr.channel == "books" and fr.msg.get("action") == "snapshot":
                first, first_at = fr.msg["data"][0], len(frames)
            frames.append(fr)
        if first is None:
            raise ValueError(f"{path}: no book snapshot of {inst_id} to start from")
        rp = cls(inst_id, frames, speed, venue=venue)
        rp._load_book(first)
        # updates recorded before the REST answer arrived but newer than it
        for fr in frames[:first_at]:
            if fr.channel == "books":
                for d in fr.msg["data"]:
                    if int(d["seqId"]) > rp.seq_id:
                        rp._apply_book(d)
            elif fr.channel == "mark-price":
                rp.mark = fr.msg["data"][0]["markPx"]
            elif fr.channel == "tickers":
                rp.ticker = fr.msg["data"][0]
        rp.next = first_at
        rp._mirror_reload()
        return rp

    # ------------------------------------------------------------------------------- book
    def _load_book(self, d: dict[str, Any]) -> None:
        self.bids = {r[0]: r[1] for r in d["bids"]}
        self.asks = {r[0]: r[1] for r in d["asks"]}
        self.seq_id = int(d["seqId"])

    def _apply_book(self, d: dict[str, Any]) -> None:
        for rows, side in ((d["bids"], self.bids), (d["asks"], self.asks)):
            for r in rows:
                if Decimal(r[1]) == 0:
                    side.pop(r[0], None)
                else:
                    side[r[0]] = r[1]
        self.seq_id = int(d["seqId"])

    def _mirror_reload(self) -> None:
        self.venue.load(list(self.bids.items()), list(self.asks.items()))

    def snapshot(self, depth: int) -> dict[str, Any]:
        """The recorded book as of the last pushed frame, best ``depth`` levels per side."""
        bids = sorted(self.bids.items(), key=lambda kv: Decimal(kv[0]), reverse=True)[:depth]
        asks = sorted(self.asks.items(), key=lambda kv: Decimal(kv[0]))[:depth]
        return {
            "bids": [[p, s, "0", "1"] for p, s in bids],
            "asks": [[p, s, "0", "1"] for p, s in asks],
            "seqId": self.seq_id,
        }

    # ------------------------------------------------------------------------------- time
    def due_ns(self) -> int | None:
        """Wall time the next frame is due (None when the replay is over or not started)."""
        if self.start_wall_ns is None or self.next >= len(self.frames):
            return None
        r0 = self.frames[0].recv_ns
        return self.start_wall_ns + int((self.frames[self.next].recv_ns - r0) / self.speed)

    def recorded_ns(self, wall_ns: int) -> int:
        """The recording's time at exchange wall time ``wall_ns``."""
        start = self.start_wall_ns if self.start_wall_ns is not None else wall_ns
        return self.frames[0].recv_ns + int((wall_ns - start) * self.speed)

    def wall_ms(self, recorded_ms: int) -> int:
        start = self.start_wall_ns or 0
        return (start + int((recorded_ms * 1_000_000 - self.frames[0].recv_ns) / self.speed)) // (
            1_000_000
        )

    @property
    def done(self) -> bool:
        return self.next >= len(self.frames)

    def start(self, wall_ns: int) -> None:
        """Start the clock: frame ``next`` is due now."""
        first = self.frames[self.next].recv_ns if not self.done else 0
        r0 = self.frames[0].recv_ns
        self.start_wall_ns = wall_ns - int((first - r0) / self.speed)

    def pop(self) -> tuple[_Frame, str]:
        """The next frame, applied to the book and the queue model; its text to push, with
        every ``ts`` moved to the exchange's clock. Call :meth:`venue_fills` after."""
        fr = self.frames[self.next]
        self.next += 1
        self._record_state(fr.recv_ns)
        m = fr.msg
        if fr.channel == "books":
            for d in m["data"]:
                if m.get("action") == "snapshot" or int(d.get("prevSeqId", 0)) == -1:
                    self._load_book(d)
                    self._mirror_reload()
                    self.pending.extend(self.venue.apply([], []))
                else:
                    self._apply_book(d)
                    self.pending.extend(self.venue.apply(d["bids"], d["asks"]))
        elif fr.channel == "trades":
            for d in m["data"]:
                self.pending.extend(
                    self.venue.on_trade(Side(d["side"]), Decimal(d["px"]), Decimal(d["sz"]))
                )
        elif fr.channel == "mark-price":
            self.mark = m["data"][0]["markPx"]
        elif fr.channel == "tickers":
            self.ticker = m["data"][0]
        shifted = {**m, "data": [self._shift(d) for d in m["data"]]}
        return fr, json.dumps(shifted, separators=(",", ":"))

    def frame_ms(self, fr: _Frame) -> int | None:
        """A frame's venue time on the exchange's clock (its first item's ``ts``), if any."""
        data = fr.msg.get("data") or [{}]
        ts = data[0].get("ts")
        return self.wall_ms(int(ts)) if ts is not None else None

    def _shift(self, d: dict[str, Any]) -> dict[str, Any]:
        if "ts" not in d:
            return d
        return {**d, "ts": str(self.wall_ms(int(d["ts"])))}

    def _record_state(self, recorded_ns: int) -> None:
        live = [o for o in self.venue.orders.values() if o.open]
        bid = max((o.px for o in live if o.side is Side.BUY), default=None)
        ask = min((o.px for o in live if o.side is Side.SELL), default=None)
        self.states.append(
            (
                recorded_ns,
                None if bid is None else str(bid),
                None if ask is None else str(ask),
                str(self.position),
            )
        )


def _parse(f: RawFrame, inst_id: str) -> _Frame | None:
    if not f.stream.startswith("ws:") or inst_id not in f.text[:120]:
        return None
    msg = json.loads(f.text)
    if "event" in msg or not isinstance(msg.get("data"), list):
        return None
    arg = msg.get("arg", {})
    if arg.get("instId") != inst_id or arg.get("channel") not in _CHANNELS:
        return None
    return _Frame(f.recv_ns, arg["channel"], msg)


class ReplayExchange(Exchange):
    """The matching engine with one instrument's liquidity taken from a :class:`Replay`."""

    def __init__(self, cfg: ExchangeConfig, now_ms: int) -> None:
        super().__init__(cfg, now_ms)
        spec = cfg.replay
        if spec is None:
            raise ValueError("ReplayExchange needs exchange.replay")
        inst = self.instruments[spec.inst_id]
        venue = SimVenue(
            Decimal(cfg.swap_maker_fee if inst.is_swap else cfg.spot_maker_fee),
            Decimal(cfg.swap_taker_fee if inst.is_swap else cfg.spot_taker_fee),
            Decimal(inst.spec.ct_val or 1),
            spec.queue,
        )
        self.replay = Replay.load(Path(spec.path), spec.inst_id, spec.speed, venue)
        if self.replay.mark:
            self.marks[spec.inst_id] = Decimal(self.replay.mark)
        self._orders: dict[str, Order] = {}  # SimVenue key (ordId) → our order
        self._clock_ns = 0

    def _ours(self, acct: Account, o: Order) -> bool:
        return not acct.synthetic and o.inst.inst_id == self.replay.inst_id

    def _execute(self, acct: Account, o: Order, now_ms: int) -> None:
        if not self._ours(acct, o) or o.ticks == 0:
            super()._execute(acct, o, now_ms)
            return
        inst = o.inst
        sim = SimOrder(
            str(o.ord_id), Side(o.side), inst.px(o.ticks), inst.sz(o.lots), OrdType(o.ord_type)
        )
        self._orders[sim.cl_ord_id] = o
        fills = self.replay.venue.place(sim)
        if sim.state == "canceled" and not fills and o.ord_type == "post_only":
            if self.cfg.post_only_cross_emits_live:
                self._push(o)
            self._finish(acct, o, "canceled", "31", now_ms)
            self._push(o)
            return
        for f in fills:
            self._fill(f, now_ms)
        if not o.live:
            return
        if sim.open:
            self.books[inst.inst_id].add(o)
            self._refreeze(acct, o, now_ms)
            if o.acc_lots == 0:
                self._push(o)
            return
        self._finish(acct, o, "canceled", "14" if o.ord_type == "ioc" else "", now_ms)
        self._push(o)

    def amend(
        self,
        acct: Account,
        o: Order,
        *,
        new_lots: int | None,
        new_ticks: int | None,
        req_id: str,
        cxl_on_fail: bool,
        now_ms: int,
    ) -> Reject | None:
        if not self._ours(acct, o) or not o.live:
            return super().amend(
                acct, o, new_lots=new_lots, new_ticks=new_ticks, req_id=req_id,
                cxl_on_fail=cxl_on_fail, now_ms=now_ms,
            )  # fmt: skip
        v = self.replay.venue
        ticks = o.ticks if new_ticks is None else new_ticks
        if o.ord_type == "post_only" and ticks != o.ticks:
            px = o.inst.px(ticks)
            best = v.best_ask() if o.side == "buy" else v.best_bid()
            if best is not None and (best <= px if o.side == "buy" else best >= px):
                if cxl_on_fail:
                    self._finish(acct, o, "canceled", "1", now_ms)
                    self._push(o)
                return Reject(
                    "51511",
                    "Modification failed as the order price did not meet "
                    "the requirement for Post Only.",
                )
        rej = super().amend(
            acct, o, new_lots=new_lots, new_ticks=new_ticks, req_id=req_id,
            cxl_on_fail=cxl_on_fail, now_ms=now_ms,
        )  # fmt: skip
        key = str(o.ord_id)
        if rej is None and key in v.orders:  # (a finished order left it)
            v.amend(
                key,
                None if new_ticks is None else o.inst.px(new_ticks),
                None if new_lots is None else o.inst.sz(new_lots),
            )
        return rej

    def _finish(self, acct: Account, o: Order, state: str, source: str, now_ms: int) -> None:
        super()._finish(acct, o, state, source, now_ms)
        if not acct.synthetic:
            key = str(o.ord_id)
            sim = self.replay.venue.orders.pop(key, None)
            if sim is not None and sim.open:
                sim.state = "canceled"
            self._orders.pop(key, None)

    def on_frame_fills(self, now_ms: int) -> None:
        """Execute the fills the last replayed frame caused."""
        pending, self.replay.pending = self.replay.pending, []
        for f in pending:
            self._fill(f, now_ms)

    def _fill(self, f: SimFill, now_ms: int) -> None:
        o = self._orders.get(f.cl_ord_id)
        if o is None or not o.live:
            return
        inst = o.inst
        ticks, lots = inst.ticks(f.px), inst.lots(f.sz)
        if ticks is None or lots is None or lots <= 0:
            return
        acct = self.accounts[o.account]
        book = self.books[inst.inst_id]
        self._next_trade += 1
        tid = self._next_trade
        lvl = book.side(o.side == "buy").get(o.ticks)
        resting = lvl is not None and o.ord_id in lvl.orders
        if resting:
            book.reduce(o, lots)
        st = self.stats[inst.inst_id]
        st.last_ticks, st.last_lots = ticks, lots
        st.vol_lots += lots
        o.acc_lots += lots
        o.filled_quote += inst.notional(ticks, lots)
        o.u_time = now_ms
        fill = self._settle(acct, o, ticks, lots, "M" if f.maker else "T", tid, now_ms)
        rp = self.replay
        rp.position += f.sz if f.side is Side.BUY else -f.sz
        rp.fills.append(
            (rp.recorded_ns(now_ms * 1_000_000), f.side.value, str(f.px), str(f.sz), f.maker)
        )
        if o.remaining <= 0:
            if resting:
                book.remove(o)
            self._finish(acct, o, "filled", "", now_ms)
        else:
            o.state = "partially_filled"
            self._refreeze(acct, o, now_ms)
        if fill is not None:
            self._push(o, fill)
