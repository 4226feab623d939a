"""A worker's commands to the router: what each one was for, and the FSM steps as they leave.

Every command goes through :meth:`Outbox.command` (non-blocking send on the worker's
``CommandClient``), which remembers ``seq → (kind, clOrdId)`` so the router's ``Ack``/``Reject``
can be matched. Requests move the order table through ``engine.orders.fsm`` as they leave
(SUBMIT, AMEND_REQUEST, CANCEL_REQUEST); an order that could not be handed over is REJECTED at
once. Refused places are held back (250 ms doubling to 30 s) so a persistent refusal (size
limit, margin, price band) is not re-proposed at tick rate. Overdue orders are cancelled again and
finally forgotten.
"""

from __future__ import annotations

from typing import Any

from engine.bus.command import CommandClient, CommandSendError
from engine.errors import IllegalTransitionError
from engine.messages import (
    Amend,
    AnyMsg,
    Cancel,
    CancelAll,
    NewOrder,
    OrderState,
    OrdType,
)
from engine.orders.clordid import ClOrdIdSequence
from engine.orders.fsm import OrderTrigger
from strategies.diff import Actions
from strategies.orders import OrderTable

__all__ = ["Outbox"]

_NS = 1_000_000_000
_MAX_RECANCELS = 5
_PLACE_HOLD_MIN_S = 0.25
_PLACE_HOLD_MAX_S = 30.0
S = OrderState
T = OrderTrigger


class Outbox:
    """Sends commands for one worker and keeps its order table in step with them."""

    def __init__(self, inst: str, orders: OrderTable, log: Any) -> None:
        self.inst = inst
        self.orders = orders
        self.log = log
        self.client: CommandClient | None = None
        self.ids: ClOrdIdSequence | None = None  # set from the router's Welcome
        self.pending: dict[int, tuple[str, str]] = {}  # cmd seq → (kind, clOrdId)
        self.counters = {"commands": 0, "send_failures": 0}
        self.place_rejects = 0
        self.places_held_until_ns = 0

    def command(self, msg: AnyMsg, kind: str, cid: str) -> bool:
        """Hand one command to the socket; False if it could not go (no router, HWM)."""
        client = self.client
        if client is None:
            return False
        try:
            seq = client.send(msg)
        except CommandSendError as exc:
            self.counters["send_failures"] += 1
            self.log.warning("command not sent", kind=kind, clOrdId=cid, error=str(exc))
            return False
        self.counters["commands"] += 1
        self.pending[seq] = (kind, cid)
        return True

    def apply(self, cid: str, trigger: OrderTrigger, mono: int) -> None:
        """A trigger we caused; an illegal pair is logged (the router's next event resolves it)."""
        try:
            self.orders.apply(cid, trigger, mono)
        except IllegalTransitionError as exc:
            self.orders.illegal_transitions += 1
            self.log.warning("illegal order transition", clOrdId=cid, error=str(exc))

    def send(self, actions: Actions, mono: int, *, ord_type: OrdType, td_mode: str) -> None:
        """Cancels first, then amends, then places (no transient over-exposure)."""
        for c in actions.cancels:
            if self.command(Cancel(cl_ord_id=c.cl_ord_id, inst=self.inst), "cancel", c.cl_ord_id):
                self.apply(c.cl_ord_id, T.CANCEL_REQUEST, mono)
        for a in actions.amends:
            amend = Amend(cl_ord_id=a.cl_ord_id, inst=self.inst, new_px=a.new_px, new_sz=a.new_sz)
            if self.command(amend, "amend", a.cl_ord_id):
                try:
                    self.orders.request_amend(a.cl_ord_id, a.new_px, a.new_sz, mono)
                except IllegalTransitionError as exc:
                    self.orders.illegal_transitions += 1
                    self.log.warning(
                        "illegal order transition", clOrdId=a.cl_ord_id, error=str(exc)
                    )
        if not actions.places or self.ids is None or mono < self.places_held_until_ns:
            return
        for p in actions.places:
            cid = self.ids.next()
            self.orders.add(cid, p.side, p.px, p.sz, mono)
            msg = NewOrder(
                cl_ord_id=cid,
                inst=self.inst,
                side=p.side,
                ord_type=ord_type,
                sz=p.sz,
                px=p.px,
                td_mode=td_mode,
            )
            trigger = T.SUBMIT if self.command(msg, "place", cid) else T.VENUE_REJECT
            self.apply(cid, trigger, mono)

    def place_accepted(self) -> None:
        self.place_rejects = 0

    def place_refused(self, mono: int) -> None:
        """Hold new places back, doubling from 250 ms up to 30 s per refused batch."""
        if mono < self.places_held_until_ns:
            return  # the rest of the same batch: one refusal
        self.place_rejects += 1
        hold_s = min(_PLACE_HOLD_MIN_S * 2 ** (self.place_rejects - 1), _PLACE_HOLD_MAX_S)
        self.places_held_until_ns = mono + int(hold_s * _NS)
        self.log.warning(
            "places refused; holding new places", hold_s=hold_s, rejects_in_a_row=self.place_rejects
        )

    def cancel_all(self, reason: str, mono: int) -> int:
        """Ask the router to cancel every order of this worker; mark them cancelling."""
        if not self.command(CancelAll(inst=self.inst, reason=reason), "cancel-all", ""):
            return 0
        n = 0
        for o in self.orders.active():
            if o.state is not S.CANCEL_PENDING:
                self.apply(o.cl_ord_id, T.CANCEL_REQUEST, mono)
                n += 1
        return n

    def chase_overdue(self, mono: int, timeout_s: float) -> None:
        """Orders stuck without an answer: cancel (again); in the end, forget them."""
        for o in self.orders.overdue(mono, int(timeout_s * _NS)):
            if o.requests >= _MAX_RECANCELS:
                self.log.error(
                    "order unresolved; forgetting it", clOrdId=o.cl_ord_id, state=o.state.value
                )
                self.apply(o.cl_ord_id, T.NOT_FOUND, mono)
                continue
            if self.command(Cancel(cl_ord_id=o.cl_ord_id, inst=self.inst), "cancel", o.cl_ord_id):
                self.log.warning(
                    "order overdue; cancelling", clOrdId=o.cl_ord_id, state=o.state.value
                )
                if o.state is not S.CANCEL_PENDING:
                    self.apply(o.cl_ord_id, T.CANCEL_REQUEST, mono)
                o.requests += 1
                o.changed_ns = mono
