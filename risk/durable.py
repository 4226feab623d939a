"""What of the risk core is persisted, and how it is restored (format: :mod:`risk.persist`).

Bounded by design, whatever the uptime: the unfolded fills of the ledger (at most
``PnlLedger.keep_fills`` per instrument; older ones are folded into base books), the claims of
only those fills and of the orders still counted one by one, the open orders with fills (at
most ``FillCounters.max_open``), the last ``PERSISTED_CLOSED`` terminal orders, the strategy
epochs (at most ``PnlLedger.max_epochs``), one base book / counter total per (strategy, inst),
one fold watermark per instrument, the peaks and the halts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from risk.fills import FillTotals
from risk.persist import BaseBook, BaseTotals, PersistedSnap, PersistedState

if TYPE_CHECKING:
    from risk.core import RiskCore

__all__ = ["PERSISTED_CLOSED", "restore", "state_of"]

PERSISTED_CLOSED = 2000  # recent terminal orders kept across a restart (replays not recounted)


def state_of(core: RiskCore) -> PersistedState:
    """The bounded persisted state of ``core``."""
    ledger, counters = core.ledger, core.counters
    fills = ledger.fills
    closed = dict(list(counters.closed.items())[-PERSISTED_CLOSED:])
    wanted = {f.cl_ord_id for f in fills if f.cl_ord_id} | set(counters.orders) | set(closed)
    all_claims = ledger.claims
    claims = {cl: s for cl, s in all_claims.items() if cl in wanted}
    return PersistedState(
        inception=PersistedSnap.of(core.inception) if core.inception is not None else None,
        peak_pnl_usd=core.peak_pnl_usd,
        strategy_peaks=dict(core.strategy_peaks),
        halts=list(core.halts.values()),
        fills=fills,
        claims=claims,
        orders=dict(counters.orders),
        counter_base=[
            BaseTotals(s, i, t.buy_filled_qty, t.sell_filled_qty)
            for (s, i), t in counters.base.items()
        ],
        ledger_base=[BaseBook(s, b) for (s, _), b in ledger.base.items()],
        epoch_owners=ledger.epoch_owners,
        closed_orders=closed,
        fill_floors=dict(ledger.floors),
    )


def restore(core: RiskCore, st: PersistedState) -> None:
    """Load ``st`` into a fresh ``core``."""
    if st.inception is not None:
        core.inception = st.inception.to_snap()
    core.peak_pnl_usd = st.peak_pnl_usd
    core.strategy_peaks = dict(st.strategy_peaks)
    core.halts = {(h.scope, h.key): h for h in st.halts}
    ledger, counters = core.ledger, core.counters
    ledger.floors.update(st.fill_floors)
    for f in st.fills:
        ledger.on_fill(f)
    for cl, strategy in st.claims.items():
        ledger.claim(cl, strategy)
    for epoch, strategy in st.epoch_owners.items():
        ledger.claim_epoch(epoch, strategy)
    counters.orders.update(st.orders)
    for t in st.counter_base:
        counters.base[(t.strategy, t.inst)] = FillTotals(t.buy_filled_qty, t.sell_filled_qty)
    counters.closed.update(st.closed_orders)
    for b in st.ledger_base:
        ledger.restore_base(b.strategy, b.book)
