"""WebSocket ``/ws/v5/{public,private,business}`` over aiohttp.

Each connection has a reader (this handler) and a writer task draining ``Conn.out``. Text
``ping`` → ``pong``; protocol pings answered; any inbound frame counts as activity (idle
connections are closed by :meth:`Venue.housekeeping` with 4004). The query string is ignored.
Events carry ``connId``; one ack per subscription arg; trade ops echo ``id``.

Connection rules of today's OKX (venue switches): more than ``ws_connects_per_s`` new
connections in a second from one IP are refused before the upgrade with HTTP 429; more than
``ws_requests_per_hour`` subscribe/unsubscribe/login requests on one connection get
``60014`` "Requests too frequent" (the request is not executed; the connection stays open).
"""

from __future__ import annotations

import asyncio
import secrets
from collections import deque
from collections.abc import Callable, Mapping
from typing import cast

import msgspec
from aiohttp import WSMsgType, web
from loguru import logger

from ops.exchange.accounts import Account
from ops.exchange.codes import WS_CLOSE_REASONS, msg
from ops.exchange.hub import Conn, PrivateSub, WsKind
from ops.exchange.trading import OpKind
from ops.exchange.venue import Venue, dumps

__all__ = ["WsApi"]

PUBLIC_CHANNELS = frozenset(("books", "books5", "bbo-tbt", "tickers", "trades", "mark-price"))
PRIVATE_CHANNELS = frozenset(("account", "positions", "balance_and_position", "orders"))
BUSINESS_CHANNELS = frozenset(("trades-all", "candle1m", "candle1s", "orders-algo"))
TRADE_OPS: dict[str, OpKind] = {
    "order": "order",
    "batch-orders": "batch-orders",
    "cancel-order": "cancel-order",
    "batch-cancel-orders": "cancel-batch-orders",
    "amend-order": "amend-order",
    "batch-amend-orders": "amend-batch-orders",
}
_MAX_FRAME = 64 * 1024
_HOUR_MS = 3_600_000
_decode = msgspec.json.Decoder().decode
# OKX documents no body for a refused WS connect; this is its REST rate-limit answer
_TOO_MANY = msgspec.json.encode({"msg": "Too Many Requests", "code": "50011"})


