"""md-feed benchmark: OKX ``books`` updates processed and published, against the bare
parse + apply + checksum loop measured in the same run (target ≥ 0.7×), and the venue-send →
bus-publish latency through a real WS connection (p50/p99).

* bare: ``msgspec`` decode of the frame + ``L2Book.apply`` + ``checksum()`` compared with the
  frame's checksum — the least any correct feed must do. It uses the project's own book, so a
  faster book speeds up the floor as much as the feed: the ratio measures the feed's overhead.
* bare + raw send: the bare loop plus one raw pyzmq ``send_multipart`` of a pre-encoded
  ``BookTop`` per 10 frames to the same kind of live SUB — the least a feed that publishes one
  book per burst of 10 can cost here, i.e. the ceiling of that row's ratio on this machine.
  "bare + Publisher.publish" sends a ready ``BookTop`` through the bus instead: the bus's share.
* feed: the md-feed path — ``WsParser.parse`` → ``MdFeed.on_event`` → ``BookSync`` (seq chain,
  checksum, top-N ``Decimal`` levels) → ``Publisher.publish`` over ipc to a SUB in another process.
* latency: a WS server in another process sends the frames paced; each frame's send time (ns) is
  compared with the time the feed published the resulting ``BookTop`` (same host clock).

Prints a markdown section; ``python -m bench`` collects it into docs/perf.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import random
import tempfile
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

import msgspec
import zmq
import zmq.asyncio

from bench.stats import pct, table
from engine.bus.publisher import Publisher
from engine.clock import SystemClock
from engine.codec import Codec
from engine.config import BusConfig
from engine.messages import AnyMsg, BookState, BookTop
from gateway.book import L2Book
from gateway.config import MdFeedConfig
from gateway.md_feed import MdFeed
from gateway.okx.rest import OkxRestClient
from gateway.okx.schemas import BookData, PushArg
from gateway.okx.ws_protocol import WsParser
from ops.config import OkxmmConfig, VenueConfig

INST = "BTC-USDT-SWAP"


# ---------------------------------------------------------------------------- synthetic stream
def _px(tick: int) -> str:
    q, r = divmod(tick, 10)
    return f"{q}.{r}" if r else str(q)


def _sz(rng: random.Random) -> str:
    return str(rng.randint(1, 5000))


def generate(n: int, seed: int = 7) -> tuple[str, list[dict[str, Any]]]:
    """A 400-level snapshot and ``n`` updates (~5 levels each, mostly near the top), with the
    checksum a venue would send, as JSON-ready dicts (updates) and a JSON string (snapshot)."""
    rng = random.Random(seed)
    ref = L2Book(INST)
    bids = [[_px(600_000 - i), _sz(rng), "0", "1"] for i in range(400)]
    asks = [[_px(600_001 + i), _sz(rng), "0", "1"] for i in range(400)]
    ref.load_snapshot(bids, asks)
    live_b = {600_000 - i for i in range(400)}
    live_a = {600_001 + i for i in range(400)}
    seq = 1000
    snap = {
        "arg": {"channel": "books", "instId": INST},
        "action": "snapshot",
        "data": [
            {
                "bids": bids,
                "asks": asks,
                "ts": "1700000000000",
                "checksum": ref.checksum(),
                "prevSeqId": -1,
                "seqId": seq,
            }
        ],
    }
    out = []
    for _ in range(n):
        ub: dict[int, str] = {}
        ua: dict[int, str] = {}
        for _k in range(5):
            is_bid = rng.random() < 0.5
            live = live_b if is_bid else live_a
            best = max(live_b) if is_bid else min(live_a)
            off = min(int(rng.expovariate(1 / 8)), 399)
            t = best - off if is_bid else best + off
            r = rng.random()
            if t in live and r < 0.25 and len(live) > 300:
                sz = "0"
                live.discard(t)
            else:
                sz = _sz(rng)
                if not (is_bid and t >= min(live_a)) and not (not is_bid and t <= max(live_b)):
                    live.add(t)
                else:
                    continue
            (ub if is_bid else ua)[t] = sz
        lb = [
            [_px(t), s, "0", "0" if s == "0" else "1"] for t, s in sorted(ub.items(), reverse=True)
        ]
        la = [[_px(t), s, "0", "0" if s == "0" else "1"] for t, s in sorted(ua.items())]
        ref.apply(lb, la)
        prev, seq = seq, seq + rng.randint(1, 20)
        out.append(
            {
                "arg": {"channel": "books", "instId": INST},
                "action": "update",
                "data": [
                    {
                        "bids": lb,
                        "asks": la,
                        "ts": "0",
                        "checksum": ref.checksum(),
                        "prevSeqId": prev,
                        "seqId": seq,
                    }
                ],
            }
        )
    return json.dumps(snap, separators=(",", ":")), out


class _BooksMsg(msgspec.Struct):
    arg: PushArg
    data: list[BookData]
    action: str = ""


# ----------------------------------------------------------------------------------- bare loop
def bench_bare(snap: str, frames: list[bytes]) -> float:
    dec = msgspec.json.Decoder(_BooksMsg)
    book = L2Book(INST)
    s = dec.decode(snap).data[0]
    book.load_snapshot(s.bids, s.asks)
    bad = 0
    t0 = time.perf_counter()
    for f in frames:
        for d in dec.decode(f).data:
            book.apply(d.bids, d.asks)
            if d.checksum and book.checksum() != d.checksum:
                bad += 1
    dt = time.perf_counter() - t0
    if bad:
        raise SystemExit(f"bare loop: {bad} checksum mismatches")
    return len(frames) / dt


# -------------------------------------------------------------------------------- feed loop
class _NoBus:
    """Stands in for the Publisher to measure the feed without the bus."""

    published = 0

    def publish(self, topic: str, msg: AnyMsg, retain: bool = True) -> int:
        self.published += 1
        return self.published


def bench_bare_send(snap: str, frames: list[bytes], send: Callable[[BookTop], Any]) -> float:
    """The bare loop plus ``send`` of one pre-built ``BookTop`` per 10 frames."""
    dec = msgspec.json.Decoder(_BooksMsg)
    book = L2Book(INST)
    s = dec.decode(snap).data[0]
    book.load_snapshot(s.bids, s.asks)
    top = BookTop(INST, BookState.VALID, s.seqId, int(s.ts), *book.published_top(), s.checksum)
    bad = 0
    t0 = time.perf_counter()
    for i, f in enumerate(frames, start=1):
        for d in dec.decode(f).data:
            book.apply(d.bids, d.asks)
            if d.checksum and book.checksum() != d.checksum:
                bad += 1
        if i % 10 == 0:
            send(top)
    dt = time.perf_counter() - t0
    if bad:
        raise SystemExit(f"bare loop: {bad} checksum mismatches")
    return len(frames) / dt


def _drain(endpoints: list[str], ready: Any, stop: Any) -> None:
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.setsockopt(zmq.RCVHWM, 0)
    for endpoint in endpoints:
        sub.connect(endpoint)
    ready.set()
    n = 0
    while not stop.is_set():
        if sub.poll(100):
            sub.recv_multipart()
            n += 1
    sub.close(0)
    ctx.term()


def _feed_cfg(bus: BusConfig, ws_url: str = "ws://127.0.0.1:1/ws/v5/public") -> OkxmmConfig:
    return OkxmmConfig(
        bus=bus,
        instruments=[INST],
        md_feed=MdFeedConfig(depth=5, trades=False, tickers=False, mark_price=False),
        venue=VenueConfig(ws_public_url=ws_url, rest_url="http://127.0.0.1:1"),
    )


async def bench_feed(
    snap: str, frames: list[bytes], bus: BusConfig, rounds: int
) -> dict[str, tuple[float, int]]:
    """Alternate the bare loop and the feed (bursts of 1 and of 10 frames per event-loop
    wake-up; the feed publishes the latest book after each burst) for ``rounds`` rounds, so a
    busy machine slows every variant alike; best round of each → (updates/s, books published)."""
    clock = SystemClock()
    ctx = zmq.asyncio.Context()
    pub = Publisher(
        ctx, bus.bind_endpoint("md.pub"), src="bench", epoch=1, clock=clock, heartbeat_ms=0
    )
    await pub.start()
    raw_ctx = zmq.Context()
    raw = raw_ctx.socket(zmq.PUB)
    raw.bind(bus.bind_endpoint("md.raw"))
    topic = f"book|{INST}|"
    snap_book = L2Book(INST)
    s = msgspec.json.decode(snap, type=_BooksMsg).data[0]
    snap_book.load_snapshot(s.bids, s.asks)
    top = BookTop(INST, BookState.VALID, s.seqId, 0, *snap_book.published_top(), s.checksum)
    body = Codec("bench", 1, time.time_ns).encode(top)  # a real-sized BookTop envelope

    def raw_send(top: BookTop) -> None:  # pre-encoded bytes, sync socket: no codec, no asyncio
        raw.send_multipart([topic.encode(), body], zmq.NOBLOCK)

    def pub_send(top: BookTop) -> None:  # the bus as md-feed uses it, with a ready BookTop
        pub.publish(topic, top)

    ready, stop = mp.Event(), mp.Event()
    endpoints = [bus.connect_endpoint("md.pub"), bus.connect_endpoint("md.raw")]
    proc = mp.Process(target=_drain, args=(endpoints, ready, stop))
    proc.start()
    ready.wait(10)
    rest = OkxRestClient("http://127.0.0.1:1", None, simulated=False, clock=clock)
    best: dict[str, tuple[float, int]] = {}

    def keep(name: str, rate: float, published: int) -> None:
        if rate > best.get(name, (0.0, 0))[0]:
            best[name] = (rate, published)

    for _ in range(rounds):
        keep("bare", bench_bare(snap, frames), 0)
        keep("bare_raw10", bench_bare_send(snap, frames, raw_send), len(frames) // 10)
        keep("bare_pub10", bench_bare_send(snap, frames, pub_send), len(frames) // 10)
        for burst in (0, 1, 10, 100):
            # burst 0: no bus at all, to show the feed's own processing cost
            target: Any = _NoBus() if burst == 0 else pub
            feed = MdFeed(_feed_cfg(bus), publisher=target, rest=rest, clock=clock)
            parser = WsParser()
            feed.on_event(parser.parse(snap))
            feed.flush()
            published0 = target.published
            on_event, parse, flush = feed.on_event, parser.parse, feed.flush
            t0 = time.perf_counter()
            if burst == 0:
                for f in frames:
                    on_event(parse(f))
            else:
                for i, f in enumerate(frames, start=1):
                    on_event(parse(f))
                    if i % burst == 0:
                        flush()
                flush()
            dt = time.perf_counter() - t0
            sync = feed.syncs[INST]
            if sync.resyncs or sync.checksum_failures or sync.checksums_verified != len(frames) + 1:
                raise SystemExit(f"feed resynced during the benchmark: {sync.reason}")
            keep(f"feed{burst}", len(frames) / dt, target.published - published0)
            await asyncio.sleep(0)  # run the flushes scheduled with call_soon
    stop.set()
    proc.join(10)
    raw.close(0)
    raw_ctx.term()
    await rest.close()
    await pub.close()
    ctx.destroy(0)
    return best


# ----------------------------------------------------------------------------------- latency
def _ws_server(
    port: int, snap: str, updates: list[dict[str, Any]], rate: int, conn: Connection
) -> None:
    from websockets.asyncio.server import ServerConnection, serve

    sent: dict[int, int] = {}

    async def handler(ws: ServerConnection) -> None:
        async for raw in ws:
            if raw == "ping":
                await ws.send("pong")
                continue
            msg = json.loads(raw)
            if msg.get("op") != "subscribe":
                continue
            for a in msg["args"]:
                await ws.send(json.dumps({"event": "subscribe", "arg": a, "connId": "b"}))
            await ws.send(snap)
            period = 1 / rate
            nxt = time.perf_counter()
            for u in updates:
                nxt += period
                delay = nxt - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)  # pacing the venue, not synchronisation
                now = time.time_ns()
                d = u["data"][0]
                d["ts"] = str(now // 1_000_000)
                sent[d["seqId"]] = now
                await ws.send(json.dumps(u, separators=(",", ":")))
            conn.send(sent)

    async def run() -> None:
        async with serve(handler, "127.0.0.1", port):
            await asyncio.Future()

    asyncio.run(run())


async def bench_latency(
    snap: str, updates: list[dict[str, Any]], rate: int, bus: BusConfig
) -> list[int]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    parent, child = mp.Pipe()
    server = mp.Process(target=_ws_server, args=(port, snap, updates, rate, child), daemon=True)
    server.start()
    clock = SystemClock()
    ctx = zmq.asyncio.Context()
    pub = Publisher(
        ctx, bus.bind_endpoint("md.pub"), src="bench", epoch=1, clock=clock, heartbeat_ms=0
    )
    await pub.start()
    published: dict[int, int] = {}
    real_publish = pub.publish
    done = asyncio.Event()
    last_seq = updates[-1]["data"][0]["seqId"]

    def publish(topic: str, msg: AnyMsg, retain: bool = True) -> int:
        seq = real_publish(topic, msg, retain)
        if isinstance(msg, BookTop):
            published[msg.seq_id] = time.time_ns()
            if msg.seq_id == last_seq:
                done.set()
        return seq

    pub.publish = publish  # type: ignore[method-assign]
    rest = OkxRestClient("http://127.0.0.1:1", None, simulated=False, clock=clock)
    feed = MdFeed(
        _feed_cfg(bus, f"ws://127.0.0.1:{port}/ws/v5/public"), publisher=pub, rest=rest, clock=clock
    )
    feed.ws.subscribe(feed.subscriptions())
    task = asyncio.get_running_loop().create_task(feed.ws.run())
    loop = asyncio.get_running_loop()
    sent: dict[int, int] = await loop.run_in_executor(None, parent.recv)
    async with asyncio.timeout(30):
        await done.wait()
    await feed.close()
    await task
    await rest.close()
    await pub.close()
    ctx.destroy(0)
    server.kill()
    return sorted(published[s] - t for s, t in sent.items() if s in published)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    n = 5_000 if args.quick else 20_000
    snap, updates = generate(n)
    frames = [json.dumps(u, separators=(",", ":")).encode() for u in updates]
    bus = BusConfig(transport="ipc", ipc_dir=tempfile.mkdtemp(prefix="okxmm-bench-md-"))
    rounds = 3 if args.quick else 5
    best = asyncio.run(bench_feed(snap, frames, bus, rounds))
    bare = best["bare"][0]
    (feed1, pub1), (feed10, pub10) = best["feed1"], best["feed10"]
    feed100, pub100 = best["feed100"]
    feed0 = best["feed0"][0]
    floor10 = best["bare_raw10"][0]
    bus10 = best["bare_pub10"][0]
    rate = 1000
    lat = asyncio.run(bench_latency(snap, updates[: (2000 if args.quick else 5000)], rate, bus))
    print("## md-feed (OKX books → bus)\n")
    print(
        f"{n} updates of a 400-level book (~5 levels each), every checksum verified; "
        f"variants interleaved, best of {rounds} rounds.\n"
    )
    print(
        table(
            ["path", "updates/s", "BookTops published", "ratio to bare"],
            [
                ["bare: msgspec parse + apply + checksum", f"{bare:,.0f}", "-", "1.00"],
                [
                    "bare + one raw pyzmq send per 10 frames (ceiling of the bursts-of-10 row)",
                    f"{floor10:,.0f}",
                    f"{len(frames) // 10:,}",
                    f"{floor10 / bare:.2f}",
                ],
                [
                    "bare + one `Publisher.publish` of a ready BookTop per 10 frames",
                    f"{bus10:,.0f}",
                    f"{len(frames) // 10:,}",
                    f"{bus10 / bare:.2f}",
                ],
                [
                    "md-feed processing only (WS parse, seq, checksum; bus stubbed)",
                    f"{feed0:,.0f}",
                    "-",
                    f"{feed0 / bare:.2f}",
                ],
                [
                    "md-feed, 1 frame per wake-up (every update published)",
                    f"{feed1:,.0f}",
                    f"{pub1:,}",
                    f"{feed1 / bare:.2f}",
                ],
                [
                    "md-feed, bursts of 10 frames (latest book per burst)",
                    f"{feed10:,.0f}",
                    f"{pub10:,}",
                    f"{feed10 / bare:.2f} (target ≥ 0.70)",
                ],
                [
                    "md-feed, bursts of 100 frames (saturated feed)",
                    f"{feed100:,.0f}",
                    f"{pub100:,}",
                    f"{feed100 / bare:.2f}",
                ],
            ],
        )
    )
    send_us = (1 / floor10 - 1 / bare) * 10 * 1e6
    publish_us = (1 / bus10 - 1 / bare) * 10 * 1e6
    print(
        "Every update is parsed, sequenced and checksum-verified on every md-feed row. The "
        "feed's own work is the 'processing only' row; the rest is the bus: each published "
        "BookTop costs one `Publisher.publish` (codec + zmq.asyncio send), so under load the "
        "feed conflates to the latest book per event-loop wake-up (drain, then act) and the "
        "cost per update falls with the burst size. One raw ZeroMQ send to a live subscriber "
        f"alone costs {send_us:.0f} µs here (waking the I/O thread), which caps the "
        f"bursts-of-10 ratio at {floor10 / bare:.2f} whatever the feed does; "
        f"`Publisher.publish` (envelope + msgpack of Decimal levels + zmq.asyncio send) costs "
        f"{publish_us:.0f} µs.\n"
    )
    us = [x / 1000 for x in lat]
    print(
        f"Venue send → bus publish through a real WS connection, {len(lat)} updates paced at "
        f"{rate}/s (server in another process):\n"
    )
    print(
        table(
            ["p50 µs", "p90 µs", "p99 µs", "max µs"],
            [[f"{pct(us, 50):.0f}", f"{pct(us, 90):.0f}", f"{pct(us, 99):.0f}", f"{us[-1]:.0f}"]],
        )
    )


if __name__ == "__main__":
    main()
