"""Issue 13: the router journal is compacted online by the shell — bounded while it runs."""

from __future__ import annotations

from pathlib import Path

from engine.messages import Heartbeat, OrderState
from engine.router.journal import JournalWriter, replay
from engine.router.records import JournalState
from tests.engine.router.helpers import Pair

BOUND = 500


def _lines(p: Path) -> int:
    return len(p.read_bytes().splitlines())


def test_the_journal_stays_flat_over_many_orders_and_replays_to_the_same_books(
    tmp_path: Path,
) -> None:
    path = tmp_path / "router.journal"
    writer = JournalWriter(path, JournalState(), BOUND)
    p = Pair(journal=writer)
    s = p.hello("alpha", 1)
    sizes = []
    kept_open: list[str] = []
    for i in range(3000):
        p.clock.advance(40_000_000)  # within the venue's 60 places / 2 s
        p.send(s, Heartbeat(strategy="alpha"))
        cid, _ = p.new_order(s, px=f"{40000 + i % 1000}.0", sz="2")
        (batch,) = p.batches()
        p.result(batch)
        if i % 500 == 0:  # a few stay open, one of them partly filled
            p.push(cid, "partially_filled", acc="1", sz="2", tradeId=f"t{i}", fillSz="1",
                   fillPx="40000.0")  # fmt: skip
            kept_open.append(cid)
        else:
            p.push(cid, "filled", acc="2", sz="2", tradeId=f"t{i}", fillSz="2", fillPx="40000.0")
        sizes.append(_lines(path))
    assert writer.compactions >= 10
    assert max(sizes) <= BOUND + 1  # flat: never more than the bound (plus the record over it)
    assert sizes[-1] < BOUND
    state = replay(path)
    open_orders = {c for c, jo in state.orders.items() if jo.state is OrderState.PARTIALLY_FILLED}
    assert open_orders == set(kept_open)
    trades = {t for _, t in state.trade_ids}
    assert {f"t{i}" for i in range(0, 3000, 500)} <= trades  # the open orders' fills survive
    assert len(trades) < BOUND  # those of finished orders go at the next compaction
    assert state.short_ids == {"alpha": p.ids[s].short_id}
    assert state.epochs == {"alpha": 1}
    assert len(writer.state.orders) < BOUND  # the fold in memory is bounded too
