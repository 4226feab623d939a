"""The margin report (``okxmm margin``): the seeds' sections, as JSON and as text.

Built from one :class:`~risk.margin.core.MarginReport`, so the report and the ``MarginState``
on the bus carry the same numbers. Sections, in the seeds' order: account mode, account
summary, collateral assets, derivative positions, stress test, liquidation analysis,
discount-rate tiers of the collateral currencies.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from risk.margin.core import MarginCore, MarginReport
from risk.margin.stress import liquidation_price

__all__ = ["render_text", "report_json"]

_MODES = {
    1: "spot",
    2: "futures (single-currency margin)",
    3: "multi-currency margin",
    4: "portfolio margin",
}


def _s(x: Decimal | None) -> str | None:
    return None if x is None else str(x)


def _pct(x: Decimal | None) -> str | None:
    return None if x is None else str(x * 100)


def report_json(rep: MarginReport, core: MarginCore | None = None) -> dict[str, Any]:
    st, m, inp = rep.state, rep.account, rep.inputs
    th = core.cfg.thresholds if core is not None else None
    ratio = st.mgn_ratio
    summary: dict[str, Any] = {
        "status": st.status,
        "mgn_ratio_pct": _pct(ratio),
        "venue_mgn_ratio_pct": _pct(st.venue_mgn_ratio),
        "adj_eq": str(m.adj_eq),
        "total_eq": str(m.total_eq),
        "imr": str(m.imr),
        "mmr": str(st.mmr),
        "liq_fees": str(m.liq_fees),
        "notional_usd": str(m.notional_usd),
        "action": st.action,
        "reason": st.reason,
    }
    if th is not None and ratio is not None:
        summary["to_warning_pts"] = str((ratio - th.warning) * 100)
        summary["to_liquidation_pts"] = str((ratio - th.liquidation) * 100)
    collateral = [
        {
            "ccy": c.ccy,
            "eq": str(c.eq),
            "eq_usd": str(c.eq_usd),
            "discount": str(c.discount),
            "dis_eq": str(c.dis_eq),
            "liab": str(c.liab),
        }
        for c in m.ccys.values()
        if c.eq != 0
    ]
    positions = []
    for p in m.positions:
        p_liq = None
        if core is not None:
            level = core.cfg.thresholds.liquidation
            p_liq = liquidation_price(inp, p.uly, core.tiers, level, down=p.pos > 0)
        positions.append(
            {
                "inst": p.inst,
                "side": "long" if p.pos > 0 else "short",
                "size": str(abs(p.pos)),
                "notional_usd": str(p.notional_usd),
                "entry_px": str(p.avg_px),
                "mark_px": str(p.mark_px),
                "upl": str(p.upl),
                "leverage": str(p.notional_usd / p.imr) if p.imr else None,
                "mmr": str(p.mmr),
                "liq_px": _s(p_liq.price) if p_liq is not None else None,
            }
        )
    stress = [
        {
            "shock_pct": str(r.shock_pct),
            "price": str(r.price),
            "spot_change_usd": str(r.spot_change_usd),
            "perp_change_usd": str(r.perp_change_usd),
            "net_change_usd": str(r.net_change_usd),
            "mgn_ratio_pct": _pct(r.mgn_ratio),
            "status": r.status.value,
        }
        for r in rep.stress
    ]
    liq: dict[str, Any] = {"uly": st.uly, "price": _s(st.price)}
    for name, pt in (("down", rep.liq_down), ("up", rep.liq_up)):
        liq[name] = (
            None
            if pt is None
            else {
                "price": str(pt.price),
                "move_pct": str(pt.move_pct),
                "move_usd": str(pt.move_usd),
            }
        )
    tiers: dict[str, Any] = {}
    if core is not None:
        for c in collateral:
            ts = core.tiers.discount_tiers(c["ccy"])
            tiers[c["ccy"]] = [{"max_amt": _s(t.max_amt), "rate": str(t.rate)} for t in ts]
    pm = None
    if rep.portfolio is not None:
        pm = {
            "mmr": str(rep.portfolio.mmr),
            "units": [
                {
                    "uly": u.uly,
                    "delta": str(u.delta),
                    "mr1": str(u.mr1),
                    "mr2": str(u.mr2),
                    "mr4": str(u.mr4),
                    "mr6": str(u.mr6),
                    "mr7": str(u.mr7),
                    "mmr": str(u.mmr),
                }
                for u in rep.portfolio.units
            ],
        }
    lv = st.acct_lv
    return {
        "mode": {
            "acct_lv": lv,
            "name": _MODES.get(lv, "unknown"),
            "warning": "" if lv in (3, 4) else "not a multi-currency or portfolio margin account",
        },
        "summary": summary,
        "collateral": collateral,
        "positions": positions,
        "stress": stress,
        "liquidation": liq,
        "discount_tiers": tiers,
        "portfolio": pm,
    }


def _num(x: object, places: int = 2) -> str:
    if x is None:
        return "-"
    return f"{Decimal(str(x)):,.{places}f}"


def render_text(r: dict[str, Any]) -> str:
    """The report as the seeds print it, one section after another."""
    out: list[str] = []
    mode = r["mode"]
    out.append(f"Account mode: {mode['acct_lv']} ({mode['name']})")
    if mode["warning"]:
        out.append(f"  WARNING: {mode['warning']}")
    s = r["summary"]
    out += [
        "",
        "Account summary",
        f"  status            {s['status'].upper()}",
        f"  margin ratio      {_num(s['mgn_ratio_pct'])} %",
        f"  venue's ratio     {_num(s['venue_mgn_ratio_pct'])} %",
        f"  to warning        {_num(s.get('to_warning_pts'))} pts",
        f"  to liquidation    {_num(s.get('to_liquidation_pts'))} pts",
        f"  adjusted equity   {_num(s['adj_eq'])} USD",
        f"  total equity      {_num(s['total_eq'])} USD",
        f"  initial margin    {_num(s['imr'])} USD",
        f"  maint. margin     {_num(s['mmr'])} USD",
    ]
    out += [
        "",
        "Collateral assets",
        "  ccy        balance          USD value   discount   after haircut",
    ]
    for c in r["collateral"]:
        out.append(
            f"  {c['ccy']:<6} {_num(c['eq'], 8):>14} {_num(c['eq_usd']):>18} "
            f"{_num(c['discount'], 4):>10} {_num(c['dis_eq']):>15}"
        )
    out += ["", "Derivative positions"]
    for p in r["positions"]:
        out.append(
            f"  {p['inst']:<16} {p['side']:<5} {_num(p['size'], 4):>10} notional "
            f"{_num(p['notional_usd'])} entry {_num(p['entry_px'])} mark {_num(p['mark_px'])} "
            f"upl {_num(p['upl'])} lev {_num(p['leverage'])} liq {_num(p['liq_px'])}"
        )
    out += ["", "Stress test  (shock  price  spot Δ  perp Δ  net Δ  ratio  status)"]
    for row in r["stress"]:
        out.append(
            f"  {_num(row['shock_pct'], 0):>5} % {_num(row['price']):>12} "
            f"{_num(row['spot_change_usd']):>14} {_num(row['perp_change_usd']):>14} "
            f"{_num(row['net_change_usd']):>14} {_num(row['mgn_ratio_pct']):>10} % {row['status']}"
        )
    liq = r["liquidation"]
    out += ["", f"Liquidation analysis ({liq['uly']} at {_num(liq['price'])})"]
    for name in ("down", "up"):
        pt = liq[name]
        if pt is None:
            out.append(f"  {name:<4} none within range")
            continue
        move = f"{_num(pt['move_pct'])} %, {_num(pt['move_usd'])} USD"
        out.append(f"  {name:<4} {_num(pt['price'])} ({move})")
    out += ["", "Discount-rate tiers"]
    for ccy, ts in r["discount_tiers"].items():
        tiers = ", ".join(f"≤{t['max_amt'] or '∞'}: {t['rate']}" for t in ts)
        out.append(f"  {ccy}: {tiers}")
    return "\n".join(out)
