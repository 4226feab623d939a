"""Order commands: clOrdId ownership, risk gate, pre-trade, and what is queued and journalled."""

from __future__ import annotations

from decimal import Decimal

import msgspec

from engine.messages import Amend, NewOrder, OrderState, OrdType, Reject, Side
from engine.orders.clordid import encode
from engine.router.commands import OrderCommands
from engine.router.config import RouterConfig
from engine.router.effects import Effect
from engine.router.market import Market
from engine.router.records import JCommand, JOrder
from engine.router.sessions import Session
from tests.engine.router.helpers import INST, RULES
from tests.engine.router.subcores import SID, desk, owned, records, replies

SESS = Session("alpha", 1, b"S:alpha:1", SID, INST)


def _commands(*, require_risk: bool = False) -> OrderCommands:
    d = desk()
    m = Market(RouterConfig(), d, require_risk=require_risk)
    m.rules[INST] = RULES
    return OrderCommands(d, m, require_risk=require_risk, require_reference=False)


def _new(n: int, epoch: int = 1) -> NewOrder:
    return NewOrder(
        cl_ord_id=encode(SID, epoch, n),
        inst=INST,
        side=Side.BUY,
        ord_type=OrdType.LIMIT,
        sz=Decimal(1),
        px=Decimal("50000.0"),
    )


def test_a_valid_new_order_is_owned_journalled_and_queued_without_a_reply() -> None:
    c = _commands()
    out: list[Effect] = []
    c.on_new_order(out, SESS, SESS.identity, 1, _new(1), 0, 0)
    assert replies(out) == []  # the Ack waits for the venue
    (spec,) = records(out)
    assert isinstance(spec, JOrder)
    order = c.desk.own.get(spec.cl_ord_id)
    assert order is not None
    assert order.spec is spec
    assert c.desk.batcher.queued("place") == 1


def test_td_mode_pos_side_and_ccy_reach_the_venue_request_and_the_journal() -> None:
    """The worker decides them from the account mode; the router passes them through."""
    c = _commands()
    out: list[Effect] = []
    msg = msgspec.structs.replace(_new(1), td_mode="isolated", pos_side="short", ccy="USDT")
    c.on_new_order(out, SESS, SESS.identity, 1, msg, 0, 0)
    (spec,) = records(out)
    assert isinstance(spec, JOrder)
    assert (spec.td_mode, spec.pos_side, spec.ccy) == ("isolated", "short", "USDT")
    order = c.desk.own.get(spec.cl_ord_id)
    assert order is not None
    req = c.desk.place_req(order)
    assert (req.td_mode, req.pos_side, req.ccy) == ("isolated", "short", "USDT")


def test_foreign_epoch_duplicate_and_silent_risk_are_refused() -> None:
    c = _commands(require_risk=True)
    c.market.risk_alive = True
    out: list[Effect] = []
    c.on_new_order(out, SESS, SESS.identity, 1, _new(1, epoch=2), 0, 0)
    c.on_new_order(out, SESS, SESS.identity, 2, _new(1), 0, 0)
    c.on_new_order(out, SESS, SESS.identity, 3, _new(1), 0, 0)  # duplicate
    c.market.risk_alive = False
    c.on_new_order(out, SESS, SESS.identity, 4, _new(2), 0, 0)
    reasons = [m.reason for m in replies(out) if isinstance(m, Reject)]
    assert len(reasons) == 3
    assert "epoch" in reasons[0]
    assert "duplicate" in reasons[1]
    assert "risk heartbeat" in reasons[2]


def test_an_amend_is_journalled_queued_and_one_at_a_time() -> None:
    c = _commands()
    order = owned(c.desk, state=OrderState.LIVE)
    amend = Amend(cl_ord_id=order.cl_ord_id, inst=INST, new_px=Decimal("50001.0"))
    out: list[Effect] = []
    c.on_amend(out, SESS, SESS.identity, 1, amend, 0, 0)
    assert order.state is OrderState.AMEND_PENDING
    assert any(isinstance(r, JCommand) and r.kind == "amend" for r in records(out))
    assert c.desk.batcher.queued("amend") == 1
    again: list[Effect] = []
    c.on_amend(again, SESS, SESS.identity, 2, amend, 0, 0)
    assert isinstance(replies(again)[0], Reject)
