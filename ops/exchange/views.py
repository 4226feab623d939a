"""OKX JSON shapes of account state: balance, positions, balance_and_position, fills, tickers.

Pure functions of the cores' state; numeric fields are canonical decimal strings, ``"0"`` where
OKX clients parse numbers (okx-v5.md §12)."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

from ops.exchange.accounts import Account, Position
from ops.exchange.instruments import canonical
from ops.exchange.margin import (
    account_margin,
    account_mmr,
    is_margin_account,
    margin_ratio,
    position_liq_px,
    position_tier_rows_of,
)
from ops.exchange.matching import Exchange
from ops.exchange.okx_margin import rate, tier_row
from ops.exchange.orders import Fill, Order

__all__ = ["balance_and_position", "balance_obj", "fill_obj", "position_obj", "ticker_obj"]

_ZERO = Decimal(0)
# details[] keys of features this exchange does not have (lending, collateral rules, copy
# trading, spot cost basis): OKX sends them with these values to an account that uses none
_DETAIL_FIXED: dict[str, object] = {
    "accAvgPx": "",
    "autoLendMtAmt": "0",
    "autoLendStatus": "off",
    "clSpotInUseAmt": "",
    "colBorrAutoConversion": "0",
    "colRes": "0",
    "collateralEnabled": False,
    "collateralRestrict": False,
    "frpType": "0",
    "maxSpotInUse": "",
    "maxSpotInUseAmt": "",
    "openAvgPx": "",
    "rewardBal": "0",
    "smtSyncEq": "0",
    "spotBal": "",
    "spotCopyTradingEq": "0",
    "spotIsoBal": "0",
    "spotUpl": "",
    "spotUplRatio": "",
    "totalPnl": "",
    "totalPnlRatio": "",
}
# position keys of margin (borrowing) and spot-in-use features: empty for a SWAP position
_POSITION_EMPTY = (
    "baseBal",
    "baseBorrowed",
    "baseInterest",
    "bizRefId",
    "bizRefType",
    "clSpotInUseAmt",
    "hedgedPos",
    "maxSpotInUseAmt",
    "quoteBal",
    "quoteBorrowed",
    "quoteInterest",
    "spotInUseAmt",
    "spotInUseCcy",
)


def balance_obj(
    ex: Exchange, acct: Account, ccys: set[str] | None, now_ms: int
) -> dict[str, object]:
    """The ``account/balance`` object (also the ``account`` channel's data item)."""
    details = []
    total = _ZERO
    upl_total = _ZERO
    imr_total = _ZERO
    frozen_total = _ZERO
    for ccy in sorted(acct.balances):
        b = acct.balances[ccy]
        d = acct.balance_detail(b, ex.marks, ex.lever)
        eq = Decimal(str(d["eq"]))
        px = _usd_px(ex, ccy)
        total += eq * px
        upl_total += Decimal(str(d["upl"]))
        imr_total += Decimal(str(d["imr"]))
        frozen_total += b.frozen * px
        if ccys is not None and ccy not in ccys:
            continue
        if b.cash == 0 and b.frozen == 0:
            continue
        d["eqUsd"] = canonical(eq * px)
        d["coinUsdPrice"] = canonical(px)
        d.update(_DETAIL_FIXED)
        details.append(d)
    mmr = imr_total * Decimal(ex.cfg.mmr_rate) * ex.lever
    out: dict[str, object] = {
        "adjEq": canonical(total),
        "availEq": canonical(total - imr_total - frozen_total),
        "borrowFroz": "0",
        "delta": "0",
        "deltaLever": "0",
        "deltaNeutralStatus": "0",
        "details": details,
        "imr": canonical(imr_total),
        "isoEq": "0",
        # cross margin ratio adjEq / mmr; OKX sends "" while nothing needs margin
        "mgnRatio": canonical(total / mmr) if mmr else "",
        "mmr": canonical(mmr),
        "notionalUsd": "0",
        "notionalUsdForBorrow": "0",
        "notionalUsdForFutures": "0",
        "notionalUsdForOption": "0",
        "notionalUsdForSwap": "0",
        "ordFroz": canonical(frozen_total),
        "totalEq": canonical(total),
        "uTime": str(now_ms),
        "upl": canonical(upl_total),
    }
    if is_margin_account(acct):
        _multi_currency(ex, acct, out, details)
    return out


def _multi_currency(
    ex: Exchange, acct: Account, out: dict[str, object], details: list[dict[str, object]]
) -> None:
    """acctLv 3 / 4: the account and per-currency margin fields from :mod:`risk.margin`."""
    m = account_margin(ex, acct)
    ratio = margin_ratio(ex, acct, m)
    out.update(
        adjEq=canonical(m.adj_eq),
        totalEq=canonical(m.total_eq),
        imr=canonical(m.imr),
        mmr=canonical(account_mmr(ex, acct, m)),
        mgnRatio="" if ratio is None else canonical(ratio),
        notionalUsd=canonical(m.notional_usd),
        notionalUsdForSwap=canonical(m.notional_usd),
    )
    for d in details:
        c = m.ccys.get(str(d["ccy"]))
        if c is None:
            continue
        d.update(
            eq=canonical(c.eq),
            eqUsd=canonical(c.eq_usd),
            disEq=canonical(c.dis_eq),
            liab=canonical(c.liab),
            crossLiab=canonical(c.liab),
            interest=canonical(c.interest),
        )


def _usd_px(ex: Exchange, ccy: str) -> Decimal:
    if ccy in ("USDT", "USDC", "USD"):
        return Decimal(1)
    mark = ex.marks.get(f"{ccy}-USDT")
    return mark if mark is not None else Decimal(0)


def _avg_px(p: Position) -> str:
    """Position average price at the instrument's price precision, as OKX prints it."""
    return canonical(p.avg_px.quantize(p.inst.tick, rounding=ROUND_HALF_EVEN))


def _be_px(p: Position) -> str:
    """Breakeven price: the average price moved by the fees paid per unit of the position."""
    qty = p.inst.base_qty(abs(p.lots))
    if not qty:
        return ""
    per_unit = -p.fee / qty  # fee < 0 when charged (OKX sign convention)
    return canonical(p.avg_px + per_unit if p.lots > 0 else p.avg_px - per_unit)


def _liq_px(p: Position, adj_eq: Decimal, upl: Decimal, mmr_rate: Decimal) -> str:
    """Cross margin: the mark at which the account's equity falls to this position's
    maintenance margin, the rest of the account unchanged; "" when no price gets there."""
    qty = p.inst.base_qty(abs(p.lots))
    if not qty:
        return ""
    others = adj_eq - upl  # equity without this position's unrealised PnL
    if p.lots > 0:
        px = (p.avg_px * qty - others) / (qty * (1 - mmr_rate))
    else:
        px = (p.avg_px * qty + others) / (qty * (1 + mmr_rate))
    return canonical(px.quantize(p.inst.tick, rounding=ROUND_HALF_EVEN)) if px > 0 else ""


def position_obj(ex: Exchange, acct: Account, p: Position, now_ms: int) -> dict[str, object]:
    """One ``account/positions`` item (also the ``positions`` channel's)."""
    inst = p.inst
    mark = ex.marks[inst.inst_id]
    account = balance_obj(ex, acct, set(), now_ms)
    upl = p.upl(mark)
    qty = inst.base_qty(abs(p.lots))
    notional = qty * mark
    imr = notional / ex.lever
    leg = p.pos_side != "net"
    # a leg's availPos is what closing orders have not yet claimed (net mode: all of it)
    avail = abs(p.lots) - (acct.closing_lots(inst.inst_id, p.pos_side) if leg else 0)
    out: dict[str, object] = {
        "adl": "1",
        "availPos": inst.sz_str(avail) if p.lots else "0",
        "avgPx": _avg_px(p),
        "bePx": _be_px(p),
        "cTime": str(p.c_time),
        "ccy": inst.settle_ccy,
        "closeOrderAlgo": [],
        "deltaBS": "",
        "deltaPA": "",
        "fee": canonical(p.fee),
        "fundingFee": "0",
        "gammaBS": "",
        "gammaPA": "",
        "idxPx": canonical(mark),
        "imr": canonical(imr),
        "instId": inst.inst_id,
        "instType": inst.inst_type,
        "interest": "0",
        "last": inst.px_str(ex.stats[inst.inst_id].last_ticks),
        "lever": canonical(ex.lever),
        "liab": "",
        "liabCcy": "",
        "liqPenalty": "0",
        "liqPx": _liq_px(p, Decimal(str(account["adjEq"])), upl, Decimal(ex.cfg.mmr_rate)),
        "margin": "",
        "markPx": canonical(mark),
        "mgnMode": "cross",
        # cross positions show the account's margin ratio
        "mgnRatio": account["mgnRatio"],
        "mmr": canonical(notional * Decimal(ex.cfg.mmr_rate)),
        "notionalUsd": canonical(notional),
        "optVal": "",
        "pTime": str(now_ms),
        "pendingCloseOrdLiabVal": "0",
        "pnl": canonical(p.realized),
        "pos": _pos_str(p),
        "posCcy": "",
        "posId": str(p.pos_id),
        "posSide": p.pos_side,
        "realizedPnl": canonical(p.realized + p.fee),
        "thetaBS": "",
        "thetaPA": "",
        "tradeId": str(p.trade_id),
        "uTime": str(p.u_time),
        "upl": canonical(upl),
        "uplLastPx": canonical(upl),
        "uplRatio": canonical(upl / imr) if imr else "0",
        "uplRatioLastPx": "0",
        "usdPx": "",
        "vegaBS": "",
        "vegaPA": "",
        "nonSettleAvgPx": "",
        "settledPnl": "",
        **dict.fromkeys(_POSITION_EMPTY, ""),
    }
    if is_margin_account(acct):
        tier = tier_row(qty, position_tier_rows_of(ex.cfg.margin_tiers, inst.base_ccy, "SWAP"))
        out.update(
            imr=canonical(notional * (rate(tier, "imr") or 0)),
            mmr=canonical(notional * (rate(tier, "mmr") or 0)),
            liqPx=position_liq_px(ex, acct, inst.base_ccy, p.lots > 0),
            liqPenalty="0",
        )
    return out


def balance_and_position(
    ex: Exchange,
    acct: Account,
    ccys: set[str],
    insts: set[str],
    trades: list[tuple[str, str]],
    event: str,
    now_ms: int,
) -> dict[str, object]:
    bal = [
        {
            "ccy": c,
            "cashBal": canonical(acct.balances[c].cash),
            "uTime": str(acct.balances[c].u_time),
        }
        for c in sorted(ccys)
        if c in acct.balances
    ]
    pos = [
        {
            "posId": str(p.pos_id),
            "tradeId": str(p.trade_id),
            "instId": p.inst.inst_id,
            "instType": p.inst.inst_type,
            "mgnMode": "cross",
            "posSide": p.pos_side,
            "pos": _pos_str(p),
            "ccy": p.inst.settle_ccy,
            "posCcy": "",
            "avgPx": _avg_px(p),
            "nonSettleAvgPx": "",
            "settledPnl": "",
            "uTime": str(p.u_time),
        }
        for i in sorted(insts)
        for p in acct.positions_of(i)
        if p.lots or event != "snapshot"  # a snapshot shows open positions only
    ]
    return {
        "pTime": str(now_ms),
        "eventType": event,
        "balData": bal,
        "posData": pos,
        "trades": [{"instId": i, "tradeId": t} for i, t in trades],
    }


def _pos_str(p: Position) -> str:
    """OKX ``pos``: signed in net mode, positive for a long or short leg."""
    if not p.lots:
        return "0"
    sign = "-" if p.lots < 0 and p.pos_side == "net" else ""
    return sign + p.inst.sz_str(abs(p.lots))


def fill_obj(o: Order, f: Fill) -> dict[str, object]:
    inst = o.inst
    sub = {(True, "buy"): "3", (True, "sell"): "4", (False, "buy"): "1"}.get(
        (inst.is_swap, f.side), "2"
    )
    return {
        "side": f.side,
        "fillSz": inst.sz_str(f.lots),
        "fillPx": inst.px_str(f.ticks),
        "fee": canonical(f.fee),
        "fillPnl": canonical(f.pnl),
        "ordId": str(o.ord_id),
        "feeRate": canonical(f.fee_rate),
        "instType": inst.inst_type,
        "instId": inst.inst_id,
        "clOrdId": o.cl_ord_id,
        "posSide": o.pos_side or "net",  # OKX prints "net" for spot fills too
        "billId": str(f.bill_id),
        "subType": sub,
        "tag": o.tag,
        "fillTime": str(f.ts),
        "execType": f.exec_type,
        "tradeId": str(f.trade_id),
        "feeCcy": f.fee_ccy,
        "ts": str(f.ts),
        "fillPxVol": "",
        "fillFwdPx": "",
        "fillPxUsd": "",
        "fillMarkVol": "",
        "fillIdxPx": "",
        "fillMarkPx": "",
        "tradeQuoteCcy": "" if inst.is_swap else inst.quote_ccy,
    }


def ticker_obj(
    ex: Exchange, inst_id: str, best: tuple[list[list[str]], list[list[str]]], now_ms: int
) -> dict[str, object]:
    inst = ex.instruments[inst_id]
    st = ex.stats[inst_id]
    bids, asks = best
    return {
        "instType": inst.inst_type,
        "instId": inst_id,
        "last": inst.px_str(st.last_ticks),
        "lastSz": inst.sz_str(st.last_lots),
        "askPx": asks[0][0] if asks else "",
        "askSz": asks[0][1] if asks else "",
        "bidPx": bids[0][0] if bids else "",
        "bidSz": bids[0][1] if bids else "",
        "open24h": inst.px_str(st.open_ticks),
        "high24h": inst.px_str(st.high_ticks),
        "low24h": inst.px_str(st.low_ticks),
        "volCcy24h": canonical(st.vol_ccy),
        "vol24h": inst.sz_str(st.vol_lots),
        "sodUtc0": inst.px_str(st.open_ticks),
        "sodUtc8": inst.px_str(st.open_ticks),
        "ts": str(now_ms),
    }
