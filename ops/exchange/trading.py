"""Trade requests shared by REST and WS: parse OKX arguments, apply rate limits, call the
matching engine and build OKX's response envelope (per-item ``sCode``, top ``code`` 0/1/2).

Request fields follow okx-v5.md §6: ``""`` and ``null`` mean absent, booleans may be strings,
``instId`` or ``instIdCode``. A missing required field fails the whole request (``50014``);
everything else fails per item.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from ops.exchange.accounts import Account
from ops.exchange.codes import http_status, msg
from ops.exchange.instruments import Instrument, parse_decimal
from ops.exchange.matching import Exchange, Reject
from ops.exchange.modes import check_place
from ops.exchange.orders import ORD_TYPES, OrdType, Side
from ops.exchange.ratelimit import RULES, RateLimiter

__all__ = ["OpKind", "OpResult", "Trading"]

# Place/amend fields OKX takes that this exchange does not implement: refused with 51000
# (okx-v5.md §6), never accepted and ignored.
_PLACE_UNSUPPORTED = (
    "attachAlgoOrds",
    "tpTriggerPx",
    "tpOrdPx",
    "slTriggerPx",
    "slOrdPx",
    "pxUsd",
    "pxVol",
    "banAmend",
    "quickMgnType",
    "stpId",
    "isElpTakerAccess",
    "tradeQuoteCcy",
)
_AMEND_UNSUPPORTED = (
    "attachAlgoOrds",
    "newTpTriggerPx",
    "newTpOrdPx",
    "newSlTriggerPx",
    "newSlOrdPx",
    "newPxUsd",
    "newPxVol",
    "newTriggerPx",
)

OpKind = Literal[
    "order",
    "batch-orders",
    "cancel-order",
    "cancel-batch-orders",
    "amend-order",
    "amend-batch-orders",
]
_CL_RE = re.compile(r"^[A-Za-z0-9]{1,32}$")
_TAG_RE = re.compile(r"^[A-Za-z0-9]{0,16}$")
_MAX_BATCH = 20
_BASE = {
    "batch-orders": "order",
    "cancel-batch-orders": "cancel-order",
    "amend-batch-orders": "amend-order",
}
_STP = frozenset(("cancel_maker", "cancel_taker", "cancel_both"))


@dataclass(slots=True)
class OpResult:
    """A trade response: top-level code/msg, items, and the HTTP status for REST."""

    code: str
    msg: str
    data: list[dict[str, object]] = field(default_factory=list)
    http: int = 200


class _Fatal(Exception):  # noqa: N818 - internal control flow, never escapes this module
    def __init__(self, code: str, text: str) -> None:
        super().__init__(code)
        self.code = code
        self.text = text


def _str(arg: Mapping[str, object], key: str) -> str:
    v = arg.get(key)
    if type(v) is str:  # the common case first: this runs ~13 times per order
        return v
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return str(v)
    if isinstance(v, str):
        return v
    raise _Fatal("51000", msg("51000", key))


def _bool(arg: Mapping[str, object], key: str) -> bool:
    v = arg.get(key)
    if v is None or v == "":
        return False
    if isinstance(v, bool):
        return v
    if v in ("true", "True", "1"):
        return True
    if v in ("false", "False", "0"):
        return False
    raise _Fatal("51000", msg("51000", key))


def _item(
    ord_id: str = "",
    cl_ord_id: str = "",
    *,
    ts: int,
    code: str = "0",
    text: str = "",
    sub: str = "",
    tag: str | None = None,
    req_id: str | None = None,
) -> dict[str, object]:
    d: dict[str, object] = {"clOrdId": cl_ord_id, "ordId": ord_id}
    if tag is not None:
        d["tag"] = tag
    if req_id is not None:
        d["reqId"] = req_id
    d.update(ts=str(ts), sCode=code, sMsg=text, subCode=sub)
    return d


class Trading:
    """Turns OKX trade requests into matching-engine calls."""

    def __init__(self, ex: Exchange, limiter: RateLimiter) -> None:
        self.ex = ex
        self.limiter = limiter
        # venue switch ws_ops_need_inst_id_code: WS ops name the instrument by code only
        self.ws_need_code = False
        self._code_only = False  # set for the duration of one WS op when the switch is on

    def instrument(self, arg: Mapping[str, object]) -> Instrument | None:
        code = arg.get("instIdCode")
        if code not in (None, ""):
            try:
                return self.ex.by_code.get(int(str(code)))
            except ValueError:
                return None
        inst_id = arg.get("instId")
        return self.ex.instruments.get(inst_id) if isinstance(inst_id, str) else None

    def _need_inst(self, arg: Mapping[str, object]) -> Instrument | Reject:
        if self._code_only:
            # today's OKX: per item, instId ignored (okx-v5.md §8; the sMsg users report)
            if arg.get("instIdCode") in (None, ""):
                return Reject("50014", msg("50014", "instIdCode"))
            inst = self.instrument({"instIdCode": arg.get("instIdCode")})
            return inst if inst is not None else Reject("51001", msg("51001"))
        if arg.get("instId") in (None, "") and arg.get("instIdCode") in (None, ""):
            raise _Fatal("50014", msg("50014", "instId"))
        inst = self.instrument(arg)
        if inst is None:
            return Reject("51001", msg("51001"))
        return inst

    # -- entry point ------------------------------------------------------------------------
    def run(
        self, kind: OpKind, acct: Account, body: object, now_ms: int, *, via_ws: bool = False
    ) -> OpResult:
        """Execute one REST body / WS ``args`` for ``kind``."""
        self._code_only = via_ws and self.ws_need_code
        try:
            return self._run(kind, acct, body, now_ms)
        finally:
            self._code_only = False

    def _run(self, kind: OpKind, acct: Account, body: object, now_ms: int) -> OpResult:
        batch = kind in ("batch-orders", "cancel-batch-orders", "amend-batch-orders")
        if batch:
            if isinstance(body, dict):
                body = [body]
            if not isinstance(body, list) or not body:
                return OpResult("50014", msg("50014", "body"), http=400)
            if len(body) > _MAX_BATCH:
                return OpResult("51111", msg("51111", str(_MAX_BATCH)))
            args = body
        else:
            if isinstance(body, list):
                if len(body) != 1:
                    return OpResult("51000", msg("51000", "body"), http=400)
                body = body[0]
            if not isinstance(body, dict):
                return OpResult("50002", msg("50002"), http=400)
            args = [body]
        if not all(isinstance(a, dict) for a in args):
            return OpResult("51000", msg("51000", "body"), http=400)
        base = _BASE.get(kind, kind)
        limited: set[str] = set()
        if self.limiter.enabled:
            # a batch of one counts against the single-order limit (okx-v5.md §5)
            rule = RULES[kind] if batch and len(args) > 1 else RULES[base]
            per_inst: dict[str, int] = {}
            for a in args:
                k = str(a.get("instId") or a.get("instIdCode") or "")
                per_inst[k] = per_inst.get(k, 0) + 1
            units_single = not (batch and len(args) > 1)
            for k, n in per_inst.items():
                units = 1 if units_single else n
                if not self.limiter.hit(rule, f"{acct.api_key}|{k}", units, now_ms):
                    limited.add(k)
            if limited and not batch:
                return OpResult("50011", msg("50011"), http=429)
            if base in ("order", "amend-order") and not self.limiter.hit(
                RULES["sub-account-orders"], acct.api_key, len(args), now_ms
            ):
                return OpResult("50061", msg("50061"))
        try:
            items = []
            seen: set[str] = set()
            for a in args:
                if limited and str(a.get("instId") or a.get("instIdCode") or "") in limited:
                    items.append(
                        _item(
                            _str(a, "ordId"),
                            _str(a, "clOrdId"),
                            ts=now_ms,
                            code="50011",
                            text=msg("50011"),
                        )
                    )
                elif base == "order":
                    items.append(self._place(acct, a, now_ms, seen))
                elif base == "cancel-order":
                    items.append(self._cancel(acct, a, now_ms))
                else:
                    items.append(self._amend(acct, a, now_ms, seen))
        except _Fatal as f:
            return OpResult(f.code, f.text, http=http_status(f.code))
        ok = sum(1 for i in items if i["sCode"] == "0")
        if ok == len(items):
            return OpResult("0", "", items)
        if ok == 0:
            return OpResult("1", msg("1"), items)
        return OpResult("2", msg("2"), items)

    # -- place ------------------------------------------------------------------------------
    def _unsupported(self, a: Mapping[str, object], fields: tuple[str, ...]) -> str | None:
        """The first field OKX accepts that this exchange does not implement, if given: it is
        refused rather than accepted and dropped (a user must never believe a stop-loss exists
        that does not)."""
        for key in fields:
            v = a.get(key)
            if v not in (None, "", [], {}, False, "false"):
                return key
        return None

    def _place(
        self, acct: Account, a: Mapping[str, object], now_ms: int, seen: set[str]
    ) -> dict[str, object]:
        cl = _str(a, "clOrdId")
        tag = _str(a, "tag")
        for key in ("tdMode", "side", "ordType", "sz"):
            if not _str(a, key):
                raise _Fatal("50014", msg("50014", key))
        inst = self._need_inst(a)

        def fail(code: str, text: str, sub: str = "") -> dict[str, object]:
            return _item("", cl, ts=now_ms, code=code, text=text, sub=sub, tag=tag)

        if isinstance(inst, Reject):
            return fail(inst.code, inst.msg)
        missing = self._unsupported(a, _PLACE_UNSUPPORTED)
        if missing is not None:
            return fail("51000", msg("51000", missing))
        if cl and not _CL_RE.match(cl):
            return fail("51000", msg("51000", "clOrdId"))
        if not _TAG_RE.match(tag):
            return fail("51000", msg("51000", "tag"))
        if cl:
            if cl in seen:
                return fail("51016", msg("51016"))
            seen.add(cl)
        exp = _str(a, "expTime")
        if exp and exp.isdigit() and int(exp) < now_ms:
            return fail("50036", msg("50036"))
        side = _str(a, "side")
        if side not in ("buy", "sell"):
            return fail("51000", msg("51000", "side"))
        ord_type = _str(a, "ordType")
        if ord_type not in ORD_TYPES:
            return fail("51000", msg("51000", "ordType"))
        td_mode = _str(a, "tdMode")
        ccy = _str(a, "ccy")
        reduce_only = _bool(a, "reduceOnly")
        pos_side = check_place(
            acct_lv=acct.acct_lv,
            pos_mode=acct.pos_mode,
            inst=inst,
            td_mode=td_mode,
            pos_side=_str(a, "posSide"),
            ccy=ccy,
            side=side,
            reduce_only=reduce_only,
        )
        if isinstance(pos_side, Reject):
            return fail(pos_side.code, pos_side.msg)
        stp = _str(a, "stpMode") or "cancel_maker"
        if stp not in _STP:
            return fail("51000", msg("51000", "stpMode"))
        if ord_type == "fok" and stp == "cancel_both":
            return fail("50016", msg("50016", "stpMode", "ordType"))
        sz = parse_decimal(a.get("sz"))
        if sz is None or sz <= 0:
            return fail("51000", msg("51000", "sz"))
        tgt = _str(a, "tgtCcy")
        if tgt not in ("", "base_ccy", "quote_ccy"):
            return fail("51000", msg("51000", "tgtCcy"))
        quote_sz: Decimal | None = None
        lots = 0
        market = ord_type in ("market", "optimal_limit_ioc")
        if market and not inst.is_swap and side == "buy" and tgt != "base_ccy":
            quote_sz = sz
        else:
            lots_or_none = inst.lots(sz)
            if lots_or_none is None:
                return fail("51121", msg("51121"))
            lots = lots_or_none
            if lots < inst.min_lots:
                return fail("51020", msg("51020"))
            if lots > (inst.max_mkt_lots if market else inst.max_lmt_lots):
                return fail("51000", msg("51000", "sz"))
        ticks = 0
        if not market:
            px = parse_decimal(a.get("px"))
            if px is None:
                if a.get("px") in (None, ""):
                    raise _Fatal("50014", msg("50014", "px"))
                return fail("51000", msg("51000", "px"))
            t = inst.ticks(px) if px > 0 else None
            if t is None:
                return fail("51000", msg("51000", "px"))
            ticks = t
        if inst.state != "live":
            return fail("51001", msg("51001"))
        o = self.ex.new_order(
            acct,
            inst,
            side=_side(side),
            ord_type=_ord_type(ord_type),
            ticks=ticks,
            lots=lots,
            quote_sz=quote_sz,
            cl_ord_id=cl,
            tag=tag,
            td_mode=td_mode,
            reduce_only=reduce_only,
            stp_mode=stp,
            tgt_ccy=tgt,
            pos_side=pos_side,
            ccy=ccy,
            now_ms=now_ms,
        )
        if isinstance(o, Reject):
            return fail(o.code, o.msg, o.sub_code)
        return _item(str(o.ord_id), cl, ts=now_ms, tag=tag, text="Order placed")

    # -- cancel -----------------------------------------------------------------------------
    def _cancel(self, acct: Account, a: Mapping[str, object], now_ms: int) -> dict[str, object]:
        ord_id, cl = _str(a, "ordId"), _str(a, "clOrdId")
        inst = self._need_inst(a)
        if isinstance(inst, Reject):
            return _item(ord_id, cl, ts=now_ms, code=inst.code, text=inst.msg)
        if not ord_id and not cl:
            return _item(ord_id, cl, ts=now_ms, code="51003", text=msg("51003"))
        o = acct.find(ord_id, cl)
        if o is None or o.inst is not inst:
            return _item(ord_id, cl, ts=now_ms, code="51400", text=msg("51400"))
        rej = self.ex.cancel(acct, o, now_ms)
        if rej is not None:
            return _item(str(o.ord_id), o.cl_ord_id, ts=now_ms, code=rej.code, text=rej.msg)
        return _item(str(o.ord_id), o.cl_ord_id, ts=now_ms)

    # -- amend ------------------------------------------------------------------------------
    def _amend(
        self, acct: Account, a: Mapping[str, object], now_ms: int, seen: set[str]
    ) -> dict[str, object]:
        ord_id, cl, req_id = _str(a, "ordId"), _str(a, "clOrdId"), _str(a, "reqId")
        inst = self._need_inst(a)

        def fail(code: str, text: str, sub: str = "") -> dict[str, object]:
            return _item(ord_id, cl, ts=now_ms, code=code, text=text, sub=sub, req_id=req_id)

        if isinstance(inst, Reject):
            return fail(inst.code, inst.msg)
        missing = self._unsupported(a, _AMEND_UNSUPPORTED)
        if missing is not None:
            return fail("51000", msg("51000", missing))
        if not ord_id and not cl:
            return fail("51003", msg("51003"))
        cxl = _bool(a, "cxlOnFail")
        new_sz, new_px = a.get("newSz"), a.get("newPx")
        if new_sz in (None, "") and new_px in (None, ""):
            return fail("51500", msg("51500"))
        o = acct.find(ord_id, cl)
        if o is None or o.inst is not inst:
            return fail("51503", msg("51503"))
        key = str(o.ord_id)
        if key in seen:
            return fail("51512", msg("51512"))
        seen.add(key)
        ord_id, cl = key, o.cl_ord_id
        exp = _str(a, "expTime")
        if exp and exp.isdigit() and int(exp) < now_ms:
            return fail("50036", msg("50036"))
        new_lots: int | None = None
        new_ticks: int | None = None
        if new_px not in (None, ""):
            px = parse_decimal(new_px)
            t = inst.ticks(px) if px is not None and px > 0 else None
            if t is None:
                return fail("51000", msg("51000", "newPx"))
            new_ticks = t
        if new_sz not in (None, ""):
            sz = parse_decimal(new_sz)
            lots = inst.lots(sz) if sz is not None and sz > 0 else None
            if lots is None:
                if cxl and o.live:
                    self.ex.cancel(acct, o, now_ms)
                return fail(
                    "51121" if sz is not None and sz > 0 else "51000",
                    msg("51121") if sz is not None and sz > 0 else msg("51000", "newSz"),
                )
            new_lots = lots
        rej = self.ex.amend(
            acct,
            o,
            new_lots=new_lots,
            new_ticks=new_ticks,
            req_id=req_id,
            cxl_on_fail=cxl,
            now_ms=now_ms,
        )
        if rej is not None:
            return fail(rej.code, rej.msg, rej.sub_code)
        return _item(ord_id, cl, ts=now_ms, req_id=req_id)


def _side(s: str) -> Side:
    return "buy" if s == "buy" else "sell"


def _ord_type(s: str) -> OrdType:
    for t in ("limit", "market", "post_only", "fok", "ioc", "optimal_limit_ioc"):
        if s == t:
            return t
    return "limit"
