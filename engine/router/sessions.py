"""Strategy sessions and fencing: who may trade, under which epoch and short id. Pure.

- ``Hello`` → ``Welcome`` (short id for clOrdIds, limits) or ``Fenced`` (older or fenced epoch).
  A newer epoch of a known name fences the older one.
- Fencing (Bye, operator CancelAll, death layers 1–3: disconnect probe, heartbeat silence, a
  failed reply) is final for that epoch: its later commands are refused and every open order of
  the strategy is cancelled through the desk.
- Short ids are given once per strategy name, for the router's lifetime and across restarts
  (the journal keeps them).
"""

from __future__ import annotations

from dataclasses import dataclass

from loguru import logger

from engine import topics
from engine.messages import Fenced, Hello, StrategyLimits, StrategyStatus, Welcome
from engine.orders import clordid
from engine.router.config import RouterConfig
from engine.router.effects import Effect, Forget, JournalRecord, Publish, Reply
from engine.router.liveness import Liveness
from engine.router.orders import MS, OrderDesk
from engine.router.pretrade import OrderLimits
from engine.router.records import JEpoch, JShortId

__all__ = ["Session", "Sessions", "parse_identity"]


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


class Sessions:
    """Welcomed epochs, fenced epochs, short ids and heartbeat liveness."""

    def __init__(self, cfg: RouterConfig, desk: OrderDesk) -> None:
        self.cfg = cfg
        self.desk = desk
        self.liveness = Liveness(cfg.dead_after_ms * MS)
        self.sessions: dict[bytes, Session] = {}
        self.current: dict[str, Session] = {}  # strategy -> latest welcomed session
        self.fenced_epochs: dict[tuple[str, int], str] = {}
        self.short_ids: dict[str, str] = {}

    def _short_id(self, out: list[Effect], strategy: str, wall_ns: int) -> str:
        sid = self.short_ids.get(strategy)
        if sid is None:
            sid = clordid.short_id_for(len(self.short_ids))
            self.short_ids[strategy] = sid
            out.append(JournalRecord(JShortId(ts_ns=wall_ns, strategy=strategy, short_id=sid)))
        return sid

    def on_hello(
        self,
        out: list[Effect],
        identity: bytes,
        name: str,
        epoch: int,
        seq: int,
        msg: Hello,
        wall_ns: int,
        mono_ns: int,
        limits: OrderLimits,
    ) -> None:
        """Welcome, or refuse with ``Fenced``; ``limits``: what to tell the strategy."""
        bad = ""
        if msg.strategy != name or msg.epoch != epoch:
            bad = "Hello does not match the routing id S:<name>:<epoch>"
        elif not 0 <= epoch <= clordid.EPOCH_MAX:
            bad = "epoch out of range"
        if bad:
            self.desk.reject(out, identity, seq, bad)
            out.append(Reply(identity, Fenced(strategy=name, epoch=epoch, reason=bad)))
            return
        reason = self.fenced_epochs.get((name, epoch))
        cur = self.current.get(name)
        if reason is None and cur is not None and cur.epoch > epoch:
            reason = "a newer epoch of this strategy exists"
        if reason:
            out.append(Reply(identity, Fenced(strategy=name, epoch=epoch, reason=reason)))
            return
        if cur is not None and cur.epoch < epoch and not cur.fenced:
            self.fence(out, cur, "replaced by a newer epoch", wall_ns, mono_ns)
        sess = self.sessions.get(identity)
        if sess is None:
            sess = Session(name, epoch, identity, self._short_id(out, name, wall_ns), msg.inst)
            self.sessions[identity] = sess
            self.current[name] = sess
            welcome = JEpoch(ts_ns=wall_ns, strategy=name, epoch=epoch, event="welcome")
            out.append(JournalRecord(welcome))
            logger.info("strategy welcomed", strategy=name, epoch=epoch, short_id=sess.short_id)
        self.liveness.on_message(identity, mono_ns)
        out.append(
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

    def fence(
        self, out: list[Effect], sess: Session, reason: str, wall_ns: int, mono_ns: int
    ) -> None:
        """Fence ``sess`` for good and cancel every open order of its strategy."""
        if sess.fenced:
            return
        sess.fenced = reason
        self.desk.counters["fenced"] += 1
        self.fenced_epochs[(sess.strategy, sess.epoch)] = reason
        self.liveness.forget(sess.identity)
        rec = JEpoch(
            ts_ns=wall_ns, strategy=sess.strategy, epoch=sess.epoch, event="fenced", reason=reason
        )
        out.append(JournalRecord(rec))
        n = self.desk.cancel_strategy(out, sess.strategy, "", mono_ns, f"fenced: {reason}")
        logger.warning(
            "strategy fenced", strategy=sess.strategy, epoch=sess.epoch, reason=reason, cancelling=n
        )
        out.append(Forget(sess.identity))
        fenced = Fenced(strategy=sess.strategy, epoch=sess.epoch, reason=reason)
        out.append(Reply(sess.identity, fenced))
        if not reason.startswith("bye"):
            # the worker cannot say it any more: the router tells the status readers (the
            # dashboard, alerts) until the worker's next epoch reports for itself
            status = StrategyStatus(
                strategy=sess.strategy,
                inst=sess.inst,
                state="fenced",
                quoting=False,
                reason=reason,
                epoch=sess.epoch,
            )
            out.append(Publish(topics.strategy_status(sess.strategy), status))

    def fence_identity(
        self, out: list[Effect], identity: bytes, reason: str, wall_ns: int, mono_ns: int
    ) -> None:
        sess = self.sessions.get(identity)
        if sess is not None and not sess.fenced:
            self.fence(out, sess, reason, wall_ns, mono_ns)

    def on_timer(self, out: list[Effect], wall_ns: int, mono_ns: int) -> None:
        """Fence every epoch silent for ``dead_after_ms`` (death layer 2)."""
        for identity in self.liveness.expired(mono_ns):
            sess = self.sessions.get(identity)
            if sess is not None and not sess.fenced:
                why = f"no heartbeat for {self.cfg.dead_after_ms} ms"
                self.fence(out, sess, why, wall_ns, mono_ns)

    def attributable(self, short_id: str, epoch: int) -> bool:
        """True if ``short_id``'s strategy is alive in ``epoch`` (an order of ours we lost)."""
        for name, sid in self.short_ids.items():
            if sid == short_id:
                sess = self.current.get(name)
                return sess is not None and sess.epoch == epoch and not sess.fenced
        return False

    def name_of(self, short_id: str) -> str:
        return next(n for n, sid in self.short_ids.items() if sid == short_id)
