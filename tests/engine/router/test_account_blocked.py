"""A venue refusal of the account itself (OKX 59113: KYC level 2 needed to place orders) is a
configuration error: the order is rejected with the reason and code, and every later new order
is rejected by the router at once — nothing more is sent to the venue."""

from __future__ import annotations

from engine.messages import Reject
from engine.router.effects import Send
from tests.engine.router.helpers import Pair, replies


def test_59113_rejects_and_blocks_further_places_without_sending() -> None:
    p = Pair()
    s = p.hello("mm", 1)
    cid, _ = p.new_order(s)
    (batch,) = p.batches()
    out = p.result(batch, ["59113"])
    (rej,) = replies(out, Reject)
    assert isinstance(rej, Reject)
    assert (rej.cl_ord_id, rej.code) == (cid, "59113")
    assert "account may not place orders" in rej.reason
    cid2, out = p.new_order(s)
    (rej2,) = replies(out, Reject)
    assert isinstance(rej2, Reject)
    assert (rej2.cl_ord_id, rej2.code) == (cid2, "59113")
    assert rej2.reason.startswith("venue: account may not place orders")
    assert not [e for e in out if isinstance(e, Send)]
    assert p.batches() == []  # refused here: no retry loop against the venue


def test_an_ordinary_refusal_does_not_block() -> None:
    p = Pair()
    s = p.hello("mm", 1)
    p.new_order(s)
    (batch,) = p.batches()
    p.result(batch, ["51008"])  # insufficient balance: this order, not the account
    p.new_order(s)
    assert len(p.batches()) == 1
