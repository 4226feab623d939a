"""REST ``/api/v5/...`` over aiohttp: one catch-all handler, an endpoint table, OKX envelopes.

Per request, in order: unknown path → 404 shape; injected fault; auth for private endpoints
(raw request-target and raw body, okx-v5.md §2); Content-Type / body checks on POST; rate
limit; ack delay; the endpoint. Trade endpoints add ``inTime``/``outTime``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import cast

import msgspec
from aiohttp import web
from loguru import logger

from ops.exchange.accounts import Account
from ops.exchange.codes import http_status, msg
from ops.exchange.margin import (
    account_margin,
    discount_rows,
    is_margin_account,
    margin_ratio,
    position_tier_rows,
)
from ops.exchange.modes import POS_MODES
from ops.exchange.ratelimit import RULES
from ops.exchange.trading import OpKind, OpResult
from ops.exchange.venue import Venue
from ops.exchange.views import balance_obj, fill_obj, position_obj

__all__ = ["RestApi"]

_JSON = "application/json"


@dataclass(frozen=True, slots=True)
class _Endpoint:
    method: str
    private: bool
    rule: str  # rate-limit rule name ("" for trade endpoints: limited in Trading)
    scope: str  # "user" | "ip" | "ip+instType" | "ip+instId" | "user+instId" | ""


_ENDPOINTS: dict[str, _Endpoint] = {
    "public/time": _Endpoint("GET", False, "time", "ip"),
    "system/status": _Endpoint("GET", False, "status", ""),
    "public/instruments": _Endpoint("GET", False, "instruments", "ip+instType"),
    "market/books": _Endpoint("GET", False, "books", "ip"),
    "market/ticker": _Endpoint("GET", False, "ticker", "ip"),
    "market/tickers": _Endpoint("GET", False, "ticker", "ip"),
    "public/mark-price": _Endpoint("GET", False, "mark-price", "ip+instId"),
    "public/price-limit": _Endpoint("GET", False, "price-limit", "ip+instId"),
    "public/discount-rate-interest-free-quota": _Endpoint("GET", False, "discount-rate", "ip"),
    "public/position-tiers": _Endpoint("GET", False, "position-tiers", "ip"),
    "account/config": _Endpoint("GET", True, "config", "user"),
    "account/position-tiers": _Endpoint("GET", True, "position-tiers", "user"),
    "account/risk-state": _Endpoint("GET", True, "risk-state", "user"),
    "account/balance": _Endpoint("GET", True, "balance", "user"),
    "account/positions": _Endpoint("GET", True, "positions", "user"),
    "account/trade-fee": _Endpoint("GET", True, "config", "user"),
    "account/set-position-mode": _Endpoint("POST", True, "set-position-mode", "user"),
    "asset/currencies": _Endpoint("GET", True, "", ""),
    "trade/order": _Endpoint("POST", True, "", ""),
    "trade/batch-orders": _Endpoint("POST", True, "", ""),
    "trade/cancel-order": _Endpoint("POST", True, "", ""),
    "trade/cancel-batch-orders": _Endpoint("POST", True, "", ""),
    "trade/amend-order": _Endpoint("POST", True, "", ""),
    "trade/amend-batch-orders": _Endpoint("POST", True, "", ""),
    "trade/cancel-all-after": _Endpoint("POST", True, "cancel-all-after", "user"),
    "trade/orders-pending": _Endpoint("GET", True, "orders-pending", "user"),
    "trade/fills": _Endpoint("GET", True, "fills", "user"),
    "trade/fills-history": _Endpoint("GET", True, "fills", "user"),
}
_EXP_KINDS = frozenset(("order", "batch-orders", "amend-order", "amend-batch-orders"))
# GET trade/order shares its path with POST trade/order
_GET_ORDER = _Endpoint("GET", True, "get-order", "user+instId")


def _resp(obj: object, status: int = 200) -> web.Response:
    return web.Response(body=msgspec.json.encode(obj), status=status, content_type=_JSON)


def _err(code: str, text: str | None = None, *, data: bool = True) -> web.Response:
    body: dict[str, object] = {"code": code, "msg": msg(code) if text is None else text}
    if data:
        body["data"] = []
    return _resp(body, http_status(code))


def _ok(data: list[dict[str, object]]) -> web.Response:
    return _resp({"code": "0", "msg": "", "data": data})


class RestApi:
    """The ``/api/v5`` handler bound to one venue."""

    def __init__(self, venue: Venue) -> None:
        self.v = venue
        self._get: dict[str, Callable[[web.Request, Account | None], web.Response]] = {
            "public/time": self._time,
            "system/status": lambda r, a: _ok([]),
            "public/instruments": self._instruments,
            "market/books": self._books,
            "market/ticker": self._ticker,
            "market/tickers": self._tickers,
            "public/mark-price": self._mark_price,
            "public/price-limit": self._price_limit,
            "public/discount-rate-interest-free-quota": self._discount_rate,
            "public/position-tiers": self._position_tiers,
            "account/config": self._config,
            "account/position-tiers": self._position_tiers,
            "account/risk-state": self._risk_state,
            "account/balance": self._balance,
            "account/positions": self._positions,
            "account/trade-fee": self._trade_fee,
            "asset/currencies": lambda r, a: _ok([]),
            "trade/order": self._get_order,
            "trade/orders-pending": self._pending,
            "trade/fills": self._fills,
            "trade/fills-history": self._fills_history,
        }

    async def handle(self, request: web.Request) -> web.StreamResponse:
        try:
            return await self._handle(request)
        except Exception:  # noqa: BLE001 - answer like OKX, keep serving; logged
            logger.exception("rest request failed", path=request.path)
            return _err("50026")

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        v = self.v
        in_us = v.clock.now_ns() // 1000
        path = request.match_info.get("tail", "")
        ep = _ENDPOINTS.get(path)
        if ep is not None and path == "trade/order" and request.method == "GET":
            ep = _GET_ORDER
        if ep is None or ep.method != request.method:
            return _resp(
                {
                    "code": 404,
                    "data": {},
                    "detailMsg": "",
                    "error_code": "404",
                    "error_message": "Not Found",
                    "msg": "Not Found",
                },
                404,
            )
        fault = v.faults.injected_error(v.rng)
        if fault is not None:
            code, status = fault
            return _resp({"msg": msg(code), "code": code}, status)
        body = await request.read() if request.method == "POST" else b""
        now = v.now_ms()
        acct: Account | None = None
        if ep.private:
            res = v.keyring.verify_rest(
                request.headers, request.method, request.raw_path, body, now
            )
            if res.api_key is None:
                return _err(res.code, data=False)
            if v.cfg.enforce_env_header and request.headers.get("x-simulated-trading") != "1":
                return _err("50101", data=False)
            acct = v.account(res.api_key)
            if acct is None:
                return _err("50111", data=False)
        payload: object = None
        if request.method == "POST":
            ctype = request.headers.get("Content-Type", "")
            if "application/json" not in ctype.lower():
                return _err("50006")
            if not body.strip():
                return _err("50000")
            try:
                payload = msgspec.json.decode(body)
            except msgspec.DecodeError:
                return _err("50002")
        if ep.rule:
            key = self._scope_key(ep.scope, request, acct)
            if not v.limiter.hit(RULES[ep.rule], key, 1, now) and (
                ep.rule != "status" or v.cfg.status_rate_limit
            ):
                return _resp({"msg": "Too Many Requests", "code": "50011"}, 429)
        if v.faults.ack_delay_ms > 0:
            await asyncio.sleep(v.faults.ack_delay_ms / 1000)
        if request.method == "GET":
            try:
                return self._get[path](request, acct)
            except _ParamError as e:
                return _err(e.code, e.text)
        assert acct is not None  # every POST endpoint is private
        if path == "trade/cancel-all-after":
            return self._cancel_all_after(acct, payload)
        if path == "account/set-position-mode":
            return self._set_position_mode(acct, payload)
        kind = cast(OpKind, path.removeprefix("trade/"))
        v.note_request(kind, acct, payload, "rest")
        exp = request.headers.get("expTime", "")
        if exp.isdigit() and int(exp) < v.now_ms() and kind in _EXP_KINDS:
            items = payload if isinstance(payload, list) else [payload]
            return self._trade_resp(
                OpResult(
                    "1",
                    msg("1"),
                    [
                        {
                            "clOrdId": str(i.get("clOrdId") or "") if isinstance(i, dict) else "",
                            "ordId": str(i.get("ordId") or "") if isinstance(i, dict) else "",
                            "ts": str(now),
                            "sCode": "50036",
                            "sMsg": msg("50036"),
                            "subCode": "",
                        }
                        for i in items
                    ],
                ),
                in_us,
            )
        result = v.trading.run(kind, acct, payload, v.now_ms())
        v.flush()
        return self._trade_resp(result, in_us)

    def _trade_resp(self, r: OpResult, in_us: int) -> web.Response:
        out_us = self.v.clock.now_ns() // 1000
        if r.code not in ("0", "1", "2") and not r.data:
            return _resp(
                {
                    "code": r.code,
                    "msg": r.msg,
                    "data": [],
                    "inTime": str(in_us),
                    "outTime": str(out_us),
                },
                r.http,
            )
        return _resp(
            {
                "code": r.code,
                "msg": r.msg,
                "data": r.data,
                "inTime": str(in_us),
                "outTime": str(out_us),
            },
            r.http,
        )

    def _scope_key(self, scope: str, request: web.Request, acct: Account | None) -> str:
        ip = request.remote or ""
        q = request.query
        if scope == "user":
            return acct.api_key if acct else ip
        if scope == "ip+instType":
            return f"{ip}|{q.get('instType', '')}"
        if scope in ("ip+instId", "user+instId"):
            who = acct.api_key if acct and scope == "user+instId" else ip
            return f"{who}|{q.get('instId', '')}"
        return ip

    # -- public -----------------------------------------------------------------------------
    def _time(self, request: web.Request, acct: Account | None) -> web.Response:
        return _ok([{"ts": str(self.v.now_ms())}])

    def _instruments(self, request: web.Request, acct: Account | None) -> web.Response:
        q = request.query
        inst_type = q.get("instType", "")
        if not inst_type:
            raise _ParamError("50014", msg("50014", "instType"))
        if inst_type not in ("SPOT", "MARGIN", "SWAP", "FUTURES", "OPTION"):
            raise _ParamError("51000", msg("51000", "instType"))
        inst_id = q.get("instId", "")
        family = q.get("instFamily", "") or q.get("uly", "")
        out = []
        for i in self.v.ex.instruments.values():
            if i.inst_type != inst_type or (inst_id and i.inst_id != inst_id):
                continue
            d = i.to_okx()
            if family and d["instFamily"] != family:
                continue
            out.append(d)
        return _ok(out)

    def _inst_id(self, request: web.Request) -> str:
        inst_id = request.query.get("instId", "")
        if not inst_id:
            raise _ParamError("50014", msg("50014", "instId"))
        if inst_id not in self.v.ex.instruments:
            raise _ParamError("51001", msg("51001"))
        return inst_id

    def _books(self, request: web.Request, acct: Account | None) -> web.Response:
        inst_id = self._inst_id(request)
        sz_s = request.query.get("sz", "") or "1"
        if not sz_s.isdigit() or not 1 <= int(sz_s) <= 400:
            raise _ParamError("51000", msg("51000", "sz"))
        rp = self.v.replay
        if rp is not None and inst_id == rp.inst_id:
            d0 = self.v.replay_snapshot(int(sz_s))
            return _ok([{k: d0[k] for k in ("asks", "bids", "ts", "seqId")}])
        self.v.publish()  # the REST snapshot must be a published state (same seqId chain)
        feed = self.v.feeds[inst_id]
        snap = feed.snapshot(depth=int(sz_s))
        d = snap.data
        return _ok(
            [
                {
                    "asks": d["asks"],
                    "bids": d["bids"],
                    "ts": str(self.v.now_ms()),
                    "seqId": d["seqId"],
                }
            ]
        )

    def _ticker(self, request: web.Request, acct: Account | None) -> web.Response:
        return _ok([self.v.ticker(self._inst_id(request))])

    def _tickers(self, request: web.Request, acct: Account | None) -> web.Response:
        inst_type = request.query.get("instType", "")
        if not inst_type:
            raise _ParamError("50014", msg("50014", "instType"))
        return _ok(
            [self.v.ticker(k) for k, i in self.v.ex.instruments.items() if i.inst_type == inst_type]
        )

    def _mark_price(self, request: web.Request, acct: Account | None) -> web.Response:
        q = request.query
        inst_type = q.get("instType", "")
        if not inst_type:
            raise _ParamError("50014", msg("50014", "instType"))
        inst_id = q.get("instId", "")
        now = str(self.v.now_ms())
        types = {"MARGIN": "SPOT"}.get(inst_type, inst_type)
        return _ok(
            [
                {"instType": inst_type, "instId": k, "markPx": self.v.ex.mark_str(i), "ts": now}
                for k, i in self.v.ex.instruments.items()
                if i.inst_type == types and (not inst_id or k == inst_id)
            ]
        )

    def _price_limit(self, request: web.Request, acct: Account | None) -> web.Response:
        inst_id = self._inst_id(request)
        inst = self.v.ex.instruments[inst_id]
        if not inst.is_swap:
            return _ok(
                [
                    {
                        "instType": inst.inst_type,
                        "instId": inst_id,
                        "buyLmt": "",
                        "sellLmt": "",
                        "ts": str(self.v.now_ms()),
                        "enabled": False,
                    }
                ]
            )
        hi, lo = self.v.ex.price_limits(inst)
        return _ok(
            [
                {
                    "instType": inst.inst_type,
                    "instId": inst_id,
                    "buyLmt": inst.px_str(hi),
                    "sellLmt": inst.px_str(lo),
                    "ts": str(self.v.now_ms()),
                    "enabled": True,
                }
            ]
        )

    # -- account ----------------------------------------------------------------------------
    def _config(self, request: web.Request, acct: Account | None) -> web.Response:
        assert acct is not None
        return _ok(
            [
                {
                    "acctLv": str(acct.acct_lv),
                    "acctStpMode": "cancel_maker",
                    "autoLoan": False,
                    "ctIsoMode": "automatic",
                    "enableSpotBorrow": False,
                    "greeksType": "PA",
                    "ip": "",
                    "kycLv": str(acct.kyc_level),
                    "label": "okxmm local",
                    "level": "Lv1",
                    "levelTmp": "",
                    "liquidationGear": "-1",
                    "mainUid": acct.uid,
                    "mgnIsoMode": "automatic",
                    "opAuth": "1",
                    "perm": "read_only,trade",
                    "posMode": acct.pos_mode,
                    "roleType": "0",
                    "spotBorrowAutoRepay": False,
                    "spotOffsetType": "",
                    "spotRoleType": "0",
                    "spotTraderInsts": [],
                    "traderInsts": [],
                    "type": "0",
                    "uid": acct.uid,
                }
            ]
        )

    # -- margin (acctLv 3 / 4; ops/exchange/margin.py) ----------------------------------------
    def _discount_rate(self, request: web.Request, acct: Account | None) -> web.Response:
        return _ok(discount_rows(self.v.ex, request.query.get("ccy", "")))

    def _position_tiers(self, request: web.Request, acct: Account | None) -> web.Response:
        q = request.query
        inst_type = q.get("instType", "")
        uly = q.get("instFamily", "") or q.get("uly", "")
        if not inst_type:
            raise _ParamError("50014", msg("50014", "instType"))
        if not uly:
            raise _ParamError("50014", msg("50014", "instFamily"))
        return _ok(position_tier_rows(self.v.ex, uly.split(",")[0], inst_type))

    def _risk_state(self, request: web.Request, acct: Account | None) -> web.Response:
        assert acct is not None
        ex = self.v.ex
        ratio = (
            margin_ratio(ex, acct, account_margin(ex, acct)) if is_margin_account(acct) else None
        )
        at_risk = ratio is not None and ratio <= Decimal(ex.cfg.liquidation_level)
        row = {"atRisk": at_risk, "atRiskIdx": [], "atRiskMgn": [], "ts": str(self.v.now_ms())}
        return _ok([row])

    def _balance(self, request: web.Request, acct: Account | None) -> web.Response:
        assert acct is not None
        ccy = request.query.get("ccy", "")
        ccys = {c for c in ccy.split(",") if c} or None
        return _ok([balance_obj(self.v.ex, acct, ccys, self.v.now_ms())])

    def _positions(self, request: web.Request, acct: Account | None) -> web.Response:
        assert acct is not None
        q = request.query
        inst_type = q.get("instType", "")
        ids = {i for i in q.get("instId", "").split(",") if i}
        now = self.v.now_ms()
        return _ok(
            [
                position_obj(self.v.ex, acct, p, now)
                for _, p in sorted(acct.positions.items())
                if p.lots
                and (not inst_type or p.inst.inst_type == inst_type)
                and (not ids or p.inst.inst_id in ids)
            ]
        )

    def _trade_fee(self, request: web.Request, acct: Account | None) -> web.Response:
        cfg = self.v.cfg
        if not request.query.get("instType", ""):
            raise _ParamError("50014", msg("50014", "instType"))
        swap = request.query.get("instType", "SPOT") != "SPOT"
        maker = cfg.swap_maker_fee if swap else cfg.spot_maker_fee
        taker = cfg.swap_taker_fee if swap else cfg.spot_taker_fee
        return _ok(
            [
                {
                    "category": "1",
                    "delivery": "",
                    "exercise": "",
                    "instType": request.query.get("instType", "SPOT"),
                    "level": "Lv1",
                    "maker": maker,
                    "makerU": maker,
                    "makerUSDC": maker,
                    "taker": taker,
                    "takerU": taker,
                    "takerUSDC": taker,
                    "ts": str(self.v.now_ms()),
                    "fiat": [],
                }
            ]
        )

    # -- trade reads ------------------------------------------------------------------------
    def _get_order(self, request: web.Request, acct: Account | None) -> web.Response:
        assert acct is not None
        q = request.query
        inst_id = self._inst_id(request)
        ord_id, cl = q.get("ordId", ""), q.get("clOrdId", "")
        if not ord_id and not cl:
            raise _ParamError("51003", msg("51003"))
        o = acct.find(ord_id, cl)
        if o is None or o.inst.inst_id != inst_id:
            raise _ParamError("51603", msg("51603"))
        return _ok([o.to_okx(rest=True)])

    def _pending(self, request: web.Request, acct: Account | None) -> web.Response:
        assert acct is not None
        q = request.query
        inst_type, inst_id = q.get("instType", ""), q.get("instId", "")
        ord_type, state = q.get("ordType", ""), q.get("state", "")
        after, before = q.get("after", ""), q.get("before", "")
        limit_s = q.get("limit", "") or "100"
        limit = int(limit_s) if limit_s.isdigit() else 100
        out = []
        for oid in sorted(acct.live, reverse=True):
            o = acct.live[oid]
            if inst_type and o.inst.inst_type != inst_type:
                continue
            if inst_id and o.inst.inst_id != inst_id:
                continue
            if (ord_type and o.ord_type not in ord_type.split(",")) or (state and o.state != state):
                continue
            if after.isdigit() and oid >= int(after):
                continue
            if before.isdigit() and oid <= int(before):
                continue
            out.append(o.to_okx(rest=True))
            if len(out) >= min(limit, 100):
                break
        return _ok(out)

    def _fills(self, request: web.Request, acct: Account | None) -> web.Response:
        assert acct is not None
        q = request.query
        inst_id, ord_id = q.get("instId", ""), q.get("ordId", "")
        inst_type = q.get("instType", "")
        limit_s = q.get("limit", "") or "100"
        limit = int(limit_s) if limit_s.isdigit() else 100
        out = []
        for o, f in reversed(acct.fills):
            if inst_id and o.inst.inst_id != inst_id:
                continue
            if inst_type and o.inst.inst_type != inst_type:
                continue
            if ord_id and str(o.ord_id) != ord_id:
                continue
            out.append(fill_obj(o, f))
            if len(out) >= min(limit, 100):
                break
        return _ok(out)

    def _fills_history(self, request: web.Request, acct: Account | None) -> web.Response:
        if not request.query.get("instType", ""):  # required here, optional on trade/fills
            raise _ParamError("50014", msg("50014", "instType"))
        return self._fills(request, acct)

    def _set_position_mode(self, acct: Account, payload: object) -> web.Response:
        if not isinstance(payload, dict):
            return _err("50002")
        mode = payload.get("posMode")
        if mode is None or mode == "":
            return _err("50014", msg("50014", "posMode"))
        if mode not in POS_MODES:
            return _err("51000", msg("51000", "posMode"))
        if acct.acct_lv == 1:
            return _err("51010")  # spot mode has no derivative positions to have a mode
        if mode != acct.pos_mode and acct.has_derivatives:
            return _err("59000")
        if mode != acct.pos_mode:
            acct.positions.clear()  # all flat (else 59000); a net row must not outlive net mode
        acct.pos_mode = str(mode)
        return _ok([{"posMode": acct.pos_mode}])

    # -- cancel-all-after -------------------------------------------------------------------
    def _cancel_all_after(self, acct: Account, payload: object) -> web.Response:
        if not isinstance(payload, dict):
            return _err("50002")
        raw = payload.get("timeOut")
        if raw is None or raw == "":
            return _err("50014", msg("50014", "timeOut"))
        try:
            t = Decimal(str(raw))
        except ArithmeticError:
            return _err("51000", msg("51000", "timeOut"))
        if t != t.to_integral_value() or not (t == 0 or 10 <= t <= 120):
            return _err("51000", msg("51000", "timeOut"))
        tag = payload.get("tag") or ""
        if not isinstance(tag, str):
            return _err("51000", msg("51000", "tag"))
        if tag and tag not in acct.caa and len(acct.caa) >= 20:
            return _err("51071", msg("51071"))
        now = self.v.now_ms()
        trigger = self.v.ex.arm_cancel_all_after(acct, int(t), tag, now)
        return _ok([{"triggerTime": str(trigger), "tag": tag, "ts": str(now)}])


class _ParamError(Exception):
    def __init__(self, code: str, text: str) -> None:
        super().__init__(code)
        self.code = code
        self.text = text
