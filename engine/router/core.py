"""The router's pure core: commands, timers, venue answers and order updates in; effects out.

No sockets, no clock, no files, no venue wire types: every handler takes the time and our own
types (commands, :mod:`engine.router.events`) and returns the list of
:mod:`~engine.router.effects` for the shell (``engine.router.actor``) to carry out, in order —
replies, publications, venue requests (:class:`~engine.router.effects.Send`, cut by
:meth:`RouterCore.flush`), queries, journal records. Nothing is left behind for later.

:class:`RouterCore` is a thin composition; each concept lives in its own sub-core:

- :mod:`~engine.router.sessions`: Hello/Welcome, epochs, short ids, fencing, heartbeat silence;
- :mod:`~engine.router.commands`: NewOrder, Cancel, Amend (validation, pre-trade);
- :mod:`~engine.router.orders`: the order desk — table, venue queue, transitions, cancels;
- :mod:`~engine.router.outcomes`: venue answers, retries, queries, overdue orders;
- :mod:`~engine.router.updates`: order pushes and fills;
- :mod:`~engine.router.recovery`: journal restore and venue reconciliation;
- :mod:`~engine.router.market`: instrument rules, reference prices, risk state and limits.

Command protocol on ``ord.cmd`` (identity ``S:<name>:<epoch>`` for strategies, ``O:<name>`` for
operators such as the supervisor):

- ``Hello`` → ``Welcome`` (short id for clOrdIds, limits) or ``Fenced`` (older or fenced epoch).
  A newer epoch of a known name fences the older one (its orders are cancelled).
- ``NewOrder`` / ``Amend`` / ``Cancel`` → ``Ack`` once the venue accepted it (``detail`` = ordId
  for places) or ``Reject`` (``reason``; ``code`` = the venue's code when it refused). Pre-trade
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

from decimal import Decimal

from loguru import logger

from engine import topics
from engine.messages import (
    Ack,
    Amend,
    AnyMsg,
    Bye,
    Cancel,
    CancelAll,
    Envelope,
    Fenced,
    Heartbeat,
    Hello,
    NewOrder,
    StrategyStatus,
)
from engine.router.batcher import Batch, Batcher, TradeLimiter
from engine.router.commands import OrderCommands
from engine.router.config import RouterConfig
from engine.router.effects import Effect, Forget, JournalRecord, Publish, Query, Reply, Send
from engine.router.events import VenueFailure, VenueFill, VenueNotFound, VenueOrder, VenueResult
from engine.router.liveness import Liveness
from engine.router.market import Market
from engine.router.orders import MS, OrderDesk
from engine.router.outcomes import Outcomes
from engine.router.ownership import Ownership
from engine.router.pretrade import InstrumentRules, OrderLimits
from engine.router.records import JCommand, JournalState
from engine.router.recovery import Recovery
from engine.router.sessions import Session, Sessions, parse_identity
from engine.router.updates import Updates

__all__ = [
    "Effect",
    "Forget",
    "JournalRecord",
    "Publish",
    "Query",
    "Reply",
    "RouterCore",
    "Send",
    "Session",
    "parse_identity",
]


class RouterCore:
    """The sub-cores wired together, and the dispatch of commands to them."""

    def __init__(
        self,
        cfg: RouterConfig,
        *,
        limiter: TradeLimiter,
        require_risk: bool,
        require_reference: bool,
    ) -> None:
        self.cfg = cfg
        self.desk = OrderDesk(cfg, Batcher(limiter, cfg.batch_max))
        self.sess = Sessions(cfg, self.desk)
        self.market = Market(cfg, self.desk, require_risk=require_risk)
        self.commands = OrderCommands(
            self.desk, self.market, require_risk=require_risk, require_reference=require_reference
        )
        self.updates = Updates(self.desk)
        self.outcomes = Outcomes(self.desk, self.updates)
        self.recovery = Recovery(self.desk, self.sess, self.updates)

    # ------------------------------------------------------- views for the shell and tests
    @property
    def own(self) -> Ownership:
        return self.desk.own

    @property
    def batcher(self) -> Batcher:
        return self.desk.batcher

    @property
    def liveness(self) -> Liveness:
        return self.sess.liveness

    @property
    def sessions(self) -> dict[bytes, Session]:
        return self.sess.sessions

    @property
    def counters(self) -> dict[str, int]:
        return self.desk.counters

    @property
    def rules(self) -> dict[str, InstrumentRules]:
        return self.market.rules

    @property
    def mark(self) -> dict[str, Decimal]:
        return self.market.mark

    @property
    def trade_ids(self) -> set[tuple[str, str]]:
        return self.updates.trade_ids

    @property
    def risk_alive(self) -> bool:
        return self.market.risk_alive

    @risk_alive.setter
    def risk_alive(self, alive: bool) -> None:
        """The shell's verdict on risk's heartbeat (a silent risk blocks new orders)."""
        self.market.risk_alive = alive

    def limits_for(self, strategy: str, inst: str) -> OrderLimits:
        return self.market.limits_for(strategy, inst)

    # ----------------------------------------------------------------------------- commands
    def on_command(
        self, identity: bytes, env: Envelope, wall_ns: int, mono_ns: int
    ) -> list[Effect]:
        """One command from ``identity``; never raises for anything a peer can send."""
        desk = self.desk
        desk.wall_ns = wall_ns
        desk.counters["commands"] += 1
        out: list[Effect] = []
        msg = env.msg
        seq = env.seq
        who = parse_identity(identity)
        if who is None:
            desk.reject(out, identity, seq, "bad identity: want S:<name>:<epoch> or O:<name>")
            return out
        age_ns = wall_ns - env.ts_ns
        kind, name, epoch = who
        if age_ns > self.cfg.stale_cmd_ms * MS or -age_ns > self.cfg.future_cmd_ms * MS:
            reason = f"stale command: age {age_ns // MS} ms"
            if isinstance(msg, Hello):
                # a Hello is answered by Welcome or Fenced; the epoch is not fenced for this
                out.append(Reply(identity, Fenced(strategy=name, epoch=epoch, reason=reason)))
            else:
                desk.reject(out, identity, seq, reason)
            return out
        if kind == "O":
            self._on_operator(out, identity, name, seq, msg, wall_ns, mono_ns)
            return out
        if isinstance(msg, Hello):
            limits = self.market.limits_for(name, msg.inst)
            self.sess.on_hello(out, identity, name, epoch, seq, msg, wall_ns, mono_ns, limits)
            return out
        sess = self.sess.sessions.get(identity)
        if sess is None or sess.fenced:
            known = self.sess.fenced_epochs.get((name, epoch), "")
            fenced = known if sess is None else sess.fenced
            if fenced:
                if not isinstance(msg, Heartbeat):
                    desk.reject(out, identity, seq, f"fenced: {fenced}")
                out.append(Reply(identity, Fenced(strategy=name, epoch=epoch, reason=fenced)))
            elif not isinstance(msg, Heartbeat):
                desk.reject(out, identity, seq, "unknown strategy: send Hello first")
            return out
        self.sess.liveness.on_message(identity, mono_ns)
        if isinstance(msg, Heartbeat):
            pass
        elif isinstance(msg, NewOrder):
            self.commands.on_new_order(out, sess, identity, seq, msg, wall_ns, mono_ns)
        elif isinstance(msg, Cancel):
            self.commands.on_cancel(out, sess, identity, seq, msg, mono_ns)
        elif isinstance(msg, Amend):
            self.commands.on_amend(out, sess, identity, seq, msg, wall_ns, mono_ns)
        elif isinstance(msg, CancelAll):
            if msg.strategy and msg.strategy != sess.strategy:
                desk.reject(out, identity, seq, "a strategy may only cancel its own orders")
            else:
                n = desk.cancel_strategy(out, sess.strategy, msg.inst, mono_ns, "cancel-all")
                out.append(Reply(identity, Ack(cmd_seq=seq, detail=str(n))))
        elif isinstance(msg, Bye):
            out.append(Reply(identity, Ack(cmd_seq=seq, detail="bye")))
            self.sess.fence(out, sess, f"bye: {msg.reason}".rstrip(": "), wall_ns, mono_ns)
        elif isinstance(msg, StrategyStatus):
            out.append(Publish(topics.strategy_status(sess.strategy), msg))
        else:
            desk.reject(out, identity, seq, f"unexpected command {type(msg).__name__}")
        return out

    def _on_operator(
        self,
        out: list[Effect],
        identity: bytes,
        name: str,
        seq: int,
        msg: AnyMsg,
        wall_ns: int,
        mono_ns: int,
    ) -> None:
        desk = self.desk
        if not isinstance(msg, CancelAll):
            if not isinstance(msg, Heartbeat):
                desk.reject(out, identity, seq, "operators may only send CancelAll")
            return
        rec = JCommand(ts_ns=wall_ns, peer=name, cmd_seq=seq, kind="cancel-all", detail=msg.reason)
        out.append(JournalRecord(rec))
        if msg.strategy:
            sess = self.sess.current.get(msg.strategy)
            if sess is not None and not sess.fenced:
                self.sess.fence(out, sess, f"operator {name}: {msg.reason}", wall_ns, mono_ns)
            n = desk.cancel_strategy(out, msg.strategy, msg.inst, mono_ns, f"operator {name}")
        else:
            n = desk.cancel_everything(out, mono_ns, f"operator {name}: {msg.reason}")
        logger.warning("operator cancel-all", operator=name, strategy=msg.strategy, orders=n)
        out.append(Reply(identity, Ack(cmd_seq=seq, detail=str(n))))

    def cancel_everything(self, wall_ns: int, mono_ns: int, reason: str) -> list[Effect]:
        """Cancel every open order (ctl ``cancel-all``, shutdown)."""
        self.desk.wall_ns = wall_ns
        out: list[Effect] = []
        self.desk.cancel_everything(out, mono_ns, reason)
        return out

    # ------------------------------------------------------------------------------ fencing
    def fence_identity(
        self, identity: bytes, reason: str, wall_ns: int, mono_ns: int
    ) -> list[Effect]:
        """Death detected (disconnect probe, heartbeat silence, EAGAIN): fence and cancel."""
        self.desk.wall_ns = wall_ns
        out: list[Effect] = []
        self.sess.fence_identity(out, identity, reason, wall_ns, mono_ns)
        return out

    # ------------------------------------------------------------------------------- timers
    def on_timer(self, wall_ns: int, mono_ns: int) -> list[Effect]:
        """Call every ~10 ms: heartbeat silence."""
        self.desk.wall_ns = wall_ns
        out: list[Effect] = []
        self.sess.on_timer(out, wall_ns, mono_ns)
        return out

    def on_slow_timer(self, wall_ns: int, mono_ns: int) -> list[Effect]:
        """Call every ~0.5 s: resolve orders whose outcome is overdue, prune old ones."""
        self.desk.wall_ns = wall_ns
        out: list[Effect] = []
        self.outcomes.on_slow_timer(out, mono_ns)
        return out

    def flush(self, wall_ns: int, mono_ns: int, transport: str) -> list[Effect]:
        """The venue requests that may go now (rate limits permitting) as :class:`Send`
        effects over ``transport``, each after its journal record; places become SENT."""
        self.desk.wall_ns = wall_ns
        out: list[Effect] = []
        self.desk.flush(out, mono_ns, transport)
        return out

    # ----------------------------------------------------------------------- venue answers
    def on_venue_result(
        self, batch: Batch, result: VenueResult, wall_ns: int, mono_ns: int
    ) -> list[Effect]:
        """The venue's answer to ``batch``: per-item acks, or a request-level failure."""
        self.desk.wall_ns = wall_ns
        out: list[Effect] = []
        self.outcomes.on_result(out, batch, result, wall_ns, mono_ns)
        return out

    def on_query_result(
        self,
        cl_ord_id: str,
        data: VenueOrder | VenueNotFound | VenueFailure,
        wall_ns: int,
        mono_ns: int,
    ) -> list[Effect]:
        """The answer to a :class:`Query`."""
        self.desk.wall_ns = wall_ns
        out: list[Effect] = []
        self.outcomes.on_query_result(out, cl_ord_id, data, wall_ns, mono_ns)
        return out

    def on_order_update(self, data: VenueOrder, wall_ns: int, mono_ns: int) -> list[Effect]:
        """One venue order object (WS ``orders`` push, or REST)."""
        self.desk.wall_ns = wall_ns
        out: list[Effect] = []
        self.updates.on_order(out, data, wall_ns, mono_ns)
        return out

    def on_fill(self, fill: VenueFill, wall_ns: int) -> list[Effect]:
        """A fill from the venue's fill list: journalled and published once if it is ours."""
        self.desk.wall_ns = wall_ns
        out: list[Effect] = []
        self.updates.on_fill(out, fill, wall_ns)
        return out

    # ------------------------------------------------------------------ restart / reconcile
    def restore(self, state: JournalState, wall_ns: int, mono_ns: int) -> list[Effect]:
        """Rebuild from the journal after a restart (before reconciling with the venue).

        Strategy epochs that were welcomed and not fenced get ``restart_grace_ms`` to speak
        again (their DEALER reconnects by itself); then the heartbeat rule applies."""
        self.desk.wall_ns = wall_ns
        out: list[Effect] = []
        self.recovery.restore(out, state, mono_ns)
        return out

    def reconcile(
        self, pending: list[VenueOrder], fills: list[VenueFill], wall_ns: int, mono_ns: int
    ) -> list[Effect]:
        """Align our books with the venue's pending orders and recent fills (see reconcile.py)."""
        self.desk.wall_ns = wall_ns
        out: list[Effect] = []
        self.recovery.reconcile(out, pending, fills, wall_ns, mono_ns)
        return out

    # ------------------------------------------------------------------------ market / risk
    def on_market(self, msg: AnyMsg) -> list[Effect]:
        """Reference prices and instrument rules from ``md.pub``; risk state from ``risk.pub``."""
        out: list[Effect] = []
        self.market.on_message(out, msg)
        return out
