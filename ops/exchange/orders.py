"""Orders as the matching engine holds them, and their OKX JSON rendering.

Prices are integer ticks and sizes integer lots of the order's instrument; money amounts are
Decimal. ``state`` only moves live → partially_filled → filled, or live|partially_filled →
canceled; :mod:`ops.exchange.matching` is the only writer.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from ops.exchange.instruments import Instrument, canonical

__all__ = ["ORD_TYPES", "TERMINAL", "Fill", "OrdType", "Order", "Side", "State"]

Side = Literal["buy", "sell"]
OrdType = Literal["limit", "market", "post_only", "fok", "ioc", "optimal_limit_ioc"]
State = Literal["live", "partially_filled", "filled", "canceled"]
ORD_TYPES: frozenset[str] = frozenset(
    ("limit", "market", "post_only", "fok", "ioc", "optimal_limit_ioc")
)
TERMINAL: frozenset[str] = frozenset(("filled", "canceled"))
_ZERO = Decimal(0)


class Fill:
    """One execution of one order (the maker or the taker side)."""

    __slots__ = (
        "bill_id",
        "exec_type",
        "fee",
        "fee_ccy",
        "fee_rate",
        "lots",
        "ord_id",
        "pnl",
        "side",
        "ticks",
        "trade_id",
        "ts",
    )

    def __init__(
        self,
        *,
        ord_id: int,
        trade_id: int,
        bill_id: int,
        side: Side,
        ticks: int,
        lots: int,
        fee: Decimal,
        fee_ccy: str,
        fee_rate: Decimal,
        exec_type: str,
        pnl: Decimal,
        ts: int,
    ) -> None:
        self.ord_id = ord_id
        self.trade_id = trade_id
        self.bill_id = bill_id
        self.side = side
        self.ticks = ticks
        self.lots = lots
        self.fee = fee
        self.fee_ccy = fee_ccy
        self.fee_rate = fee_rate
        self.exec_type = exec_type
        self.pnl = pnl
        self.ts = ts


class Order:
    """A live or finished order. ``sz`` is lots, except spot market buys in quote (``quote_sz``)."""

    __slots__ = (
        "acc_lots",
        "account",
        "amend_result",
        "amend_source",
        "c_time",
        "cancel_source",
        "ccy",
        "cl_ord_id",
        "fee",
        "fee_ccy",
        "filled_quote",
        "frozen",
        "inst",
        "last_fill",
        "lots",
        "ord_id",
        "ord_type",
        "pnl",
        "pos_side",
        "quote_sz",
        "reduce_only",
        "req_id",
        "side",
        "state",
        "stp_mode",
        "synthetic",
        "tag",
        "td_mode",
        "tgt_ccy",
        "ticks",
        "u_time",
    )

    def __init__(
        self,
        *,
        ord_id: int,
        account: str,
        inst: Instrument,
        side: Side,
        ord_type: OrdType,
        ticks: int,
        lots: int,
        cl_ord_id: str = "",
        tag: str = "",
        td_mode: str = "cash",
        pos_side: str = "",
        reduce_only: bool = False,
        stp_mode: str = "cancel_maker",
        tgt_ccy: str = "",
        quote_sz: Decimal | None = None,
        ccy: str = "",
        now_ms: int = 0,
        synthetic: bool = False,
    ) -> None:
        self.ord_id = ord_id
        self.account = account
        self.inst = inst
        self.side: Side = side
        self.ord_type: OrdType = ord_type
        self.ticks = ticks  # 0 for market orders
        self.lots = lots
        self.quote_sz = quote_sz
        self.cl_ord_id = cl_ord_id
        self.tag = tag
        self.td_mode = td_mode
        self.pos_side = pos_side
        self.ccy = ccy  # MARGIN orders: the margin currency
        self.reduce_only = reduce_only
        self.stp_mode = stp_mode
        self.tgt_ccy = tgt_ccy
        self.state: State = "live"
        self.acc_lots = 0
        self.filled_quote = _ZERO  # Σ px × base qty, for avgPx
        self.fee = _ZERO
        self.fee_ccy = ""
        self.pnl = _ZERO
        self.frozen = _ZERO
        self.last_fill: Fill | None = None
        self.cancel_source = ""
        self.amend_result = ""
        self.amend_source = ""
        self.req_id = ""
        self.c_time = now_ms
        self.u_time = now_ms
        self.synthetic = synthetic

    @property
    def remaining(self) -> int:
        return self.lots - self.acc_lots

    @property
    def closes(self) -> bool:
        """A long/short-mode order that closes its leg (sell long, buy short)."""
        return (self.pos_side == "long" and self.side == "sell") or (
            self.pos_side == "short" and self.side == "buy"
        )

    @property
    def live(self) -> bool:
        return self.state == "live" or self.state == "partially_filled"

    def avg_px(self) -> Decimal:
        if self.acc_lots == 0:
            return _ZERO
        qty = self.inst.base_qty(self.acc_lots)
        return (self.filled_quote / qty).quantize(self.inst.tick / 100).normalize()

    def sz_str(self) -> str:
        if self.quote_sz is not None:
            return canonical(self.quote_sz)
        return self.inst.sz_str(self.lots)

    def to_okx(
        self, *, rest: bool, fill: Fill | None = None, last_px: str = ""
    ) -> dict[str, object]:
        """The order object of REST ``trade/order`` (``rest=True``) or an ``orders`` push."""
        inst = self.inst
        filled = self.acc_lots > 0
        avg = canonical(self.avg_px()) if filled else ("" if rest else "0")
        d: dict[str, object] = {
            "accFillSz": inst.sz_str(self.acc_lots),
            "algoClOrdId": "",
            "algoId": "",
            "attachAlgoClOrdId": "",
            "attachAlgoOrds": [],
            "avgPx": avg,
            "cTime": str(self.c_time),
            "cancelSource": self.cancel_source,
            "cancelSourceReason": "",
            "category": "normal",
            "ccy": self.ccy,
            "clOrdId": self.cl_ord_id,
            "fee": canonical(self.fee),
            "feeCcy": self.fee_ccy
            or (
                inst.settle_ccy
                if inst.is_swap
                else (inst.base_ccy if self.side == "buy" else inst.quote_ccy)
            ),
            "instId": inst.inst_id,
            "instType": inst.inst_type,
            "isTpLimit": "false",
            "lever": inst.lever if inst.is_swap else "0",
            "linkedAlgoOrd": {"algoId": ""},
            "ordId": str(self.ord_id),
            "ordType": self.ord_type,
            "pnl": canonical(self.pnl),
            # OKX prints "net" for spot in REST reads, "" in the orders channel
            "posSide": self.pos_side or ("net" if rest else ""),
            # a market order has no price of its own (ticks hold the price limit it swept to)
            "px": inst.px_str(self.ticks)
            if self.ticks and self.ord_type not in ("market", "optimal_limit_ioc")
            else "",
            "pxType": "",
            "pxUsd": "",
            "pxVol": "",
            "quickMgnType": "",
            "rebate": "0",
            "rebateCcy": inst.quote_ccy,
            "reduceOnly": "true" if self.reduce_only else "false",
            "side": self.side,
            "slOrdPx": "",
            "slTriggerPx": "",
            "slTriggerPxType": "",
            "source": "",
            "state": self.state,
            "stpId": "",
            "stpMode": self.stp_mode,
            "sz": self.sz_str(),
            "tag": self.tag,
            "tdMode": self.td_mode,
            "tgtCcy": self.tgt_ccy,
            "tpOrdPx": "",
            "tpTriggerPx": "",
            "tpTriggerPxType": "",
            "tradeQuoteCcy": "" if inst.is_swap else inst.quote_ccy,
            "uTime": str(self.u_time),
        }
        if rest:
            lf = self.last_fill
            if lf is None:
                d.update(fillPx="", fillSz="0", fillTime="", tradeId="")
            else:  # REST shows the latest fill
                d.update(
                    fillPx=inst.px_str(lf.ticks),
                    fillSz=inst.sz_str(lf.lots),
                    fillTime=str(lf.ts),
                    tradeId=str(lf.trade_id),
                )
            return d
        d["amendResult"] = self.amend_result
        d["amendSource"] = self.amend_source
        d["reqId"] = self.req_id
        d["code"] = "0"
        d["msg"] = ""
        d["lastPx"] = last_px
        d["notionalUsd"] = canonical(inst.notional(self.ticks, self.lots)) if self.ticks else "0"
        # options/USD-priced fill fields: empty for spot and linear swaps, as OKX sends them
        d.update(
            fillPxVol="", fillPxUsd="", fillMarkVol="", fillFwdPx="", fillMarkPx="", fillIdxPx=""
        )
        if fill is None:
            d.update(
                fillPx="",
                fillSz="0",
                fillFee="0",
                fillFeeCcy="",
                fillTime="",
                tradeId="",
                execType="",
                fillPnl="0",
                fillNotionalUsd="",
            )
        else:
            d.update(
                fillPx=inst.px_str(fill.ticks),
                fillSz=inst.sz_str(fill.lots),
                fillFee=canonical(fill.fee),
                fillFeeCcy=fill.fee_ccy,
                fillTime=str(fill.ts),
                tradeId=str(fill.trade_id),
                execType=fill.exec_type,
                fillPnl=canonical(fill.pnl),
                fillNotionalUsd=canonical(inst.notional(fill.ticks, fill.lots)),
            )
        return d
