"""Building blocks for the sub-core tests: a desk with an unlimited batcher, a placed order."""

from __future__ import annotations

from decimal import Decimal

from engine.messages import OrderState, OrdType, Side
from engine.orders.clordid import encode
from engine.router.batcher import Batcher, Unlimited
from engine.router.config import RouterConfig
from engine.router.effects import Effect, JournalRecord, Publish, Query, Reply
from engine.router.orders import OrderDesk
from engine.router.ownership import OwnedOrder, Waiter
from engine.router.records import JOrder, Record
from tests.engine.router.helpers import INST

SID = "000"


def desk(cfg: RouterConfig | None = None) -> OrderDesk:
    return OrderDesk(cfg or RouterConfig(), Batcher(Unlimited()))


def owned(
    d: OrderDesk,
    n: int = 1,
    *,
    state: OrderState = OrderState.LIVE,
    strategy: str = "alpha",
    epoch: int = 1,
    waiter: bool = False,
) -> OwnedOrder:
    """An order of ``strategy`` owned by ``d``, already in ``state``."""
    spec = JOrder(
        ts_ns=0,
        cl_ord_id=encode(SID, epoch, n),
        strategy=strategy,
        epoch=epoch,
        inst=INST,
        side=Side.BUY,
        ord_type=OrdType.LIMIT,
        sz=Decimal(2),
        px=Decimal("50000.0"),
    )
    order = OwnedOrder(
        spec,
        spec.sz,
        spec.px,
        state=state,
        venue_seen=state is not OrderState.PENDING,
        ord_id="" if state is OrderState.PENDING else f"o{n}",
        place_waiter=Waiter(b"S:alpha:1", n) if waiter else None,
    )
    d.own.add(order)
    return order


def replies(out: list[Effect]) -> list[object]:
    return [e.msg for e in out if isinstance(e, Reply)]


def published(out: list[Effect]) -> list[object]:
    return [e.msg for e in out if isinstance(e, Publish)]


def queries(out: list[Effect]) -> list[str]:
    return [e.cl_ord_id for e in out if isinstance(e, Query)]


def records(out: list[Effect]) -> list[Record]:
    return [e.record for e in out if isinstance(e, JournalRecord)]
