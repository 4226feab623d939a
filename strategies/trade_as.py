"""What the worker's orders trade as, decision by decision: the account mode's tdMode, posSide
and MARGIN ``ccy`` (:mod:`strategies.order_modes`) applied to the worker's legs and orders.

In long/short mode an order either opens its leg or closes the opposite one; OKX refuses a
close beyond what the leg holds minus what live closes of it will close (``availPos``, 51112),
so closes are chosen, and amends of closes checked, against that.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from engine.messages import Side
from strategies.context import WorkerContext
from strategies.diff import Actions, AmendOp, CancelOp, PlaceOp
from strategies.order_modes import AccountModeError, OrderMode, order_mode, pos_side
from strategies.outbox import OrderFields

__all__ = ["TradeAs"]

_ZERO = Decimal(0)


def _closes(pos_side: str, side: Side) -> bool:
    """A long/short-mode order that closes its leg: sell long, buy short."""
    return (pos_side, side) in (("long", Side.SELL), ("short", Side.BUY))


class TradeAs:
    """The worker core's order mode: known once the account config and instrument are."""

    def __init__(self, inst: str, ctx: WorkerContext, log: Any) -> None:
        self.inst = inst
        self.ctx = ctx
        self.log = log
        self.mode: OrderMode | None = None
        self.last_problem: str | None = None

    def problem(self, trading_mode: str) -> str | None:
        """Why orders cannot be built now (no account config yet; a mode that cannot trade the
        instrument), else None with :attr:`mode` set. Logged once per distinct problem."""
        cfg, inst = self.ctx.account_config, self.ctx.instrument
        problem: str | None = None
        if cfg is None:
            problem = (
                "account config unknown (acctLv/posMode): not quoting until private-gw sends it"
            )
        elif inst is not None:
            try:
                self.mode = order_mode(
                    cfg.acct_lv,
                    inst.inst_type,
                    trading_mode,
                    base_ccy=inst.base_ccy,
                    quote_ccy=inst.quote_ccy,
                )
            except AccountModeError as exc:
                problem = f"account mode cannot trade {self.inst}: {exc}"
        if problem != self.last_problem:
            if problem is not None:
                (self.log.info if cfg is None else self.log.error)("not quoting", reason=problem)
            elif cfg is not None and self.mode is not None:
                self.log.info(
                    "order mode",
                    acct_lv=cfg.acct_lv,
                    pos_mode=cfg.pos_mode,
                    trades_as=self.mode.trade_type,
                    td_mode=self.mode.td_mode,
                )
        self.last_problem = problem
        return problem

    def closable(self) -> dict[str, Decimal]:
        """Per long/short leg: what the venue holds minus what our live closing orders of it
        will close (OKX's availPos, when this worker is the only one closing the leg)."""
        td = self.mode.td_mode if self.mode is not None else "cross"
        out = {"long": self.ctx.leg(td, "long"), "short": self.ctx.leg(td, "short")}
        for o in self.ctx.orders.active():
            if _closes(o.pos_side, o.side):
                out[o.pos_side] -= o.remaining
        return out

    def closes_fit(self, actions: Actions) -> Actions:
        """An amend growing a close beyond what its leg can still close would be refused
        (51112) decision after decision: cancel it and place the new size afresh instead (the
        place then opens or closes as the legs allow)."""
        if not any(a.new_sz is not None for a in actions.amends):
            return actions
        closable = self.closable()
        keep: list[AmendOp] = []
        cancels, places = list(actions.cancels), list(actions.places)
        for a in actions.amends:
            o = self.ctx.orders.get(a.cl_ord_id)
            if o is not None and a.new_sz is not None and _closes(o.pos_side, o.side):
                extra = a.new_sz - o.sz
                if extra > 0 and extra > closable[o.pos_side]:
                    cancels.append(CancelOp(a.cl_ord_id))
                    px = a.new_px if a.new_px is not None else o.px
                    places.append(PlaceOp(o.side, px, a.new_sz - o.filled))
                    continue
                closable[o.pos_side] -= max(extra, _ZERO)
            keep.append(a)
        return Actions(tuple(cancels), tuple(keep), tuple(places), actions.deferred)

    def fields(self) -> OrderFields:
        """(tdMode, posSide, ccy) for the places of one decision, in order. In long/short mode
        a buy closes the short leg while it can take the whole order (the leg minus live
        closing buys, this decision's included), else it opens long; sells likewise."""
        mode, cfg = self.mode, self.ctx.account_config
        td = mode.td_mode if mode is not None else "cross"
        pos_mode = cfg.pos_mode if cfg is not None else "net_mode"
        closable = self.closable()

        def fields(side: Side, sz: Decimal) -> tuple[str, str, str]:
            if mode is None:
                return td, "", ""
            ps = pos_side(
                pos_mode,
                mode.trade_type,
                side,
                sz,
                long_closable=closable["long"],
                short_closable=closable["short"],
            )
            if _closes(ps, side):
                closable[ps] -= sz
            return td, ps, mode.ccy(side)

        return fields
