"""The StrategyOrder table: every (state, trigger) pair, the races, and a venue model."""

from __future__ import annotations

import itertools
from collections import deque
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from engine.errors import IllegalTransitionError, RemoteProtocolError
from engine.messages import OrderState
from engine.orders.fsm import (
    AMENDABLE_STATES,
    TERMINAL_STATES,
    TRANSITIONS,
    OrderTrigger,
    advance,
    next_state,
    render_doc,
    trigger_for_push,
)

S = OrderState
T = OrderTrigger
ZERO = Decimal(0)

# Pairs that must be refused, whatever else changes: the weak spots of the original.
MUST_BE_ILLEGAL = {
    (S.SENT, T.AMEND_REQUEST),  # never amend an unacknowledged order (§10.1-13)
    (S.PENDING, T.AMEND_REQUEST),
    (S.CANCEL_PENDING, T.AMEND_REQUEST),  # never amend an order being cancelled
    (S.AMEND_PENDING, T.AMEND_REQUEST),  # one amend in flight
    (S.FILLED, T.CANCEL_REQUEST),
    (S.REJECTED, T.LIVE),
    (S.PENDING, T.FILL),
}

# The races the table must absorb (architecture §6), with where they end.
RACES = {
    (S.SENT, T.PARTIAL_FILL): S.PARTIALLY_FILLED,  # a fill before the ack
    (S.SENT, T.FILL): S.FILLED,
    (S.PARTIALLY_FILLED, T.VENUE_ACCEPT): S.PARTIALLY_FILLED,  # ... and the late ack
    (S.CANCEL_PENDING, T.FILL): S.FILLED,  # a fill racing a cancel
    (S.FILLED, T.CANCEL_FAILED): S.FILLED,
    (S.CANCELED, T.FILL): S.FILLED,
    (S.CANCEL_PENDING, T.LIVE): S.CANCEL_PENDING,  # a live push after cancel-requested
    (S.AMEND_PENDING, T.FILL): S.FILLED,  # amend racing a fill
    (S.AMEND_PENDING, T.PARTIAL_FILL): S.AMEND_PENDING,
    (S.FILLED, T.AMEND_FAILED): S.FILLED,
}


@pytest.mark.parametrize(("state", "trigger"), list(itertools.product(S, T)))
def test_every_pair_is_a_row_or_raises(state: OrderState, trigger: OrderTrigger) -> None:
    row = TRANSITIONS.get((state, trigger))
    if row is None:
        with pytest.raises(IllegalTransitionError) as err:
            next_state(state, trigger)
        assert state.value in str(err.value)
        assert trigger.value in str(err.value)
        assert err.value.state == state.value
        assert err.value.event == trigger.value
    else:
        assert (state, trigger) not in MUST_BE_ILLEGAL
        assert next_state(state, trigger) is row
        if state in TERMINAL_STATES:
            assert row in TERMINAL_STATES, "a terminal order never becomes active again"


def test_must_be_illegal_pairs_raise() -> None:
    for state, trigger in MUST_BE_ILLEGAL:
        with pytest.raises(IllegalTransitionError):
            next_state(state, trigger)


@pytest.mark.parametrize(("pair", "expected"), list(RACES.items()))
def test_races_are_rows(pair: tuple[OrderState, OrderTrigger], expected: OrderState) -> None:
    assert next_state(*pair) is expected


def test_happy_path() -> None:
    state = S.PENDING
    for trig, expected in [
        (T.SUBMIT, S.SENT),
        (T.VENUE_ACCEPT, S.ACK),
        (T.LIVE, S.LIVE),
        (T.AMEND_REQUEST, S.AMEND_PENDING),
        (T.AMEND_DONE, S.LIVE),
        (T.PARTIAL_FILL, S.PARTIALLY_FILLED),
        (T.CANCEL_REQUEST, S.CANCEL_PENDING),
        (T.CANCELED, S.CANCELED),
    ]:
        state = next_state(state, trig)
        assert state is expected


