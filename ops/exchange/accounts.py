"""Accounts: spot cash balances with frozen amounts, swap positions (cross margin), the account
mode (``acct_lv``) and position mode (``pos_mode``).

In ``net_mode`` an instrument has one signed position, keyed by its instId; in
``long_short_mode`` it has a long and a short leg, keyed ``instId/long`` and ``instId/short``
(:func:`pos_key`). A short leg keeps its lots negative internally, so P&L and margin are the
same arithmetic as net; only the OKX rendering shows ``pos`` positive with its ``posSide``.

Pure bookkeeping; :mod:`ops.exchange.matching` calls it on every fill, freeze and release.
``frozen`` holds both spot order reservations and swap order margin (OKX's ``ordFrozen``).
Synthetic accounts (the background market) skip all of it.
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal

from ops.exchange.instruments import Instrument, canonical
from ops.exchange.orders import Fill, Order

__all__ = ["Account", "Balance", "Position", "pos_key"]

_ZERO = Decimal(0)


class Balance:
    __slots__ = ("cash", "ccy", "frozen", "u_time")

    def __init__(self, ccy: str, cash: Decimal, now_ms: int) -> None:
        self.ccy = ccy
        self.cash = cash
        self.frozen = _ZERO
        self.u_time = now_ms


def pos_key(inst_id: str, pos_side: str) -> str:
    """The ``Account.positions`` key: the instId for net, ``instId/long|short`` for a leg."""
    return inst_id if pos_side == "net" else f"{inst_id}/{pos_side}"


class Position:
    """A position: ``lots`` signed (contracts / lotSz; a short leg negative), ``avg_px`` in
    price units; ``pos_side`` net, long or short."""

    __slots__ = (
        "avg_px",
        "c_time",
        "fee",
        "inst",
        "lots",
        "pos_id",
        "pos_side",
        "realized",
        "trade_id",
        "u_time",
    )

    def __init__(self, inst: Instrument, pos_id: int, now_ms: int, pos_side: str = "net") -> None:
        self.inst = inst
        self.pos_id = pos_id
        self.pos_side = pos_side
        self.lots = 0
        self.avg_px = _ZERO
        self.realized = _ZERO
        self.fee = _ZERO
        self.trade_id = 0
        self.c_time = now_ms
        self.u_time = now_ms

    def upl(self, mark: Decimal) -> Decimal:
        qty = self.inst.base_qty(abs(self.lots))
        return (mark - self.avg_px) * qty * (1 if self.lots > 0 else -1) if self.lots else _ZERO

    def apply(self, signed_lots: int, px: Decimal) -> Decimal:
        """Add a fill of ``signed_lots`` at ``px``; returns the realised P&L of the closed part."""
        pos = self.lots
        realized = _ZERO
        if pos == 0 or (pos > 0) == (signed_lots > 0):
            total = abs(pos) + abs(signed_lots)
            self.avg_px = (self.avg_px * abs(pos) + px * abs(signed_lots)) / total
        else:
            closed = min(abs(pos), abs(signed_lots))
            direction = 1 if pos > 0 else -1
            realized = (px - self.avg_px) * self.inst.base_qty(closed) * direction
            if abs(signed_lots) > abs(pos):
                self.avg_px = px  # flipped: the remainder opens at the fill price
            elif abs(signed_lots) == abs(pos):
                self.avg_px = _ZERO
        self.lots = pos + signed_lots
        self.realized += realized
        return realized


class Account:
    """One API key's money, positions, orders and fills."""

    def __init__(
        self,
        api_key: str,
        uid: str,
        balances: dict[str, Decimal],
        now_ms: int,
        *,
        synthetic: bool = False,
        acct_lv: int = 2,
        pos_mode: str = "net_mode",
    ) -> None:
        self.api_key = api_key
        self.uid = uid
        self.synthetic = synthetic
        self.acct_lv = acct_lv
        self.pos_mode = pos_mode
        self.balances: dict[str, Balance] = {c: Balance(c, v, now_ms) for c, v in balances.items()}
        self.positions: dict[str, Position] = {}
        self.live: dict[int, Order] = {}
        self.by_cl: dict[str, Order] = {}  # pending clOrdId → order
        self.history: dict[int, Order] = {}  # terminal orders, bounded
        self.last_by_cl: dict[str, int] = {}  # latest ordId per clOrdId (REST lookups)
        self.fills: deque[tuple[Order, Fill]] = deque(maxlen=5000)
        # instId → [fills, signed lots] since start: the chaos suite's ground truth, which the
        # bounded ``fills`` deque cannot give after a long run (bounded by the instruments)
        self.fill_totals: dict[str, list[int]] = {}
        self.caa: dict[str, int] = {}  # cancel-all-after: tag ("" = all) → trigger ms
        self.pending_by_inst: dict[str, int] = {}
        self.kyc_level = 3  # identity verification level; < 2 may not place orders

    def add_live(self, order: Order) -> None:
        self.live[order.ord_id] = order
        k = order.inst.inst_id
        self.pending_by_inst[k] = self.pending_by_inst.get(k, 0) + 1

    def balance(self, ccy: str, now_ms: int) -> Balance:
        b = self.balances.get(ccy)
        if b is None:
            b = self.balances[ccy] = Balance(ccy, _ZERO, now_ms)
        return b

    def position(
        self, inst: Instrument, pos_id: int, now_ms: int, pos_side: str = "net"
    ) -> Position:
        key = pos_key(inst.inst_id, pos_side)
        p = self.positions.get(key)
        if p is None:
            p = self.positions[key] = Position(inst, pos_id, now_ms, pos_side)
        return p

    def positions_of(self, inst_id: str) -> list[Position]:
        """The instrument's position (net) or legs (long, short) that exist."""
        keys = (inst_id, f"{inst_id}/long", f"{inst_id}/short")
        return [p for k in keys if (p := self.positions.get(k)) is not None]

    def closing_lots(self, inst_id: str, pos_side: str) -> int:
        """Unfilled lots of the live orders that close the ``pos_side`` leg of ``inst_id``."""
        if not self.pending_by_inst.get(inst_id):
            return 0
        return sum(
            o.remaining
            for o in self.live.values()
            if o.inst.inst_id == inst_id and o.pos_side == pos_side and o.closes
        )

    @property
    def has_derivatives(self) -> bool:
        """Open derivative positions or pending derivative orders (no position-mode change)."""
        return any(p.lots for p in self.positions.values()) or any(
            o.inst.is_swap for o in self.live.values()
        )

    def upl(self, marks: dict[str, Decimal], ccy: str) -> Decimal:
        total = _ZERO
        for p in self.positions.values():
            if p.lots and p.inst.settle_ccy == ccy:
                total += p.upl(marks.get(p.inst.inst_id, p.avg_px))
        return total

    def imr(self, marks: dict[str, Decimal], ccy: str, lever: Decimal) -> Decimal:
        total = _ZERO
        for p in self.positions.values():
            if p.lots and p.inst.settle_ccy == ccy:
                total += p.inst.base_qty(abs(p.lots)) * marks.get(p.inst.inst_id, p.avg_px) / lever
        return total

    def available(self, ccy: str, marks: dict[str, Decimal], lever: Decimal) -> Decimal:
        """What a new order may still reserve in ``ccy``."""
        b = self.balances.get(ccy)
        cash = b.cash if b else _ZERO
        frozen = b.frozen if b else _ZERO
        if ccy in ("USDT", "USDC") and self.positions:
            return cash + self.upl(marks, ccy) - self.imr(marks, ccy, lever) - frozen
        return cash - frozen

    def remember(self, order: Order) -> None:
        """Move a terminal order out of the live set into bounded history."""
        if self.live.pop(order.ord_id, None) is not None:
            self.pending_by_inst[order.inst.inst_id] -= 1
        if order.cl_ord_id and self.by_cl.get(order.cl_ord_id) is order:
            del self.by_cl[order.cl_ord_id]
        self.history[order.ord_id] = order
        if len(self.history) > 20_000:
            for k in list(self.history)[:5_000]:
                del self.history[k]
            # forget clOrdIds whose orders left the history (bounded memory on long runs)
            self.last_by_cl = {
                cl: oid
                for cl, oid in self.last_by_cl.items()
                if oid in self.history or oid in self.live
            }

    def find(self, ord_id: str, cl_ord_id: str) -> Order | None:
        """Live or recent order by ordId (wins) or clOrdId (latest)."""
        if ord_id:
            try:
                oid = int(ord_id)
            except ValueError:
                return None
            return self.live.get(oid) or self.history.get(oid)
        o = self.by_cl.get(cl_ord_id)
        if o is not None:
            return o
        oid2 = self.last_by_cl.get(cl_ord_id)
        return None if oid2 is None else self.history.get(oid2)

    # -- OKX shapes -----------------------------------------------------------------------------
    def balance_detail(
        self, b: Balance, marks: dict[str, Decimal], lever: Decimal
    ) -> dict[str, object]:
        upl = self.upl(marks, b.ccy) if b.ccy in ("USDT", "USDC") else _ZERO
        imr = self.imr(marks, b.ccy, lever) if b.ccy in ("USDT", "USDC") else _ZERO
        eq = b.cash + upl
        avail = b.cash - b.frozen
        return {
            "availBal": canonical(avail),
            "availEq": canonical(eq - b.frozen - imr),
            "borrowFroz": "0",
            "cashBal": canonical(b.cash),
            "ccy": b.ccy,
            "crossLiab": "0",
            "disEq": canonical(eq),
            "eq": canonical(eq),
            "eqUsd": canonical(eq),
            "fixedBal": "0",
            "frozenBal": canonical(b.frozen + imr),
            "imr": canonical(imr),
            "interest": "0",
            "isoEq": "0",
            "isoLiab": "0",
            "isoUpl": "0",
            "liab": "0",
            "maxLoan": "0",
            "mgnRatio": "",
            "mmr": "",
            "notionalLever": "",
            "ordFrozen": canonical(b.frozen),
            "spotInUseAmt": "",
            "stgyEq": "0",
            "twap": "0",
            "uTime": str(b.u_time),
            "upl": canonical(upl),
            "uplLiab": "0",
        }
