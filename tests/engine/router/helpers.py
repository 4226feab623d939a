"""In-memory pair for router core tests: a strategy's commands in, effects and batches out.

No sockets and no clock: :class:`Pair` plays the shell — it writes the core's journal effects to
an in-memory journal and collects the rest; OKX payloads are built as the venue sends them and
converted by the gateway, as the real shell does.
"""

from __future__ import annotations

from decimal import Decimal

from engine.clock import FakeClock
from engine.messages import AnyMsg, Envelope, Hello, NewOrder, OrdType, Side, Welcome
from engine.orders.clordid import ClOrdIdSequence
from engine.router.batcher import Batch
from engine.router.config import RouterConfig
from engine.router.core import RouterCore
from engine.router.effects import Effect, JournalRecord, Publish, Reply, Send
from engine.router.journal import Journal as JournalFile
from engine.router.journal import JournalWriter
from engine.router.pretrade import InstrumentRules
from gateway.okx import convert
from gateway.okx.ratelimit import OkxTradeLimiter
from gateway.okx.results import TradeResult
from gateway.okx.schemas import OrderAck, OrderData

INST = "BTC-USDT-SWAP"
RULES = InstrumentRules(
    inst=INST,
    inst_type="SWAP",
    tick_sz=Decimal("0.1"),
    lot_sz=Decimal("1"),
    min_sz=Decimal("1"),
    ct_val=Decimal("0.01"),
)


class Pair:
    """A router core plus helpers to speak to it as strategies would."""

    def __init__(self, cfg: RouterConfig | None = None, journal: JournalFile | None = None) -> None:
        self.clock = FakeClock()
        self.journal: JournalFile | JournalWriter = journal or JournalFile(None)
        self.core = RouterCore(
            cfg or RouterConfig(),
            limiter=OkxTradeLimiter(),
            require_risk=False,
            require_reference=False,
        )
        self.core.rules[INST] = RULES
        self.seq = 0
        self.effects: list[Effect] = []
        self.ids: dict[bytes, ClOrdIdSequence] = {}

    def take(self, out: list[Effect]) -> list[Effect]:
        """Do what the shell does with effects that stay in memory: write journal records."""
        for eff in out:
            if isinstance(eff, JournalRecord):
                self.journal.append(eff.record)
        self.effects += out
        return out

    def send(self, identity: bytes, msg: AnyMsg, *, age_ns: int = 0) -> list[Effect]:
        self.seq += 1
        env = Envelope(1, "t", 0, self.seq, self.clock.now_ns() - age_ns, msg)
        out = self.core.on_command(identity, env, self.clock.now_ns(), self.clock.monotonic_ns())
        return self.take(out)

    def hello(self, name: str, epoch: int) -> bytes:
        identity = f"S:{name}:{epoch}".encode()
        out = self.send(identity, Hello(strategy=name, epoch=epoch, inst=INST))
        welcome = [e.msg for e in out if isinstance(e, Reply) and isinstance(e.msg, Welcome)]
        assert welcome, out
        self.ids[identity] = ClOrdIdSequence(welcome[0].short_id, epoch)
        return identity

    def new_order(
        self, identity: bytes, px: str = "50000.0", sz: str = "1", side: Side = Side.BUY
    ) -> tuple[str, list[Effect]]:
        cid = self.ids[identity].next()
        msg = NewOrder(
            cl_ord_id=cid,
            inst=INST,
            side=side,
            ord_type=OrdType.POST_ONLY,
            sz=Decimal(sz),
            px=Decimal(px),
        )
        return cid, self.send(identity, msg)

    def batches(self) -> list[Batch]:
        """The venue requests the core sends now (its ``Send`` effects)."""
        now, mono = self.clock.now_ns(), self.clock.monotonic_ns()
        out = self.take(self.core.flush(now, mono, "ws"))
        return [e.batch for e in out if isinstance(e, Send)]

    def result(self, batch: Batch, codes: list[str] | None = None) -> list[Effect]:
        codes = codes or ["0"] * len(batch.reqs)
        items = [
            OrderAck(clOrdId=r.cl_ord_id, ordId=f"9{i}{r.cl_ord_id[-3:]}", sCode=c, sMsg="")
            for i, (r, c) in enumerate(zip(batch.reqs, codes, strict=True))
        ]
        top = "0" if all(c == "0" for c in codes) else "2"
        acks = convert.venue_acks(TradeResult(top, "", items))
        now, mono = self.clock.now_ns(), self.clock.monotonic_ns()
        return self.take(self.core.on_venue_result(batch, acks, now, mono))

    def push(self, cid: str, state: str, acc: str = "0", sz: str = "1", **kw: str) -> list[Effect]:
        d = OrderData(
            instId=INST,
            ordId="1" + cid[-4:],
            clOrdId=cid,
            state=state,
            accFillSz=acc,
            sz=sz,
            side="buy",
            px=kw.pop("px", "50000.0"),
            **kw,
        )
        ev = convert.venue_order(d)
        return self.take(
            self.core.on_order_update(ev, self.clock.now_ns(), self.clock.monotonic_ns())
        )


def replies(effects: list[Effect], kind: type) -> list[AnyMsg]:
    return [e.msg for e in effects if isinstance(e, Reply) and isinstance(e.msg, kind)]


def events(effects: list[Effect]) -> list[AnyMsg]:
    return [e.msg for e in effects if isinstance(e, Publish)]
