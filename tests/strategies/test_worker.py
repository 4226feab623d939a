"""The worker shell against real sockets and a minimal in-test router (``harness.MiniRouter``)."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from pathlib import Path

import pytest
from loguru import logger

from engine import topics
from engine.config import BusConfig
from engine.messages import (
    AccountConfig,
    AccountUpdate,
    Amend,
    BookState,
    CancelAll,
    NewOrder,
    OrderState,
    TradingState,
)
from engine.orders import clordid
from tests.strategies.harness import running_worker, world

D = Decimal
PARAMS = """\
step_pct: 0.001
num_orders_per_side: 3
single_size_as_multiple_of_lot_size: 2
max_net_buy: 20
max_net_sell: 20
min_requote_interval_ms: 0
"""
LADDER = (["29970.0", "29940.0", "29910.0"], ["30030.6", "30060.6", "30090.6"])


def write(tmp_path: Path, text: str = PARAMS) -> str:
    p = tmp_path / "params.yaml"
    p.write_text(text)
    return str(p)


async def test_quotes_the_reference_ladder_and_amends_when_the_book_moves(
    bus_config: BusConfig, tmp_path: Path
) -> None:
    async with world(bus_config) as w:
        w.instrument()
        w.account()
        w.book("30000.0", "30000.5")
        async with running_worker(w, params=write(tmp_path)):
            r = w.router
            await r.wait_for(lambda: r.book() == LADDER, 5, "the §3.3 ladder")
            places = [c for c in r.commands if isinstance(c, NewOrder)]
            assert len(places) == 6
            assert {str(p.sz) for p in places} == {"2"}
            w.book("30010.0", "30010.5")
            await r.wait_for(lambda: r.book()[0][0] == "29979.9", 5, "bids follow the book")
            assert len([c for c in r.commands if isinstance(c, NewOrder)]) == 6  # amended
            await r.wait_for(lambda: r.heartbeats > 2, 5, "heartbeats from the event loop")


async def test_weak_spot_10_1_2_stale_data_pulls_quotes(
    bus_config: BusConfig, tmp_path: Path
) -> None:
    async with world(bus_config) as w:
        w.instrument()
        w.account()
        w.book("30000.0", "30000.5")
        async with running_worker(w, params=write(tmp_path)) as (worker, _):
            r = w.router
            await r.wait_for(lambda: len(r.live()) == 6, 5, "quotes up")
            w.book("30000.0", "30000.5", BookState.RESYNCING)
            await r.wait_for(lambda: not r.live(), 5, "quotes pulled on a resyncing book")
            assert worker.state == "pulled"
            w.book("30000.0", "30000.5")
            await r.wait_for(lambda: len(r.live()) == 6, 5, "quotes back")


async def test_book_older_than_max_delay_pulls_quotes(
    bus_config: BusConfig, tmp_path: Path
) -> None:
    async with world(bus_config) as w:
        w.instrument()
        w.account()
        w.book("30000.0", "30000.5")
        params = write(tmp_path, PARAMS + "orderbook_max_delay_sec: 0.3\n")
        async with running_worker(w, params=params) as (worker, _):
            r = w.router
            await r.wait_for(lambda: len(r.live()) == 6, 5, "quotes up")
            await r.wait_for(lambda: not r.live(), 5, "quotes pulled: no book for 0.3 s")
            assert worker.reason.startswith("book stale")


async def test_params_change_gives_new_ladder_and_bad_file_keeps_old(
    bus_config: BusConfig, tmp_path: Path
) -> None:
    async with world(bus_config) as w:
        w.instrument()
        w.account()
        w.book("30000.0", "30000.5")
        path = write(tmp_path)
        async with running_worker(w, params=path) as (worker, _):
            r = w.router
            await r.wait_for(lambda: r.book() == LADDER, 5, "first ladder")
            Path(path).write_text(PARAMS.replace("step_pct: 0.001", "step_pct: 0.002"))
            want = (["29940.0", "29880.0", "29820.0"], ["30060.6", "30120.6", "30180.6"])
            await r.wait_for(lambda: r.book() == want, 1.0, "new ladder within 1 s")
            n = len(r.commands)
            Path(path).write_text(PARAMS.replace("step_pct: 0.001", "step_pct: -1"))
            ok, detail = worker.reload(force=True)
            assert not ok
            assert "step_pct" in detail
            assert "greater than 0" in detail
            assert worker.params.step_pct == 0.002  # previous params in force
            w.book("30000.0", "30000.5")  # a new decision: still the old ladder
            await r.wait_for(lambda: worker.counters["decisions"] > 0, 2, "decision")
            assert r.book() == want
            assert all(not isinstance(c, NewOrder) for c in r.commands[n:])


async def test_pause_cancels_and_resume_quotes_again(bus_config: BusConfig, tmp_path: Path) -> None:
    async with world(bus_config) as w:
        w.instrument()
        w.account()
        w.book("30000.0", "30000.5")
        async with running_worker(w, params=write(tmp_path)) as (worker, actor):
            r = w.router
            await r.wait_for(lambda: len(r.live()) == 6, 5, "quotes up")
            worker.pause()
            await r.wait_for(lambda: not r.live(), 5, "paused: no orders")
            assert any(isinstance(c, CancelAll) for c in r.commands)
            assert actor.paused
            w.book("30010.0", "30010.5")
            await r.wait_for(lambda: worker.state == "paused", 2, "still paused")
            assert not r.live()
            worker.resume()
            await r.wait_for(lambda: len(r.live()) == 6, 5, "quoting again")


async def test_risk_halt_pulls_and_reducing_keeps_the_reducing_side(
    bus_config: BusConfig, tmp_path: Path
) -> None:
    async with world(bus_config) as w:
        w.instrument()
        w.account(pos="4")
        w.book("30000.0", "30000.5")
        async with running_worker(w, params=write(tmp_path)):
            r = w.router
            await r.wait_for(lambda: len(r.live()) == 6, 5, "quotes up")  # ceil(3 × 0.8) = 3
            w.risk_state(TradingState.HALTED, "kill switch")
            await r.wait_for(lambda: not r.live(), 5, "halted: no orders")
            w.risk_state(TradingState.REDUCING, "loss limit")
            await r.wait_for(lambda: r.book() == ([], LADDER[1]), 5, "only sells while long")


async def test_weak_spot_10_1_3_decision_errors_cancel_back_off_then_stop(
    bus_config: BusConfig, tmp_path: Path
) -> None:
    text = PARAMS + "error_backoff_sec: 0.05\nmax_consecutive_errors: 3\n"
    async with world(bus_config) as w:
        w.instrument()
        w.account()
        w.book("30000.0", "30000.5")
        async with running_worker(w, params=write(tmp_path, text)) as (worker, actor):
            r = w.router
            await r.wait_for(lambda: len(r.live()) == 6, 5, "quotes up")

            def boom(*_: object) -> object:
                raise ZeroDivisionError("bad formula")

            worker.strategy.ladder = boom  # type: ignore[method-assign]
            await r.wait_for(lambda: not r.live(), 5, "orders cancelled after the error")
            await r.wait_for(lambda: actor.stopping.is_set(), 5, "stopped after 3 errors")
            assert "3 times in a row" in actor.stop_reason
            assert "ZeroDivisionError" in actor.stop_reason
            assert actor.failed is not None


async def test_weak_spot_10_1_1_unacknowledged_orders_never_crash_the_loop(
    bus_config: BusConfig, tmp_path: Path
) -> None:
    text = PARAMS + "unacked_timeout_sec: 0.2\n"
    async with world(bus_config) as w:
        w.instrument()
        w.account()
        w.book("30000.0", "30000.5")
        w.router.ack_places = False
        async with running_worker(w, params=write(tmp_path, text)) as (worker, actor):
            r = w.router
            await r.wait_for(
                lambda: sum(isinstance(c, NewOrder) for c in r.commands) == 6, 5, "places sent"
            )
            w.book("30010.0", "30010.5")  # would amend: unacknowledged orders are left alone
            await r.wait_for(lambda: worker.counters["decisions"] > 3, 5, "more decisions")
            assert sum(isinstance(c, NewOrder) for c in r.commands) == 6  # no duplicates
            # overdue: the worker cancels them (the router answers) and quotes afresh
            await r.wait_for(
                lambda: sum(isinstance(c, NewOrder) for c in r.commands) > 6, 5, "requoted"
            )
            assert not actor.stopping.is_set()


async def test_weak_spot_10_2_4_clordids_alphanumeric_and_unique_across_restarts(
    bus_config: BusConfig, tmp_path: Path
) -> None:
    async with world(bus_config) as w:
        w.instrument()
        w.account()
        w.book("30000.0", "30000.5")
        r = w.router
        for _ in range(2):
            async with running_worker(w, params=write(tmp_path)):
                await r.wait_for(lambda: len(r.live()) == 6, 5, "quotes up")
            await r.wait_for(lambda: not r.live(), 5, "stop cancels everything")
        seen = [c.cl_ord_id for c in r.commands if isinstance(c, NewOrder)]
    assert len(seen) == 12
    assert len(set(seen)) == 12
    for cid in seen:
        assert cid.isalnum()
        assert len(cid) <= 32
        assert clordid.decode(cid) is not None
    assert len({clordid.decode(c).epoch for c in seen}) == 2  # type: ignore[union-attr]


@pytest.mark.parametrize("strategy", ["inventory_skew", "volatility", "avellaneda_stoikov"])
async def test_every_strategy_quotes_and_reports_status(
    bus_config: BusConfig, tmp_path: Path, strategy: str
) -> None:
    async with world(bus_config) as w:
        w.instrument()
        w.account()
        w.book("30000.0", "30000.5")
        async with running_worker(w, strategy=strategy, params=write(tmp_path)) as (worker, _):
            r = w.router
            await r.wait_for(lambda: len(r.live()) == 6, 5, f"{strategy} quotes up")
            await r.wait_for(lambda: any(s.quoting for s in r.statuses), 5, "status relayed")
            st = [s for s in r.statuses if s.quoting][-1]
            assert len(st.bids) == 3
            assert st.open_orders == 6
            bids, asks = r.book()
            assert D(bids[0]) < D("30000.5")
            assert D(asks[0]) > D("30000.0")
            if strategy == "avellaneda_stoikov":
                assert {"sigma", "kappa", "A", "reservation_px", "spread_pct"} <= set(st.estimates)
            assert worker.status()["state"] == "quoting"


async def test_fills_update_position_and_status(bus_config: BusConfig, tmp_path: Path) -> None:
    async with world(bus_config) as w:
        w.instrument()
        w.book("30000.0", "30000.5")
        w.acct.publish("acct|", AccountUpdate(D(1), 0, [], snapshot=True))
        w.acct.publish(topics.ACCOUNT_CONFIG, AccountConfig(acct_lv=2, pos_mode="net_mode"))
        async with running_worker(w, params=write(tmp_path)) as (worker, _):
            r = w.router
            await r.wait_for(lambda: len(r.live()) == 6, 5, "quotes up")
            best = next(o for o in r.live() if str(o.px) == "29970.0")
            r.fill(best.cl_ord_id, D(1))
            r.fill(best.cl_ord_id, D(1))
            await r.wait_for(lambda: worker.ctx.fill_book.fills == 2, 5, "fills seen")
            assert worker.ctx.net_position() == D(2)  # no venue position data: fills
            assert worker.ctx.fill_book.volume == D(2)
            # the fully filled level is replaced: buys thinned to ceil(3 × 0.9) = 3
            await r.wait_for(lambda: r.book()[0] == LADDER[0], 5, "ladder restored")
            st = worker.status_msg()
            assert st.fills == 2
            assert st.net_position == D(2)
            # bought 2 @ 29970.0, mid 30000.25, ctVal 0.01 → (30000.25 − 29970) × 2 × 0.01
            assert st.pnl == D("0.6050")


async def test_weak_spot_10_1_3_stop_cancels_says_bye_and_does_not_resume(
    bus_config: BusConfig, tmp_path: Path
) -> None:
    async with world(bus_config) as w:
        w.instrument()
        w.account()
        w.book("30000.0", "30000.5")
        r = w.router
        async with running_worker(w, params=write(tmp_path)) as (_, actor):
            await r.wait_for(lambda: len(r.live()) == 6, 5, "quotes up")
            actor.request_stop("signal SIGINT")
        # run() has returned (the context manager awaited it): the worker cancelled, said Bye
        # and ended its tasks — no "cancel, sleep 20 s and resume" as the original on Ctrl-C
        assert not r.live()
        kinds = [type(c).__name__ for c in r.commands]
        assert kinds[-2:] == ["CancelAll", "Bye"]
        assert actor.stopping.is_set()


async def test_fenced_worker_joins_again_with_a_new_epoch(
    bus_config: BusConfig, tmp_path: Path
) -> None:
    async with world(bus_config) as w:
        w.instrument()
        w.account()
        w.book("30000.0", "30000.5")
        r = w.router
        async with running_worker(w, params=write(tmp_path)) as (worker, actor):
            await r.wait_for(lambda: len(r.live()) == 6, 5, "quotes up")
            first = r.epochs["mm-btc"]
            r.fence("mm-btc", "heartbeat silence 150 ms")
            await r.wait_for(lambda: r.epochs["mm-btc"] != first, 5, "Hello with a new epoch")
            await r.wait_for(lambda: len(r.live()) == 6, 5, "quoting again")
            epochs = {clordid.decode(o.cl_ord_id).epoch for o in r.live()}  # type: ignore[union-attr]
            assert epochs == {r.epochs["mm-btc"]}
            assert worker.epoch == r.epochs["mm-btc"]
            assert not actor.stopping.is_set()
            await r.wait_for(
                lambda: not worker.ctx.orders.active() or len(worker.ctx.orders.active()) == 6,
                5,
                "the fenced epoch's orders resolved as cancelled",
            )


async def test_fenced_again_and_again_stops_the_worker(
    bus_config: BusConfig, tmp_path: Path
) -> None:
    async with world(bus_config) as w:
        w.instrument()
        w.account()
        w.book("30000.0", "30000.5")
        r = w.router
        async with running_worker(w, params=write(tmp_path)) as (_, actor):
            for _ in range(4):
                epoch = r.epochs.get("mm-btc")
                await r.wait_for(
                    lambda e=epoch: r.epochs.get("mm-btc") not in (None, e), 5, "welcomed"
                )
                r.fence("mm-btc", "test")
            await r.wait_for(lambda: actor.stopping.is_set(), 5, "stopped")
            assert "fenced by the router 4 times" in actor.stop_reason
            assert actor.failed is not None


async def test_lost_place_is_forgotten_not_kept_as_a_phantom(
    bus_config: BusConfig, tmp_path: Path
) -> None:
    text = PARAMS + "unacked_timeout_sec: 0.2\n"
    async with world(bus_config) as w:
        w.instrument()
        w.account()
        w.book("30000.0", "30000.5")
        r = w.router
        r.lose_places = True
        async with running_worker(w, params=write(tmp_path, text)) as (worker, _):
            await r.wait_for(
                lambda: sum(isinstance(c, NewOrder) for c in r.commands) >= 12, 5, "placed again"
            )
            states = {o.state.value for o in worker.ctx.orders}
            assert "LIVE" not in states  # the first six were resolved NOT_FOUND → CANCELED
            assert worker.ctx.orders.illegal_transitions == 0


async def test_refused_places_are_held_back_not_repeated_at_tick_rate(
    bus_config: BusConfig, tmp_path: Path
) -> None:
    async with world(bus_config) as w:
        w.instrument()
        w.account()
        w.book("30000.0", "30000.5")
        r = w.router
        r.reject_places = True
        async with running_worker(w, params=write(tmp_path)) as (worker, _):
            await r.wait_for(lambda: worker.counters["rejects"] >= 6, 5, "first refusals")
            h0 = r.heartbeats
            await r.wait_for(lambda: r.heartbeats >= h0 + 20, 10, "about a second passes")
            places = sum(isinstance(c, NewOrder) for c in r.commands)
            # holds of 0.25 s, 0.5 s, 1 s...: at most 3 more batches, not one every 100 ms
            assert places <= 6 * 4
            assert worker.counters["decisions"] >= 5
            r.reject_places = False
            await r.wait_for(lambda: len(r.live()) == 6, 10, "places accepted again")
            await r.wait_for(lambda: worker.out.place_rejects == 0, 5, "acks reset the hold")


async def test_issue_13_a_reload_with_out_of_range_params_keeps_the_old_and_logs_one_error(
    bus_config: BusConfig, tmp_path: Path
) -> None:
    errors: list[str] = []
    logged = asyncio.Event()

    def sink(message: object) -> None:
        errors.append(str(message))
        logged.set()

    sink_id = logger.add(sink, level="ERROR", format="{message}")
    try:
        async with world(bus_config) as w:
            w.instrument()
            w.account()
            w.book("30000.0", "30000.5")
            path = write(tmp_path)
            async with running_worker(w, params=path) as (worker, _):
                r = w.router
                await r.wait_for(lambda: r.book() == LADDER, 5, "first ladder")
                Path(path).write_text(PARAMS.replace("step_pct: 0.001", "step_pct: 0.49"))
                await asyncio.wait_for(logged.wait(), 5)  # the 200 ms poll picks it up
                assert worker.params.step_pct == 0.001
                w.book("30000.0", "30000.5")
                n = worker.counters["decisions"]
                await r.wait_for(lambda: worker.counters["decisions"] > n, 2, "a decision")
                await r.wait_for(lambda: worker.watcher.rejected == 1, 2, "still one rejection")
                assert r.book() == LADDER
    finally:
        logger.remove(sink_id)
    rejected = [e for e in errors if "params rejected" in e]
    assert len(rejected) == 1, errors
    assert "step_pct" in rejected[0]
    assert "less than or equal to 0.05" in rejected[0]


async def test_issue_13_a_router_refusing_everything_makes_the_worker_back_off(
    bus_config: BusConfig, tmp_path: Path
) -> None:
    text = PARAMS + "refusals_max: 12\nrefusal_backoff_sec: 0.5\n"
    async with world(bus_config) as w:
        w.instrument()
        w.account()
        w.book("30000.0", "30000.5")
        r = w.router
        r.reject_places = True
        async with running_worker(w, params=write(tmp_path, text)) as (worker, _):
            await r.wait_for(
                lambda: any(s.state == "backing-off" for s in r.statuses), 10, "backing off"
            )
            status = next(s for s in r.statuses if s.state == "backing-off")
            assert not status.quoting
            assert "router refused 12 commands" in status.reason
            assert any(isinstance(c, CancelAll) for c in r.commands)  # quotes pulled
            r.reject_places = False
            await r.wait_for(lambda: len(r.live()) == 6, 10, "quoting again after the back-off")
            assert worker.state == "quoting"


async def test_issue_13_an_order_filled_unseen_is_closed_by_the_first_refused_amend(
    bus_config: BusConfig, tmp_path: Path
) -> None:
    async with world(bus_config) as w:
        w.instrument()
        w.account()
        w.book("30000.0", "30000.5")
        async with running_worker(w, params=write(tmp_path)) as (worker, _):
            r = w.router

            def amends(cid: str | None = None) -> int:
                return sum(isinstance(c, Amend) and cid in (None, c.cl_ord_id) for c in r.commands)

            await r.wait_for(lambda: len(r.live()) == 6, 5, "quotes up")
            lost = r.live()[0]
            lost.state = OrderState.FILLED  # filled while its event was lost (router restart)
            w.book("30010.0", "30010.5")  # every level moves: the lost one's amend is refused
            await r.wait_for(
                lambda: worker.counters["closed_by_reject"] == 1 and len(r.live()) == 6,
                5,
                "the filled order closed and its level placed anew",
            )
            for bid, ask in (("30020.0", "30020.5"), ("30030.0", "30030.5")):
                n = amends()
                w.book(bid, ask)
                await r.wait_for(lambda n=n: amends() >= n + 6, 5, f"six levels follow {bid}")
            assert amends(lost.cl_ord_id) == 1  # refused once, then closed: no loop of rejects
            order = worker.ctx.orders.get(lost.cl_ord_id)
            assert order is None or order.state is OrderState.FILLED


async def test_a_move_after_a_quiet_spell_is_answered_at_once_not_after_the_requote_gap(
    bus_config: BusConfig, tmp_path: Path
) -> None:
    """The gap spaces requotes: a step that sent nothing (a tick, a ticker, an unchanged book)
    does not restart it, so the first move after the gap is answered on arrival."""
    gap_s = 2.0
    async with world(bus_config) as w:
        w.instrument()
        w.account()
        w.book("30000.0", "30000.5")
        params = write(
            tmp_path, PARAMS.replace("interval_ms: 0", f"interval_ms: {gap_s * 1000:.0f}")
        )
        async with running_worker(w, params=params) as (worker, _):
            r = w.router
            await r.wait_for(lambda: r.book() == LADDER, 5, "the §3.3 ladder")
            sent_at = worker.last_step_ns
            w.book("30000.0", "30000.5")  # the same book again: a step that sends nothing
            await r.wait_for(lambda: worker.counters["decisions"] >= 2, 5, "a quiet step")
            assert worker.last_step_ns == sent_at  # ... which left the gap alone

            def gap_over() -> bool:
                return worker.clock.monotonic_ns() - sent_at > gap_s * 1e9

            await r.wait_for(gap_over, gap_s + 5, "the gap since the ladder went out")
            t0 = time.monotonic()
            w.book("30010.0", "30010.5")
            await r.wait_for(lambda: r.book()[0][0] == "29979.9", 5, "bids follow the book")
            # at once: well inside the 2 s a step restarting the gap could have made it wait
            assert time.monotonic() - t0 < gap_s / 2
