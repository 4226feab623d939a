"""What the risk monitor keeps across restarts, written atomically.

The original reset its inception at every start (a weak spot: a restart re-based the P&L and
forgot any loss). Persisted here: the inception snapshot, the P&L peaks the loss limits are
measured from, the latched halts (kill switch), and the fill history (counters and the
realised P&L ledger), all bounded (:mod:`risk.durable` names the bounds). Format: JSON
(msgspec), written to ``<path>.tmp``, fsynced, then renamed over ``<path>`` — a crash leaves
the old or the new file, never half of one.
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import msgspec

from risk.fills import OrderFillState
from risk.pnl import FillRecord, PnlBook
from risk.snapshot import PositionValue, RiskSnap

__all__ = [
    "BaseBook",
    "BaseTotals",
    "HaltRecord",
    "PersistedSnap",
    "PersistedState",
    "encode_state",
    "load_state",
    "save_state",
]

FORMAT_VERSION = 1


class PersistedSnap(msgspec.Struct, frozen=True):
    ts_ms: int
    asset_usd_value: Decimal
    price: dict[str, Decimal]
    cash: dict[str, Decimal]
    delta_usd: Decimal
    positions: list[PositionValue]
    mark: dict[str, Decimal]

    @classmethod
    def of(cls, snap: RiskSnap) -> PersistedSnap:
        return cls(
            snap.ts_ms,
            snap.asset_usd_value,
            snap.price,
            snap.cash,
            snap.delta_usd,
            list(snap.positions.values()),
            snap.mark,
        )

    def to_snap(self) -> RiskSnap:
        return RiskSnap(
            ts_ms=self.ts_ms,
            asset_usd_value=self.asset_usd_value,
            price=dict(self.price),
            cash=dict(self.cash),
            delta_usd=self.delta_usd,
            positions={pv.row.key: pv for pv in self.positions},
            mark=dict(self.mark),
        )


class HaltRecord(msgspec.Struct, frozen=True):
    scope: str
    key: str
    reason: str
    ts_ms: int = 0


class BaseTotals(msgspec.Struct, frozen=True):
    """Folded fill counters of one (strategy, instrument)."""

    strategy: str
    inst: str
    buy_filled_qty: Decimal
    sell_filled_qty: Decimal


class BaseBook(msgspec.Struct, frozen=True):
    """A folded P&L book of one strategy."""

    strategy: str
    book: PnlBook


class PersistedState(msgspec.Struct):
    version: int = FORMAT_VERSION
    inception: PersistedSnap | None = None
    peak_pnl_usd: Decimal = Decimal(0)
    strategy_peaks: dict[str, Decimal] = {}
    halts: list[HaltRecord] = []
    fills: list[FillRecord] = []
    claims: dict[str, str] = {}
    epoch_owners: dict[int, str] = {}
    orders: dict[str, OrderFillState] = {}
    counter_base: list[BaseTotals] = []
    closed_orders: dict[str, OrderFillState] = {}  # recent terminal orders already in the base
    ledger_base: list[BaseBook] = []
    # per instrument, the newest (ts, tradeId) folded into the base books: older fills are
    # accounted already (the watermark a restart reconciles the venue's recent fills from)
    fill_floors: dict[str, tuple[int, str]] = {}


def encode_state(state: PersistedState) -> bytes:
    return msgspec.json.encode(state)


def save_state(path: str | Path, state: PersistedState | bytes) -> None:
    """Write ``state`` (or its :func:`encode_state` bytes) atomically: tmp, fsync, rename."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".tmp")
    data = state if isinstance(state, bytes) else encode_state(state)
    with tmp.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(p)


def load_state(path: str | Path) -> PersistedState | None:
    """The saved state, or None when there is none. A corrupt file raises ``ValueError``:
    silently starting from scratch would forget a halt."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        return None
    try:
        return msgspec.json.decode(data, type=PersistedState)
    except msgspec.ValidationError as exc:
        raise ValueError(f"risk state {p} is unreadable: {exc}") from None
    except msgspec.DecodeError as exc:
        raise ValueError(f"risk state {p} is unreadable: {exc}") from None
