"""The margin actor's pure core: bus messages in, a :class:`MarginState` (and the report's
numbers) out.

It keeps the account's cash per currency (``acct|``), positions (``pos|``), marks (``mark|``),
contract sizes (``inst|``) and the account mode (``acctcfg|``), rebuilds the margin inputs,
recomputes the margin ratio with :mod:`risk.margin` and compares it with the venue's
(``AccountUpdate.mgn_ratio``). USD prices: 1 for stablecoins, else the currency's spot mark
(``<ccy>-USDT``), else its perpetual's mark.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from engine.messages import (
    AccountConfig,
    AccountUpdate,
    AnyMsg,
    InstrumentInfo,
    MarginState,
    MarkPrice,
    Position,
)
from risk.margin.config import MarginConfig
from risk.margin.multicurrency import AccountMargin, MarginInputs, PositionIn, compute
from risk.margin.portfolio import PortfolioMargin, PortfolioParams, portfolio_margin
from risk.margin.stress import (
    LiquidationPoint,
    StressRow,
    classify,
    liquidation_price,
    stress_table,
)
from risk.margin.tiers import TierTable

__all__ = ["MarginCore", "MarginReport"]

_ZERO = Decimal(0)
_STABLE = ("USDT", "USDC", "USD")


@dataclass(frozen=True, slots=True)
class MarginReport:
    """Everything the ``okxmm margin`` report shows, from one set of inputs."""

    state: MarginState
    inputs: MarginInputs
    account: AccountMargin
    portfolio: PortfolioMargin | None
    stress: list[StressRow]
    liq_down: LiquidationPoint | None
    liq_up: LiquidationPoint | None


class MarginCore:
    def __init__(self, cfg: MarginConfig, tiers: TierTable, portfolio: PortfolioParams) -> None:
        self.cfg = cfg
        self.tiers = tiers
        self.params = portfolio
        self.acct_lv: int | None = None
        self.cash: dict[str, Decimal] = {}
        self.venue: AccountUpdate | None = None
        self.positions: dict[tuple[str, str], Position] = {}
        self.marks: dict[str, Decimal] = {}
        self.insts: dict[str, InstrumentInfo] = {}

    # ------------------------------------------------------------------------------ inbox
    def on_message(self, msg: AnyMsg) -> None:
        if isinstance(msg, AccountUpdate):
            if msg.snapshot:
                self.cash = {}
            for d in msg.details:
                self.cash[d.ccy] = d.cash_bal
            if msg.total_eq is not None:
                self.venue = msg
        elif isinstance(msg, Position):
            key = (msg.inst, msg.pos_side)
            if msg.pos == 0:
                self.positions.pop(key, None)
            else:
                self.positions[key] = msg
        elif isinstance(msg, MarkPrice):
            self.marks[msg.inst] = msg.mark_px
        elif isinstance(msg, InstrumentInfo):
            self.insts[msg.inst] = msg
        elif isinstance(msg, AccountConfig):
            self.acct_lv = msg.acct_lv

    # ------------------------------------------------------------------------------ model
    def usd_px(self, ccy: str) -> Decimal | None:
        if ccy in _STABLE:
            return Decimal(1)
        for k in (f"{ccy}-USDT", f"{ccy}-USDT-SWAP"):
            if k in self.marks:
                return self.marks[k]
        return None

    def _position(self, p: Position) -> PositionIn | str:
        """The position in base currency, or why it cannot be priced yet."""
        info = self.insts.get(p.inst)
        mark = self.marks.get(p.inst) or p.mark_px
        if mark is None or p.avg_px is None:
            return f"no mark for {p.inst}"
        parts = p.inst.split("-")
        size = p.pos
        if p.inst_type in ("SWAP", "FUTURES"):
            if info is None or info.ct_val is None:
                return f"no contract size for {p.inst}"
            size = p.pos * info.ct_val * (info.ct_mult or 1)
        if p.pos_side == "short":
            size = -abs(size)
        settle = (info.settle_ccy if info else "") or p.ccy or parts[1]
        return PositionIn(p.inst, parts[0], settle, size, p.avg_px, mark)

    def inputs(self) -> tuple[MarginInputs, list[str]]:
        missing: list[str] = []
        positions = []
        for p in self.positions.values():
            r = self._position(p)
            if isinstance(r, str):
                missing.append(r)
            else:
                positions.append(r)
        ccys = set(self.cash) | {p.uly for p in positions} | {p.settle for p in positions}
        prices: dict[str, Decimal] = {}
        for c in sorted(ccys):
            px = self.usd_px(c)
            if px is None:
                if self.cash.get(c) or any(p.uly == c for p in positions):
                    missing.append(f"no USD price for {c}")
                continue
            prices[c] = px
        return MarginInputs(cash=dict(self.cash), prices=prices, positions=positions), missing

    def report(self, now_ms: int) -> MarginReport | None:
        """``None`` until the account has been heard."""
        if self.venue is None and not self.cash:
            return None
        cfg, th = self.cfg, self.cfg.thresholds
        inp, missing = self.inputs()
        m = compute(inp, self.tiers)
        pm = portfolio_margin(inp, self.tiers, self.params) if self.acct_lv == 4 else None
        ratio = pm.mgn_ratio if pm is not None else m.mgn_ratio
        mmr = pm.mmr if pm is not None else m.mmr
        uly = cfg.underlying
        level = th.liquidation
        has_uly = uly in inp.prices
        down = liquidation_price(inp, uly, self.tiers, level) if has_uly else None
        up = liquidation_price(inp, uly, self.tiers, level, down=False) if has_uly else None
        near = _nearest(down, up)
        status = classify(ratio, th)
        action = ""
        if ratio is not None and ratio <= cfg.halt_ratio:
            action = "halt"
        elif ratio is not None and ratio <= th.danger:
            action = "reduce"
        shown = "n/a" if ratio is None else f"{ratio * 100:.1f} %"
        reason = f"margin ratio {shown} {status.value}"
        if action == "halt":
            reason += f" (halt at {cfg.halt_ratio * 100:.0f} %)"
        elif action == "reduce":
            reason += f" (danger at {th.danger * 100:.0f} %)"
        if missing:
            reason += "; " + ", ".join(missing)
        venue = self.venue
        state = MarginState(
            acct_lv=self.acct_lv or 0,
            status=status.value,
            mgn_ratio=ratio,
            venue_mgn_ratio=venue.mgn_ratio if venue is not None else None,
            adj_eq=m.adj_eq,
            total_eq=m.total_eq,
            imr=m.imr,
            mmr=mmr,
            notional_usd=m.notional_usd,
            uly=uly,
            price=inp.prices.get(uly),
            liq_px=near.price if near is not None else None,
            liq_move_pct=near.move_pct if near is not None else None,
            ts_ms=now_ms,
            reason=reason,
            action=action,
        )
        stress = stress_table(inp, uly, self.tiers, th, cfg.stress_pct) if has_uly else []
        return MarginReport(state, inp, m, pm, stress, down, up)

    def disagreement(self, state: MarginState) -> Decimal | None:
        """Relative gap between our ratio and the venue's, when beyond the tolerance."""
        ours, theirs = state.mgn_ratio, state.venue_mgn_ratio
        if ours is None or theirs is None or theirs == 0:
            return None
        gap = abs(ours - theirs) / abs(theirs)
        return gap if gap > self.cfg.disagreement_rel else None


def _nearest(down: LiquidationPoint | None, up: LiquidationPoint | None) -> LiquidationPoint | None:
    if down is None or up is None:
        return down or up
    return down if abs(down.move_pct) <= abs(up.move_pct) else up
