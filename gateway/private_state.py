"""The private-gw core: OKX account/position/order pushes and REST reconciliation → bus messages.
Pure: methods return :class:`Publish` effects; the shell sends them.

Rules:
* Fills are published once per ``(instId, tradeId)``, whether they come from an ``orders`` push
  or from ``GET trade/fills`` during reconciliation (OKX may repeat a tradeId; dedup guidance).
* Order updates older than what is known for that ``ordId`` (``uTime``) are dropped, so pushes
  buffered during a reconciliation never regress the state REST reported.
* Order updates are retained (Clone) only while not terminal; terminal ones are published once
  and the topic is forgotten.
* The account is kept merged per currency and always published whole (``snapshot=True``), so the
  retained ``acct|`` message is complete for late joiners.
* After reconciliation, a position known before but absent from the REST list is published flat.
* The last ``ring_slots × slot_size`` fills published (default 10 × 100) are kept in a ring of
  retained ``recentfills|<slot>|`` topics (:class:`~engine.messages.RecentFills`), so a
  subscriber that was down (risk) replays them from the Clone snapshot; a changed slot is
  republished by :meth:`PrivateState.flush_ring` (the shell calls it on a short timer).

Bounded: ``fill_dedup_size`` remembered fills and order ``uTime``s, the fill ring, one position
per key, one balance per currency, and the open orders the venue reports (an order no longer
pending is dropped at the next reconciliation).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import msgspec

from engine import topics
from engine.clock import Clock
from engine.messages import AccountUpdate, AnyMsg, BalanceDetail, Fill, Position, RecentFills
from engine.recent import RecentMap
from gateway.okx import convert
from gateway.okx.schemas import (
    Balance,
    BalanceAndPosition,
    FillData,
    OrderData,
    PositionData,
)

__all__ = ["RECENT_FILLS", "TERMINAL_STATES", "PrivateState", "Publish", "recent_fills_topic"]

TERMINAL_STATES = frozenset({"filled", "canceled", "mmp_canceled"})
RECENT_FILLS = topics.RECENT_FILLS
recent_fills_topic = topics.recent_fills  # built in engine.topics, like every topic


@dataclass(frozen=True, slots=True)
class Publish:
    """Publish ``msg`` on ``topic``; ``forget`` drops the topic's retained state afterwards."""

    topic: str
    msg: AnyMsg
    retain: bool = True
    forget: bool = False


