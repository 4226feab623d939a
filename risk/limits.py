"""Limits and breaches: what the risk monitor checks, as a pure function of what it knows.

| limit (``RiskConfig``) | scope | breach → |
|---|---|---|
| ``loss_limit_usd``: P&L since inception below its peak by ≥ limit | account ``*`` | HALT |
| ``strategy_loss_limit_usd``: a strategy's net P&L below its peak by ≥ limit | strategy | HALT |
| ``max_position_base[inst]``: abs(position) > limit (base ccy) | inst | REDUCE |
| ``max_position_usd``: abs(position) × price > limit | inst | REDUCE |
| ``max_worst_case_exposure_usd``: max(abs(pos + open buys), abs(pos − open sells)) × price,
  open = live and in-flight orders | inst | REDUCE |
| ``max_order_rate_per_s``: new orders in the last second > limit | strategy | REDUCE |
| ``md_stale_ms``: no book/mark/ticker received for that long, the book RESYNCING, or the
  md-feed silent for ``md_silence_ms`` | inst | REDUCE |
| ``private_silence_ms``: private stream silent or reported down; no account data yet | account
  ``*`` | REDUCE |
| margin actor (``MarginState.action``): ``reduce`` at the danger level / ``halt`` close to
  liquidation; its publisher silent | account ``*`` | REDUCE / HALT / REDUCE |

A HALT breach latches (see :mod:`risk.state`); REDUCE breaches clear by themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from risk.config import RiskConfig

__all__ = ["Breach", "InstView", "LimitInputs", "Severity", "evaluate"]


class Severity(StrEnum):
    HALT = "HALT"
    REDUCE = "REDUCE"


@dataclass(frozen=True, slots=True)
class Breach:
    scope: str  # account, inst, strategy
    key: str
    severity: Severity
    reason: str


@dataclass(frozen=True, slots=True)
class InstView:
    """What risk knows of one instrument, positions and orders in base currency."""

    inst: str
    position_base: Decimal
    price_usd: Decimal
    open_buy_base: Decimal
    open_sell_base: Decimal
    md_age_ms: int | None  # None: never received
    book_resyncing: bool = False
    md_silent: bool = False  # the md-feed itself is not heard


@dataclass(frozen=True, slots=True)
class LimitInputs:
    account_ready: bool
    private_ok: bool
    private_reason: str = ""
    pnl_usd: Decimal | None = None
    peak_pnl_usd: Decimal = Decimal(0)
    strategy_pnl: dict[str, tuple[Decimal, Decimal]] = field(default_factory=dict)  # pnl, peak
    insts: list[InstView] = field(default_factory=list)
    order_rates: dict[str, int] = field(default_factory=dict)
    margin_action: str = ""  # the margin actor's verdict: "", "reduce", "halt"
    margin_reason: str = ""
    margin_silent: bool = False


def _fmt(x: Decimal) -> str:
    return f"{x:.2f}"


def evaluate(inp: LimitInputs, cfg: RiskConfig) -> list[Breach]:
    """Every breach that holds now."""
    out: list[Breach] = []
    acct = ("account", "*")
    if not inp.account_ready:
        out.append(Breach(*acct, Severity.REDUCE, "no account data yet"))
    if not inp.private_ok:
        out.append(Breach(*acct, Severity.REDUCE, inp.private_reason or "private stream missing"))
    if cfg.loss_limit_usd is not None and inp.pnl_usd is not None:
        drawdown = inp.peak_pnl_usd - inp.pnl_usd
        if drawdown >= cfg.loss_limit_usd:
            out.append(
                Breach(
                    *acct,
                    Severity.HALT,
                    f"loss limit: pnl {_fmt(inp.pnl_usd)} USD is {_fmt(drawdown)} below peak "
                    f"{_fmt(inp.peak_pnl_usd)} (limit {cfg.loss_limit_usd})",
                )
            )
    if cfg.strategy_loss_limit_usd is not None:
        for name, (pnl, peak) in sorted(inp.strategy_pnl.items()):
            if name and peak - pnl >= cfg.strategy_loss_limit_usd:
                out.append(
                    Breach(
                        "strategy",
                        name,
                        Severity.HALT,
                        f"strategy loss limit: pnl {_fmt(pnl)} USD is {_fmt(peak - pnl)} below "
                        f"peak {_fmt(peak)} (limit {cfg.strategy_loss_limit_usd})",
                    )
                )
    if inp.margin_action == "halt":
        out.append(Breach(*acct, Severity.HALT, f"margin: {inp.margin_reason}"))
    elif inp.margin_action == "reduce":
        out.append(Breach(*acct, Severity.REDUCE, f"margin: {inp.margin_reason}"))
    if inp.margin_silent:
        out.append(Breach(*acct, Severity.REDUCE, "margin monitor silent"))
    for name, rate in sorted(inp.order_rates.items()):
        if cfg.max_order_rate_per_s is not None and rate > cfg.max_order_rate_per_s:
            out.append(
                Breach(
                    "strategy",
                    name,
                    Severity.REDUCE,
                    f"order rate {rate}/s over {cfg.max_order_rate_per_s}/s",
                )
            )
    for v in inp.insts:
        out.extend(_inst_breaches(v, cfg))
    return out


def _inst_breaches(v: InstView, cfg: RiskConfig) -> list[Breach]:
    out: list[Breach] = []

    def reduce(reason: str) -> None:
        out.append(Breach("inst", v.inst, Severity.REDUCE, reason))

    if v.md_age_ms is None:
        reduce("no market data yet")
    elif v.md_age_ms > cfg.md_stale_ms:
        reduce(f"market data stale for {v.md_age_ms} ms")
    if v.book_resyncing:
        reduce("book RESYNCING")
    if v.md_silent:
        reduce("market data feed silent")
    pos = abs(v.position_base)
    limit = cfg.max_position_base.get(v.inst)
    if limit is not None and pos > limit:
        reduce(f"position {v.position_base} over {limit} base")
    if cfg.max_position_usd is not None and pos * v.price_usd > cfg.max_position_usd:
        reduce(f"position {_fmt(pos * v.price_usd)} USD over {cfg.max_position_usd}")
    if cfg.max_worst_case_exposure_usd is not None:
        worst = max(abs(v.position_base + v.open_buy_base), abs(v.position_base - v.open_sell_base))
        usd = worst * v.price_usd
        if usd > cfg.max_worst_case_exposure_usd:
            reduce(f"worst-case exposure {_fmt(usd)} USD over {cfg.max_worst_case_exposure_usd}")
    return out
