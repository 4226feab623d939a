"""Margin of accounts in multi-currency (``acctLv`` 3) and portfolio (4) margin mode, the tier
endpoints and the venue's liquidation, with the engine's formulas (:mod:`risk.margin`) and the
one tier table the config gives (``ExchangeConfig.margin_tiers``), so that what the venue says
and what the margin actor recomputes can be compared number for number.

The multi-currency fields (``account_margin``) come from :mod:`ops.exchange.okx_margin`, the
venue's own implementation from OKX's field definitions and its published tier rows, written
apart from the engine's; portfolio margin (acctLv 4's MMR) and the liquidation price use
:mod:`risk.margin`.

Liquidation, as OKX's pre-liquidation: when the margin ratio reaches ``liquidation_level``
every live order of the account is canceled (``cancelSource`` 3, risk cancellation), then the
largest position is closed at the mark, charged the liquidation fee, until the ratio is above
the level again or nothing is left.
"""

from __future__ import annotations

from decimal import Decimal

from ops.exchange.accounts import Account
from ops.exchange.instruments import canonical
from ops.exchange.matching import Exchange
from ops.exchange.okx_margin import CrossPosition, OkxMargin, okx_margin
from risk.margin.multicurrency import MarginInputs, PositionIn
from risk.margin.portfolio import portfolio_margin
from risk.margin.stress import liquidation_price
from risk.margin.tiers import TierTable

__all__ = [
    "account_margin",
    "discount_details",
    "discount_rows",
    "discount_rows_of",
    "is_margin_account",
    "liquidate_if_needed",
    "margin_inputs",
    "margin_ratio",
    "position_liq_px",
    "position_tier_rows",
    "position_tier_rows_of",
]

_ZERO = Decimal(0)
_STABLE = ("USDT", "USDC", "USD")
RISK_CANCEL = "3"  # cancelSource: risk cancellation before liquidation


def is_margin_account(acct: Account) -> bool:
    return acct.acct_lv in (3, 4)


def usd_px(ex: Exchange, ccy: str) -> Decimal:
    """A currency's USD price: 1 for stablecoins, its spot mark, else a swap's mark."""
    if ccy in _STABLE:
        return Decimal(1)
    for k in (f"{ccy}-USDT", f"{ccy}-USDT-SWAP"):
        if (m := ex.marks.get(k)) is not None:
            return m
    return _ZERO


def margin_inputs(ex: Exchange, acct: Account) -> MarginInputs:
    positions = [
        PositionIn(
            inst=p.inst.inst_id,
            uly=p.inst.base_ccy,
            settle=p.inst.settle_ccy,
            pos=p.inst.base_qty(p.lots) if p.lots > 0 else -p.inst.base_qty(-p.lots),
            avg_px=p.avg_px,
            mark_px=ex.marks.get(p.inst.inst_id, p.avg_px),
        )
        for p in acct.positions.values()
        if p.lots
    ]
    ccys = set(acct.balances) | {p.uly for p in positions} | {p.settle for p in positions}
    return MarginInputs(
        cash={c: b.cash for c, b in acct.balances.items()},
        prices={c: usd_px(ex, c) for c in ccys},
        positions=positions,
    )


def tiers_of(ex: Exchange) -> TierTable:
    return ex.cfg.margin_tiers


def account_margin(ex: Exchange, acct: Account) -> OkxMargin:
    """The account's multi-currency fields, the venue's own way (:mod:`ops.exchange.okx_margin`)."""
    t = tiers_of(ex)
    positions = [
        CrossPosition(
            inst=p.inst.inst_id,
            uly=p.inst.base_ccy,
            settle=p.inst.settle_ccy,
            size=p.inst.base_qty(p.lots) if p.lots > 0 else -p.inst.base_qty(-p.lots),
            avg_px=p.avg_px,
            mark_px=ex.marks.get(p.inst.inst_id, p.avg_px),
        )
        for p in acct.positions.values()
        if p.lots
    ]
    ccys = set(acct.balances) | {p.uly for p in positions} | {p.settle for p in positions}
    return okx_margin(
        {c: b.cash for c, b in acct.balances.items()},
        {c: usd_px(ex, c) for c in ccys},
        positions,
        discount_rows=lambda c: discount_details(t, c),
        position_rows=lambda u: position_tier_rows_of(t, u, "SWAP"),
        liq_fee_rate=t.liq_fee_rate,
    )


def margin_ratio(ex: Exchange, acct: Account, m: OkxMargin) -> Decimal | None:
    """Multi-currency: adjEq / (MMR + liquidation fees); portfolio: adjEq / stressed MMR."""
    if acct.acct_lv == 4:
        return portfolio_margin(margin_inputs(ex, acct), tiers_of(ex), ex.cfg.portfolio).mgn_ratio
    return m.mgn_ratio