def test_every_state_reachable_and_every_active_state_can_end() -> None:
    graph: dict[OrderState, set[OrderState]] = {s: set() for s in S}
    for (src, _), dst in TRANSITIONS.items():
        graph[src].add(dst)

    def reach(start: OrderState) -> set[OrderState]:
        seen = {start}
        todo = [start]
        while todo:
            for nxt in graph[todo.pop()] - seen:
                seen.add(nxt)
                todo.append(nxt)
        return seen

    assert reach(S.PENDING) == set(S)
    for s in set(S) - TERMINAL_STATES:
        assert reach(s) & TERMINAL_STATES, s


def test_amendable_states_are_acknowledged_and_not_cancelling() -> None:
    assert {S.ACK, S.LIVE, S.PARTIALLY_FILLED} == AMENDABLE_STATES


def test_resolved_request_keeps_fills_seen_meanwhile() -> None:
    # amend racing a partial fill: the fill arrives while AMEND_PENDING, the amend then succeeds
    state = advance(S.AMEND_PENDING, T.PARTIAL_FILL, filled=Decimal(1))
    assert state is S.AMEND_PENDING
    assert advance(state, T.AMEND_DONE, filled=Decimal(1)) is S.PARTIALLY_FILLED
    assert advance(S.CANCEL_PENDING, T.CANCEL_FAILED, filled=Decimal(1)) is S.PARTIALLY_FILLED
    assert advance(S.CANCEL_PENDING, T.CANCEL_FAILED, filled=ZERO) is S.LIVE
    assert advance(S.SENT, T.LIVE, filled=ZERO) is S.LIVE


@pytest.mark.parametrize(
    ("state", "acc", "sz", "amend", "expected"),
    [
        ("live", "0", "2", "", T.LIVE),
        ("partially_filled", "1", "2", "", T.PARTIAL_FILL),
        ("filled", "2", "2", "", T.FILL),
        ("canceled", "0", "2", "", T.CANCELED),
        ("canceled", "1", "2", "", T.CANCELED),
        ("mmp_canceled", "0", "2", "", T.EXPIRED),
        ("live", "0", "2", "0", T.AMEND_DONE),
        ("partially_filled", "1", "3", "0", T.AMEND_DONE),
        ("live", "0", "2", "-1", T.AMEND_FAILED),
        ("canceled", "0", "2", "1", T.CANCELED),  # amend failed and the venue canceled it
        ("partially_filled", "2", "2", "", T.FILL),  # defensive: nothing left is filled
    ],
)
def test_trigger_for_push(
    state: str, acc: str, sz: str, amend: str, expected: OrderTrigger
) -> None:
    assert trigger_for_push(state, Decimal(acc), Decimal(sz), amend) is expected


def test_trigger_for_unknown_push_state_raises() -> None:
    with pytest.raises(RemoteProtocolError, match="weird"):
        trigger_for_push("weird", ZERO, Decimal(1))


def test_generated_diagram_is_up_to_date() -> None:
    doc = Path(__file__).resolve().parents[3] / "docs" / "order-fsm.md"
    assert doc.read_text(encoding="utf-8") == render_doc(), "run: python -m engine.orders.fsm"
    for (src, _), dst in TRANSITIONS.items():
        assert f"{src.value} --> {dst.value}:" in render_doc()


