"""The running venue: every core wired together, plus fan-out of pushes to WS connections.

No aiohttp here: the REST/WS/admin modules call ``Venue`` and the server's timer calls
:meth:`Venue.tick`. ``Venue.step(n)`` advances the synthetic market without real time.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from decimal import Decimal

import msgspec

from engine.clock import Clock
from ops.exchange.accounts import Account
from ops.exchange.auth import Keyring
from ops.exchange.config import AccountSpec, ExchangeConfig
from ops.exchange.eventlog import EventLog, inst_ids
from ops.exchange.faults import Faults
from ops.exchange.feed import BookFeed
from ops.exchange.hub import Conn, Hub, PrivateSub
from ops.exchange.margin import is_margin_account, liquidate_if_needed
from ops.exchange.market import Market
from ops.exchange.matching import Exchange, OrderPush, TradePrint
from ops.exchange.profile import resolve
from ops.exchange.ratelimit import RateLimiter
from ops.exchange.replay import Replay, ReplayExchange
from ops.exchange.trading import Trading
from ops.exchange.views import balance_and_position, balance_obj, position_obj, ticker_obj

__all__ = ["Venue", "dumps"]

_encode = msgspec.json.Encoder().encode


def dumps(obj: object) -> str:
    """Compact JSON text of ``obj``."""
    return _encode(obj).decode()


@dataclass(slots=True)
class _TopState:
    books5: object = None
    bbo: object = None
    ticker: object = None
    mark: str = ""
    mark_ms: int = 0


class Venue:
    """Cores + subscriptions of one local exchange process."""

    def __init__(self, cfg: ExchangeConfig, clock: Clock, accounts: list[AccountSpec]) -> None:
        self.cfg = cfg
        self.clock = clock
        self.rules = resolve(cfg.profile, dict(cfg.venue))
        self.faults = Faults.from_config(cfg.faults, self.rules)
        self.events = EventLog(clock.monotonic_ns)
        now = self.now_ms()
        self.replay: Replay | None = None
        self.replay_wake = asyncio.Event()  # set when the replay is started
        if cfg.replay is not None:
            rex = ReplayExchange(cfg, now)
            self.replay = rex.replay
            self.ex: Exchange = rex
        else:
            self.ex = Exchange(cfg, now)
        self.keyring = Keyring()
        for spec in [*cfg.accounts, *accounts]:
            balances = spec.balances if spec.balances is not None else cfg.start_balances
            self.keyring.add(spec.api_key, spec.secret, spec.passphrase)
            if spec.api_key not in self.ex.accounts:
                self.ex.add_account(
                    spec.api_key,
                    {c: Decimal(v) for c, v in balances.items()},
                    now,
                    acct_lv=spec.acct_lv or cfg.acct_lv,
                    pos_mode=spec.pos_mode or cfg.pos_mode,
                )
                self.ex.accounts[spec.api_key].kyc_level = spec.kyc_level
        self.market = Market(self.ex, cfg.seed, now)
        if self.replay is not None:  # its market is the recording, not the synthetic one
            self.market.by_inst.pop(self.replay.inst_id, None)
        self.feeds = {
            k: BookFeed(inst, self.ex.books[k], seq0=1000 + 7 * i)
            for i, (k, inst) in enumerate(self.ex.instruments.items())
        }
        self.tops = {k: _TopState() for k in self.ex.instruments}
        self.limiter = RateLimiter(cfg.rate_limits)
        self.trading = Trading(self.ex, self.limiter)
        self.trading.ws_need_code = self.rules.ws_ops_need_inst_id_code
        self.hub = Hub()
        self.ex.wants_orders = self.hub.has_order_subs
        self._last_drop_ms = now
        self._skip: dict[str, int] = {}
        self._corrupt: dict[str, int] = {}
        self.rng = random.Random(cfg.seed ^ 0x5EED)  # noqa: S311 - fault dice, not crypto
        self.market.step(cfg.step_ms, now, frozen=True)  # a full book before the first client
        self.publish()
        self.flush()

    def now_ms(self) -> int:
        """Exchange time: wall clock plus the clock-shift fault."""
        return self.clock.now_ns() // 1_000_000 + self.faults.clock_offset_ms

    def account(self, api_key: str) -> Account | None:
        return self.ex.accounts.get(api_key)

    # -- time -------------------------------------------------------------------------------
    def step(self, n: int = 1) -> None:
        """Advance the synthetic market ``n`` steps, publishing after each."""
        for _ in range(n):
            now = self.now_ms()
            self.market.step(self.cfg.step_ms, now, frozen=self.faults.freeze)
            self.ex.fire_timers(now)
            self.check_margin(now)
            self.publish()
            self.flush()

    def inject_book_faults(self, inst_id: str, *, skip_seq: int, corrupt_checksum: int) -> None:
        """The next ``skip_seq`` / ``corrupt_checksum`` book updates of ``inst_id`` are bad."""
        self._skip[inst_id] = self._skip.get(inst_id, 0) + skip_seq
        self._corrupt[inst_id] = self._corrupt.get(inst_id, 0) + corrupt_checksum

    def shock(self, pct: float, inst_id: str | None = None) -> None:
        """Move fair prices by ``pct`` percent now; the ladder follows at once (it may sweep
        resting orders, as a real market shock does)."""
        now = self.now_ms()
        self.events.add("shock", inst=inst_id or "", detail=f"{pct:+g}%")
        self.market.shock(pct, inst_id)
        for k, m in self.market.by_inst.items():
            if inst_id in (None, "", k):
                m.requote(now)
                self.ex.marks[k] = m.inst.px(round(m.fair))
        self.check_margin(now)
        self.touch_margin_accounts()
        self.publish()
        self.flush()

    def touch_margin_accounts(self) -> None:
        """Push ``account`` / ``positions`` to margin accounts holding positions, with their
        margin fields at the new marks: OKX pushes both at a regular interval too, not only on
        order events, so a crash shows in the pushes soon after it shows in REST."""
        for acct in self.ex.accounts.values():
            if acct.synthetic or not is_margin_account(acct):
                continue
            for p in acct.positions.values():
                if p.lots:
                    self.ex.touch(acct, p.inst.settle_ccy, p.inst.inst_id)

    def check_margin(self, now_ms: int) -> None:
        """Liquidate the multi-currency / portfolio accounts at the liquidation level."""
        for acct in self.ex.accounts.values():
            if (
                not acct.synthetic
                and is_margin_account(acct)
                and liquidate_if_needed(self.ex, acct, now_ms)
            ):
                self.events.add("liquidation", account=acct.uid, detail="margin ratio")

    def note_request(self, op: str, acct: Account, args: object, conn: str) -> None:
        """A trade op received (event log), before any injected ack delay."""

        def inst_of(arg: dict[str, object]) -> str:
            inst = self.trading.instrument(arg)
            return inst.inst_id if inst is not None else str(arg.get("instId") or "")

        self.events.add(
            "request", inst=inst_ids(args, inst_of), account=acct.uid, conn=conn, detail=op
        )

    def housekeeping(self) -> None:
        """Timers that run on real time: cancel-all-after, idle connections."""
        now = self.now_ms()
        if self.ex.fire_timers(now):
            self.flush()
        idle_ms = int(self.cfg.idle_timeout_s * 1000)
        every_ms = int(self.faults.drop_ws_every_s * 1000)
        drop = every_ms > 0 and now - self._last_drop_ms >= every_ms
        if drop:
            self._last_drop_ms = now
        for c in list(self.hub.conns):
            if drop:
                c.out.clear()
                c.close(1001)
            elif now - c.last_rx_ms > idle_ms:
                c.close(4004)

    # -- public data ------------------------------------------------------------------------
    def publish(self) -> None:
        """Send book updates and changed books5/bbo/tickers/marks to subscribers."""
        now = self.now_ms()
        f = self.faults
        zero = f.checksum_mode == "zero"
        for inst_id, feed in self.feeds.items():
            if self.replay is not None and inst_id == self.replay.inst_id:
                continue  # pushed frame by frame by replay_step
            # one-shots: targeted (per instrument) first, else the exchange-wide counters,
            # which count book updates of all instruments in publish order
            own_skip, own_corrupt = self._skip.get(inst_id, 0), self._corrupt.get(inst_id, 0)
            skip = own_skip > 0 or f.skip_seq > 0
            corrupt = own_corrupt > 0 or f.corrupt_checksum > 0
            rate = self.rules.phantom_delete_rate
            msg = feed.publish(
                now,
                heartbeat_ms=int(self.cfg.book_heartbeat_s * 1000),
                checksum_zero=zero,
                skip_seq=skip,
                corrupt=corrupt,
                phantom_delete=rate > 0 and self.rng.random() < rate,
            )
            if msg is not None and msg.data["prevSeqId"] != msg.data["seqId"]:
                if own_skip:
                    self._skip[inst_id] = own_skip - 1
                elif skip:
                    f.skip_seq -= 1
                if own_corrupt:
                    self._corrupt[inst_id] = own_corrupt - 1
                elif corrupt:
                    f.corrupt_checksum -= 1
            subs = self.hub.subscribers("books", inst_id)
            if msg is not None and subs:
                self.events.add("book", inst=inst_id, detail=str(msg.data["seqId"]))
                text = dumps(
                    {
                        "arg": {"channel": "books", "instId": inst_id},
                        "action": msg.action,
                        "data": [msg.data],
                    }
                )
                for c in subs:
                    c.push(text)
            self._publish_tops(inst_id, feed, now)

    def _publish_tops(self, inst_id: str, feed: BookFeed, now: int) -> None:
        st = self.tops[inst_id]
        bids, asks = feed.top(5)
        top5 = (bids, asks)
        if top5 != st.books5:
            st.books5 = top5
            subs = self.hub.subscribers("books5", inst_id)
            if subs:
                text = dumps(
                    {
                        "arg": {"channel": "books5", "instId": inst_id},
                        "data": [
                            {
                                "asks": asks,
                                "bids": bids,
                                "instId": inst_id,
                                "ts": str(now),
                                "seqId": feed.seq,
                            }
                        ],
                    }
                )
                for c in subs:
                    c.push(text)
            bbo = (bids[:1], asks[:1])
            if bbo != st.bbo:
                st.bbo = bbo
                subs = self.hub.subscribers("bbo-tbt", inst_id)
                if subs:
                    text = dumps(
                        {
                            "arg": {"channel": "bbo-tbt", "instId": inst_id},
                            "data": [
                                {
                                    "asks": asks[:1],
                                    "bids": bids[:1],
                                    "ts": str(now),
                                    "seqId": feed.seq,
                                }
                            ],
                        }
                    )
                    for c in subs:
                        c.push(text)
        stats = self.ex.stats[inst_id]
        tick_key = (bids[:1], asks[:1], stats.last_ticks, stats.vol_lots)
        if tick_key != st.ticker:
            st.ticker = tick_key
            subs = self.hub.subscribers("tickers", inst_id)
            if subs:
                text = dumps(
                    {
                        "arg": {"channel": "tickers", "instId": inst_id},
                        "data": [ticker_obj(self.ex, inst_id, (bids, asks), now)],
                    }
                )
                for c in subs:
                    c.push(text)
        inst = self.ex.instruments[inst_id]
        mark = self.ex.mark_str(inst)
        if mark != st.mark or now - st.mark_ms >= 10_000:
            st.mark, st.mark_ms = mark, now
            subs = self.hub.subscribers("mark-price", inst_id)
            if subs:
                text = dumps(
                    {
                        "arg": {"channel": "mark-price", "instId": inst_id},
                        "data": [
                            {
                                "instType": inst.inst_type,
                                "instId": inst_id,
                                "markPx": mark,
                                "ts": str(now),
                            }
                        ],
                    }
                )
                for c in subs:
                    c.push(text)

    # -- replay -----------------------------------------------------------------------------
    def replay_step(self) -> int | None:
        """Push every replayed frame that is due and execute the fills it causes; the wall
        time (ns) the next one is due, None when over or not started."""
        rp = self.replay
        if rp is None:
            return None
        assert isinstance(self.ex, ReplayExchange)
        while True:
            due = rp.due_ns()
            now_ns = self.clock.now_ns()
            if due is None or due > now_ns:
                return due
            fr, text = rp.pop()
            now = self.now_ms()
            if fr.channel == "mark-price" and rp.mark:
                self.ex.marks[rp.inst_id] = Decimal(rp.mark)
            # a fill is the same matching event as the trade (or book) that caused it: it
            # carries that frame's venue time, as OKX's fillTime equals its trade's ts
            self.ex.on_frame_fills(min(now, rp.frame_ms(fr) or now))
            for c in self.hub.subscribers(fr.channel, rp.inst_id):
                c.push(text)
            self.flush()

    def replay_snapshot(self, depth: int) -> dict[str, object]:
        assert self.replay is not None
        return {**self.replay.snapshot(depth), "ts": str(self.now_ms())}

    def ticker(self, inst_id: str) -> dict[str, object]:
        rp = self.replay
        if rp is not None and inst_id == rp.inst_id and rp.ticker is not None:
            return {**rp.ticker, "ts": str(self.now_ms())}
        return ticker_obj(self.ex, inst_id, self.feeds[inst_id].top(1), self.now_ms())

    # -- private pushes ---------------------------------------------------------------------
    def flush(self) -> None:
        """Deliver what the matching engine produced since the last flush."""
        events, dirty = self.ex.drain()
        for ev in events:
            if isinstance(ev, TradePrint):
                subs = self.hub.subscribers("trades", ev.inst_id)
                if subs:
                    text = dumps(
                        {"arg": {"channel": "trades", "instId": ev.inst_id}, "data": [ev.data]}
                    )
                    for c in subs:
                        c.push(text)
            elif isinstance(ev, OrderPush):
                self._push_order(ev)
        if not dirty:
            return
        now = self.now_ms()
        for api_key, d in dirty.items():
            conns = self.hub.private_conns(api_key)
            acct = self.ex.accounts.get(api_key)
            if not conns or acct is None or acct.synthetic:
                continue
            for c in conns:
                for sub in c.private:
                    if sub.channel == "account" and d.ccys and (not sub.ccy or sub.ccy in d.ccys):
                        ccys = {sub.ccy} if sub.ccy else d.ccys
                        c.push(self._account_text(acct, sub, ccys, "event_update", now))
                    elif sub.channel == "positions" and d.insts:
                        data = [
                            position_obj(self.ex, acct, p, now)
                            for i in sorted(d.insts)
                            if sub.matches("SWAP", i)
                            for p in acct.positions_of(i)
                        ]
                        if data:
                            c.push(self._positions_text(acct, sub, data, "event_update"))
                    elif sub.channel == "balance_and_position":
                        item = balance_and_position(
                            self.ex, acct, d.ccys, d.insts, d.trades, "filled", now
                        )
                        c.push(
                            dumps(
                                {
                                    "arg": {"channel": "balance_and_position", "uid": acct.uid},
                                    "data": [item],
                                }
                            )
                        )

    def _push_order(self, ev: OrderPush) -> None:
        acct = self.ex.accounts.get(ev.api_key)
        if acct is None:
            return
        d = ev.data
        self.events.add(
            "order",
            inst=ev.inst_id,
            account=acct.uid,
            detail=f"{d.get('state', '')} {d.get('clOrdId', '')} {d.get('ordId', '')}",
        )
        text: str | None = None
        rate = self.faults.order_push_repeat_rate
        repeat = rate > 0 and self.rng.random() < rate
        for c in self.hub.private_conns(ev.api_key):
            for sub in c.private:
                if sub.channel == "orders" and sub.matches(ev.inst_type, ev.inst_id):
                    arg: dict[str, str] = {"channel": "orders", "instType": sub.inst_type}
                    if sub.inst_id:
                        arg["instId"] = sub.inst_id
                    arg["uid"] = acct.uid
                    if text is None or sub.inst_id:
                        text = dumps({"arg": arg, "data": [ev.data]})
                    c.push(text)
                    if repeat:
                        # today's OKX may push one update twice, the second with a later uTime
                        again = {**ev.data, "uTime": str(int(str(ev.data.get("uTime") or 0)) + 1)}
                        c.push(dumps({"arg": arg, "data": [again]}))

    def _account_text(
        self, acct: Account, sub: PrivateSub, ccys: set[str] | None, event: str, now: int
    ) -> str:
        arg: dict[str, str] = {"channel": "account", "uid": acct.uid}
        if sub.ccy:
            arg["ccy"] = sub.ccy
        return dumps(
            {
                "arg": arg,
                "eventType": event,
                "curPage": 1,
                "lastPage": True,
                "data": [balance_obj(self.ex, acct, ccys, now)],
            }
        )

    def _positions_text(
        self, acct: Account, sub: PrivateSub, data: list[dict[str, object]], event: str
    ) -> str:
        arg: dict[str, str] = {"channel": "positions", "instType": sub.inst_type}
        if sub.inst_id:
            arg["instId"] = sub.inst_id
        arg["uid"] = acct.uid
        return dumps({"arg": arg, "eventType": event, "curPage": 1, "lastPage": True, "data": data})

    def private_snapshot(self, c: Conn, sub: PrivateSub) -> None:
        """The initial push of a private subscription (none for ``orders``)."""
        acct = self.ex.accounts.get(c.api_key or "")
        if acct is None:
            return
        now = self.now_ms()
        if sub.channel == "account":
            c.push(self._account_text(acct, sub, {sub.ccy} if sub.ccy else None, "snapshot", now))
        elif sub.channel == "positions":
            data = [
                position_obj(self.ex, acct, p, now)
                for _, p in sorted(acct.positions.items())
                if p.lots and sub.matches(p.inst.inst_type, p.inst.inst_id)
            ]
            c.push(self._positions_text(acct, sub, data, "snapshot"))
        elif sub.channel == "balance_and_position":
            item = balance_and_position(
                self.ex,
                acct,
                set(acct.balances),
                {p.inst.inst_id for p in acct.positions.values() if p.lots},
                [],
                "snapshot",
                now,
            )
            c.push(
                dumps({"arg": {"channel": "balance_and_position", "uid": acct.uid}, "data": [item]})
            )
