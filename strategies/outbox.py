"""A worker's commands to the router: what each one was for, and the FSM steps as they leave.

Pure: the outbox plans :class:`Command`s and the shell hands them to the ``CommandClient``. The
shell reports each one back at once (single-threaded, before any reply can arrive):
:meth:`Outbox.sent` with the seq it got, which remembers ``seq → (kind, clOrdId)`` so the
router's ``Ack``/``Reject`` can be matched and moves the order table through
``engine.orders.fsm`` (SUBMIT, AMEND_REQUEST, CANCEL_REQUEST), or :meth:`Outbox.not_sent`, which
REJECTS a place that could not be handed over. Refused places are held back (250 ms doubling to
30 s) so a persistent refusal (size limit, margin, price band) is not re-proposed at tick rate.
Overdue orders are cancelled again and finally forgotten.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from engine.errors import IllegalTransitionError
from engine.messages import (
    Amend,
    AnyMsg,
    Cancel,
    CancelAll,
    NewOrder,
    OrderState,
    OrdType,
    Side,
)
from engine.orders.clordid import ClOrdIdSequence
from engine.orders.fsm import OrderTrigger
from strategies.diff import Actions
from strategies.orders import OrderTable

__all__ = ["Command", "OrderFields", "Outbox"]

# (side, size) → (tdMode, posSide, ccy) of the next place (strategies/order_modes.py)
OrderFields = Callable[[Side, Decimal], tuple[str, str, str]]

_NS = 1_000_000_000
_MAX_RECANCELS = 5
_PLACE_HOLD_MIN_S = 0.25
_PLACE_HOLD_MAX_S = 30.0
S = OrderState
T = OrderTrigger

Kind = Literal["place", "amend", "cancel", "recancel", "cancel-all"]


@dataclass(frozen=True, slots=True)
class Command:
    """One command to send, with what it is for (``recancel``: an overdue order's cancel)."""

    msg: AnyMsg
    kind: Kind
    cl_ord_id: str = ""


class Outbox:
    """Plans commands for one worker and keeps its order table in step with them."""

    def __init__(self, inst: str, orders: OrderTable, log: Any) -> None:
        self.inst = inst
        self.orders = orders
        self.log = log
        self.ids: ClOrdIdSequence | None = None  # set from the router's Welcome
        self.pending: dict[int, tuple[str, str]] = {}  # cmd seq → (kind, clOrdId)
        self.counters = {"commands": 0, "send_failures": 0}
        self.place_rejects = 0
        self.places_held_until_ns = 0

    # ------------------------------------------------------------------- shell reports back
    def sent(self, cmd: Command, seq: int, mono: int) -> int:
        """``cmd`` left with ``seq``: remember it and step the order table. Returns how many
        orders a cancel-all marked cancelling (0 for the other kinds)."""
        self.counters["commands"] += 1
        kind = "cancel" if cmd.kind == "recancel" else cmd.kind
        self.pending[seq] = (kind, cmd.cl_ord_id)
        cid = cmd.cl_ord_id
        if cmd.kind == "place":
            self.apply(cid, T.SUBMIT, mono)
        elif cmd.kind == "cancel":
            self.apply(cid, T.CANCEL_REQUEST, mono)
        elif cmd.kind == "amend":
            assert isinstance(cmd.msg, Amend)
            try:
                self.orders.request_amend(cid, cmd.msg.new_px, cmd.msg.new_sz, mono)
            except IllegalTransitionError as exc:
                self.orders.illegal_transitions += 1
                self.log.warning("illegal order transition", clOrdId=cid, error=str(exc))
        elif cmd.kind == "recancel":
            o = self.orders.get(cid)
            if o is not None:
                self.log.warning("order overdue; cancelling", clOrdId=cid, state=o.state.value)
                if o.state is not S.CANCEL_PENDING:
                    self.apply(cid, T.CANCEL_REQUEST, mono)
                o.requests += 1
                o.changed_ns = mono
        else:  # cancel-all
            n = 0
            for o in self.orders.active():
                if o.state is not S.CANCEL_PENDING:
                    self.apply(o.cl_ord_id, T.CANCEL_REQUEST, mono)
                    n += 1
            return n
        return 0

    def not_sent(self, cmd: Command, error: str, mono: int) -> None:
        """``cmd`` could not go (no router, HWM): a place is rejected at once, the rest wait
        for the next decision."""
        self.counters["send_failures"] += 1
        self.log.warning("command not sent", kind=cmd.kind, clOrdId=cmd.cl_ord_id, error=error)
        if cmd.kind == "place":
            self.apply(cmd.cl_ord_id, T.VENUE_REJECT, mono)

    # ----------------------------------------------------------------------------- planning
    def apply(self, cid: str, trigger: OrderTrigger, mono: int) -> None:
        """A trigger we caused; an illegal pair is logged (the router's next event resolves it)."""
        try:
            self.orders.apply(cid, trigger, mono)
        except IllegalTransitionError as exc:
            self.orders.illegal_transitions += 1
            self.log.warning("illegal order transition", clOrdId=cid, error=str(exc))

    def plan(
        self, actions: Actions, mono: int, *, ord_type: OrdType, fields: OrderFields
    ) -> list[Command]:
        """Cancels first, then amends, then places (no transient over-exposure). New orders
        enter the table PENDING here; :meth:`sent` or :meth:`not_sent` moves them on.
        ``fields(side, sz)`` gives each place its (tdMode, posSide, ccy), in order."""
        out = [
            Command(Cancel(cl_ord_id=c.cl_ord_id, inst=self.inst), "cancel", c.cl_ord_id)
            for c in actions.cancels
        ]
        for a in actions.amends:
            amend = Amend(cl_ord_id=a.cl_ord_id, inst=self.inst, new_px=a.new_px, new_sz=a.new_sz)
            out.append(Command(amend, "amend", a.cl_ord_id))
        if not actions.places or self.ids is None or mono < self.places_held_until_ns:
            return out
        for p in actions.places:
            cid = self.ids.next()
            td_mode, pos_side, ccy = fields(p.side, p.sz)
            self.orders.add(cid, p.side, p.px, p.sz, mono, pos_side=pos_side)
            msg = NewOrder(
                cl_ord_id=cid,
                inst=self.inst,
                side=p.side,
                ord_type=ord_type,
                sz=p.sz,
                px=p.px,
                td_mode=td_mode,
                pos_side=pos_side,
                ccy=ccy,
            )
            out.append(Command(msg, "place", cid))
        return out

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

    def cancel_all(self, reason: str) -> Command:
        """Ask the router to cancel every order of this worker (marked cancelling once sent)."""
        return Command(CancelAll(inst=self.inst, reason=reason), "cancel-all")

    def chase_overdue(self, mono: int, timeout_s: float) -> list[Command]:
        """Orders stuck without an answer: cancel (again); in the end, forget them."""
        out: list[Command] = []
        for o in self.orders.overdue(mono, int(timeout_s * _NS)):
            if o.requests >= _MAX_RECANCELS:
                self.log.error(
                    "order unresolved; forgetting it", clOrdId=o.cl_ord_id, state=o.state.value
                )
                self.apply(o.cl_ord_id, T.NOT_FOUND, mono)
                continue
            cancel = Cancel(cl_ord_id=o.cl_ord_id, inst=self.inst)
            out.append(Command(cancel, "recancel", o.cl_ord_id))
        return out