class VenueOrderModel(RuleBasedStateMachine):
    """One order at a simulated venue. Responses and pushes travel on two channels that the
    test interleaves freely (pushes stay in order among themselves): whatever the interleaving,
    the table must never raise and must end in the venue's state."""

    def __init__(self) -> None:
        super().__init__()
        self.state = S.PENDING
        self.filled = ZERO  # what the order tracker has seen
        self.venue: str = "none"  # none, rejected, open, filled, canceled
        self.venue_filled = 0  # in quarters of the size
        self.responses: deque[OrderTrigger] = deque()
        self.pushes: deque[tuple[OrderTrigger, int]] = deque()
        self.amend_outstanding = False

    def _apply(self, trig: OrderTrigger, filled: int | None = None) -> None:
        if filled is not None:
            self.filled = max(self.filled, Decimal(filled))
        self.state = advance(self.state, trig, filled=self.filled)

    @precondition(lambda self: self.state is S.PENDING)
    @rule(accept=st.booleans())
    def place(self, accept: bool) -> None:
        self._apply(T.SUBMIT)
        if accept:
            self.venue = "open"
            self.responses.append(T.VENUE_ACCEPT)
            self.pushes.append((T.LIVE, 0))
        else:
            self.venue = "rejected"
            self.responses.append(T.VENUE_REJECT)

    @precondition(lambda self: self.venue == "open")
    @rule(quarters=st.integers(1, 4))
    def venue_fills(self, quarters: int) -> None:
        self.venue_filled = min(4, self.venue_filled + quarters)
        if self.venue_filled == 4:
            self.venue = "filled"
            self.pushes.append((T.FILL, 4))
        else:
            self.pushes.append((T.PARTIAL_FILL, self.venue_filled))

    @precondition(lambda self: self.venue == "open")
    @rule()
    def venue_expires(self) -> None:
        self.venue = "canceled"
        self.pushes.append((T.EXPIRED, self.venue_filled))

    @precondition(lambda self: self.state in AMENDABLE_STATES and not self.amend_outstanding)
    @rule(ok=st.booleans())
    def amend(self, ok: bool) -> None:
        self._apply(T.AMEND_REQUEST)
        self.amend_outstanding = True
        if self.venue == "open" and ok:
            self.responses.append(T.AMEND_DONE)
            push = T.PARTIAL_FILL if self.venue_filled else T.LIVE
            self.pushes.append((T.AMEND_DONE, self.venue_filled))
            self.pushes.append((push, self.venue_filled))
        else:
            self.responses.append(T.AMEND_FAILED)

    @precondition(lambda self: self.state not in TERMINAL_STATES | {S.PENDING})
    @rule()
    def cancel(self) -> None:
        self._apply(T.CANCEL_REQUEST)
        if self.venue == "open":
            self.venue = "canceled"
            self.pushes.append((T.CANCELED, self.venue_filled))
        else:
            self.responses.append(T.CANCEL_FAILED)

    @precondition(lambda self: bool(self.responses))
    @rule()
    def deliver_response(self) -> None:
        trig = self.responses.popleft()
        if trig in (T.AMEND_DONE, T.AMEND_FAILED):
            self.amend_outstanding = False
        self._apply(trig)

    @precondition(lambda self: bool(self.pushes))
    @rule()
    def deliver_push(self) -> None:
        trig, filled = self.pushes.popleft()
        self._apply(trig, filled)

    @precondition(lambda self: self.state in TERMINAL_STATES)
    @rule()
    def duplicate_terminal_report(self) -> None:
        before = self.state
        dup = {S.FILLED: T.FILL, S.CANCELED: T.CANCELED, S.REJECTED: T.VENUE_REJECT}[before]
        self._apply(dup)
        assert self.state is before

    @invariant()
    def settles_on_the_venue_state(self) -> None:
        if self.responses or self.pushes:
            return
        expected = {
            "none": {S.PENDING},
            "rejected": {S.REJECTED},
            "filled": {S.FILLED},
            "canceled": {S.CANCELED},
            "open": {S.PARTIALLY_FILLED} if self.venue_filled else {S.LIVE},
        }[self.venue]
        assert self.state in expected, (self.venue, self.venue_filled, self.state)


VenueOrderModel.TestCase.settings = settings(max_examples=300, stateful_step_count=30)
test_venue_order_model = VenueOrderModel.TestCase
