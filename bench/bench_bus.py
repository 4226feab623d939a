"""Bus benchmark: okxmm's codec, Publisher/Subscriber and CommandClient/Server, each against the
raw floor measured in the same run (raw msgspec Struct, raw pyzmq with raw bytes).

Prints a markdown section; ``python -m bench`` collects it into docs/perf.md.
Targets (issue 3): throughput ≥ 0.7× raw, round-trip latency ≤ 1.3× raw. Every asyncio side, raw
and ours, runs on uvloop (as the actors do).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import tempfile
import time
from decimal import Decimal
from multiprocessing.synchronize import Event as MpEvent
from typing import Any

import msgspec
import zmq
import zmq.asyncio

from bench.stats import pct, table
from engine import topics
from engine.bus.command import CommandClient, CommandServer
from engine.bus.publisher import Publisher
from engine.bus.subscriber import Subscriber
from engine.clock import SystemClock
from engine.codec import Codec
from engine.config import BusConfig
from engine.messages import Ack, BookState, BookTop, Cancel, Side, Trade


def _run(coro: Any) -> Any:
    """Every asyncio side, raw floor and okxmm alike, on uvloop: what the actors run on."""
    import uvloop

    return uvloop.run(coro)


# ------------------------------------------------------------------------------------ codec


class RawBook(msgspec.Struct, array_like=True, tag=True):
    inst: str
    seq_id: int
    ts_ms: int
    bids: list[tuple[float, float]]
    asks: list[tuple[float, float]]


def book_msg() -> BookTop:
    # as md-feed publishes it: OKX's exact (px, sz) strings
    bids = [(str(Decimal("43000.1") - i), str(Decimal("1.25") + i)) for i in range(5)]
    asks = [(str(Decimal("43000.2") + i), str(Decimal("0.75") + i)) for i in range(5)]
    return BookTop("BTC-USDT-SWAP", BookState.VALID, 123456, 1_700_000_000_000, bids, asks)


def bench_codec(n: int) -> list[list[str]]:
    codec = Codec("bench", 1, time.time_ns)
    msg = book_msg()
    t0 = time.perf_counter_ns()
    for i in range(n):
        codec.decode(codec.encode(msg, i))
    ours = (time.perf_counter_ns() - t0) / n
    raw = RawBook(
        "BTC-USDT-SWAP",
        123456,
        1,
        [(float(p), float(s)) for p, s in msg.bids],
        [(float(p), float(s)) for p, s in msg.asks],
    )
    enc, dec = msgspec.msgpack.Encoder(), msgspec.msgpack.Decoder(RawBook)
    t0 = time.perf_counter_ns()
    for _ in range(n):
        dec.decode(enc.encode(raw))
    floor = (time.perf_counter_ns() - t0) / n
    return [
        [
            "codec BookTop top-5 encode+decode (ns/msg)",
            f"{ours:.0f}",
            f"{floor:.0f}",
            f"{ours / floor:.2f}x",
            "exact str px/sz + envelope vs float struct",
        ]
    ]


# ------------------------------------------------------------------------------- pub/sub


def _sink_raw(ep: str, n: int, ready: MpEvent, q: mp.Queue) -> None:  # type: ignore[type-arg]
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.RCVHWM, 1_000_000)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect(ep)
    ready.set()
    got = 0
    first = 0
    while got < n:
        if sub.poll(5000) == 0:
            break
        sub.recv_multipart()
        if got == 0:
            first = time.perf_counter_ns()
        got += 1
    q.put((got, time.perf_counter_ns() - first))


def _sink_okxmm(ipc: str, n: int, ready: MpEvent, q: mp.Queue) -> None:  # type: ignore[type-arg]
    async def run() -> None:
        ctx = zmq.asyncio.Context()
        bus = BusConfig(transport="ipc", ipc_dir=ipc)
        sub = Subscriber(
            ctx,
            bus.connect_endpoint("md.pub"),
            prefixes=["book|"],
            name="sink",
            clock=SystemClock(),
        )
        await sub.start()
        ready.set()
        got = 0
        first = 0
        while got < n:
            d = await sub.recv(5)
            if d is None:
                break
            if got == 0:
                first = time.perf_counter_ns()
            got += 1
        q.put((got, time.perf_counter_ns() - first))
        await sub.close()
        ctx.destroy(linger=0)

    _run(run())


def trade_msg() -> Trade:
    return Trade(
        "BTC-USDT-SWAP",
        "1234567890",
        Decimal("43000.1"),
        Decimal("0.25"),
        Side.BUY,
        1_700_000_000_000,
    )


def bench_pubsub(n: int, kind: str) -> list[list[str]]:
    mpc = mp.get_context("spawn")
    # raw: pyzmq PUB, 200-byte bodies
    ipc = tempfile.mkdtemp(prefix="okxb-")
    ep = f"ipc://{ipc}/raw.sock"
    ctx = zmq.Context()
    pub = ctx.socket(zmq.PUB)
    pub.setsockopt(zmq.SNDHWM, 1_000_000)
    pub.bind(ep)
    ready, q = mpc.Event(), mpc.Queue()
    proc = mpc.Process(target=_sink_raw, args=(ep, n, ready, q))
    proc.start()
    ready.wait(10)
    time.sleep(0.3)
    codec = Codec("bench", 1, time.time_ns)
    make = book_msg if kind == "BookTop" else trade_msg
    body = codec.encode(make(), 1)
    topic = b"book|BTC-USDT-SWAP|"
    for _ in range(n):
        pub.send_multipart([topic, body])
    got_raw, ns_raw = q.get(timeout=60)
    proc.join()
    pub.close(0)
    ctx.term()
    raw_rate = got_raw / (ns_raw / 1e9)

    # okxmm: Publisher (encode each message) -> Subscriber (decode + seq check)
    async def produce() -> tuple[int, float]:
        actx = zmq.asyncio.Context()
        bus = BusConfig(transport="ipc", ipc_dir=tempfile.mkdtemp(prefix="okxb-"))
        p = Publisher(
            actx,
            bus.bind_endpoint("md.pub"),
            src="bench",
            epoch=1,
            clock=SystemClock(),
            heartbeat_ms=0,
        )
        await p.start()
        rdy, qq = mpc.Event(), mpc.Queue()
        pr = mpc.Process(target=_sink_okxmm, args=(bus.ipc_dir, n, rdy, qq))
        pr.start()
        rdy.wait(20)
        await asyncio.sleep(0.3)
        msg = make()
        t = topics.book("BTC-USDT-SWAP")
        for i in range(n):
            p.publish(t, msg)
            if i % 1000 == 0:
                await asyncio.sleep(0)
        got, ns = await asyncio.to_thread(qq.get, True, 60)
        pr.join()
        await p.close()
        actx.destroy(linger=0)
        return got, ns

    got_ours, ns_ours = _run(produce())
    ours_rate = got_ours / (ns_ours / 1e9)
    return [
        [
            f"PUB/SUB {kind} ({len(body)} B) ipc (msgs/s)",
            f"{ours_rate:,.0f} ({got_ours}/{n})",
            f"{raw_rate:,.0f} ({got_raw}/{n})",
            f"{ours_rate / raw_rate:.2f}x",
            "okxmm encodes+decodes+checks seq; raw sends fixed bytes",
        ]
    ]


# ---------------------------------------------------------------------------- round trip


def _echo_raw(ep: str, n: int, ready: MpEvent) -> None:
    async def run() -> None:
        ctx = zmq.asyncio.Context()
        s = ctx.socket(zmq.ROUTER)
        s.bind(ep)
        ready.set()
        while True:  # the parent terminates us: exiting early could drop the last reply
            frames = await s.recv_multipart()
            await s.send_multipart(frames)

    _run(run())


def _echo_okxmm(ipc: str, n: int, ready: MpEvent) -> None:
    async def run() -> None:
        ctx = zmq.asyncio.Context()
        bus = BusConfig(transport="ipc", ipc_dir=ipc)
        srv = CommandServer(ctx, bus.bind_endpoint("ord.cmd"), src="router", clock=SystemClock())
        await srv.start()
        ready.set()
        while True:  # the parent terminates us: exiting early could drop the last reply
            got = await srv.recv(None)
            assert got is not None
            srv.reply(got[0], Ack(cmd_seq=got[1].seq))

    _run(run())


def bench_rtt(n: int, rounds: int = 10) -> list[list[str]]:
    """Raw and okxmm round trips in alternating blocks of ``n / rounds`` against two live echo
    processes, so drift in this VM's speed lands on both sides alike."""
    mpc = mp.get_context("spawn")
    ipc = tempfile.mkdtemp(prefix="okxb-")
    ep = f"ipc://{ipc}/rtt.sock"
    ready, ready2 = mpc.Event(), mpc.Event()
    procs = [
        mpc.Process(target=_echo_raw, args=(ep, n, ready)),
        mpc.Process(target=_echo_okxmm, args=(ipc, n, ready2)),
    ]
    for proc in procs:
        proc.start()
    ready.wait(10)
    ready2.wait(10)

    async def both() -> tuple[list[int], list[int]]:
        ctx = zmq.asyncio.Context()
        d = ctx.socket(zmq.DEALER)
        d.connect(ep)
        bus = BusConfig(transport="ipc", ipc_dir=ipc)
        c = CommandClient(
            ctx,
            bus.connect_endpoint("ord.cmd"),
            identity=b"S:b:1",
            src="b",
            epoch=1,
            clock=SystemClock(),
        )
        await c.start()
        await c.wait_connected(10)
        body = b"x" * 200
        msg = Cancel(cl_ord_id="b1x0000000001", inst="BTC-USDT-SWAP")
        raw: list[int] = []
        ours: list[int] = []
        block = max(1, n // rounds)
        for _ in range(rounds):
            for _ in range(block):
                t0 = time.perf_counter_ns()
                await d.send(body)
                await d.recv()
                raw.append(time.perf_counter_ns() - t0)
            for _ in range(block):
                t0 = time.perf_counter_ns()
                await c.request(msg, 5)
                ours.append(time.perf_counter_ns() - t0)
        await c.close()
        ctx.destroy(linger=0)
        return raw, ours

    raw_ns, our_ns = (sorted(x) for x in _run(both()))
    for proc in procs:
        proc.terminate()
        proc.join()
    rows = []
    for q in (50, 99):
        o, r = pct(our_ns, q) / 1e3, pct(raw_ns, q) / 1e3
        rows.append(
            [
                f"DEALER/ROUTER round trip ipc p{q} (µs)",
                f"{o:.0f}",
                f"{r:.0f}",
                f"{o / r:.2f}x",
                "request→Ack with codec vs raw bytes echo",
            ]
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    n_codec = 20_000 if args.quick else 100_000
    n_pub = 20_000 if args.quick else 100_000
    n_rtt = 2_000 if args.quick else 10_000
    rows = bench_codec(n_codec) + bench_pubsub(n_pub, "Trade") + bench_pubsub(n_pub, "BookTop")
    rows += bench_rtt(n_rtt)
    print("## Bus (issue 3)\n")
    print(
        "Targets: throughput ≥ 0.7× raw, round trip ≤ 1.3× raw; floors measured in the same run.\n"
    )
    print(table(["path", "okxmm", "raw floor", "ratio", "note"], rows))


if __name__ == "__main__":
    main()
