"""The matching engine: price-time priority books, fills, fees, balances and positions.

Pure core (no I/O, no clock): every call takes ``now_ms``. Calls append what clients must hear
to ``events`` (order pushes, public trades) and mark accounts dirty in ``dirty``; the server
drains both after each request. Rules (okx-v5.md §10): post-only that would take is accepted
then canceled (cancelSource 31); FOK never partial (13); IOC remainder canceled (14);
self-trade prevention by the taker's ``stpMode`` (32); cancel-all-after cancels with 20.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from ops.exchange.accounts import Account, pos_key
from ops.exchange.book import OrderBook
from ops.exchange.codes import msg
from ops.exchange.config import ExchangeConfig
from ops.exchange.events import Dirty, OrderPush, Reject, TickerStats, TradePrint
from ops.exchange.instruments import Instrument, canonical
from ops.exchange.orders import Fill, Order, OrdType, Side

__all__ = ["Exchange", "OrderPush", "Reject", "TickerStats", "TradePrint"]

_ZERO = Decimal(0)
_KYC_TO_TRADE = 2  # identity verification level OKX requires to place orders


class Exchange:
    """All books and accounts of the local venue."""

    def __init__(self, cfg: ExchangeConfig, now_ms: int) -> None:
        self.cfg = cfg
        self.instruments: dict[str, Instrument] = {}
        self.by_code: dict[int, Instrument] = {}
        for i, spec in enumerate(cfg.instruments):
            inst = Instrument(spec, 1_000_000_000 + i)
            inst.lever = cfg.leverage
            self.instruments[inst.inst_id] = inst
            self.by_code[inst.code] = inst
        self.books: dict[str, OrderBook] = {k: OrderBook() for k in self.instruments}
        self.marks: dict[str, Decimal] = {
            k: inst.px(inst.start_tick) for k, inst in self.instruments.items()
        }
        self.stats: dict[str, TickerStats] = {
            k: TickerStats(inst.start_tick, 0, inst.start_tick, inst.start_tick, inst.start_tick)
            for k, inst in self.instruments.items()
        }
        self.accounts: dict[str, Account] = {}
        self.events: list[OrderPush | TradePrint] = []
        # consumed background liquidity per instrument, for the market to refill
        self.synthetic_filled: dict[str, list[Order]] = {}
        self.dirty: dict[str, Dirty] = {}
        self.wants_orders: Callable[[str], bool] = lambda _key: True
        self.lever = Decimal(cfg.leverage)
        self.fees = {
            ("SPOT", "M"): Decimal(cfg.spot_maker_fee),
            ("SPOT", "T"): Decimal(cfg.spot_taker_fee),
            ("SWAP", "M"): Decimal(cfg.swap_maker_fee),
            ("SWAP", "T"): Decimal(cfg.swap_taker_fee),
        }
        self.band = Decimal(cfg.price_limit_pct)
        self._limits: dict[str, tuple[Decimal, int, int]] = {}
        self._next_ord = 600_000_000_000_000_000
        self._next_trade = 100_000_000
        self._next_bill = 700_000_000_000_000_000
        self._next_uid = 500_000_000_000_000
        self.created_ms = now_ms

    # -- accounts ---------------------------------------------------------------------------
    def add_account(
        self,
        api_key: str,
        balances: dict[str, Decimal],
        now_ms: int,
        *,
        synthetic: bool = False,
        acct_lv: int = 2,
        pos_mode: str = "net_mode",
    ) -> Account:
        self._next_uid += 1
        acct = Account(
            api_key,
            str(self._next_uid),
            balances,
            now_ms,
            synthetic=synthetic,
            acct_lv=acct_lv,
            pos_mode=pos_mode,
        )
        self.accounts[api_key] = acct
        return acct

    def _touch(self, acct: Account, ccy: str = "", inst_id: str = "") -> Dirty:
        d = self.dirty.get(acct.api_key)
        if d is None:
            d = self.dirty[acct.api_key] = Dirty()
        if ccy:
            d.ccys.add(ccy)
        if inst_id:
            d.insts.add(inst_id)
        return d

    def touch(self, acct: Account, ccy: str = "", inst_id: str = "") -> None:
        """Mark an account's currency / instrument changed (pushed on the next flush)."""
        self._touch(acct, ccy, inst_id)

    def drain(self) -> tuple[list[OrderPush | TradePrint], dict[str, Dirty]]:
        events, dirty = self.events, self.dirty
        self.events, self.dirty = [], {}
        return events, dirty

    # -- price band -------------------------------------------------------------------------
    def price_limits(self, inst: Instrument) -> tuple[int, int]:
        """(buyLmt, sellLmt) in ticks around the mark."""
        mark = self.marks[inst.inst_id]
        cached = self._limits.get(inst.inst_id)
        if cached is not None and cached[0] == mark:
            return cached[1], cached[2]
        hi = (mark * (1 + self.band) / inst.tick).to_integral_value(ROUND_FLOOR)
        lo = (mark * (1 - self.band) / inst.tick).to_integral_value(ROUND_CEILING)
        out = int(hi), max(int(lo), 1)
        self._limits[inst.inst_id] = (mark, out[0], out[1])
        return out

    # -- reservations -----------------------------------------------------------------------
    def _required(self, o: Order) -> tuple[str, Decimal]:
        inst = o.inst
        rem = o.remaining
        if inst.is_swap and o.closes:
            return inst.settle_ccy, _ZERO  # closing a leg frees margin, it never takes any
        if inst.is_swap:
            px = inst.px(o.ticks) if o.ticks else self.marks[inst.inst_id]
            return inst.settle_ccy, inst.base_qty(rem) * px / self.lever
        if o.side == "buy":
            if o.quote_sz is not None:
                return inst.quote_ccy, o.quote_sz
            px = inst.px(o.ticks) if o.ticks else self.marks[inst.inst_id]
            return inst.quote_ccy, inst.base_qty(rem) * px
        return inst.base_ccy, inst.base_qty(rem)

    def _refreeze(self, acct: Account, o: Order, now_ms: int) -> None:
        if acct.synthetic:
            return
        ccy, need = self._required(o)
        if not o.live:
            need = _ZERO
        if need != o.frozen:
            b = acct.balance(ccy, now_ms)
            b.frozen += need - o.frozen
            b.u_time = now_ms
            o.frozen = need
            self._touch(acct, ccy)

    def _check_funds(self, acct: Account, o: Order) -> Reject | None:
        if acct.synthetic:
            return None
        ccy, need = self._required(o)
        if need > acct.available(ccy, self.marks, self.lever):
            sub = "1001" if o.inst.is_swap else "1000"
            return Reject("51008", msg(f"51008_{sub}", ccy), sub)
        return None

    # -- pushes -----------------------------------------------------------------------------
    def _push(self, o: Order, fill: Fill | None = None) -> None:
        if o.synthetic or not self.wants_orders(o.account):
            return
        inst = o.inst
        last = inst.px_str(self.stats[inst.inst_id].last_ticks)
        self.events.append(
            OrderPush(
                o.account,
                inst.inst_id,
                inst.inst_type,
                o.to_okx(rest=False, fill=fill, last_px=last),
            )
        )

    def _finish(self, acct: Account, o: Order, state: str, source: str, now_ms: int) -> None:
        """Make ``o`` terminal (filled or canceled), free its reservation, push it."""
        if o.live and o.ticks and o.ord_id in acct.live:
            self.books[o.inst.inst_id].remove(o)
        o.state = "filled" if state == "filled" else "canceled"
        o.cancel_source = source
        if o.synthetic:
            if state == "filled" and o.ord_type == "limit":
                self.synthetic_filled.setdefault(o.inst.inst_id, []).append(o)
            if acct.live.pop(o.ord_id, None) is not None:
                acct.pending_by_inst[o.inst.inst_id] -= 1
            return
        o.u_time = now_ms
        self._refreeze(acct, o, now_ms)
        acct.remember(o)

    # -- placing ----------------------------------------------------------------------------
    def new_order(
        self,
        acct: Account,
        inst: Instrument,
        *,
        side: Side,
        ord_type: OrdType,
        ticks: int,
        lots: int,
        quote_sz: Decimal | None = None,
        cl_ord_id: str = "",
        tag: str = "",
        td_mode: str = "cash",
        reduce_only: bool = False,
        stp_mode: str = "cancel_maker",
        tgt_ccy: str = "",
        pos_side: str = "",
        ccy: str = "",
        now_ms: int,
    ) -> Order | Reject:
        """Validate and execute one new order; the order is returned even if it ended at once."""
        if acct.kyc_level < _KYC_TO_TRADE:
            return Reject("59113", msg("59113"))
        if cl_ord_id and cl_ord_id in acct.by_cl:
            return Reject("51016", "Client order ID already exists.")
        if not acct.synthetic:
            pending = acct.pending_by_inst.get(inst.inst_id, 0)
            if pending >= self.cfg.max_pending_per_inst or (
                len(acct.live) >= self.cfg.max_pending_per_account
            ):
                return Reject(
                    "51174",
                    f"Order failed, number of pending orders for {inst.inst_id} exceed the limit "
                    f"of {self.cfg.max_pending_per_inst}.",
                )
        if inst.is_swap and not (acct.synthetic and ord_type != "market"):
            buy_lmt, sell_lmt = self.price_limits(inst)
            if ord_type in ("market", "optimal_limit_ioc"):
                ticks = buy_lmt if side == "buy" else sell_lmt
            elif not acct.synthetic and (
                (side == "buy" and ticks > buy_lmt) or (side == "sell" and ticks < sell_lmt)
            ):
                return Reject(
                    "51006",
                    "Order price is not within the price limit (max buy price: "
                    f"{inst.px_str(buy_lmt)} , min sell price: {inst.px_str(sell_lmt)} )",
                )
            if reduce_only and not acct.synthetic and pos_side in ("", "net"):
                pos = acct.positions.get(inst.inst_id)
                if pos is None or pos.lots == 0:
                    return Reject(
                        "51169",
                        "Order failed because you don't have any positions "
                        "in this direction for this contract to reduce or close.",
                    )
                if (pos.lots > 0) == (side == "buy"):
                    return Reject(
                        "51170",
                        "Failed to place order. A reduce-only order can’t be "
                        "the same trading direction as your existing positions.",
                    )
                if lots > abs(pos.lots):
                    return Reject("51205", "Reduce Only is not available.")
        if pos_side in ("long", "short") and not acct.synthetic:
            rej = self._check_close(acct, inst, side, pos_side, lots)
            if rej is not None:
                return rej
        self._next_ord += 1
        o = Order(
            ord_id=self._next_ord,
            account=acct.api_key,
            inst=inst,
            side=side,
            ord_type=ord_type,
            ticks=ticks,
            lots=lots,
            cl_ord_id=cl_ord_id,
            tag=tag,
            td_mode=td_mode,
            pos_side=pos_side or ("net" if inst.is_swap else ""),
            reduce_only=reduce_only,
            stp_mode=stp_mode,
            tgt_ccy=tgt_ccy,
            quote_sz=quote_sz,
            ccy=ccy,
            now_ms=now_ms,
            synthetic=acct.synthetic,
        )
        if not (inst.is_swap and (reduce_only or o.closes)):
            rej = self._check_funds(acct, o)
            if rej is not None:
                return rej
        if cl_ord_id:
            acct.by_cl[cl_ord_id] = o
            acct.last_by_cl[cl_ord_id] = o.ord_id
        acct.add_live(o)
        self._execute(acct, o, now_ms)
        return o

    def _check_close(
        self, acct: Account, inst: Instrument, side: Side, pos_side: str, lots: int, extra: int = 0
    ) -> Reject | None:
        """A long/short-mode order that closes its leg (sell long, buy short) may close at most
        what the leg holds minus what live closing orders already will (OKX's ``availPos``), so
        fills can never flip a leg. ``extra``: lots of the order being amended, already live."""
        if (pos_side == "long") == (side == "buy"):
            return None  # opens (buy long, sell short)
        leg = acct.positions.get(pos_key(inst.inst_id, pos_side))
        held = abs(leg.lots) if leg is not None else 0
        if held == 0:
            return Reject("51169", msg("51169"))
        if lots + acct.closing_lots(inst.inst_id, pos_side) - extra > held:
            return Reject("51112", msg("51112"))
        return None

    def _crosses(self, book: OrderBook, o: Order) -> bool:
        buy = o.side == "buy"
        best = book.best(not buy)
        if best is None:
            return False
        return o.ticks == 0 or (best <= o.ticks if buy else best >= o.ticks)

    def _fok_fillable(self, book: OrderBook, o: Order) -> bool:
        buy = o.side == "buy"
        need = o.remaining
        for lvl in book.iter_levels(not buy):
            if (buy and lvl.ticks > o.ticks) or (not buy and lvl.ticks < o.ticks):
                return False
            for m in lvl.orders.values():
                if m.account != o.account:
                    need -= m.remaining
                    if need <= 0:
                        return True
        return False

    def _execute(self, acct: Account, o: Order, now_ms: int) -> None:
        book = self.books[o.inst.inst_id]
        t = o.ord_type
        if t == "post_only" and self._crosses(book, o):
            if self.cfg.post_only_cross_emits_live:
                self._push(o)
            self._finish(acct, o, "canceled", "31", now_ms)
            self._push(o)
            return
        if t == "fok" and not self._fok_fillable(book, o):
            self._finish(acct, o, "canceled", "13", now_ms)
            self._push(o)
            return
        if o.quote_sz is not None:
            o.lots = 1 << 62  # quote-sized market buy: sized by money, see _match
        if self._crosses(book, o):
            self._match(acct, o, book, now_ms)
        if o.quote_sz is not None:
            o.lots = o.acc_lots
        if not o.live:
            return
        if o.remaining > 0 and t in ("limit", "post_only"):
            book.add(o)
            self._refreeze(acct, o, now_ms)
            if o.acc_lots == 0:
                self._push(o)
            return
        if o.quote_sz is not None and o.acc_lots > 0:
            self._finish(acct, o, "filled", "", now_ms)
        else:
            self._finish(acct, o, "canceled", "14" if t == "ioc" else "", now_ms)
        self._push(o)

    def _match(self, acct: Account, taker: Order, book: OrderBook, now_ms: int) -> None:
        inst = taker.inst
        buy = taker.side == "buy"
        limit = taker.ticks
        prints: list[tuple[int, int, int, int]] = []  # ticks, lots, count, last trade id
        for lvl in book.iter_levels(not buy):
            if limit and ((buy and lvl.ticks > limit) or (not buy and lvl.ticks < limit)):
                break
            got = 0
            count = 0
            for maker in list(lvl.orders.values()):
                if not taker.live or taker.remaining <= 0:
                    break
                if maker.account == taker.account:
                    mode = taker.stp_mode
                    if mode in ("cancel_maker", "cancel_both"):
                        self._finish(self.accounts[maker.account], maker, "canceled", "32", now_ms)
                        self._push(maker)
                    if mode in ("cancel_taker", "cancel_both"):
                        self._finish(acct, taker, "canceled", "32", now_ms)
                        self._push(taker)
                        break
                    continue
                qty = min(maker.remaining, taker.remaining)
                if taker.quote_sz is not None:
                    left = taker.quote_sz - taker.filled_quote
                    afford = int(left / (inst.lot * inst.px(lvl.ticks)))
                    qty = min(qty, afford)
                    if qty <= 0:
                        taker.lots = taker.acc_lots
                        break
                self._trade(maker, taker, lvl.ticks, qty, book, now_ms)
                got += qty
                count += 1
            if got:
                prints.append((lvl.ticks, got, count, self._next_trade))
            if not taker.live or taker.remaining <= 0:
                break
        for ticks, lots, count, tid in prints:
            self.events.append(
                TradePrint(
                    inst.inst_id,
                    {
                        "instId": inst.inst_id,
                        "tradeId": str(tid),
                        "px": inst.px_str(ticks),
                        "sz": inst.sz_str(lots),
                        "side": taker.side,
                        "ts": str(now_ms),
                        "count": str(count),
                        "source": "0",
                        # the trade id: increasing per instrument, like OKX's seqId here
                        "seqId": tid,
                    },
                )
            )

    def _trade(
        self, maker: Order, taker: Order, ticks: int, lots: int, book: OrderBook, now_ms: int
    ) -> None:
        inst = maker.inst
        self._next_trade += 1
        tid = self._next_trade
        book.reduce(maker, lots)
        st = self.stats[inst.inst_id]
        st.last_ticks, st.last_lots = ticks, lots
        st.high_ticks = max(st.high_ticks, ticks)
        st.low_ticks = min(st.low_ticks, ticks)
        st.vol_lots += lots
        st.vol_ccy += inst.base_qty(lots) if inst.is_swap else inst.notional(ticks, lots)
        for o, exec_type in ((maker, "M"), (taker, "T")):
            acct = self.accounts[o.account]
            o.acc_lots += lots
            o.filled_quote += inst.notional(ticks, lots)
            o.u_time = now_ms
            fill = self._settle(acct, o, ticks, lots, exec_type, tid, now_ms)
            if o.remaining <= 0:
                if o is maker:
                    book.remove(maker)
                self._finish(acct, o, "filled", "", now_ms)
            else:
                o.state = "partially_filled"
                self._refreeze(acct, o, now_ms)
            if fill is not None:
                self._push(o, fill)

    def _settle(
        self, acct: Account, o: Order, ticks: int, lots: int, exec_type: str, tid: int, now_ms: int
    ) -> Fill | None:
        if acct.synthetic:
            return None
        inst = o.inst
        rate = self.fees[(inst.inst_type, exec_type)]
        px = inst.px(ticks)
        qty = inst.base_qty(lots)
        pnl = _ZERO
        if inst.is_swap:
            ccy = inst.settle_ccy
            fee = rate * qty * px
            pos = acct.position(inst, o.ord_id, now_ms, o.pos_side or "net")
            pnl = pos.apply(lots if o.side == "buy" else -lots, px)
            pos.fee += fee
            pos.trade_id = tid
            pos.u_time = now_ms
            b = acct.balance(ccy, now_ms)
            b.cash += pnl + fee
            b.u_time = now_ms
            self._touch(acct, ccy, inst.inst_id)
        elif o.side == "buy":
            ccy = inst.base_ccy
            fee = rate * qty
            q = acct.balance(inst.quote_ccy, now_ms)
            q.cash -= qty * px
            q.u_time = now_ms
            base = acct.balance(inst.base_ccy, now_ms)
            base.cash += qty + fee
            base.u_time = now_ms
            self._touch(acct, inst.quote_ccy)
            self._touch(acct, inst.base_ccy)
        else:
            ccy = inst.quote_ccy
            fee = rate * qty * px
            base = acct.balance(inst.base_ccy, now_ms)
            base.cash -= qty
            base.u_time = now_ms
            q = acct.balance(inst.quote_ccy, now_ms)
            q.cash += qty * px + fee
            q.u_time = now_ms
            self._touch(acct, inst.quote_ccy)
            self._touch(acct, inst.base_ccy)
        o.fee += fee
        o.fee_ccy = ccy
        o.pnl += pnl
        self._next_bill += 1
        fill = Fill(
            ord_id=o.ord_id,
            trade_id=tid,
            bill_id=self._next_bill,
            side=o.side,
            ticks=ticks,
            lots=lots,
            fee=fee,
            fee_ccy=ccy,
            fee_rate=rate,
            exec_type=exec_type,
            pnl=pnl,
            ts=now_ms,
        )
        acct.fills.append((o, fill))
        tot = acct.fill_totals.setdefault(inst.inst_id, [0, 0])
        tot[0] += 1
        tot[1] += lots if o.side == "buy" else -lots
        o.last_fill = fill
        self._touch(acct).trades.append((inst.inst_id, str(tid)))
        return fill

    # -- cancel / amend ---------------------------------------------------------------------
    def cancel(self, acct: Account, o: Order, now_ms: int, source: str = "1") -> Reject | None:
        if not o.live:
            return Reject(
                "51400",
                "Order cancellation failed as the order has been filled, "
                "canceled or does not exist.",
            )
        self._finish(acct, o, "canceled", source, now_ms)
        self._push(o)
        return None

    def amend(
        self,
        acct: Account,
        o: Order,
        *,
        new_lots: int | None,
        new_ticks: int | None,
        req_id: str,
        cxl_on_fail: bool,
        now_ms: int,
    ) -> Reject | None:
        """Amend a resting order (okx-v5.md §10.3); the outcome is also pushed."""
        if not o.live:
            return Reject("51503", "Your order has already been filled or canceled.")
        book = self.books[o.inst.inst_id]
        ticks = o.ticks if new_ticks is None else new_ticks
        lots = o.lots if new_lots is None else new_lots
        if o.ord_type == "post_only" and ticks != o.ticks:
            best = book.best(o.side != "buy")
            if best is not None and (best <= ticks if o.side == "buy" else best >= ticks):
                if cxl_on_fail:
                    self._finish(acct, o, "canceled", "1", now_ms)
                    self._push(o)
                return Reject(
                    "51511",
                    "Modification failed as the order price did not meet "
                    "the requirement for Post Only.",
                )
        o.req_id = req_id
        o.amend_result = "0"
        o.amend_source = "1"
        if lots <= o.acc_lots:
            o.lots = o.acc_lots
            self._finish(acct, o, "filled", "", now_ms)
            self._push(o)
            o.amend_result = ""
            return None
        old_ticks, old_lots = o.ticks, o.lots
        if o.closes and lots > old_lots and not acct.synthetic:
            rej = self._check_close(
                acct, o.inst, o.side, o.pos_side, lots - o.acc_lots, extra=o.remaining
            )
            if rej is not None:
                o.amend_result = ""
                return rej
        if not acct.synthetic:
            extra_ccy, need_new = self._required_with(o, ticks, lots)
            if need_new - o.frozen > acct.available(extra_ccy, self.marks, self.lever):
                o.amend_result = ""
                return Reject(
                    "51008",
                    f"Order failed. Insufficient {extra_ccy} balance in account",
                    "1001" if o.inst.is_swap else "1000",
                )
        keep = (
            ticks == old_ticks and lots <= old_lots and self.cfg.amend_keeps_priority_on_size_down
        )
        if keep:
            book.reduce(o, old_lots - lots)
            o.lots = lots
        else:
            book.remove(o)
            o.ticks, o.lots = ticks, lots
            o.u_time = now_ms
            if self._crosses(book, o):
                self._match(acct, o, book, now_ms)
            if o.live:
                book.add(o)
        o.u_time = now_ms
        if o.live:
            self._refreeze(acct, o, now_ms)
            self._push(o)
        o.amend_result = ""
        o.req_id = ""
        o.amend_source = ""
        return None

    def _required_with(self, o: Order, ticks: int, lots: int) -> tuple[str, Decimal]:
        saved = o.ticks, o.lots
        o.ticks, o.lots = ticks, lots
        try:
            return self._required(o)
        finally:
            o.ticks, o.lots = saved

    # -- cancel-all-after -------------------------------------------------------------------
    def arm_cancel_all_after(self, acct: Account, timeout_s: int, tag: str, now_ms: int) -> int:
        """Arm (or with 0 disarm) the dead man's switch; returns the trigger time (0 = off)."""
        if timeout_s == 0:
            acct.caa.pop(tag, None)
            return 0
        trigger = now_ms + timeout_s * 1000
        acct.caa[tag] = trigger
        return trigger

    def fire_timers(self, now_ms: int) -> int:
        """Cancel the orders of every expired cancel-all-after scope; returns orders canceled."""
        n = 0
        for acct in self.accounts.values():
            if not acct.caa:
                continue
            for tag, trigger in list(acct.caa.items()):
                if trigger > now_ms:
                    continue
                del acct.caa[tag]
                for o in list(acct.live.values()):
                    if not tag or o.tag == tag:
                        self.cancel(acct, o, now_ms, source="20")
                        n += 1
        return n

    # -- read-outs --------------------------------------------------------------------------
    def mark_str(self, inst: Instrument) -> str:
        return canonical(self.marks[inst.inst_id].quantize(inst.tick))