class PrivateState:
    """Account, positions, open orders and seen fills of one account."""

    def __init__(
        self,
        clock: Clock,
        fill_dedup_size: int = 50_000,
        ring_slots: int = 10,
        slot_size: int = 100,
        dedup_age_s: float = 300.0,
    ) -> None:
        self._clock = clock  # ages the de-dup windows
        self._ring: list[list[Fill]] = [[] for _ in range(ring_slots)]
        self._slot = 0
        self._slot_size = slot_size
        self._ring_dirty: set[int] = set()
        # Bounded by age and count (engine.recent): a repeat or a reconnect's REST replay comes
        # within minutes; older duplicates are dropped downstream (router per order, risk by
        # its fill watermark).
        self._seen_fills: RecentMap[tuple[str, str], None] = RecentMap(dedup_age_s, fill_dedup_size)
        # ordId → (uTime, hash of what the last published update said): OKX repeats updates
        # with a new uTime (okx-v5.md §14); a repeat that says nothing new is not published
        # again. A hash, not the fields; bounded like the fills.
        self._order_utime: RecentMap[str, tuple[int, int]] = RecentMap(dedup_age_s, fill_dedup_size)
        self.open_orders: dict[str, OrderData] = {}  # ordId → latest non-terminal state
        self._balances: dict[str, BalanceDetail] = {}
        self._total_eq: Decimal | None = None
        self._venue_margin: AccountUpdate | None = None  # the latest full push's margin numbers
        self._u_time_ms = 0
        self._positions: dict[str, Position] = {}  # topic → position
        self.fills_published = 0
        self.fills_duplicate = 0
        self.orders_stale = 0
        self.orders_repeated = 0

    # ---------------------------------------------------------------------------------- fills
    def _fill_once(self, inst: str, trade_id: str) -> bool:
        key = (inst, trade_id)
        if key in self._seen_fills:
            self.fills_duplicate += 1
            return False
        self._seen_fills.put(key, None, self._clock.monotonic_ns())
        self.fills_published += 1
        return True

    def _keep(self, fill: Fill) -> Publish:
        """Into the ring (the oldest slot is overwritten when the ring is full)."""
        if len(self._ring[self._slot]) >= self._slot_size:
            self._slot = (self._slot + 1) % len(self._ring)
            self._ring[self._slot] = []
        self._ring[self._slot].append(fill)
        self._ring_dirty.add(self._slot)
        return Publish(topics.fill(fill.inst), fill, retain=False)

    def flush_ring(self) -> list[Publish]:
        """The ring slots changed since the last flush, as retained ``RecentFills``."""
        out = [
            Publish(recent_fills_topic(i), RecentFills(slot=i, fills=list(self._ring[i])))
            for i in sorted(self._ring_dirty)
        ]
        self._ring_dirty.clear()
        return out

    @property
    def recent_fills(self) -> list[Fill]:
        """The ring's fills, oldest first."""
        n = len(self._ring)
        return [f for k in range(1, n + 1) for f in self._ring[(self._slot + k) % n]]

    def sizes(self) -> dict[str, int]:
        """The size of every table (each bounded: module docstring), for status and tests."""
        return {
            "seen_fills": len(self._seen_fills),
            "order_utimes": len(self._order_utime),
            "open_orders": len(self.open_orders),
            "positions": len(self._positions),
            "balances": len(self._balances),
            "recent_fills": sum(len(slot) for slot in self._ring),
        }

    @property
    def ring_capacity(self) -> int:
        return len(self._ring) * self._slot_size

    def on_rest_fills(self, fills: list[FillData]) -> list[Publish]:
        """Recent fills (oldest first on output) not seen yet."""
        ordered = sorted(fills, key=lambda x: (convert.ms(x.ts), x.tradeId))
        return [
            self._keep(convert.fill_from_rest(f))
            for f in ordered
            if f.tradeId and self._fill_once(f.instId, f.tradeId)
        ]

    def seen_fill(self, inst: str, trade_id: str) -> bool:
        return (inst, trade_id) in self._seen_fills

    # --------------------------------------------------------------------------------- orders
    def on_orders(self, orders: list[OrderData], *, derive_fills: bool = True) -> list[Publish]:
        """``orders`` pushes (``derive_fills``) or REST order objects, whose last-fill fields lack
        the fill fee: REST fills come from ``trade/fills`` instead."""
        out: list[Publish] = []
        for o in orders:
            fill = convert.fill_from_order(o) if derive_fills else None
            if fill is not None and self._fill_once(o.instId, o.tradeId):
                out.append(self._keep(fill))
            u = convert.ms(o.uTime)
            said = _content(o)
            known = self._order_utime.get(o.ordId)
            if known is not None and u < known[0]:
                self.orders_stale += 1
                continue
            self._order_utime.put(o.ordId, (u, said), self._clock.monotonic_ns())
            if known is not None and known[1] == said:
                self.orders_repeated += 1
                continue
            topic = topics.order(o.instId)
            if o.state in TERMINAL_STATES:
                self.open_orders.pop(o.ordId, None)
                out.append(Publish(topic, convert.order_update(o), retain=False, forget=True))
            else:
                self.open_orders[o.ordId] = o
                out.append(Publish(topic, convert.order_update(o)))
        return out

    # -------------------------------------------------------------------------------- account
    def _account_msg(self) -> Publish:
        msg = AccountUpdate(
            total_eq=self._total_eq,
            u_time_ms=self._u_time_ms,
            details=[self._balances[c] for c in sorted(self._balances)],
            snapshot=True,
        )
        if (v := self._venue_margin) is not None:
            msg = msgspec.structs.replace(
                msg,
                adj_eq=v.adj_eq,
                imr=v.imr,
                mmr=v.mmr,
                mgn_ratio=v.mgn_ratio,
                notional_usd=v.notional_usd,
            )
        return Publish(topics.ACCOUNT, msg)

    def on_account(self, items: list[Balance], *, snapshot: bool) -> list[Publish]:
        """``account`` push or REST balance; ``snapshot``: the details are the whole account."""
        if not items:
            return []
        for b in items:
            upd = convert.account_update(b, snapshot=snapshot)
            if snapshot:
                self._balances = {}
            for d in upd.details:
                self._balances[d.ccy] = d
            if upd.total_eq is not None:
                self._total_eq = upd.total_eq
                self._venue_margin = upd
            self._u_time_ms = max(self._u_time_ms, upd.u_time_ms)
        return [self._account_msg()]

    # ------------------------------------------------------------------------------ positions
    def _position(self, p: Position) -> Publish:
        topic = topics.position(p.inst, p.mgn_mode, p.pos_side)
        self._positions[topic] = p
        return Publish(topic, p)

    def on_positions(self, items: list[PositionData]) -> list[Publish]:
        return [self._position(convert.position(p)) for p in items]

    def on_balance_and_position(self, items: list[BalanceAndPosition]) -> list[Publish]:
        out: list[Publish] = []
        for bp in items:
            if bp.balData:
                for b in bp.balData:
                    old = self._balances.get(b.ccy)
                    cash = convert.dec(b.cashBal)
                    u = convert.ms(b.uTime)
                    self._balances[b.ccy] = (
                        BalanceDetail(ccy=b.ccy, cash_bal=cash, u_time_ms=u)
                        if old is None
                        else msgspec.structs.replace(old, cash_bal=cash, u_time_ms=u)
                    )
                self._u_time_ms = max(self._u_time_ms, convert.ms(bp.pTime))
                out.append(self._account_msg())
            for pd in bp.posData:
                pos = convert.pos_data_position(pd)
                old_pos = self._positions.get(topics.position(pos.inst, pos.mgn_mode, pos.pos_side))
                if old_pos is not None:
                    # keep the richer fields the positions channel gave; update what changed
                    pos = msgspec.structs.replace(
                        old_pos, pos=pos.pos, avg_px=pos.avg_px, u_time_ms=pos.u_time_ms
                    )
                out.append(self._position(pos))
        return out

    # ----------------------------------------------------------------------------- reconcile
    def reconcile(
        self,
        balance: Balance,
        positions: list[PositionData],
        pending: list[OrderData],
        finals: list[OrderData],
        fills: list[FillData],
    ) -> list[Publish]:
        """REST state after a (re)connect: balance, non-zero positions, pending orders, the final
        state of orders that were open before but are no longer pending, and recent fills."""
        out = self.on_account([balance], snapshot=True)
        fresh = [convert.position(p) for p in positions]
        fresh_topics = {topics.position(p.inst, p.mgn_mode, p.pos_side) for p in fresh}
        for topic, old in list(self._positions.items()):
            if topic not in fresh_topics and old.pos != 0:
                out.append(self._position(msgspec.structs.replace(old, pos=Decimal(0))))
        out.extend(self._position(p) for p in fresh)
        out.extend(self.on_rest_fills(fills))
        out.extend(self.on_orders(finals, derive_fills=False))
        pending_ids = {o.ordId for o in pending}
        for ord_id in [i for i in self.open_orders if i not in pending_ids]:
            # no longer pending and its final state unknown: drop it from the open set
            if all(f.ordId != ord_id for f in finals):
                self.open_orders.pop(ord_id, None)
        out.extend(self.on_orders(pending, derive_fills=False))
        return out


def _content(o: OrderData) -> int:
    """What an order update says, beyond its uTime, hashed: equal for OKX's repeated pushes."""
    return hash(
        (
            o.state,
            o.accFillSz,
            o.px,
            o.sz,
            o.tradeId,
            o.reqId,
            o.amendResult,
            o.cancelSource,
            o.avgPx,
            o.fee,
        )
    )
