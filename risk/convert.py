"""Bus messages → the calculator's OKX-shaped inputs, in one place (``None`` → 0 like the
original's empty strings)."""

from __future__ import annotations

from decimal import Decimal

from engine.messages import BalanceDetail, Fill, InstrumentInfo, OrderEvent, OrderUpdate, Position
from risk.inputs import ZERO, BalanceRow, InstrumentSpec, PositionRow
from risk.pnl import FillRecord

__all__ = ["balance_row", "fill_record", "instrument_spec", "position_row"]

ONE = Decimal(1)


def _z(x: Decimal | None) -> Decimal:
    return ZERO if x is None else x


def balance_row(d: BalanceDetail, u_time_ms: int = 0) -> BalanceRow:
    return BalanceRow(
        ccy=d.ccy,
        cash_bal=d.cash_bal,
        eq=_z(d.eq),
        avail_eq=_z(d.avail_eq),
        avail_bal=_z(d.avail_bal),
        u_time_ms=d.u_time_ms or u_time_ms,
    )


def position_row(p: Position) -> PositionRow:
    return PositionRow(
        inst=p.inst,
        inst_type=p.inst_type,
        mgn_mode=p.mgn_mode,
        pos_side=p.pos_side or "net",
        pos=p.pos,
        avg_px=_z(p.avg_px),
        mark_px=_z(p.mark_px),
        upl=_z(p.upl),
        margin=_z(p.margin),
        liab=_z(p.liab),
        pos_ccy=p.pos_ccy,
        ccy=p.ccy,
        opt_val=_z(p.opt_val),
        delta_bs=_z(p.delta_bs),
        delta_pa=p.delta_pa,
        u_time_ms=p.u_time_ms,
    )


def instrument_spec(i: InstrumentInfo) -> InstrumentSpec:
    return InstrumentSpec.from_info(i)


def fill_record(msg: Fill | OrderUpdate | OrderEvent) -> FillRecord | None:
    """The execution a message reports, or None when it reports none."""
    if isinstance(msg, Fill):
        return FillRecord(
            msg.ts_ms,
            msg.trade_id,
            msg.inst,
            msg.side.value,
            msg.px,
            msg.sz,
            msg.fee,
            msg.fee_ccy,
            msg.cl_ord_id,
        )
    if not msg.trade_id or not msg.fill_sz or msg.fill_px is None:
        return None
    if isinstance(msg, OrderUpdate):
        return FillRecord(
            msg.fill_time_ms or msg.u_time_ms,
            msg.trade_id,
            msg.inst,
            msg.side.value,
            msg.fill_px,
            msg.fill_sz,
            _z(msg.fill_fee),
            msg.fill_fee_ccy,
            msg.cl_ord_id,
        )
    return FillRecord(
        msg.ts_ms,
        msg.trade_id,
        msg.inst,
        msg.side.value,
        msg.fill_px,
        msg.fill_sz,
        _z(msg.fee),
        msg.fee_ccy,
        msg.cl_ord_id,
    )
