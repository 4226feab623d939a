"""Admin HTTP endpoints for tests and operators (JSON, not under ``/api/v5``, no auth).

========================================  =====================================================
``GET  /admin/health``                    ``{"ok": true, "instruments": [...], "profile",
                                          "venue": {switch: value}}`` (readiness)
``GET  /admin/orders?apiKey=K``           every live order of account K (OKX order objects);
                                          optional ``instId``; read straight from the engine,
                                          so a cancel acked a moment ago is already gone
``GET  /admin/positions?apiKey=K``        every position of K, zero ones included
``GET  /admin/balances?apiKey=K``         ``{ccy: {"cash", "frozen"}}``
``GET  /admin/fill-totals?apiKey=K``      ``{instId: {"fills": N, "net": signed size}}`` since
                                          the exchange started (not bounded by the history)
``GET  /admin/book?instId=I&depth=N``     the exchange's own full book (not the published view)
``GET  /admin/faults``                    current fault knobs
``POST /admin/faults``                    set knobs: ``ack_delay_ms``, ``error_rate``,
                                          ``error_code`` (50011|50001|50026|50013), ``freeze``,
                                          ``clock_offset_ms``, ``checksum_mode`` (crc32|zero),
                                          ``initial_snapshot``, ``drop_ws_every_s``,
                                          ``order_push_repeat_rate`` (0..1);
                                          one-shots: ``skip_seq`` / ``corrupt_checksum`` (the
                                          next N book updates, counted over all instruments
                                          in publish order; with ``instId``: the next N of
                                          that instrument), ``drop_ws``
                                          (true|"public"|"private"|"business": close now with
                                          1001), ``notice_ws`` (same values: push the
                                          64008 notice, close after ``notice_close_ms``
                                          [1000]), ``shock_pct`` (+ optional ``instId``): move the
                                          fair price and the synthetic ladder at once
``POST /admin/step``                      ``{"n": N}``: advance the synthetic market N steps now
``POST /admin/reset-limits``              forget every rate-limit window
``GET  /admin/replay``                    replay mode: ``{"started", "done", "next",
                                          "frames", "states", "fills", "position"}``: our best
                                          quotes when each frame was pushed, our fills
``POST /admin/replay``                    start the replay now (once)
``GET  /admin/events?since=S&kind=K``     the venue's event log after seq S (optional, repeatable
                                          ``kind``: shock, book, request, order,
                                          liquidation; ``limit``
                                          [10000]): ``{"events": [...], "seq", "dropped",
                                          "nowMonoNs"}`` on the exchange's monotonic clock
========================================  =====================================================
"""

from __future__ import annotations

import asyncio
import dataclasses
from decimal import Decimal

import msgspec
from aiohttp import web

from ops.exchange.codes import msg
from ops.exchange.instruments import canonical
from ops.exchange.venue import Venue, dumps
from ops.exchange.views import position_obj

__all__ = ["AdminApi"]

_CODES = ("50011", "50001", "50026", "50013")


def _json(obj: object, status: int = 200) -> web.Response:
    return web.Response(
        body=msgspec.json.encode(obj), status=status, content_type="application/json"
    )