class WsApi:
    """WS endpoints bound to one venue."""

    def __init__(self, venue: Venue) -> None:
        self.v = venue
        # (apiKey, ordId or clOrdId) → amends received and not yet executed (venue switch
        # max_amends_in_flight); an entry goes when its count returns to 0
        self.amends_in_flight: dict[tuple[str, str], int] = {}
        # IP → monotonic ms of the connections accepted from it in the last second
        self._connects: dict[str, deque[int]] = {}

    def _connect_allowed(self, ip: str) -> bool:
        """Admit one more connection from ``ip`` unless ``ws_connects_per_s`` were admitted in
        the last second (refused attempts are not counted: a client backing off gets in)."""
        limit = self.v.rules.ws_connects_per_s
        if not limit:
            return True
        now = self.v.clock.monotonic_ns() // 1_000_000
        times = self._connects.setdefault(ip, deque())
        while times and now - times[0] >= 1000:
            times.popleft()
        if len(times) >= limit:
            return False
        times.append(now)
        return True

    def _request_allowed(self, conn: Conn) -> bool:
        """Count one subscribe/unsubscribe/login request; False past ``ws_requests_per_hour``."""
        limit = self.v.rules.ws_requests_per_hour
        if not limit:
            return True
        now = self.v.clock.monotonic_ns() // 1_000_000
        times = conn.requests
        while times and now - times[0] >= _HOUR_MS:
            times.popleft()
        if len(times) >= limit:
            return False
        times.append(now)
        return True

    async def handle(self, request: web.Request) -> web.StreamResponse:
        kind = cast(WsKind, request.match_info["kind"])
        if not self._connect_allowed(request.remote or ""):
            logger.info("ws connect refused: rate", ip=request.remote, kind=kind)
            return web.Response(status=429, body=_TOO_MANY, content_type="application/json")
        # autoclose off: a client that stopped reading must not wedge our close handshake
        ws = web.WebSocketResponse(
            autoping=False, autoclose=False, compress=False, max_msg_size=_MAX_FRAME * 4
        )
        await ws.prepare(request)
        conn = Conn(kind=kind, conn_id=secrets.token_hex(4), last_rx_ms=self.v.now_ms())
        self.v.hub.add(conn)
        writer = asyncio.create_task(self._writer(ws, conn))
        client_closed = False
        try:
            while not conn.closing:
                frame = await ws.receive()
                conn.last_rx_ms = self.v.now_ms()
                if frame.type == WSMsgType.TEXT:
                    self._on_text_guarded(conn, frame.data)
                elif frame.type == WSMsgType.PING:
                    await ws.pong(frame.data)
                elif frame.type == WSMsgType.BINARY:
                    self._error(conn, "60012", msg("60012", "binary frame"))
                elif frame.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED):
                    client_closed = True
                    break
                elif frame.type == WSMsgType.ERROR:
                    break
        except (ConnectionError, asyncio.CancelledError):
            client_closed = True
        finally:
            self.v.hub.remove(conn)
            if client_closed:
                writer.cancel()  # the peer is leaving: pending pushes are moot
                conn.out.clear()
            conn.close(conn.closing or 1000)
            try:
                await asyncio.wait_for(writer, 2.0)
            except (TimeoutError, ConnectionError, asyncio.CancelledError):
                writer.cancel()
            if not ws.closed:
                try:
                    await asyncio.wait_for(_close(ws, conn.closing or 1000), 0.5)
                except (TimeoutError, ConnectionError):
                    if request.transport is not None:
                        request.transport.abort()
        return ws

    async def _writer(self, ws: web.WebSocketResponse, conn: Conn) -> None:
        try:
            while True:
                await conn.wake.wait()
                conn.wake.clear()
                while conn.out and not ws.closed:
                    await ws.send_str(conn.out.popleft())
                if conn.closing:
                    if not ws.closed:
                        await _close(ws, conn.closing)
                    return
        except (ConnectionError, RuntimeError) as exc:
            logger.debug("ws writer stopped", conn_id=conn.conn_id, error=type(exc).__name__)

    # -- inbound ----------------------------------------------------------------------------
    def _reply_with_refused(
        self,
        op: str,
        args: list[object],
        refused: list[int],
        acct: Account,
        reply: Callable[[str, str, list[dict[str, object]]], None],
    ) -> None:
        """Amends over the in-progress limit get ``51513``; the others run as one batch."""
        v = self.v
        rest = [a for i, a in enumerate(args) if i not in refused]
        done: list[dict[str, object]] = []
        if rest:
            result = v.trading.run(TRADE_OPS[op], acct, rest, v.now_ms(), via_ws=True)
            done = list(result.data)
        out: list[dict[str, object]] = []
        it = iter(done)
        for i, a in enumerate(args):
            if i in refused:
                d = a if isinstance(a, dict) else {}
                out.append(
                    {
                        "ordId": str(d.get("ordId") or ""),
                        "clOrdId": str(d.get("clOrdId") or ""),
                        "reqId": str(d.get("reqId") or ""),
                        "ts": str(v.now_ms()),
                        "sCode": "51513",
                        "sMsg": msg("51513"),
                        "subCode": "",
                    }
                )
            else:
                out.append(next(it, {"sCode": "50026", "sMsg": msg("50026")}))
        ok = sum(1 for d in out if d.get("sCode") == "0")
        code = "0" if ok == len(out) else ("1" if ok == 0 else "2")
        reply(code, "" if code == "0" else msg(code), out)

    def _error(self, conn: Conn, code: str, text: str, req_id: str = "") -> None:
        ev: dict[str, object] = {}
        if req_id:
            ev["id"] = req_id
        ev.update(event="error", code=code, msg=text, connId=conn.conn_id)
        conn.push(dumps(ev))

    def _on_text_guarded(self, conn: Conn, text: str) -> None:
        try:
            self._on_text(conn, text)
        except Exception:  # noqa: BLE001 - one bad frame must not kill the connection
            logger.exception("ws request failed", conn_id=conn.conn_id)
            self._error(conn, "60012", msg("60012", text[:200]))

    def _on_text(self, conn: Conn, text: str) -> None:
        if text == "ping":
            conn.push("pong")
            return
        if len(text) > _MAX_FRAME:
            conn.close(1009)
            return
        try:
            req = _decode(text)
        except msgspec.DecodeError:
            self._error(conn, "60012", msg("60012", text[:200]))
            return
        if not isinstance(req, dict):
            self._error(conn, "60012", msg("60012", text[:200]))
            return
        op = req.get("op")
        req_id = req.get("id") if isinstance(req.get("id"), str) else ""
        assert isinstance(req_id, str)
        if op in ("subscribe", "unsubscribe", "login") and not self._request_allowed(conn):
            self._error(conn, "60014", msg("60014"), req_id)
        elif op in ("subscribe", "unsubscribe"):
            self._on_subscribe(conn, op, req, req_id, text)
        elif op == "login":
            self._on_login(conn, req, text)
        elif isinstance(op, str) and op in TRADE_OPS:
            self._on_trade(conn, op, req, text)
        elif isinstance(op, str) and op:
            self._error(conn, "60019", msg("60019", op), req_id)
        else:
            self._error(conn, "60012", msg("60012", text[:200]), req_id)

    def _on_login(self, conn: Conn, req: Mapping[str, object], text: str) -> None:
        args = req.get("args")
        if not isinstance(args, list) or len(args) != 1 or not isinstance(args[0], dict):
            self._error(conn, "60012", msg("60012", text[:200]))
            return
        if conn.api_key is not None:
            self._error(conn, "60031", msg("60031"))
            return
        res = self.v.keyring.verify_login(args[0], self.v.now_ms())
        if res.api_key is None:
            self._error(conn, res.code, msg(res.code))
            return
        self.v.hub.login(conn, res.api_key)
        conn.push(dumps({"event": "login", "code": "0", "msg": "", "connId": conn.conn_id}))

    def _on_subscribe(
        self, conn: Conn, op: str, req: Mapping[str, object], req_id: str, text: str
    ) -> None:
        args = req.get("args")
        if not isinstance(args, list) or not args:
            self._error(conn, "60012", msg("60012", text[:200]), req_id)
            return
        for arg in args:
            if not isinstance(arg, dict) or not isinstance(arg.get("channel"), str):
                self._error(conn, "60012", msg("60012", text[:200]), req_id)
                continue
            self._subscribe_one(conn, op, arg, req_id)

    def _subscribe_one(self, conn: Conn, op: str, arg: dict[str, object], req_id: str) -> None:
        channel = str(arg["channel"])
        v = self.v
        clean = {k: val for k, val in arg.items() if isinstance(val, str)}
        ack: dict[str, object] = {}
        if req_id:
            ack["id"] = req_id
        ack.update(event=op, arg=clean, connId=conn.conn_id)
        if conn.kind == "business":
            if channel in PUBLIC_CHANNELS or channel in PRIVATE_CHANNELS:
                self._error(conn, "64002", msg("64002"), req_id)
            else:
                self._error(conn, "60018", msg("60018", channel), req_id)
            return
        if channel in PUBLIC_CHANNELS and conn.kind == "public":
            inst_id = clean.get("instId", "")
            if inst_id not in v.ex.instruments:
                self._error(conn, "60018", msg("60018", channel), req_id)
                return
            if op == "unsubscribe":
                v.hub.unsubscribe_public(conn, channel, inst_id)
                conn.push(dumps(ack))
                return
            fresh = v.hub.subscribe_public(conn, channel, inst_id)
            conn.push(dumps(ack))
            if fresh:
                self._public_snapshot(conn, channel, inst_id)
            return
        if channel in PRIVATE_CHANNELS and conn.kind == "private":
            if conn.api_key is None:
                self._error(conn, "60011", msg("60011"), req_id)
                return
            inst_type = clean.get("instType", "")
            if channel in ("orders", "positions") and inst_type not in (
                "ANY",
                "SPOT",
                "SWAP",
                "MARGIN",
                "FUTURES",
                "OPTION",
            ):
                self._error(conn, "60018", msg("60018", channel), req_id)
                return
            sub = PrivateSub(channel, inst_type, clean.get("instId", ""), clean.get("ccy", ""))
            if op == "unsubscribe":
                if sub in conn.private:
                    conn.private.remove(sub)
                conn.push(dumps(ack))
                return
            conn.push(dumps(ack))
            if sub not in conn.private:
                conn.private.append(sub)
                v.private_snapshot(conn, sub)
            return
        self._error(conn, "60018", msg("60018", channel), req_id)

    def _public_snapshot(self, conn: Conn, channel: str, inst_id: str) -> None:
        v = self.v
        feed = v.feeds[inst_id]
        zero = v.faults.checksum_mode == "zero"
        arg = {"channel": channel, "instId": inst_id}
        now = str(v.now_ms())
        rp = v.replay
        if rp is not None and inst_id == rp.inst_id and channel in ("books", "books5", "bbo-tbt"):
            if channel == "books" and v.faults.initial_snapshot:
                first = {**v.replay_snapshot(400), "prevSeqId": -1, "checksum": 0}
                conn.push(dumps({"arg": arg, "action": "snapshot", "data": [first]}))
            return  # books5 / bbo-tbt are not in the recording
        if channel == "books":
            if v.faults.initial_snapshot:
                snap = feed.snapshot(checksum_zero=zero)
                conn.push(dumps({"arg": arg, "action": "snapshot", "data": [snap.data]}))
        elif channel == "books5":
            b, a = feed.top(5)
            conn.push(
                dumps(
                    {
                        "arg": arg,
                        "data": [
                            {"asks": a, "bids": b, "instId": inst_id, "ts": now, "seqId": feed.seq}
                        ],
                    }
                )
            )
        elif channel == "bbo-tbt":
            b, a = feed.top(1)
            conn.push(
                dumps({"arg": arg, "data": [{"asks": a, "bids": b, "ts": now, "seqId": feed.seq}]})
            )
        elif channel == "tickers":
            conn.push(dumps({"arg": arg, "data": [v.ticker(inst_id)]}))
        elif channel == "mark-price":
            inst = v.ex.instruments[inst_id]
            conn.push(
                dumps(
                    {
                        "arg": arg,
                        "data": [
                            {
                                "instType": inst.inst_type,
                                "instId": inst_id,
                                "markPx": v.ex.mark_str(inst),
                                "ts": now,
                            }
                        ],
                    }
                )
            )

    # -- trade ops --------------------------------------------------------------------------
    def _on_trade(self, conn: Conn, op: str, req: Mapping[str, object], text: str) -> None:
        acct = self.v.account(conn.api_key) if conn.api_key is not None else None
        if acct is not None:
            self.v.note_request(op, acct, req.get("args"), conn.conn_id)
        delay = self.v.faults.ack_delay_ms
        if delay > 0:
            held, refused = self._hold_amends(conn, op, req)
            loop = asyncio.get_running_loop()
            loop.call_later(delay / 1000, self._trade_later, conn, op, req, held, refused)
        else:
            self._trade_now(conn, op, req)

    def _hold_amends(
        self, conn: Conn, op: str, req: Mapping[str, object]
    ) -> tuple[list[tuple[str, str]], list[int]]:
        """Count this op's amends as in progress until it runs; (keys held, arg indexes refused
        because their order already has ``max_amends_in_flight`` amends in progress)."""
        limit = self.v.rules.max_amends_in_flight
        args = req.get("args")
        if TRADE_OPS.get(op) not in ("amend-order", "amend-batch-orders") or conn.api_key is None:
            return [], []
        if not isinstance(args, list):
            return [], []
        held: list[tuple[str, str]] = []
        refused: list[int] = []
        for i, a in enumerate(args):
            if not isinstance(a, dict):
                continue
            key = (conn.api_key, str(a.get("ordId") or a.get("clOrdId") or ""))
            n = self.amends_in_flight.get(key, 0)
            if limit and n >= limit:
                refused.append(i)
                continue
            self.amends_in_flight[key] = n + 1
            held.append(key)
        return held, refused

    def _trade_later(
        self,
        conn: Conn,
        op: str,
        req: Mapping[str, object],
        held: list[tuple[str, str]],
        refused: list[int],
    ) -> None:
        try:
            self._trade_now(conn, op, req, refused)
        finally:
            for key in held:
                n = self.amends_in_flight.get(key, 0) - 1
                if n > 0:
                    self.amends_in_flight[key] = n
                else:
                    self.amends_in_flight.pop(key, None)

    def _trade_now(
        self, conn: Conn, op: str, req: Mapping[str, object], refused: list[int] | None = None
    ) -> None:
        v = self.v
        in_us = v.clock.now_ns() // 1000
        req_id = req.get("id")
        args = req.get("args")

        def reply(code: str, text: str, data: list[dict[str, object]]) -> None:
            conn.push(
                dumps(
                    {
                        "id": req_id if isinstance(req_id, str) else "",
                        "op": op,
                        "code": code,
                        "msg": text,
                        "data": data,
                        "inTime": str(in_us),
                        "outTime": str(v.clock.now_ns() // 1000),
                    }
                )
            )

        if conn.kind != "private":
            self._error(conn, "60018", msg("60018", op))
            return
        if conn.api_key is None:
            self._error(conn, "60011", msg("60011"))
            return
        if (
            not isinstance(req_id, str)
            or not req_id
            or len(req_id) > 32
            or not isinstance(args, list)
            or not args
        ):
            reply("60013", msg("60013"), [])
            return
        fault = v.faults.injected_error(v.rng)
        if fault is not None:
            reply(fault[0], msg(fault[0]), [])
            return
        acct = v.account(conn.api_key)
        if acct is None:
            reply("60013", msg("60013"), [])
            return
        exp = req.get("expTime")
        if isinstance(exp, str) and exp.isdigit() and int(exp) < v.now_ms():
            reply("1", msg("1"), [{"sCode": "50036", "sMsg": msg("50036")}])
            return
        if refused:
            self._reply_with_refused(op, args, refused, acct, reply)
            v.flush()
            return
        result = v.trading.run(TRADE_OPS[op], acct, args, v.now_ms(), via_ws=True)
        code = result.code
        if code == "50014" and not result.data:
            # a missing required field is refused per item with OKX's 50014 text, never the
            # format error 60013 (that is for args that are not a list of objects)
            items = [_missing_item(a, result.msg, v.now_ms()) for a in args]
            reply("1", msg("1"), items)
        elif code in ("50002", "51000") and not result.data:
            reply("60013", msg("60013"), [])
        else:
            reply(code, result.msg, result.data)
        v.flush()


async def _close(ws: web.WebSocketResponse, code: int) -> None:
    """Close with OKX's reason text for ``code`` (e.g. 4004 "No data received in 30s")."""
    await ws.close(code=code, message=WS_CLOSE_REASONS.get(code, "").encode())


def _missing_item(arg: object, text: str, now_ms: int) -> dict[str, object]:
    a = arg if isinstance(arg, dict) else {}
    return {
        "clOrdId": str(a.get("clOrdId") or ""),
        "ordId": str(a.get("ordId") or ""),
        "tag": str(a.get("tag") or ""),
        "ts": str(now_ms),
        "sCode": "50014",
        "sMsg": text,
        "subCode": "",
    }
