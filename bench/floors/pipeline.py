"""Floor: the bare 3-process tick-to-order pipeline, no project code.

  feed --PUB/SUB--> strategy --DEALER/ROUTER--> router

The feed stamps ``time.monotonic_ns()`` (system-wide on Linux: stamps compare across processes)
and publishes a msgpack BookTop at a paced rate; the strategy turns each into one NewOrder on a
DEALER; the router stamps on receive. ``--work feed``: the feed first does the real feed work on
a generated OKX ``books`` update (JSON decode, apply, checksum check, top 5), stamped before the
decode (= WS frame in hand), and the router encodes the OKX WS ``order`` request (second stamp =
ready to write to the venue).

Prints one line ``RESULT {json}`` with ``e2e`` (feed stamp -> router receive), ``hop1``, ``hop2``
and, with feed work, ``tick_to_wire`` percentiles in µs (keys like ``e2e.p50_us``).

    python -m bench.floors.pipeline --transport ipc --mode uvloop-fd --rate 1000 --secs 5 --work feed
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

import msgspec
import zmq

from bench.floors.book import Book, generate
from bench.floors.fdsock import FdSocket

STOP, PROBE = -1, -2
Row = tuple[int, int, int, int, int]  # seq, feed stamp, strategy stamp, router recv, wire-ready


class BookTop(msgspec.Struct, array_like=True):
    inst_id: str
    seq: int
    ts_feed: int
    bids: list[tuple[float, float]]
    asks: list[tuple[float, float]]
    checksum: int


class NewOrder(msgspec.Struct, array_like=True):
    cl_ord_id: str
    inst_id: str
    side: str
    px: float
    sz: float
    seq: int
    ts_feed: int
    ts_strat: int


def _top(levels: list[tuple[str, str]]) -> list[tuple[float, float]]:
    return [(float(p), float(s)) for p, s in levels]


def feed(ep: str, rate: float, total: int, work: str, ready: Event, go: Event) -> None:
    """Paced publisher; probes until ``go`` so the subscriber is known to be joined."""
    ctx = zmq.Context()
    pub = ctx.socket(zmq.PUB)
    pub.setsockopt(zmq.SNDHWM, 100_000)
    pub.bind(ep)
    enc = msgspec.msgpack.Encoder()
    dec = msgspec.json.Decoder()
    book = Book()
    ups: list[bytes] = []
    if work == "feed":
        snap, ups = generate(total)
        book.apply(dec.decode(snap)["data"][0], snapshot=True)
    ready.set()
    while not go.wait(0.01):
        pub.send(enc.encode(BookTop("", PROBE, 0, [], [], 0)))
    fixed = [(43000.0, 1.0)] * 5
    period, start, mono = 1.0 / rate, time.perf_counter(), time.monotonic_ns
    for i in range(total):
        delay = start + i * period - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        if work == "feed":
            t0 = mono()
            msg = dec.decode(ups[i])
            data = msg["data"][0]
            book.apply(data)
            ck = book.checksum()
            if ck != data["checksum"]:
                raise SystemExit(f"checksum mismatch at update {i}")
            top = BookTop(
                msg["arg"]["instId"], i, t0, _top(book.bids.top(5)), _top(book.asks.top(5)), ck
            )
        else:
            top = BookTop("BTC-USDT", i, mono(), fixed, fixed, 0)
        pub.send(enc.encode(top))
    # PUB drops nothing below the HWM, but a late STOP must not race the last ticks: repeat it.
    for _ in range(5):
        pub.send(enc.encode(BookTop("", STOP, 0, [], [], 0)))
        time.sleep(0.05)
    ctx.destroy(linger=1000)


async def _strategy(sub: Any, dealer: zmq.Socket[bytes], joined: Event) -> None:
    dec = msgspec.msgpack.Decoder(BookTop)
    enc = msgspec.msgpack.Encoder()
    mono, n = time.monotonic_ns, 0
    while True:
        raw = await sub.recv()
        t_b = mono()
        top = dec.decode(raw)
        if top.seq == PROBE:
            joined.set()
            continue
        if top.seq == STOP:
            dealer.send(enc.encode(NewOrder("", "", "", 0.0, 0.0, STOP, 0, 0)))
            return
        n += 1
        px = top.bids[0][0]
        dealer.send(
            enc.encode(NewOrder(f"c{n}", top.inst_id, "buy", px, 0.01, top.seq, top.ts_feed, t_b))
        )


class _SyncSock:
    """The blocking socket behind the same ``await recv()`` as FdSocket (``--mode sync``)."""

    def __init__(self, sock: zmq.Socket[bytes]) -> None:
        self.sock = sock

    async def recv(self) -> bytes:
        return self.sock.recv()

    async def recv_multipart(self) -> list[bytes]:
        return self.sock.recv_multipart()

    def close(self) -> None:
        """Nothing registered."""


def _wrap(sock: zmq.Socket[bytes], mode: str) -> FdSocket | _SyncSock:
    return FdSocket(sock) if mode == "uvloop-fd" else _SyncSock(sock)


def _run(mode: str, coro: Any) -> Any:
    if mode == "uvloop-fd":
        import uvloop

        return uvloop.run(coro)
    return asyncio.run(coro)


def strategy(ep_md: str, ep_ord: str, mode: str, joined: Event) -> None:
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect(ep_md)
    dealer = ctx.socket(zmq.DEALER)
    dealer.setsockopt(zmq.IDENTITY, b"S:floor:0001")
    dealer.connect(ep_ord)

    async def main() -> None:
        s = _wrap(sub, mode)
        await _strategy(s, dealer, joined)
        s.close()

    _run(mode, main())
    ctx.destroy(linger=1000)


def router(ep: str, mode: str, work: str, ready: Event, out: Queue[list[Row]]) -> None:
    ctx = zmq.Context()
    sock = ctx.socket(zmq.ROUTER)
    sock.bind(ep)
    ready.set()
    dec = msgspec.msgpack.Decoder(NewOrder)
    mono = time.monotonic_ns

    def wire(o: NewOrder) -> bytes:
        arg = {
            "instId": o.inst_id,
            "tdMode": "cross",
            "side": o.side,
            "ordType": "post_only",
            "px": repr(o.px),
            "sz": repr(o.sz),
            "clOrdId": o.cl_ord_id,
        }
        return msgspec.json.encode({"id": o.cl_ord_id, "op": "order", "args": [arg]})

    async def main() -> list[Row]:
        r = _wrap(sock, mode)
        rows: list[Row] = []
        while True:
            _ident, raw = await r.recv_multipart()
            t_c = mono()
            o = dec.decode(raw)
            if o.seq == STOP:
                r.close()
                return rows
            t_v = t_c
            if work == "feed":
                wire(o)
                t_v = mono()
            rows.append((o.seq, o.ts_feed, o.ts_strat, t_c, t_v))

    rows: list[Row] = _run(mode, main())
    ctx.destroy(linger=0)
    out.put(rows)


def _pct_us(vals: list[int], q: float) -> float:
    s = sorted(vals)
    return round(s[min(len(s) - 1, round(q / 100 * (len(s) - 1)))] / 1e3, 1) if s else float("nan")


def _endpoints(transport: str) -> tuple[str, str]:
    if transport == "ipc":
        d = tempfile.mkdtemp(prefix="floor-")
        return f"ipc://{d}/md", f"ipc://{d}/ord"
    ports = []
    for _ in range(2):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            ports.append(s.getsockname()[1])
    return f"tcp://127.0.0.1:{ports[0]}", f"tcp://127.0.0.1:{ports[1]}"


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.floors.pipeline")
    ap.add_argument("--transport", choices=["ipc", "tcp"], default="ipc")
    ap.add_argument("--mode", choices=["sync", "uvloop-fd"], default="uvloop-fd")
    ap.add_argument("--rate", type=float, default=1000)
    ap.add_argument("--secs", type=float, default=5)
    ap.add_argument("--warm", type=int, default=200, help="first ticks not counted")
    ap.add_argument("--work", choices=["none", "feed"], default="feed")
    a = ap.parse_args()
    ep_md, ep_ord = _endpoints(a.transport)
    n = int(a.rate * a.secs)
    spawn = mp.get_context("spawn")
    fready, rready, joined, go = spawn.Event(), spawn.Event(), spawn.Event(), spawn.Event()
    q: Queue[list[Row]] = spawn.Queue()
    procs = [
        spawn.Process(target=router, args=(ep_ord, a.mode, a.work, rready, q)),
        spawn.Process(target=feed, args=(ep_md, a.rate, n + a.warm, a.work, fready, go)),
        spawn.Process(target=strategy, args=(ep_md, ep_ord, a.mode, joined)),
    ]
    for p in procs:
        p.start()
    try:
        for ev, what in ((rready, "router"), (fready, "feed"), (joined, "strategy")):
            if not ev.wait(120):
                raise SystemExit(f"floor pipeline: {what} not ready in 120 s")
        go.set()
        rows = [r for r in q.get(timeout=a.secs + 120) if r[0] >= a.warm]
    finally:
        for p in procs:
            p.join(5)
            if p.is_alive():
                p.terminate()
                p.join(5)
        if a.transport == "ipc":
            shutil.rmtree(os.path.dirname(ep_md.removeprefix("ipc://")), ignore_errors=True)
    res: dict[str, Any] = {
        "bench": "pipeline",
        "transport": a.transport,
        "mode": a.mode,
        "rate": a.rate,
        "work": a.work,
        "expected": n,
        "received": len(rows),
    }
    series = {
        "e2e": [r[3] - r[1] for r in rows],
        "hop1": [r[2] - r[1] for r in rows],
        "hop2": [r[3] - r[2] for r in rows],
    }
    if a.work == "feed":
        series["tick_to_wire"] = [r[4] - r[1] for r in rows]
    for name, vals in series.items():
        for key, q_ in (("p50", 50), ("p90", 90), ("p99", 99), ("p999", 99.9), ("max", 100)):
            res[f"{name}.{key}_us"] = _pct_us(vals, q_)
    print("RESULT " + json.dumps(res, sort_keys=True), flush=True)


def run(rate: float, secs: float) -> dict[str, Any] | None:
    """Run this floor (feed work, uvloop-fd, ipc) as its own processes: its RESULT, or None
    after printing why to stderr."""
    root = Path(__file__).resolve().parent.parent.parent
    cmd = [sys.executable, "-m", "bench.floors.pipeline", "--rate", str(rate), "--secs", str(secs)]
    res = subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=300, check=False)
    for line in res.stdout.splitlines():
        if line.startswith("RESULT "):
            out: dict[str, Any] = json.loads(line.removeprefix("RESULT "))
            return out
    print(f"floor pipeline failed (exit {res.returncode}):\n{res.stderr[-2000:]}", file=sys.stderr)
    return None


if __name__ == "__main__":
    main()