def account_mmr(ex: Exchange, acct: Account, m: OkxMargin) -> Decimal:
    if acct.acct_lv == 4:
        return portfolio_margin(margin_inputs(ex, acct), tiers_of(ex), ex.cfg.portfolio).mmr
    return m.mmr


def position_liq_px(ex: Exchange, acct: Account, uly: str, long: bool) -> str:
    """The underlying's price at which the account reaches the liquidation level, on the side
    where this position loses; "" when no price in range gets there."""
    pt = liquidation_price(
        margin_inputs(ex, acct),
        uly,
        tiers_of(ex),
        Decimal(ex.cfg.liquidation_level),
        down=long,
    )
    return canonical(pt.price.quantize(Decimal("0.00000001"))) if pt is not None else ""


def discount_rows(ex: Exchange, ccy: str) -> list[dict[str, object]]:
    """``public/discount-rate-interest-free-quota`` items (one per configured currency)."""
    return discount_rows_of(tiers_of(ex), ccy)


def discount_rows_of(t: TierTable, ccy: str) -> list[dict[str, object]]:
    """The discount-rate items of table ``t``: every configured currency, or ``ccy``'s."""
    return [
        {
            "ccy": c,
            "amt": "0",
            "discountLv": "",
            "minDiscountRate": canonical(t.discount_tiers(c)[-1].rate),
            "details": discount_details(t, c),
        }
        for c in (sorted(t.discount) if not ccy else [ccy])
    ]


def discount_details(t: TierTable, ccy: str) -> list[dict[str, object]]:
    """One currency's discount rows (``details`` of its item): minAmt … maxAmt at a rate."""
    details: list[dict[str, object]] = []
    low = _ZERO
    for i, tier in enumerate(t.discount_tiers(ccy), start=1):
        details.append(
            {
                "discountRate": canonical(tier.rate),
                "maxAmt": "" if tier.max_amt is None else canonical(tier.max_amt),
                "minAmt": canonical(low),
                "tier": str(i),
                "liqPenaltyRate": canonical(t.liq_fee_rate),
                "disCcyEq": "",
            }
        )
        low = tier.max_amt if tier.max_amt is not None else low
    return details


def position_tier_rows(ex: Exchange, uly: str, inst_type: str) -> list[dict[str, object]]:
    """``public/position-tiers`` items: tiers of one underlying (``BTC-USDT`` or ``BTC``)."""
    return position_tier_rows_of(tiers_of(ex), uly, inst_type)


def position_tier_rows_of(t: TierTable, uly: str, inst_type: str) -> list[dict[str, object]]:
    """The position-tier rows of table ``t`` for one underlying."""
    ccy = uly.split("-")[0]
    rows: list[dict[str, object]] = []
    low = _ZERO
    for i, pt in enumerate(t.position_tiers(ccy), start=1):
        rows.append(
            {
                "uly": uly,
                "instFamily": uly,
                "instType": inst_type,
                "tier": str(i),
                "minSz": canonical(low),
                "maxSz": "" if pt.max_size is None else canonical(pt.max_size),
                "mmr": canonical(pt.mmr),
                "imr": canonical(pt.imr),
                "maxLever": canonical((1 / pt.imr).quantize(Decimal("0.01"))),
                "optMgnFactor": "",
                "quoteMaxLoan": "",
                "baseMaxLoan": "",
            }
        )
        low = pt.max_size if pt.max_size is not None else low
    return rows


def liquidate_if_needed(ex: Exchange, acct: Account, now_ms: int) -> bool:
    """Pre-liquidation of an account at or below the level; True when it acted."""
    level = Decimal(ex.cfg.liquidation_level)
    ratio = margin_ratio(ex, acct, account_margin(ex, acct))
    if ratio is None or ratio > level:
        return False
    for o in list(acct.live.values()):  # risk cancellation first: orders hold margin
        ex.cancel(acct, o, now_ms, source=RISK_CANCEL)
    fee_rate = tiers_of(ex).liq_fee_rate
    while ratio is not None and ratio <= level:
        open_ = [p for p in acct.positions.values() if p.lots]
        if not open_:
            break
        p = max(open_, key=lambda q: q.inst.base_qty(abs(q.lots)) * ex.marks[q.inst.inst_id])
        mark = ex.marks[p.inst.inst_id]
        qty = p.inst.base_qty(abs(p.lots))
        pnl = p.apply(-p.lots, mark)
        fee = -fee_rate * qty * mark
        p.fee += fee
        p.u_time = now_ms
        b = acct.balance(p.inst.settle_ccy, now_ms)
        b.cash += pnl + fee
        b.u_time = now_ms
        ex.touch(acct, p.inst.settle_ccy, p.inst.inst_id)
        ratio = margin_ratio(ex, acct, account_margin(ex, acct))
    return True
