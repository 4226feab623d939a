"""The router's pure core: commands, timers, venue answers and order updates in; effects out.

No sockets, no clock: every handler takes the time and returns the effects for the shell
(``engine.router.actor``) to carry out — :class:`Reply`, :class:`Publish`, :class:`Forget`,
:class:`Query` — while venue requests wait in the :class:`~engine.router.batcher.Batcher` until
the shell calls :meth:`RouterCore.take_batches`.

Command protocol on ``ord.cmd`` (identity ``S:<name>:<epoch>`` for strategies, ``O:<name>`` for
operators such as the supervisor):

- ``Hello`` → ``Welcome`` (short id for clOrdIds, limits) or ``Fenced`` (older or fenced epoch).
  A newer epoch of a known name fences the older one (its orders are cancelled).
- ``NewOrder`` / ``Amend`` / ``Cancel`` → ``Ack`` once the venue accepted it (``detail`` = ordId
  for places) or ``Reject`` (``reason``; ``code`` = OKX code when the venue refused). Pre-trade
  refusals are immediate. The outcome (live, filled, canceled, amended) comes as ``OrderEvent``
  on ``ord|<strategy>|<clOrdId>|`` (retained while the order is open: Clone snapshot of open
  orders under the prefix ``ord|<strategy>|``).
- ``CancelAll`` → ``Ack`` (``detail`` = number of orders being cancelled).
- ``Heartbeat`` → nothing; any command counts as a heartbeat.
- ``Bye`` → ``Ack``, then the strategy is fenced and its orders cancelled.
- ``StrategyStatus`` → relayed on ``strat|<strategy>|``.
- Operators: ``CancelAll(strategy=X)`` fences X's epoch and cancels X's orders (death detection
  layer 4); ``CancelAll()`` cancels every order.
- Anything else, a stale ``ts_ns``, a wrong clOrdId or a fenced epoch → ``Reject`` (+ ``Fenced``).

Fencing (death layers 1–3 call :meth:`RouterCore.fence_identity`): later commands of that epoch
are refused, queued places are withdrawn, and every open order of the strategy is cancelled by
clOrdId — also those whose place is still in flight; a place accepted after its cancel failed is
cancelled again on that late ack. Unknown outcomes (timeouts, 5xx, dropped WS, "does not exist")
are resolved by a query, with bounded retries: nothing loops.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from loguru import logger

from engine import topics
from engine.errors import IllegalTransitionError, RateLimitError, VenueError, VenueUnavailableError
from engine.messages import (
    Ack,
    Amend,
    AnyMsg,
    BookState,
    BookTop,
    Bye,
    Cancel,
    CancelAll,
    Envelope,
    Fenced,
    Heartbeat,
    Hello,
    InstrumentInfo,
    MarkPrice,
    NewOrder,
    OrderState,
    OrdType,
    Reject,
    RiskLimits,
    RiskState,
    Side,
    StrategyLimits,
    StrategyStatus,
    Ticker,
    TradingState,
    Welcome,
)
from engine.orders import clordid
from engine.orders.fsm import AMENDABLE_STATES, OrderTrigger, trigger_for_push
from engine.router.batcher import Batch, Batcher
from engine.router.config import RouterConfig
from engine.router.journal import (
    JAck,
    JCommand,
    JEpoch,
    JFill,
    JOrder,
    Journal,
    JournalState,
    JRequest,
    JShortId,
    JUpdate,
)
from engine.router.liveness import Liveness
from engine.router.ownership import OwnedOrder, Ownership, Waiter
from engine.router.pretrade import InstrumentRules, OrderLimits, check_amend, check_new_order
from engine.router.reconcile import plan_reconcile
from gateway.okx.ratelimit import RateLimiter
from gateway.okx.results import TradeResult
from gateway.okx.schemas import AmendOrderReq, CancelOrderReq, FillData, OrderData, PlaceOrderReq

__all__ = ["Effect", "Forget", "Publish", "Query", "Reply", "RouterCore", "Session"]

_MS = 1_000_000
_S = 1_000_000_000
_SEVERITY = {TradingState.ACTIVE: 0, TradingState.REDUCING: 1, TradingState.HALTED: 2}
_GONE_CODES = frozenset({"51400", "51401", "51402", "51603"})  # cancel: filled/canceled/unknown
_ALREADY_CANCELING = "51410"
_DUPLICATE_CLORDID = "51016"
_AMEND_ON_DONE = "51503"
_QUERIES_BEFORE_BACKOFF = 5  # then the interval doubles up to _MAX_RESOLVE_INTERVAL_NS
_MAX_RESOLVE_INTERVAL_NS = 30_000 * 1_000_000
_MAX_RATE_RETRIES = 20
_RATE_CODES = frozenset({"50011", "50013", "50061"})  # refused before processing
_RATE_PAUSE_NS = 200 * _MS
_RESOLVE_AFTER_NS = 3_000 * _MS
_KEEP_TERMINAL_NS = 60_000 * _MS


@dataclass(frozen=True, slots=True)
class Reply:
    identity: bytes
    msg: AnyMsg


@dataclass(frozen=True, slots=True)
class Publish:
    topic: str
    msg: AnyMsg
    retain: bool = True
    forget: bool = False  # drop the retained copy after publishing (terminal order)


@dataclass(frozen=True, slots=True)
class Forget:
    """Stop probing this peer (fenced)."""

    identity: bytes


@dataclass(frozen=True, slots=True)
class Query:
    """Ask the venue for one order by clOrdId; answer with :meth:`RouterCore.on_query_result`."""

    inst: str
    cl_ord_id: str


Effect = Reply | Publish | Forget | Query


@dataclass(slots=True)
class Session:
    """A strategy epoch the router has welcomed."""

    strategy: str
    epoch: int
    identity: bytes
    short_id: str
    inst: str
    fenced: str = ""  # reason once fenced


def parse_identity(identity: bytes) -> tuple[str, str, int] | None:
    """``S:<name>:<epoch>`` → ("S", name, epoch); ``O:<name>`` → ("O", name, 0); else None."""
    try:
        text = identity.decode("ascii")
    except UnicodeDecodeError:
        return None
    if text.startswith("O:") and len(text) > 2:
        return "O", text[2:], 0
    parts = text.split(":")
    if len(parts) == 3 and parts[0] == "S" and parts[1] and parts[2].isdigit():
        return "S", parts[1], int(parts[2])
    return None


def _resolve_after_ns(queries: int) -> int:
    """How long an order may stay unresolved before the next query: 3 s for the first few,
    then doubling up to 30 s, for as long as the venue does not answer."""
    extra = max(0, queries - _QUERIES_BEFORE_BACKOFF + 1)
    return min(_RESOLVE_AFTER_NS << min(extra, 8), _MAX_RESOLVE_INTERVAL_NS)


class RouterCore:
    """Composition of ownership, liveness, batching, pre-trade checks and the journal."""

    def __init__(
        self,
        cfg: RouterConfig,
        journal: Journal,
        *,
        require_risk: bool,
        require_reference: bool,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.cfg = cfg
        self.journal = journal
        self.own = Ownership()
        self.batcher = Batcher(limiter or RateLimiter(), cfg.batch_max)
        self.liveness = Liveness(cfg.dead_after_ms * _MS)
        self._held_logged_ns = -_S  # last "cancels held by rate limit" warning
        self.require_risk = require_risk
        self.require_reference = require_reference
        self.sessions: dict[bytes, Session] = {}
        self.current: dict[str, Session] = {}  # strategy -> latest welcomed session
        self.fenced_epochs: dict[tuple[str, int], str] = {}
        self.short_ids: dict[str, str] = {}
        self.rules: dict[str, InstrumentRules] = {}
        self.mark: dict[str, Decimal] = {}
        self.mid: dict[str, Decimal] = {}
        self.risk_states: dict[tuple[str, str], TradingState] = {}
        self.risk_notional: dict[tuple[str, str], Decimal] = {}
        self.risk_alive = not require_risk
        self.trade_ids: set[tuple[str, str]] = set()
        self._out: list[Effect] = []
        self._wall_ns = 0  # wall time of the current input: journal timestamps
        self.base_limits = OrderLimits(
            max_order_sz=Decimal(cfg.max_order_sz),
            max_order_notional=Decimal(cfg.max_order_notional),
            max_open_orders=cfg.max_open_orders,
            price_band_bps=cfg.price_band_bps,
        )
        self.counters: dict[str, int] = {
            "commands": 0,
            "rejects": 0,
            "fenced": 0,
            "orphans_cancelled": 0,
            "illegal_transitions": 0,
        }

    # ------------------------------------------------------------------------------- outbox
    def _emit(self, eff: Effect) -> None:
        self._out.append(eff)

    def drain(self) -> list[Effect]:
        out, self._out = self._out, []
        return out

    def _reject(
        self, identity: bytes, seq: int, reason: str, cid: str = "", code: str = ""
    ) -> None:
        self.counters["rejects"] += 1
        self._emit(Reply(identity, Reject(cmd_seq=seq, reason=reason, cl_ord_id=cid, code=code)))

    def _publish(self, order: OwnedOrder, **kw: object) -> None:
        topic = topics.order_event_of(order.strategy, order.cl_ord_id)
        ev = order.event(**kw)  # type: ignore[arg-type]
        self._emit(Publish(topic, ev, retain=True, forget=order.terminal))

    def _record_state(self, order: OwnedOrder, now_ns: int, source: str) -> None:
        self.journal.append(
            JUpdate(
                ts_ns=self._wall_ns or now_ns,
                cl_ord_id=order.cl_ord_id,
                state=order.state,
                ord_id=order.ord_id,
                acc_fill_sz=order.acc_fill_sz,
                sz=order.sz,
                px=order.px,
                source=source,
            )
        )

    def _transition(self, order: OwnedOrder, trig: OrderTrigger, now_ns: int, src: str) -> bool:
        """Apply ``trig``; on an illegal pair log it and resolve by a query."""
        try:
            changed = order.apply(trig, now_ns)
        except IllegalTransitionError as exc:
            self.counters["illegal_transitions"] += 1
            logger.warning(
                "illegal order transition",
                clOrdId=order.cl_ord_id,
                state=exc.state,
                trigger=exc.event,
                source=src,
            )
            self._query(order)
            return False
        if changed:
            self.own.on_state(order)
            self._record_state(order, now_ns, src)
        return changed

    # ----------------------------------------------------------------------------- commands
    def on_command(
        self, identity: bytes, env: Envelope, wall_ns: int, mono_ns: int
    ) -> list[Effect]:
        """One command from ``identity``; never raises for anything a peer can send."""
        self._wall_ns = wall_ns
        self.counters["commands"] += 1
        msg = env.msg
        seq = env.seq
        who = parse_identity(identity)
        if who is None:
            self._reject(identity, seq, "bad identity: want S:<name>:<epoch> or O:<name>")
            return self.drain()
        age_ns = wall_ns - env.ts_ns
        kind, name, epoch = who
        if age_ns > self.cfg.stale_cmd_ms * _MS or -age_ns > self.cfg.future_cmd_ms * _MS:
            reason = f"stale command: age {age_ns // _MS} ms"
            if isinstance(msg, Hello):
                # a Hello is answered by Welcome or Fenced; the epoch is not fenced for this
                self._emit(Reply(identity, Fenced(strategy=name, epoch=epoch, reason=reason)))
            else:
                self._reject(identity, seq, reason)
            return self.drain()
        if kind == "O":
            self._on_operator(identity, name, seq, msg, wall_ns, mono_ns)
            return self.drain()
        if isinstance(msg, Hello):
            self._on_hello(identity, name, epoch, seq, msg, wall_ns, mono_ns)
            return self.drain()
        sess = self.sessions.get(identity)
        if sess is None or sess.fenced:
            fenced = self.fenced_epochs.get((name, epoch), "") if sess is None else sess.fenced
            if fenced:
                if not isinstance(msg, Heartbeat):
                    self._reject(identity, seq, f"fenced: {fenced}")
                self._emit(Reply(identity, Fenced(strategy=name, epoch=epoch, reason=fenced)))
            elif not isinstance(msg, Heartbeat):
                self._reject(identity, seq, "unknown strategy: send Hello first")
            return self.drain()
        self.liveness.on_message(identity, mono_ns)
        if isinstance(msg, Heartbeat):
            pass
        elif isinstance(msg, NewOrder):
            self._on_new_order(sess, identity, seq, msg, wall_ns, mono_ns)
        elif isinstance(msg, Cancel):
            self._on_cancel(sess, identity, seq, msg, wall_ns, mono_ns)
        elif isinstance(msg, Amend):
            self._on_amend(sess, identity, seq, msg, wall_ns, mono_ns)
        elif isinstance(msg, CancelAll):
            if msg.strategy and msg.strategy != sess.strategy:
                self._reject(identity, seq, "a strategy may only cancel its own orders")
            else:
                n = self.cancel_strategy(sess.strategy, msg.inst, mono_ns, wall_ns, "cancel-all")
                self._emit(Reply(identity, Ack(cmd_seq=seq, detail=str(n))))
        elif isinstance(msg, Bye):
            self._emit(Reply(identity, Ack(cmd_seq=seq, detail="bye")))
            self._fence(sess, f"bye: {msg.reason}".rstrip(": "), wall_ns, mono_ns)
        elif isinstance(msg, StrategyStatus):
            self._emit(Publish(topics.strategy_status(sess.strategy), msg))
        else:
            self._reject(identity, seq, f"unexpected command {type(msg).__name__}")
        return self.drain()

    def _on_operator(
        self, identity: bytes, name: str, seq: int, msg: AnyMsg, wall_ns: int, mono_ns: int
    ) -> None:
        if not isinstance(msg, CancelAll):
            if not isinstance(msg, Heartbeat):
                self._reject(identity, seq, "operators may only send CancelAll")
            return
        self.journal.append(
            JCommand(ts_ns=wall_ns, peer=name, cmd_seq=seq, kind="cancel-all", detail=msg.reason)
        )
        if msg.strategy:
            sess = self.current.get(msg.strategy)
            if sess is not None and not sess.fenced:
                self._fence(sess, f"operator {name}: {msg.reason}", wall_ns, mono_ns)
            n = self.cancel_strategy(msg.strategy, msg.inst, mono_ns, wall_ns, f"operator {name}")
        else:
            n = self.cancel_everything(mono_ns, wall_ns, f"operator {name}: {msg.reason}")
        logger.warning("operator cancel-all", operator=name, strategy=msg.strategy, orders=n)
        self._emit(Reply(identity, Ack(cmd_seq=seq, detail=str(n))))

    def _short_id(self, strategy: str, wall_ns: int) -> str:
        sid = self.short_ids.get(strategy)
        if sid is None:
            sid = clordid.short_id_for(len(self.short_ids))
            self.short_ids[strategy] = sid
            self.journal.append(JShortId(ts_ns=wall_ns, strategy=strategy, short_id=sid))
        return sid

    def _on_hello(
        self,
        identity: bytes,
        name: str,
        epoch: int,
        seq: int,
        msg: Hello,
        wall_ns: int,
        mono_ns: int,
    ) -> None:
        bad = ""
        if msg.strategy != name or msg.epoch != epoch:
            bad = "Hello does not match the routing id S:<name>:<epoch>"
        elif not 0 <= epoch <= clordid.EPOCH_MAX:
            bad = "epoch out of range"
        if bad:
            self._reject(identity, seq, bad)
            self._emit(Reply(identity, Fenced(strategy=name, epoch=epoch, reason=bad)))
            return
        reason = self.fenced_epochs.get((name, epoch))
        cur = self.current.get(name)
        if reason is None and cur is not None and cur.epoch > epoch:
            reason = "a newer epoch of this strategy exists"
        if reason:
            self._emit(Reply(identity, Fenced(strategy=name, epoch=epoch, reason=reason)))
            return
        if cur is not None and cur.epoch < epoch and not cur.fenced:
            self._fence(cur, "replaced by a newer epoch", wall_ns, mono_ns)
        sess = self.sessions.get(identity)
        if sess is None:
            sess = Session(name, epoch, identity, self._short_id(name, wall_ns), msg.inst)
            self.sessions[identity] = sess
            self.current[name] = sess
            self.journal.append(JEpoch(ts_ns=wall_ns, strategy=name, epoch=epoch, event="welcome"))
            logger.info("strategy welcomed", strategy=name, epoch=epoch, short_id=sess.short_id)
        self.liveness.on_message(identity, mono_ns)
        limits = self.limits_for(name, msg.inst)
        self._emit(
            Reply(
                identity,
                Welcome(
                    strategy=name,
                    epoch=epoch,
                    short_id=sess.short_id,
                    limits=StrategyLimits(
                        max_order_sz=limits.max_order_sz,
                        max_order_notional=limits.max_order_notional,
                        max_open_orders=limits.max_open_orders,
                        price_band_bps=limits.price_band_bps,
                        trading_state=limits.trading_state,
                    ),
                    heartbeat_ms=self.cfg.heartbeat_ms,
                    dead_after_ms=self.cfg.dead_after_ms,
                ),
            )
        )

    # ------------------------------------------------------------------------------- limits
    def trading_state(self, strategy: str, inst: str) -> TradingState:
        worst = TradingState.ACTIVE
        for key in (("account", "*"), ("inst", inst), ("strategy", strategy)):
            st = self.risk_states.get(key, TradingState.ACTIVE)
            if _SEVERITY[st] > _SEVERITY[worst]:
                worst = st
        return worst

    def limits_for(self, strategy: str, inst: str) -> OrderLimits:
        base = self.base_limits
        notional = base.max_order_notional
        for key in (("account", "*"), ("inst", inst), ("strategy", strategy)):
            lim = self.risk_notional.get(key)
            if lim is not None and lim < notional:
                notional = lim
        return OrderLimits(
            max_order_sz=base.max_order_sz,
            max_order_notional=notional,
            max_open_orders=base.max_open_orders,
            price_band_bps=base.price_band_bps,
            trading_state=self.trading_state(strategy, inst),
        )

    def ref_px(self, inst: str) -> Decimal | None:
        return self.mark.get(inst) or self.mid.get(inst)

    # ---------------------------------------------------------------------------- new order
    def _on_new_order(
        self, sess: Session, identity: bytes, seq: int, msg: NewOrder, wall_ns: int, mono_ns: int
    ) -> None:
        cid = msg.cl_ord_id
        parts = clordid.decode(cid)
        if parts is None or parts.short_id != sess.short_id or parts.epoch != sess.epoch:
            self._reject(identity, seq, "clOrdId not of this strategy epoch", cid)
            return
        if cid in self.own:
            self._reject(identity, seq, "duplicate clOrdId", cid)
            return
        if self.require_risk and not self.risk_alive:
            self._reject(identity, seq, "risk heartbeat missing: new orders blocked", cid)
            return
        why = check_new_order(
            msg,
            self.rules.get(msg.inst),
            self.limits_for(sess.strategy, msg.inst),
            self.own.open_count(sess.strategy),
            self.ref_px(msg.inst),
            require_reference=self.require_reference,
        )
        if why is not None:
            self._reject(identity, seq, why, cid)
            return
        order = OwnedOrder(
            cl_ord_id=cid,
            strategy=sess.strategy,
            epoch=sess.epoch,
            inst=msg.inst,
            side=msg.side,
            ord_type=msg.ord_type,
            sz=msg.sz,
            px=msg.px,
            td_mode=msg.td_mode,
            pos_side=msg.pos_side,
            reduce_only=msg.reduce_only,
            since_ns=mono_ns,
            place_waiter=Waiter(identity, seq),
        )
        self.own.add(order)
        self.journal.append(
            JOrder(
                ts_ns=wall_ns,
                cl_ord_id=cid,
                strategy=sess.strategy,
                epoch=sess.epoch,
                inst=msg.inst,
                side=msg.side,
                ord_type=msg.ord_type,
                sz=msg.sz,
                px=msg.px,
                td_mode=msg.td_mode,
                pos_side=msg.pos_side,
                reduce_only=msg.reduce_only,
            )
        )
        self._queue_place(order)

    def _place_req(self, o: OwnedOrder) -> PlaceOrderReq:
        return PlaceOrderReq(
            instId=o.inst,
            tdMode=o.td_mode,
            side=o.side.value,
            ordType=o.ord_type.value,
            sz=str(o.sz),
            px="" if o.px is None else str(o.px),
            clOrdId=o.cl_ord_id,
            tag=self.cfg.order_tag,
            posSide=o.pos_side,
            reduceOnly=o.reduce_only,
        )

    def _queue_place(self, order: OwnedOrder) -> None:
        order.place_attempts += 1
        self.batcher.add("place", self._place_req(order))

    # ------------------------------------------------------------------------------- cancel
    def _on_cancel(
        self, sess: Session, identity: bytes, seq: int, msg: Cancel, wall_ns: int, mono_ns: int
    ) -> None:
        order = self.own.get(msg.cl_ord_id)
        if order is None or order.strategy != sess.strategy:
            self._reject(identity, seq, "unknown clOrdId", msg.cl_ord_id)
            return
        if order.terminal:
            self._reject(identity, seq, f"order already {order.state.value}", msg.cl_ord_id)
            return
        order.cancel_waiters.append(Waiter(identity, seq))
        self.request_cancel(order, mono_ns, "strategy cancel")

    def request_cancel(self, order: OwnedOrder, mono_ns: int, reason: str) -> bool:
        """Cancel ``order`` (idempotent); True if anything was done."""
        if order.terminal:
            return False
        order.want_cancel = True
        if order.state is OrderState.PENDING:
            # still queued: withdraw it, nothing reached the venue
            self.batcher.drop("place", order.cl_ord_id)
            self._transition(order, OrderTrigger.CANCEL_REQUEST, mono_ns, "withdrawn")
            self._settle_waiters(order, f"withdrawn before sending: {reason}")
            self._publish(order, reason=reason)
            return True
        if order.state is not OrderState.CANCEL_PENDING:
            self._transition(order, OrderTrigger.CANCEL_REQUEST, mono_ns, "cancel")
            self._publish(order, reason=reason)
        if not order.cancel_in_flight:
            self._queue_cancel(order, mono_ns)
        return True

    def _queue_cancel(self, order: OwnedOrder, mono_ns: int) -> None:
        order.cancel_in_flight = True
        order.cancel_attempts += 1
        order.since_ns = mono_ns
        self.batcher.add("cancel", CancelOrderReq(instId=order.inst, clOrdId=order.cl_ord_id))

    def cancel_strategy(
        self, strategy: str, inst: str, mono_ns: int, wall_ns: int, reason: str
    ) -> int:
        n = 0
        for order in self.own.open_orders(strategy, inst):
            n += self.request_cancel(order, mono_ns, reason)
        return n

    def cancel_everything(self, mono_ns: int, wall_ns: int, reason: str) -> int:
        n = 0
        for order in self.own.open_orders():
            n += self.request_cancel(order, mono_ns, reason)
        return n

    def _settle_waiters(self, order: OwnedOrder, reason: str, code: str = "") -> None:
        """Answer every command still waiting on ``order`` (it reached a final state)."""
        cid = order.cl_ord_id
        if order.place_waiter is not None:
            w, order.place_waiter = order.place_waiter, None
            if order.state is OrderState.REJECTED or not order.venue_seen:
                self._emit(
                    Reply(
                        w.identity,
                        Reject(cmd_seq=w.cmd_seq, reason=reason, cl_ord_id=cid, code=code),
                    )
                )
            else:
                self._emit(
                    Reply(w.identity, Ack(cmd_seq=w.cmd_seq, cl_ord_id=cid, detail=order.ord_id))
                )
        for w in order.cancel_waiters:
            self._emit(
                Reply(w.identity, Ack(cmd_seq=w.cmd_seq, cl_ord_id=cid, detail=order.state.value))
            )
        order.cancel_waiters.clear()
        if order.amend_waiter is not None:
            w, order.amend_waiter = order.amend_waiter, None
            self._emit(
                Reply(
                    w.identity,
                    Reject(cmd_seq=w.cmd_seq, reason=f"order {reason}", cl_ord_id=cid, code=code),
                )
            )

    # -------------------------------------------------------------------------------- amend
    def _on_amend(
        self, sess: Session, identity: bytes, seq: int, msg: Amend, wall_ns: int, mono_ns: int
    ) -> None:
        order = self.own.get(msg.cl_ord_id)
        if order is None or order.strategy != sess.strategy:
            self._reject(identity, seq, "unknown clOrdId", msg.cl_ord_id)
            return
        if order.state not in AMENDABLE_STATES or order.want_cancel:
            self._reject(
                identity, seq, f"cannot amend in state {order.state.value}", order.cl_ord_id
            )
            return
        if self.require_risk and not self.risk_alive:
            self._reject(identity, seq, "risk heartbeat missing: amends blocked", order.cl_ord_id)
            return
        why = check_amend(
            order.sz,
            order.px,
            order.acc_fill_sz,
            msg.new_sz,
            msg.new_px,
            self.rules.get(order.inst),
            self.limits_for(order.strategy, order.inst),
            self.ref_px(order.inst),
            require_reference=self.require_reference,
        )
        if why is not None:
            self._reject(identity, seq, why, order.cl_ord_id)
            return
        if not self._transition(order, OrderTrigger.AMEND_REQUEST, mono_ns, "amend"):
            self._reject(identity, seq, "amend not possible now", order.cl_ord_id)
            return
        order.amend_waiter = Waiter(identity, seq)
        order.pending_amend = (msg.new_sz, msg.new_px)
        self.journal.append(
            JCommand(
                ts_ns=wall_ns,
                peer=sess.strategy,
                cmd_seq=seq,
                kind="amend",
                cl_ord_id=order.cl_ord_id,
                detail=f"sz={msg.new_sz} px={msg.new_px}",
            )
        )
        self.batcher.add(
            "amend",
            AmendOrderReq(
                instId=order.inst,
                clOrdId=order.cl_ord_id,
                newSz="" if msg.new_sz is None else str(msg.new_sz),
                newPx="" if msg.new_px is None else str(msg.new_px),
            ),
        )

    # ------------------------------------------------------------------------------ fencing
    def _fence(self, sess: Session, reason: str, wall_ns: int, mono_ns: int) -> None:
        if sess.fenced:
            return
        sess.fenced = reason
        self.counters["fenced"] += 1
        self.fenced_epochs[(sess.strategy, sess.epoch)] = reason
        self.liveness.forget(sess.identity)
        self.journal.append(
            JEpoch(
                ts_ns=wall_ns,
                strategy=sess.strategy,
                epoch=sess.epoch,
                event="fenced",
                reason=reason,
            )
        )
        n = self.cancel_strategy(sess.strategy, "", mono_ns, wall_ns, f"fenced: {reason}")
        logger.warning(
            "strategy fenced", strategy=sess.strategy, epoch=sess.epoch, reason=reason, cancelling=n
        )
        self._emit(Forget(sess.identity))
        self._emit(
            Reply(sess.identity, Fenced(strategy=sess.strategy, epoch=sess.epoch, reason=reason))
        )

    def fence_identity(
        self, identity: bytes, reason: str, wall_ns: int, mono_ns: int
    ) -> list[Effect]:
        """Death detected (disconnect probe, heartbeat silence, EAGAIN): fence and cancel."""
        self._wall_ns = wall_ns
        sess = self.sessions.get(identity)
        if sess is not None and not sess.fenced:
            self._fence(sess, reason, wall_ns, mono_ns)
        return self.drain()

    # -------------------------------------------------------------------------------- timer
    def on_timer(self, wall_ns: int, mono_ns: int) -> list[Effect]:
        """Call every ~10 ms: heartbeat silence, stuck orders, pruning."""
        self._wall_ns = wall_ns
        for identity in self.liveness.expired(mono_ns):
            sess = self.sessions.get(identity)
            if sess is not None and not sess.fenced:
                self._fence(sess, f"no heartbeat for {self.cfg.dead_after_ms} ms", wall_ns, mono_ns)
        return self.drain()

    def on_slow_timer(self, wall_ns: int, mono_ns: int) -> list[Effect]:
        """Call every ~0.5 s: resolve orders whose outcome is overdue, prune old ones."""
        self._wall_ns = wall_ns
        for order in self.own.open_orders():
            overdue = mono_ns - order.since_ns > _resolve_after_ns(order.queries)
            if overdue and order.state in (
                OrderState.SENT,
                OrderState.ACK,
                OrderState.CANCEL_PENDING,
                OrderState.AMEND_PENDING,
            ):
                if order.state is OrderState.CANCEL_PENDING and not order.venue_seen:
                    # never acknowledged: maybe never placed; ask, then maybe cancel again
                    order.cancel_in_flight = False
                self._query(order)
        self.own.prune(mono_ns, _KEEP_TERMINAL_NS)
        return self.drain()

    def take_batches(self, mono_ns: int) -> list[Batch]:
        """Venue requests to send now (journalled as sent); marks places SENT."""
        batches = self.batcher.take(mono_ns)
        held = self.batcher.queued("cancel")
        if held and self.batcher.retry_at_ns and mono_ns >= self._held_logged_ns + _S:
            # cancels waiting for tokens delay cancel-on-death: say so (at most once a second)
            self._held_logged_ns = mono_ns
            wait_ms = (self.batcher.retry_at_ns - mono_ns) / _MS
            logger.warning("cancels held by rate limit", cancels=held, wait_ms=round(wait_ms, 1))
        for b in batches:
            if b.op == "place":
                for cid in b.cl_ord_ids:
                    order = self.own.get(cid)
                    if order is not None and order.state is OrderState.PENDING:
                        self._transition(order, OrderTrigger.SUBMIT, mono_ns, "sent")
        return batches

    def journal_request(self, batch: Batch, transport: str, wall_ns: int) -> None:
        self.journal.append(
            JRequest(ts_ns=wall_ns, op=batch.op, transport=transport, cl_ord_ids=batch.cl_ord_ids)
        )

    # ------------------------------------------------------------------------ venue results
    def on_venue_result(
        self, batch: Batch, result: TradeResult | VenueError, wall_ns: int, mono_ns: int
    ) -> list[Effect]:
        """The venue's answer to ``batch`` (per-item results or a request-level error)."""
        self._wall_ns = wall_ns
        if isinstance(result, VenueError):
            for cid in batch.cl_ord_ids:
                order = self.own.get(cid)
                if order is not None:
                    self._on_request_error(batch, order, result, wall_ns, mono_ns)
            return self.drain()
        items = result.items
        for i, cid in enumerate(batch.cl_ord_ids):
            order = self.own.get(cid)
            if order is None:
                continue
            if i >= len(items):
                self._on_request_error(
                    batch,
                    order,
                    VenueUnavailableError("missing", "no result item"),
                    wall_ns,
                    mono_ns,
                )
                continue
            item = items[i]
            if item.sCode in _RATE_CODES:
                err = RateLimitError(item.sCode, item.sMsg)
                self._on_request_error(batch, order, err, wall_ns, mono_ns)
                continue
            self.journal.append(
                JAck(
                    ts_ns=wall_ns,
                    op=batch.op,
                    cl_ord_id=cid,
                    code=item.sCode,
                    msg=item.sMsg,
                    ord_id=item.ordId,
                )
            )
            if batch.op == "place":
                self._on_place_item(order, item.sCode, item.sMsg, item.ordId, mono_ns)
            elif batch.op == "cancel":
                self._on_cancel_item(order, item.sCode, item.sMsg, mono_ns)
            else:
                self._on_amend_item(order, item.sCode, item.sMsg, mono_ns)
        return self.drain()

    def _on_place_item(
        self, order: OwnedOrder, code: str, msg: str, ord_id: str, mono_ns: int
    ) -> None:
        if code == "0":
            order.venue_seen = True
            self.own.set_ord_id(order, ord_id)
            changed = self._transition(order, OrderTrigger.VENUE_ACCEPT, mono_ns, "place-ack")
            if order.place_waiter is not None:
                w, order.place_waiter = order.place_waiter, None
                self._emit(
                    Reply(
                        w.identity,
                        Ack(cmd_seq=w.cmd_seq, cl_ord_id=order.cl_ord_id, detail=order.ord_id),
                    )
                )
            if changed:
                self._publish(order)
            self._maybe_recancel(order, mono_ns)
            return
        if code == _DUPLICATE_CLORDID:
            # an earlier attempt of this very order landed: find out what the venue has
            self._query(order)
            return
        order.venue_seen = True  # the venue answered: it knows the order is refused
        self._transition(order, OrderTrigger.VENUE_REJECT, mono_ns, "place-reject")
        order.want_cancel = False
        order.cancel_in_flight = False
        self._settle_waiters(order, f"venue: {msg}" if msg else "venue rejected", code)
        self._publish(order, reason=msg or "venue rejected", code=code)

    def _maybe_recancel(self, order: OwnedOrder, mono_ns: int) -> None:
        """Cancel again when a cancel was wanted but could not land (late ack, lost cancel)."""
        if order.want_cancel and not order.terminal and not order.cancel_in_flight:
            if order.cancel_attempts <= self.cfg.max_cancel_retries + 1:
                self._queue_cancel(order, mono_ns)
            else:
                self._query(order)

    def _on_cancel_item(self, order: OwnedOrder, code: str, msg: str, mono_ns: int) -> None:
        order.cancel_in_flight = False
        if code in ("0", _ALREADY_CANCELING):
            order.venue_seen = True
            for w in order.cancel_waiters:
                self._emit(Reply(w.identity, Ack(cmd_seq=w.cmd_seq, cl_ord_id=order.cl_ord_id)))
            order.cancel_waiters.clear()
            return
        if code in _GONE_CODES:
            if not order.venue_seen:
                # the place is still in flight: the late ack will re-cancel
                return
            self._settle_after_query(order, code, msg)
            self._query(order)
            return
        self._transition(order, OrderTrigger.CANCEL_FAILED, mono_ns, "cancel-reject")
        order.want_cancel = False
        self._reject_cancel_waiters(order, code, msg or "cancel failed")
        self._publish(order, reason=msg or "cancel failed", code=code)

    def _settle_after_query(self, order: OwnedOrder, code: str, msg: str) -> None:
        self._reject_cancel_waiters(order, code, msg or "order gone")

    def _reject_cancel_waiters(self, order: OwnedOrder, code: str, reason: str) -> None:
        """Answer every strategy awaiting this cancel with a Reject carrying the venue code."""
        for w in order.cancel_waiters:
            reject = Reject(cmd_seq=w.cmd_seq, reason=reason, cl_ord_id=order.cl_ord_id, code=code)
            self._emit(Reply(w.identity, reject))
        order.cancel_waiters.clear()

    def _on_amend_item(self, order: OwnedOrder, code: str, msg: str, mono_ns: int) -> None:
        w, order.amend_waiter = order.amend_waiter, None
        if code == "0":
            if w is not None:
                self._emit(Reply(w.identity, Ack(cmd_seq=w.cmd_seq, cl_ord_id=order.cl_ord_id)))
            return  # the orders push carries the outcome (amendResult)
        order.pending_amend = None
        if w is not None:
            self._emit(
                Reply(
                    w.identity,
                    Reject(
                        cmd_seq=w.cmd_seq,
                        reason=msg or "amend failed",
                        cl_ord_id=order.cl_ord_id,
                        code=code,
                    ),
                )
            )
        if order.state is OrderState.AMEND_PENDING:
            self._transition(order, OrderTrigger.AMEND_FAILED, mono_ns, "amend-reject")
            self._publish(order, reason=msg or "amend failed", code=code)
        if code == _AMEND_ON_DONE:
            self._query(order)

    def _on_request_error(
        self, batch: Batch, order: OwnedOrder, err: VenueError, wall_ns: int, mono_ns: int
    ) -> None:
        self.journal.append(
            JAck(ts_ns=wall_ns, op=batch.op, cl_ord_id=order.cl_ord_id, code=err.code, msg=err.msg)
        )
        if isinstance(err, RateLimitError):
            # refused before processing: the same request may go again, a little later
            self.batcher.pause(batch.op, mono_ns + _RATE_PAUSE_NS)
            if batch.op == "place" and order.place_attempts < _MAX_RATE_RETRIES:
                if not order.want_cancel:
                    order.place_attempts += 1
                    self.batcher.add("place", self._place_req(order))
                    return
            elif batch.op == "cancel" and order.cancel_attempts < _MAX_RATE_RETRIES + 1:
                order.cancel_in_flight = False
                self._queue_cancel(order, mono_ns)
                return
            elif batch.op == "amend":
                self._on_amend_item(order, err.code, err.msg, mono_ns)
                return
        if isinstance(err, VenueUnavailableError | RateLimitError):
            # outcome unknown: cancels are idempotent, everything else is looked up
            if batch.op == "cancel":
                order.cancel_in_flight = False
                if order.cancel_attempts <= self.cfg.max_cancel_retries:
                    self._queue_cancel(order, mono_ns)
                else:
                    self._query(order)
            else:
                if batch.op == "amend":
                    w, order.amend_waiter = order.amend_waiter, None
                    if w is not None:
                        self._emit(
                            Reply(
                                w.identity,
                                Reject(
                                    cmd_seq=w.cmd_seq,
                                    reason=f"amend outcome unknown: {err.msg}",
                                    cl_ord_id=order.cl_ord_id,
                                    code=err.code,
                                ),
                            )
                        )
                self._query(order)
            return
        # a request-level refusal (bad args, auth): nothing was done
        if batch.op == "place":
            self._on_place_item(order, err.code, err.msg, "", mono_ns)
        elif batch.op == "cancel":
            order.cancel_in_flight = False
            self._query(order)
        else:
            self._on_amend_item(order, err.code, err.msg, mono_ns)

    # ------------------------------------------------------------------------------ queries
    def _query(self, order: OwnedOrder) -> None:
        if order.query_in_flight or order.terminal:
            return
        if order.queries == _QUERIES_BEFORE_BACKOFF:
            # never give up (an order left unresolved is unmanaged money), but say so and ask
            # less often: a venue outage may last minutes
            logger.error(
                "order still unresolved: asking again with backoff",
                clOrdId=order.cl_ord_id,
                state=order.state.value,
                queries=order.queries,
                max_interval_s=_MAX_RESOLVE_INTERVAL_NS / _S,
            )
        order.query_in_flight = True
        order.queries += 1
        self._emit(Query(order.inst, order.cl_ord_id))

    def on_query_result(
        self, cl_ord_id: str, data: OrderData | VenueError | None, wall_ns: int, mono_ns: int
    ) -> list[Effect]:
        """``data``: the venue's order, ``None`` when it has none (51603), or the query error."""
        self._wall_ns = wall_ns
        order = self.own.get(cl_ord_id)
        if order is None:
            return self.drain()
        order.query_in_flight = False
        order.since_ns = mono_ns
        if isinstance(data, VenueError):
            return self.drain()  # the overdue timer asks again, with backoff
        order.queries = 0  # an answer: the next doubt starts with a fresh, fast budget
        if data is None:
            if (
                not order.want_cancel
                and order.state in (OrderState.SENT, OrderState.PENDING)
                and order.place_attempts <= self.cfg.max_place_retries
            ):
                # the place never arrived: send it again (idempotent by clOrdId)
                self._queue_place(order)
                return self.drain()
            order.cancel_in_flight = False
            order.want_cancel = False
            if self._transition(order, OrderTrigger.NOT_FOUND, mono_ns, "query"):
                self._settle_waiters(order, "not found at the venue", "51603")
                self._publish(order, reason="not found at the venue", code="51603")
            return self.drain()
        self._apply_update(order, data, wall_ns, mono_ns, "query")
        return self.drain()

    # ------------------------------------------------------------------------ order updates
    def on_order_update(self, data: OrderData, wall_ns: int, mono_ns: int) -> list[Effect]:
        """One venue order object (WS ``orders`` push, or REST)."""
        self._wall_ns = wall_ns
        order = self.own.get(data.clOrdId) if data.clOrdId else self.own.by_ord_id(data.ordId)
        if order is None:
            if clordid.is_ours(data.clOrdId) and data.state in ("live", "partially_filled"):
                self.cancel_orphan(data.instId, data.clOrdId, mono_ns)
            return self.drain()
        self._apply_update(order, data, wall_ns, mono_ns, "push")
        return self.drain()

    def cancel_orphan(self, inst: str, cl_ord_id: str, mono_ns: int) -> None:
        """A live order with our prefix that nobody owns: cancel it."""
        self.counters["orphans_cancelled"] += 1
        logger.warning("cancelling orphan order", clOrdId=cl_ord_id, inst=inst)
        self.batcher.add("cancel", CancelOrderReq(instId=inst, clOrdId=cl_ord_id))

    def _apply_update(
        self, order: OwnedOrder, d: OrderData, wall_ns: int, mono_ns: int, source: str
    ) -> None:
        order.venue_seen = True
        self.own.set_ord_id(order, d.ordId)
        acc = _dec(d.accFillSz)
        sz = _dec(d.sz) or order.sz
        fill_sz = _dec(d.fillSz)
        fill_kw: dict[str, object] = {}
        if d.tradeId and fill_sz > 0 and (d.instId, d.tradeId) not in self.trade_ids:
            self._record_fill(order, d, fill_sz, wall_ns)
            fill_kw = {
                "fill_px": _dec_none(d.fillPx),
                "fill_sz": fill_sz,
                "trade_id": d.tradeId,
                "fee": _dec_none(d.fillFee),
                "fee_ccy": d.fillFeeCcy or d.feeCcy,
            }
        if acc > order.acc_fill_sz:
            order.acc_fill_sz = acc
        avg = _dec_none(d.avgPx)
        if avg:
            order.avg_px = avg
        amend_result = d.amendResult
        if source == "query" and order.state is OrderState.AMEND_PENDING and order.pending_amend:
            want_sz, want_px = order.pending_amend
            done = (want_px is None or _dec_none(d.px) == want_px) and (
                want_sz is None or sz == want_sz
            )
            amend_result = "0" if done else "-1"
        try:
            trig = trigger_for_push(d.state, acc, sz, amend_result)
        except Exception:  # noqa: BLE001 - RemoteProtocolError from an unknown state: resolve
            logger.warning("unknown venue order state", clOrdId=order.cl_ord_id, state=d.state)
            return
        if trig is OrderTrigger.AMEND_DONE:
            order.sz = sz
            order.px = _dec_none(d.px) if d.px else order.px
            order.pending_amend = None
        elif trig is OrderTrigger.AMEND_FAILED:
            order.pending_amend = None
        changed = self._transition(order, trig, mono_ns, source)
        if order.place_waiter is not None and not order.terminal:
            # the place's own answer was lost (timeout, dropped WS): the venue has the order
            w, order.place_waiter = order.place_waiter, None
            self._emit(
                Reply(
                    w.identity,
                    Ack(cmd_seq=w.cmd_seq, cl_ord_id=order.cl_ord_id, detail=order.ord_id),
                )
            )
        if order.terminal:
            order.want_cancel = False
            order.cancel_in_flight = False
            self._settle_waiters(order, order.state.value)
        if changed or fill_kw:
            reason = f"cancelSource {d.cancelSource}" if d.cancelSource else ""
            self._publish(order, reason=reason, ts_ms=_int(d.uTime), **fill_kw)
        self._maybe_recancel(order, mono_ns)

    def _record_fill(self, order: OwnedOrder, d: OrderData, fill_sz: Decimal, wall_ns: int) -> None:
        self.trade_ids.add((d.instId, d.tradeId))
        order.trade_ids.add(d.tradeId)
        self.journal.append(
            JFill(
                ts_ns=wall_ns,
                inst=d.instId,
                trade_id=d.tradeId,
                cl_ord_id=order.cl_ord_id,
                ord_id=d.ordId,
                side=order.side,
                px=_dec(d.fillPx),
                sz=fill_sz,
                fee=_dec(d.fillFee),
                fee_ccy=d.fillFeeCcy or d.feeCcy,
                ts_ms=_int(d.fillTime),
            )
        )

    def on_fill(self, f: FillData, wall_ns: int) -> list[Effect]:
        """A fill from REST ``trade/fills`` (reconciliation): journal it once if it is ours."""
        if (f.instId, f.tradeId) in self.trade_ids:
            return self.drain()
        order = self.own.get(f.clOrdId)
        if order is None:
            return self.drain()
        self.trade_ids.add((f.instId, f.tradeId))
        order.trade_ids.add(f.tradeId)
        self.journal.append(
            JFill(
                ts_ns=wall_ns,
                inst=f.instId,
                trade_id=f.tradeId,
                cl_ord_id=f.clOrdId,
                ord_id=f.ordId,
                side=order.side,
                px=_dec(f.fillPx),
                sz=_dec(f.fillSz),
                fee=_dec(f.fee),
                fee_ccy=f.feeCcy,
                ts_ms=_int(f.fillTime),
            )
        )
        self._publish(
            order,
            fill_px=_dec(f.fillPx),
            fill_sz=_dec(f.fillSz),
            trade_id=f.tradeId,
            fee=_dec(f.fee),
            fee_ccy=f.feeCcy,
            ts_ms=_int(f.fillTime),
        )
        return self.drain()

    # ------------------------------------------------------------------ restart / reconcile
    def restore(self, state: JournalState, wall_ns: int, mono_ns: int) -> None:
        """Rebuild from the journal after a restart (before reconciling with the venue).

        Strategy epochs that were welcomed and not fenced get ``restart_grace_ms`` to speak
        again (their DEALER reconnects by itself); then the heartbeat rule applies."""
        self._wall_ns = wall_ns
        self.short_ids.update(state.short_ids)
        for name, epoch in state.fenced:
            self.fenced_epochs[(name, epoch)] = "fenced before router restart"
        grace_ns = self.cfg.restart_grace_ms * _MS
        for name, epoch in state.epochs.items():
            if (name, epoch) in state.fenced or name not in self.short_ids:
                continue
            identity = f"S:{name}:{epoch}".encode()
            sess = Session(name, epoch, identity, self.short_ids[name], "")
            self.sessions[identity] = sess
            self.current[name] = sess
            self.liveness.on_message(identity, mono_ns + grace_ns)
        self.trade_ids |= state.trade_ids
        for cid, jo in state.orders.items():
            if jo.state in (OrderState.FILLED, OrderState.CANCELED, OrderState.REJECTED):
                continue
            j = jo.order
            order = OwnedOrder(
                cl_ord_id=cid,
                strategy=j.strategy,
                epoch=j.epoch,
                inst=j.inst,
                side=j.side,
                ord_type=j.ord_type,
                sz=jo.sz if jo.sz is not None else j.sz,
                px=jo.px if jo.px is not None else j.px,
                td_mode=j.td_mode,
                pos_side=j.pos_side,
                reduce_only=j.reduce_only,
                state=jo.state,
                ord_id=jo.ord_id,
                acc_fill_sz=jo.acc_fill_sz,
                since_ns=mono_ns,
                venue_seen=bool(jo.ord_id),
            )
            if order.state is OrderState.PENDING and jo.sent:
                order.state = OrderState.SENT  # the request went out; its answer was lost
            if order.state in (OrderState.CANCEL_PENDING, OrderState.AMEND_PENDING):
                order.state = (
                    OrderState.LIVE if order.acc_fill_sz == 0 else (OrderState.PARTIALLY_FILLED)
                )  # the request's outcome comes with the venue
            self.own.add(order)
            if order.state is OrderState.PENDING:
                # never left the router: nothing to cancel at the venue
                self._transition(order, OrderTrigger.VENUE_REJECT, mono_ns, "restart")
                self._publish(order, reason="router restarted before sending")
            elif (j.strategy, j.epoch) in self.fenced_epochs:
                order.want_cancel = True
        logger.info(
            "journal restored",
            records=state.records,
            open_orders=len(self.own.open_orders()),
            strategies=len(self.sessions),
        )

    def _attributable(self, short_id: str, epoch: int) -> bool:
        for name, sid in self.short_ids.items():
            if sid == short_id:
                sess = self.current.get(name)
                return sess is not None and sess.epoch == epoch and not sess.fenced
        return False

    def reconcile(
        self,
        pending: list[OrderData],
        fills: list[FillData],
        wall_ns: int,
        mono_ns: int,
    ) -> list[Effect]:
        """Align our books with the venue's pending orders and recent fills (see reconcile.py)."""
        self._wall_ns = wall_ns
        known = {o.cl_ord_id for o in self.own.all()}
        open_known = [o.cl_ord_id for o in self.own.open_orders()]
        plan = plan_reconcile(pending, fills, known, open_known, self._attributable, self.trade_ids)
        for f in plan.fills:
            self.on_fill(f, wall_ns)
        for d in plan.adopt:
            order = self.own.get(d.clOrdId)
            if order is not None:
                self._apply_update(order, d, wall_ns, mono_ns, "reconcile")
        for d in plan.attribute:
            parts = clordid.decode(d.clOrdId)
            name = next(n for n, sid in self.short_ids.items() if parts and sid == parts.short_id)
            order = OwnedOrder(
                cl_ord_id=d.clOrdId,
                strategy=name,
                epoch=parts.epoch if parts else 0,
                inst=d.instId,
                side=Side(d.side),
                ord_type=_ord_type(d.ordType),
                sz=_dec(d.sz),
                px=_dec_none(d.px),
                td_mode=d.tdMode or "cross",
                pos_side=d.posSide,
                reduce_only=d.reduceOnly == "true",
                state=OrderState.SENT,
                since_ns=mono_ns,
            )
            self.own.add(order)
            self.journal.append(
                JOrder(
                    ts_ns=wall_ns,
                    cl_ord_id=order.cl_ord_id,
                    strategy=name,
                    epoch=order.epoch,
                    inst=order.inst,
                    side=order.side,
                    ord_type=order.ord_type,
                    sz=order.sz,
                    px=order.px,
                    td_mode=order.td_mode,
                    pos_side=order.pos_side,
                    reduce_only=order.reduce_only,
                )
            )
            self._apply_update(order, d, wall_ns, mono_ns, "reconcile")
        for d in plan.orphans:
            self.cancel_orphan(d.instId, d.clOrdId, mono_ns)
        for cid in plan.query:
            order = self.own.get(cid)
            if order is not None and order.state is not OrderState.PENDING:
                order.query_in_flight = False
                self._query(order)
        for order in self.own.open_orders():
            self._maybe_recancel(order, mono_ns)
        logger.info(
            "reconciled",
            pending=len(pending),
            adopted=len(plan.adopt),
            attributed=len(plan.attribute),
            orphans=len(plan.orphans),
            queried=len(plan.query),
            fills=len(plan.fills),
            foreign=plan.foreign,
        )
        return self.drain()

    # ------------------------------------------------------------------------ market / risk
    def on_market(self, msg: AnyMsg) -> list[Effect]:
        """Reference prices and instrument rules from ``md.pub``; risk state from ``risk.pub``."""
        if isinstance(msg, MarkPrice):
            self.mark[msg.inst] = msg.mark_px
        elif isinstance(msg, BookTop):
            mid = msg.mid() if msg.state is BookState.VALID else None
            if mid is not None:
                self.mid[msg.inst] = mid
        elif isinstance(msg, Ticker):
            if msg.bid_px and msg.ask_px:
                self.mid[msg.inst] = (msg.bid_px + msg.ask_px) / 2
        elif isinstance(msg, InstrumentInfo):
            self.rules[msg.inst] = InstrumentRules.from_info(msg)
        elif isinstance(msg, RiskState):
            self._on_risk_state(msg)
        elif isinstance(msg, RiskLimits):
            key = (msg.scope, msg.key)
            if msg.max_notional_usd is None:
                self.risk_notional.pop(key, None)
            else:
                self.risk_notional[key] = msg.max_notional_usd
        return self.drain()

    def _on_risk_state(self, msg: RiskState) -> None:
        key = (msg.scope, msg.key)
        before = self.risk_states.get(key, TradingState.ACTIVE)
        self.risk_states[key] = msg.state
        if msg.state is TradingState.HALTED and before is not TradingState.HALTED:
            reason = f"risk halted {msg.scope}:{msg.key}: {msg.reason}"
            logger.error("risk halt: cancelling", scope=msg.scope, key=msg.key, reason=msg.reason)
            # the mono time is not known here; the overdue check only needs a recent value
            for order in self.own.open_orders():
                hit = (
                    msg.scope == "account"
                    or (msg.scope == "inst" and order.inst == msg.key)
                    or (msg.scope == "strategy" and order.strategy == msg.key)
                )
                if hit:
                    self.request_cancel(order, order.since_ns, reason)


def _ord_type(s: str) -> OrdType:
    try:
        return OrdType(s)
    except ValueError:
        return OrdType.LIMIT


def _dec(s: str) -> Decimal:
    try:
        return Decimal(s) if s else Decimal(0)
    except ArithmeticError:
        return Decimal(0)


def _dec_none(s: str) -> Decimal | None:
    if not s:
        return None
    try:
        return Decimal(s)
    except ArithmeticError:
        return None


def _int(s: str) -> int:
    return int(s) if s.isdigit() else 0
