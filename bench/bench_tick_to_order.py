"""Tick → order benchmark: a venue book frame goes through md-feed, a trivial strategy and the
router, and comes back to the venue as a WS ``order`` op. Real project code in every process:

* venue (process D): a minimal OKX stand-in (aiohttp) — public WS pushes ``books`` frames paced
  at ``--rate``, stamping ``time.monotonic_ns()`` just before each send (= "the feed receives a
  book frame", plus one WS hop); private WS answers login/subscribe and every trade op (acks, a
  ``live`` push per order), stamping receipt of each ``order``/``batch-orders`` op; just enough
  REST for the router to start.
* md-feed (process F): ``gateway.md_feed.MdFeed`` + ``Publisher`` (as the actor runs them).
* strategy (process S): ``Subscriber`` on ``md.pub`` + ``CommandClient``; on each valid
  ``BookTop`` it sends one post-only ``NewOrder`` whose clOrdId counter is the book's seqId.
* router (process R): the real actor, ``python -m ops.router --config …``.

Reported: tick→order (D send → D receive, includes the two WS hops the floor does not have),
command→venue-ack (strategy send → router ``Ack``, i.e. after the venue accepted), and the bare
3-process pipeline floor (``bench/floors/pipeline.py``: feed work, uvloop-fd,
ipc) measured in the same run. Clocks: CLOCK_MONOTONIC is system-wide, stamps compare across
processes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import socket
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import yaml

from bench.bench_md_feed import INST, generate
from bench.floors import pipeline as pipeline_floor
from bench.stats import pct, table

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ------------------------------------------------------------------------------ D: venue
def venue_proc(
    port: int, snap: str, updates: list[dict[str, Any]], rate: int, go: Any, conn: Connection
) -> None:
    from aiohttp import WSMsgType, web

    sent: dict[int, int] = {}
    got: dict[str, int] = {}
    done = asyncio.Event()
    mono = time.monotonic_ns
    ord_n = 0

    def ok(data: list[dict[str, object]]) -> web.Response:
        return web.json_response({"code": "0", "msg": "", "data": data})

    async def rest(request: web.Request) -> web.Response:
        path = request.path.removeprefix("/api/v5/")
        if path == "public/time":
            return ok([{"ts": str(time.time_ns() // 1_000_000)}])
        if path == "public/instruments":
            return ok(
                [
                    {
                        "instId": INST,
                        "instIdCode": 10001,  # today's OKX: WS order ops name it by code
                        "instType": "SWAP",
                        "tickSz": "0.1",
                        "lotSz": "1",
                        "minSz": "1",
                        "ctVal": "0.01",
                        "ctType": "linear",
                        "state": "live",
                        "settleCcy": "USDT",
                    }
                ]
            )
        if path == "account/config":
            return ok([{"acctLv": "2", "posMode": "net_mode", "kycLv": "3", "uid": "1"}])
        if path == "trade/cancel-all-after":
            return ok([{"triggerTime": "0", "tag": "", "ts": "0"}])
        if path == "trade/order":
            return web.json_response({"code": "51603", "msg": "Order does not exist", "data": []})
        return ok([])

    async def public(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for m in ws:
            if m.type != WSMsgType.TEXT:
                continue
            if m.data == "ping":
                await ws.send_str("pong")
                continue
            msg = json.loads(m.data)
            if msg.get("op") != "subscribe":
                continue
            for a in msg["args"]:
                await ws.send_str(json.dumps({"event": "subscribe", "arg": a, "connId": "p"}))
            await ws.send_str(snap)
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, go.wait, 60)
            period = 1 / rate
            nxt = time.perf_counter()
            for u in updates:
                nxt += period
                # sleep, don't spin: a spinning venue would eat a core the pipeline needs
                await asyncio.sleep(max(0.0, nxt - time.perf_counter()))
                frame = json.dumps(u, separators=(",", ":"))
                sent[u["data"][0]["seqId"]] = mono()
                await ws.send_str(frame)
            await asyncio.sleep(1.0)
            done.set()
        return ws

    async def private(request: web.Request) -> web.WebSocketResponse:
        nonlocal ord_n
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for m in ws:
            if m.type != WSMsgType.TEXT:
                continue
            t = mono()
            if m.data == "ping":
                await ws.send_str("pong")
                continue
            msg = json.loads(m.data)
            op = msg.get("op", "")
            if op == "login":
                await ws.send_str(
                    json.dumps({"event": "login", "code": "0", "msg": "", "connId": "r"})
                )
            elif op == "subscribe":
                for a in msg["args"]:
                    await ws.send_str(json.dumps({"event": "subscribe", "arg": a, "connId": "r"}))
            elif op:
                items = []
                pushes = []
                for a in msg["args"]:
                    cid = a.get("clOrdId", "")
                    ord_n += 1
                    if op in ("order", "batch-orders"):
                        got[cid] = t
                        pushes.append(
                            {
                                "instId": a.get("instId") or INST,
                                "instType": "SWAP",
                                "ordId": str(ord_n),
                                "clOrdId": cid,
                                "px": a.get("px", ""),
                                "sz": a["sz"],
                                "side": a["side"],
                                "ordType": a["ordType"],
                                "state": "live",
                                "accFillSz": "0",
                                "avgPx": "0",
                                "uTime": str(time.time_ns() // 1_000_000),
                            }
                        )
                    items.append(
                        {
                            "clOrdId": cid,
                            "ordId": str(ord_n),
                            "tag": "",
                            "ts": "0",
                            "sCode": "0",
                            "sMsg": "",
                            "subCode": "",
                        }
                    )
                await ws.send_str(
                    json.dumps(
                        {
                            "id": msg["id"],
                            "op": op,
                            "code": "0",
                            "msg": "",
                            "data": items,
                            "inTime": "",
                            "outTime": "",
                        }
                    )
                )
                if pushes:
                    await ws.send_str(
                        json.dumps(
                            {"arg": {"channel": "orders", "instType": "ANY"}, "data": pushes}
                        )
                    )
        return ws

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/ws/v5/public", public)
        app.router.add_get("/ws/v5/private", private)
        app.router.add_route("*", "/api/v5/{tail:.*}", rest)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        await done.wait()
        conn.send((sent, got))
        await asyncio.sleep(0.5)
        await runner.cleanup()

    asyncio.run(main())


# ---------------------------------------------------------------------------- F: md-feed
def feed_proc(bus_dir: str, port: int) -> None:
    import zmq.asyncio

    from engine.bus.publisher import Publisher
    from engine.clock import SystemClock
    from engine.config import BusConfig
    from gateway.config import MdFeedConfig
    from gateway.md_feed import MdFeed
    from gateway.okx.rest import OkxRestClient
    from ops.config import OkxmmConfig, VenueConfig

    async def run() -> None:
        import uvloop  # noqa: F401 - the actor runtime uses it too

        bus = BusConfig(transport="ipc", ipc_dir=bus_dir)
        cfg = OkxmmConfig(
            bus=bus,
            instruments=[INST],
            md_feed=MdFeedConfig(depth=5, trades=False, tickers=False, mark_price=False),
            venue=VenueConfig(
                ws_public_url=f"ws://127.0.0.1:{port}/ws/v5/public",
                rest_url=f"http://127.0.0.1:{port}",
            ),
        )
        clock = SystemClock()
        ctx = zmq.asyncio.Context()
        pub = Publisher(
            ctx,
            bus.bind_endpoint("md.pub"),
            src="md-feed",
            epoch=1,
            clock=clock,
            snap_endpoint=bus.bind_endpoint("md.snap"),
        )
        await pub.start()
        rest = OkxRestClient(cfg.venue.urls(cfg.exchange)[0], None, simulated=False, clock=clock)
        feed = MdFeed(cfg, publisher=pub, rest=rest, clock=clock)
        feed.ws.subscribe(feed.subscriptions())
        await feed.ws.run()

    import uvloop

    uvloop.run(run())


# --------------------------------------------------------------------------- S: strategy
def strategy_proc(bus_dir: str, ready: Any, stop: Any, conn: Connection) -> None:
    import zmq.asyncio

    from engine import topics
    from engine.bus.command import CommandClient
    from engine.bus.subscriber import Subscriber
    from engine.clock import SystemClock
    from engine.config import BusConfig
    from engine.messages import Ack, BookState, BookTop, Heartbeat, Hello, NewOrder, OrdType, Side
    from engine.orders.clordid import encode

    async def run() -> None:
        bus = BusConfig(transport="ipc", ipc_dir=bus_dir)
        clock = SystemClock()
        ctx = zmq.asyncio.Context()
        epoch = time.time_ns()
        client = CommandClient(
            ctx,
            bus.connect_endpoint("ord.cmd"),
            identity=f"S:bench:{epoch}".encode(),
            src="bench",
            epoch=epoch,
            clock=clock,
        )
        await client.start()
        await client.wait_connected(30)
        welcome = await client.request(Hello(strategy="bench", epoch=epoch, inst=INST), 30)
        short_id = welcome.msg.short_id  # type: ignore[union-attr]
        sub = Subscriber(
            ctx,
            bus.connect_endpoint("md.pub"),
            snap_endpoint=None,
            prefixes=[topics.book(INST)],
            name="bench-strat",
            clock=clock,
        )
        await sub.start()

        async def heartbeats() -> None:
            while True:
                client.send(Heartbeat(strategy="bench"))
                await asyncio.sleep(0.05)

        sent_at: dict[int, int] = {}
        sent_by_cid: dict[str, int] = {}
        acks: list[int] = []

        async def read_acks() -> None:
            while True:
                env = await client.recv(None)
                if env is not None and isinstance(env.msg, Ack):
                    t = sent_at.pop(env.msg.cmd_seq, None)
                    if t is not None:
                        acks.append(time.monotonic_ns() - t)

        loop = asyncio.get_running_loop()
        tasks = [loop.create_task(heartbeats()), loop.create_task(read_acks())]
        ready.set()
        tick = Decimal("0.1")
        while not stop.is_set():
            d = await sub.recv(0.2)
            if d is None or not isinstance(d.env.msg, BookTop):
                continue
            book = d.env.msg
            if book.state is not BookState.VALID or not book.bids or book.seq_id < 0:
                continue
            best = book.best_bid()
            assert best is not None
            px = best - 100 * tick
            cid = encode(short_id, epoch, book.seq_id)
            seq = client.send(
                NewOrder(
                    cl_ord_id=cid,
                    inst=INST,
                    side=Side.BUY,
                    ord_type=OrdType.POST_ONLY,
                    sz=Decimal(1),
                    px=px,
                )
            )
            sent_at[seq] = t_send = time.monotonic_ns()
            sent_by_cid[cid] = t_send
        for t in tasks:
            t.cancel()
        conn.send((acks, sent_by_cid))
        await sub.close()
        await client.close()
        ctx.destroy(linger=0)

    import uvloop

    uvloop.run(run())


# ------------------------------------------------------------------------------ floor
def run_floor(rate: int, secs: float) -> dict[str, Any] | None:
    return pipeline_floor.run(rate, secs)


# ------------------------------------------------------------------ floor of the two WS hops
def _ws_echo_client(url: str) -> None:
    """What the two hops cost with nothing else: receive a frame, send a small op back at once
    (``websockets`` on uvloop, as md-feed and the router use)."""
    import uvloop
    from websockets.asyncio.client import connect

    async def run() -> None:
        async with connect(url, ping_interval=None, max_size=2**24) as ws:
            async for frame in ws:
                if frame == "end":
                    return
                await ws.send('{"id":"1","op":"order","args":[{}]}')

    uvloop.run(run())


def run_ws_hops(rate: int, n: int) -> list[int]:
    """Round trips venue WS send → client receive → client send → venue receive (ns), the same
    frames at the same pace as the pipeline: the two WS hops its figure includes and the
    3-process floor does not."""
    from aiohttp import web

    _, updates = generate(n, seed=11)
    frames = [json.dumps(u, separators=(",", ":")) for u in updates]
    out: list[int] = []

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        period = 1 / rate
        nxt = time.perf_counter()
        for frame in frames:
            nxt += period
            await asyncio.sleep(max(0.0, nxt - time.perf_counter()))
            t0 = time.monotonic_ns()
            await ws.send_str(frame)
            await ws.receive()
            out.append(time.monotonic_ns() - t0)
        await ws.send_str("end")
        await ws.close()
        return ws

    async def serve() -> None:
        app = web.Application()
        app.router.add_get("/ws", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        port = _free_port()
        site = web.TCPSite(runner, "127.0.0.1", port)
        await site.start()
        client = mp.get_context("spawn").Process(
            target=_ws_echo_client, args=(f"ws://127.0.0.1:{port}/ws",)
        )
        client.start()
        await asyncio.to_thread(client.join, 120)
        await runner.cleanup()

    asyncio.run(serve())
    return out[max(1, len(out) // 10) :]  # drop the warm-up


def run_pipeline(rate: int, n: int) -> tuple[list[int], list[int], int, list[int]]:
    from engine.orders.clordid import decode

    warm_n = max(20, n // 10)
    snap, updates = generate(n + warm_n, seed=11)
    port = _free_port()
    tmp = Path(tempfile.mkdtemp(prefix="okxmm-bench-t2o-"))
    bus_dir = str(tmp / "bus")
    os.makedirs(bus_dir, exist_ok=True)
    ctxm = mp.get_context("spawn")
    go, ready, stop = ctxm.Event(), ctxm.Event(), ctxm.Event()
    vparent, vchild = ctxm.Pipe()
    sparent, schild = ctxm.Pipe()
    venue = ctxm.Process(target=venue_proc, args=(port, snap, updates, rate, go, vchild))
    venue.start()
    cfg = {
        "venue": {
            "kind": "local",
            "rest_url": f"http://127.0.0.1:{port}",
            "ws_private_url": f"ws://127.0.0.1:{port}/ws/v5/private",
        },
        "bus": {"transport": "ipc", "ipc_dir": bus_dir},
        "instruments": [INST],
        "log_level": "WARNING",
        "log_dir": str(tmp / "log"),
        "router": {
            "journal_path": str(tmp / "router.journal"),
            "max_open_orders": 10_000_000,
            "cancel_all_after_s": 0,
            "price_band_bps": 10_000,
        },
    }
    cfg_path = tmp / "okxmm.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg))
    time.sleep(0.3)  # the venue binds its port
    with (tmp / "router.out").open("wb") as rlog:
        router = subprocess.Popen(
            [sys.executable, "-m", "ops.router", "--config", str(cfg_path)],
            cwd=ROOT,
            stdout=rlog,
            stderr=subprocess.STDOUT,
        )
    sys.stderr.write(f"bench dir {tmp}\n")
    feed = ctxm.Process(target=feed_proc, args=(bus_dir, port))
    feed.start()
    strat = ctxm.Process(target=strategy_proc, args=(bus_dir, ready, stop, schild))
    strat.start()
    try:
        if not ready.wait(60):
            raise SystemExit("strategy not ready")
        time.sleep(0.5)
        go.set()
        if not vparent.poll(n / rate + 60):
            raise SystemExit("venue never finished the stream")
        sent, got = vparent.recv()
        stop.set()
        acks, strat_sent = sparent.recv() if sparent.poll(30) else ([], {})
    finally:
        stop.set()
        router.terminate()
        router.wait(15)
        for p in (strat, feed, venue):
            p.join(3)
            if p.is_alive():
                p.kill()
    warm = sorted(sent)[warm_n] if len(sent) > warm_n else 0
    lat = sorted(
        t_v - sent[parts.counter]
        for cid, t_v in got.items()
        if (parts := decode(cid)) is not None and parts.counter in sent and parts.counter >= warm
    )
    hop = sorted(t_v - strat_sent[c] for c, t_v in got.items() if c in strat_sent)
    return lat, sorted(acks), len(sent), hop


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    # OKX allows 60 single orders / 2 s per instrument: the router's buckets throttle anything
    # faster (a queue, not latency), so the pipeline is measured below that rate
    parser.add_argument("--rate", type=int, default=25)
    args = parser.parse_args()
    secs = 6.0 if args.quick else 16.0
    n = int(args.rate * secs)
    floor = run_floor(args.rate, secs)
    ws_us = sorted(x / 1000 for x in run_ws_hops(args.rate, n))
    lat, acks, ticks, hop = run_pipeline(args.rate, n)
    hop_us = [x / 1000 for x in hop]
    us = [x / 1000 for x in lat]
    ack_us = [x / 1000 for x in acks]
    print("## tick → order (md-feed → strategy → router → venue socket)\n")
    print(
        f"{ticks} book frames paced at {args.rate}/s; {len(lat)} orders reached the venue "
        f"(after the warm-up ticks). 4 processes on this machine: venue, md-feed, strategy, "
        "router (the real actor).\n"
    )
    rows = [
        [
            "okxmm: venue WS send → md-feed → strategy → router → venue WS receive",
            f"{pct(us, 50):.0f}",
            f"{pct(us, 90):.0f}",
            f"{pct(us, 99):.0f}",
            f"{(us[-1] if us else float('nan')):.0f}",
        ]
    ]
    if floor is not None:
        rows.append(
            [
                "floor: bare 3-process pipeline (feed work, uvloop-fd, ipc)",
                f"{floor['e2e.p50_us']:.0f}",
                f"{floor['e2e.p90_us']:.0f}",
                f"{floor['e2e.p99_us']:.0f}",
                f"{floor['e2e.max_us']:.0f}",
            ]
        )
    rows.append(
        [
            "floor: the two WS hops alone (venue → client → venue, websockets on uvloop)",
            f"{pct(ws_us, 50):.0f}",
            f"{pct(ws_us, 90):.0f}",
            f"{pct(ws_us, 99):.0f}",
            f"{max(ws_us, default=float('nan')):.0f}",
        ]
    )
    rows.append(
        [
            "  of which strategy send → router → venue WS receive",
            f"{pct(hop_us, 50):.0f}",
            f"{pct(hop_us, 90):.0f}",
            f"{pct(hop_us, 99):.0f}",
            f"{(hop_us[-1] if hop_us else float('nan')):.0f}",
        ]
    )
    print(table(["path", "p50 µs", "p90 µs", "p99 µs", "max µs"], rows))
    if floor is not None and us:
        r50 = pct(us, 50) / floor["e2e.p50_us"]
        r99 = pct(us, 99) / floor["e2e.p99_us"]
        # The tick→order starts when md-feed has the frame and ends when the router
        # writes to the venue socket; ours is measured at the venue, so the two WS hops are in
        # it. Compare with floor + the hops' typical cost (p50 added to both: conservative).
        hops50 = pct(ws_us, 50)
        f50 = floor["e2e.p50_us"] + hops50
        f99 = floor["e2e.p99_us"] + hops50
        print(
            f"Ratio to the 3-process floor alone: p50 {r50:.2f}×, p99 {r99:.2f}× (unfair to us: "
            "our figure includes two WS hops the floor does not).\n\n"
            f"**Ratio to floor + the two WS hops** ({f50:.0f} / {f99:.0f} µs): p50 "
            f"{pct(us, 50) / f50:.2f}× (target ≤ 1.5×), p99 {pct(us, 99) / f99:.2f}× "
            "(target ≤ 2×). What remains is ours: md-feed's parse/apply/checksum and publish, "
            "the strategy's Clone subscriber and command client, the router's checks, journal "
            "write and OKX JSON encoding.\n"
        )
    elif floor is None:
        print("The floor run failed (its error is on stderr); no ratio.\n")
    print(
        "Command → venue ack (strategy sends NewOrder → router's Ack after the venue accepted):\n"
    )
    print(
        table(
            ["p50 µs", "p90 µs", "p99 µs", "n"],
            [
                [
                    f"{pct(ack_us, 50):.0f}",
                    f"{pct(ack_us, 90):.0f}",
                    f"{pct(ack_us, 99):.0f}",
                    str(len(ack_us)),
                ]
            ],
        )
    )
    doc = ROOT / "docs" / "cancel-on-death.md"
    if doc.exists():
        print(
            "Kill → last cancel: measured by the acceptance test against the local exchange; "
            "see `docs/cancel-on-death.md`.\n"
        )


if __name__ == "__main__":
    main()