class AdminApi:
    """Handlers of ``/admin/...``."""

    def __init__(self, venue: Venue) -> None:
        self.v = venue

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/admin/health", self.health),
            web.get("/admin/orders", self.orders),
            web.get("/admin/positions", self.positions),
            web.get("/admin/balances", self.balances),
            web.get("/admin/fill-totals", self.fill_totals),
            web.get("/admin/book", self.book),
            web.get("/admin/faults", self.get_faults),
            web.post("/admin/faults", self.set_faults),
            web.post("/admin/step", self.step),
            web.post("/admin/reset-limits", self.reset_limits),
            web.get("/admin/events", self.events),
            web.get("/admin/replay", self.replay),
            web.post("/admin/replay", self.start_replay),
        ]

    async def events(self, request: web.Request) -> web.Response:
        q = request.query
        try:
            since = int(q.get("since", "0"))
            limit = int(q.get("limit", "10000"))
        except ValueError:
            return _json({"error": "since and limit must be integers"}, 400)
        log = self.v.events
        evs = log.since(since, q.getall("kind", []), max(1, min(limit, 100_000)))
        return _json(
            {
                "events": [e.as_dict() for e in evs],
                "seq": log.seq,
                "dropped": log.dropped,
                "nowMonoNs": self.v.clock.monotonic_ns(),
            }
        )

    async def health(self, request: web.Request) -> web.Response:
        return _json(
            {
                "ok": True,
                "instruments": list(self.v.ex.instruments),
                "accounts": len(self.v.keyring.keys()),
                "simMs": self.v.market.sim_ms,
                "profile": self.v.cfg.profile,
                "venue": dataclasses.asdict(self.v.rules),
            }
        )

    def _acct_or_404(self, request: web.Request) -> web.Response | str:
        key = request.query.get("apiKey", "")
        if key not in self.v.ex.accounts:
            return _json({"error": "unknown apiKey"}, 404)
        return key

    async def orders(self, request: web.Request) -> web.Response:
        key = self._acct_or_404(request)
        if isinstance(key, web.Response):
            return key
        inst_id = request.query.get("instId", "")
        acct = self.v.ex.accounts[key]
        return _json(
            {
                "orders": [
                    o.to_okx(rest=True)
                    for o in acct.live.values()
                    if not inst_id or o.inst.inst_id == inst_id
                ]
            }
        )

    async def positions(self, request: web.Request) -> web.Response:
        key = self._acct_or_404(request)
        if isinstance(key, web.Response):
            return key
        acct = self.v.ex.accounts[key]
        now = self.v.now_ms()
        return _json(
            {"positions": [position_obj(self.v.ex, acct, p, now) for p in acct.positions.values()]}
        )

    async def fill_totals(self, request: web.Request) -> web.Response:
        key = self._acct_or_404(request)
        if isinstance(key, web.Response):
            return key
        insts = self.v.ex.instruments
        totals = self.v.ex.accounts[key].fill_totals
        return _json(
            {
                k: {"fills": n, "net": canonical(lots * insts[k].lot)}
                for k, (n, lots) in totals.items()
            }
        )

    async def balances(self, request: web.Request) -> web.Response:
        key = self._acct_or_404(request)
        if isinstance(key, web.Response):
            return key
        acct = self.v.ex.accounts[key]
        return _json(
            {
                "balances": {
                    c: {"cash": canonical(b.cash), "frozen": canonical(b.frozen)}
                    for c, b in acct.balances.items()
                }
            }
        )

    async def book(self, request: web.Request) -> web.Response:
        inst_id = request.query.get("instId", "")
        if inst_id not in self.v.ex.instruments:
            return _json({"error": "unknown instId"}, 404)
        depth_s = request.query.get("depth", "")
        depth = int(depth_s) if depth_s.isdigit() else 100_000
        inst = self.v.ex.instruments[inst_id]
        b = self.v.ex.books[inst_id]

        def rows(buy: bool) -> list[list[str]]:
            return [
                [inst.px_str(t), inst.sz_str(lots), "0", str(n)] for t, lots, n in b.top(buy, depth)
            ]

        return _json(
            {
                "instId": inst_id,
                "bids": rows(True),
                "asks": rows(False),
                "markPx": self.v.ex.mark_str(inst),
                "seqId": self.v.feeds[inst_id].seq,
            }
        )

    async def get_faults(self, request: web.Request) -> web.Response:
        return _json(self.v.faults.as_dict())

    async def set_faults(self, request: web.Request) -> web.Response:
        try:
            body = msgspec.json.decode(await request.read())
        except msgspec.DecodeError:
            return _json({"error": "bad JSON"}, 400)
        if not isinstance(body, dict):
            return _json({"error": "expected an object"}, 400)
        f = self.v.faults
        problems: list[str] = []
        for k, val in body.items():
            ok = True
            if k in ("skip_seq", "corrupt_checksum"):
                ok = isinstance(val, int) and not isinstance(val, bool) and val >= 0
                target = body.get("instId")
                if ok and isinstance(target, str) and target in self.v.feeds:
                    n = int(val)
                    self.v.inject_book_faults(
                        target,
                        skip_seq=n if k == "skip_seq" else 0,
                        corrupt_checksum=n if k == "corrupt_checksum" else 0,
                    )
                elif ok:
                    setattr(f, k, val)
            elif k in ("ack_delay_ms", "clock_offset_ms"):
                ok = isinstance(val, int) and not isinstance(val, bool)
                if ok:
                    setattr(f, k, val)
            elif k == "drop_ws_every_s":
                ok = isinstance(val, int | float) and not isinstance(val, bool) and val >= 0
                if ok:
                    f.drop_ws_every_s = float(val)
            elif k in ("error_rate", "order_push_repeat_rate"):
                ok = isinstance(val, int | float) and not isinstance(val, bool) and 0 <= val <= 1
                if ok:
                    setattr(f, k, float(val))
            elif k == "error_code":
                ok = val in _CODES
                if ok:
                    f.error_code = str(val)
            elif k in ("freeze", "initial_snapshot"):
                ok = isinstance(val, bool)
                if ok:
                    setattr(f, k, val)
            elif k == "checksum_mode":
                ok = val in ("crc32", "zero")
                if ok:
                    f.checksum_mode = str(val)
            elif k == "drop_ws":
                kinds = {"public", "private", "business"} if val is True else {val}
                for c in list(self.v.hub.conns):
                    if c.kind in kinds:
                        c.out.clear()
                        c.close(1001)
            elif k == "notice_ws":
                # OKX's service-upgrade notice: 64008 now, the close a little later
                kinds = {"public", "private", "business"} if val is True else {val}
                delay = body.get("notice_close_ms", 1000)
                delay_s = delay / 1000 if isinstance(delay, int | float) else 1.0
                loop = asyncio.get_running_loop()
                for c in list(self.v.hub.conns):
                    if c.kind in kinds:
                        c.push(
                            dumps(
                                {
                                    "event": "notice",
                                    "code": "64008",
                                    "msg": msg("64008"),
                                    "connId": c.conn_id,
                                }
                            )
                        )
                        loop.call_later(delay_s, c.close, 1001)
            elif k == "notice_close_ms":
                pass
            elif k == "shock_pct":
                ok = isinstance(val, int | float) and not isinstance(val, bool)
                if ok:
                    inst = body.get("instId")
                    self.v.shock(float(val), inst if isinstance(inst, str) else None)
            elif k == "instId":
                pass
            else:
                ok = False
            if not ok:
                problems.append(k)
        if problems:
            return _json({"error": "bad fault settings", "fields": problems}, 400)
        return _json(f.as_dict())

    async def step(self, request: web.Request) -> web.Response:
        raw = await request.read()
        n = 1
        if raw.strip():
            try:
                body = msgspec.json.decode(raw)
            except msgspec.DecodeError:
                return _json({"error": "bad JSON"}, 400)
            if isinstance(body, dict) and isinstance(body.get("n"), int):
                n = max(0, min(int(body["n"]), 100_000))
        self.v.step(n)
        return _json(
            {
                "simMs": self.v.market.sim_ms,
                "marks": {k: canonical(Decimal(m)) for k, m in self.v.ex.marks.items()},
            }
        )

    async def replay(self, request: web.Request) -> web.Response:
        rp = self.v.replay
        if rp is None:
            return _json({"error": "not in replay mode"}, 404)
        return _json(
            {
                "instId": rp.inst_id,
                "started": rp.start_wall_ns is not None,
                "done": rp.done,
                "next": rp.next,
                "frames": len(rp.frames),
                "states": rp.states,
                "fills": rp.fills,
                "position": str(rp.position),
            }
        )

    async def start_replay(self, request: web.Request) -> web.Response:
        rp = self.v.replay
        if rp is None:
            return _json({"error": "not in replay mode"}, 404)
        if rp.start_wall_ns is None:
            rp.start(self.v.clock.now_ns())
            self.v.replay_wake.set()
        return _json({"started": True, "next": rp.next})

    async def reset_limits(self, request: web.Request) -> web.Response:
        self.v.limiter.reset()
        return _json({"ok": True})
