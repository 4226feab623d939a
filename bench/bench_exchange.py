"""Local exchange benchmark: WS order place→ack throughput and latency, book updates published.

The exchange runs as its own process (``python -m ops.exchange``, rate limits off). Floor: a bare
aiohttp WS server in its own process that answers every text frame with a canned ack, driven by
the same client. Target (issue): ≥ 5 000 orders/s acknowledged.

Prints a markdown section; ``python -m bench`` collects it into docs/perf.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing as mp
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import websockets
import yaml

from bench.stats import pct, table
from ops.exchange.testing import ws_login_args

ACCT = ("bench-key", "bench-secret", "bench-pass")
INST = "BTC-USDT-SWAP"
ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------------------------- floor
def _echo_server(port: int, ready: mp.synchronize.Event) -> None:
    from aiohttp import web

    ack = json.dumps(
        {
            "id": "1",
            "op": "order",
            "code": "0",
            "msg": "",
            "data": [{"clOrdId": "", "ordId": "1", "tag": "", "ts": "1", "sCode": "0", "sMsg": ""}],
        }
    )

    async def handle(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(compress=False)
        await ws.prepare(request)
        async for _ in ws:
            await ws.send_str(ack)
        return ws

    async def main() -> None:
        app = web.Application()
        app.add_routes([web.get("/ws", handle)])
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        ready.set()
        await asyncio.Event().wait()

    import uvloop

    uvloop.run(main())


# ---------------------------------------------------------------------------------- client
def _order(i: int) -> str:
    return json.dumps(
        {
            "id": f"o{i}",
            "op": "order",
            "args": [
                {
                    "instId": INST,
                    "tdMode": "cross",
                    "side": "buy" if i % 2 else "sell",
                    "ordType": "limit",
                    "px": "30000" if i % 2 else "90000",
                    "sz": "0.01",
                    "clOrdId": f"b{i}",
                }
            ],
        }
    )


def _batch(i: int) -> str:
    return json.dumps(
        {
            "id": f"b{i}",
            "op": "batch-orders",
            "args": [
                {
                    "instId": INST,
                    "tdMode": "cross",
                    "side": "buy",
                    "ordType": "limit",
                    "px": "30000",
                    "sz": "0.01",
                    "clOrdId": f"bb{i}x{k}",
                }
                for k in range(20)
            ],
        }
    )


async def _acks(ws: websockets.ClientConnection, n: int) -> None:
    got = 0
    while got < n:
        raw = str(await ws.recv())
        if '"op"' in raw[:40] or raw.startswith('{"id"'):
            got += 1


async def throughput(url: str, n: int, window: int, make: object, login: bool) -> float:
    """Ops/s with ``window`` requests in flight."""
    async with websockets.connect(url, max_queue=None, compression=None) as ws:
        if login:
            await ws.send(json.dumps({"op": "login", "args": [ws_login_args(ACCT)]}))
            await ws.recv()
            await ws.send(
                json.dumps({"op": "subscribe", "args": [{"channel": "orders", "instType": "ANY"}]})
            )
        msgs = [make(i) for i in range(n)]  # type: ignore[operator]
        t0 = time.perf_counter()
        reader = asyncio.create_task(_acks(ws, n))
        sent = 0
        # simple window: send in chunks, let the reader catch up
        while sent < n:
            chunk = msgs[sent : sent + window]
            for m in chunk:
                await ws.send(m)
            sent += len(chunk)
            await asyncio.sleep(0)
        await asyncio.wait_for(reader, 120)
        return n / (time.perf_counter() - t0)


async def latency(url: str, n: int, login: bool, offset: int) -> list[float]:
    """Place→ack µs, one request in flight."""
    out = []
    async with websockets.connect(url, max_queue=None, compression=None) as ws:
        if login:
            await ws.send(json.dumps({"op": "login", "args": [ws_login_args(ACCT)]}))
            await ws.recv()
        for i in range(n):
            m = _order(offset + i)
            t0 = time.perf_counter_ns()
            await ws.send(m)
            while True:
                raw = str(await ws.recv())
                if raw.startswith('{"id"'):
                    break
            out.append((time.perf_counter_ns() - t0) / 1000)
    return sorted(out)


async def book_rate(url: str, secs: float) -> float:
    async with websockets.connect(url, max_queue=None, compression=None) as ws:
        insts = ["BTC-USDT", "ETH-USDT", "BTC-USDT-SWAP", "ETH-USDT-SWAP"]
        await ws.send(
            json.dumps(
                {"op": "subscribe", "args": [{"channel": "books", "instId": i} for i in insts]}
            )
        )
        n = 0
        t_end = time.perf_counter() + secs
        while time.perf_counter() < t_end:
            try:
                raw = await asyncio.wait_for(ws.recv(), 1.0)
            except TimeoutError:
                continue
            if '"action":"update"' in raw:
                n += 1
        return n / secs


def capacity(steps: int) -> tuple[float, float]:
    """In-process: market steps/s and book updates/s the venue can produce (4 instruments)."""
    from engine.clock import FakeClock
    from ops.exchange.config import AccountSpec, ExchangeConfig
    from ops.exchange.venue import Venue

    clock = FakeClock()
    v = Venue(
        ExchangeConfig(realtime=False),
        clock,
        [AccountSpec(api_key=ACCT[0], secret=ACCT[1], passphrase=ACCT[2])],
    )
    seq0 = sum(f.seq for f in v.feeds.values())
    t0 = time.perf_counter()
    for _ in range(steps):
        clock.advance(100_000_000)
        v.step(1)
    dt = time.perf_counter() - t0
    updates = sum(f.seq for f in v.feeds.values()) - seq0
    return steps / dt, updates / dt


def _wait_ready(proc: subprocess.Popen[bytes], port: int) -> None:
    with httpx.Client() as c:
        for _ in range(400):
            if proc.poll() is not None:
                raise RuntimeError("exchange exited")
            try:
                if c.get(f"http://127.0.0.1:{port}/admin/health").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(0.05)
    raise TimeoutError("exchange not ready")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true")
    args = p.parse_args()
    n = 5_000 if args.quick else 30_000
    n_lat = 1_000 if args.quick else 5_000
    secs = 3.0 if args.quick else 10.0

    import uvloop

    # floor
    fport = _free_port()
    ready = mp.Event()
    floor = mp.Process(target=_echo_server, args=(fport, ready), daemon=True)
    floor.start()
    ready.wait(10)
    furl = f"ws://127.0.0.1:{fport}/ws"
    f_thru = uvloop.run(throughput(furl, n, 200, _order, False))
    f_lat = uvloop.run(latency(furl, n_lat, False, 0))
    floor.terminate()

    # exchange
    port = _free_port()
    tmp = Path(tempfile.mkdtemp(prefix="okxmm-bench-ex-"))
    cfg = tmp / "ex.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "log_dir": str(tmp),
                "exchange": {
                    "rate_limits": False,
                    "max_pending_per_inst": 10_000_000,
                    "max_pending_per_account": 10_000_000,
                    "start_balances": {"USDT": "1000000000000", "BTC": "100000", "ETH": "1000000"},
                },
            }
        )
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ops.exchange",
            "--config",
            str(cfg),
            "--port",
            str(port),
            "--account",
            ":".join(ACCT),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_ready(proc, port)
        priv = f"ws://127.0.0.1:{port}/ws/v5/private"
        thru = uvloop.run(throughput(priv, n, 200, _order, True))
        bthru = uvloop.run(throughput(priv, max(n // 20, 100), 10, _batch, True)) * 20
        lat = uvloop.run(latency(priv, n_lat, True, 10_000_000))
        books = uvloop.run(book_rate(f"ws://127.0.0.1:{port}/ws/v5/public", secs))
    finally:
        proc.terminate()
        proc.wait(10)
    steps_s, upd_s = capacity(300 if args.quick else 2000)

    rows = [
        [
            "WS `order` place→ack, 200 in flight (orders/s)",
            f"{thru:,.0f}",
            f"{f_thru:,.0f}",
            f"{thru / f_thru:.2f}",
        ],
        ["WS `batch-orders` ×20, 10 in flight (orders/s)", f"{bthru:,.0f}", "", ""],
        [
            "place→ack p50, one in flight (µs)",
            f"{pct(lat, 50):.0f}",
            f"{pct(f_lat, 50):.0f}",
            f"{pct(lat, 50) / pct(f_lat, 50):.2f}",
        ],
        [
            "place→ack p99 (µs)",
            f"{pct(lat, 99):.0f}",
            f"{pct(f_lat, 99):.0f}",
            f"{pct(lat, 99) / pct(f_lat, 99):.2f}",
        ],
        ["books updates/s published (4 instruments, real time)", f"{books:,.0f}", "", ""],
        ["book updates/s capacity (in-process steps, 4 instruments)", f"{upd_s:,.0f}", "", ""],
        ["market steps/s capacity (4 instruments, 400 levels each)", f"{steps_s:,.0f}", "", ""],
    ]
    verdict = "meets" if min(thru, bthru) >= 5000 else "MISSES"
    print("## exchange\n")
    print(
        f"Local OKX exchange, separate process, rate limits off; floor = bare aiohttp WS "
        f"echo server. Target ≥ 5 000 orders/s acknowledged: **{verdict}** "
        f"(single ops {thru:,.0f}/s, batches {bthru:,.0f}/s).\n"
    )
    print(table(["metric", "exchange", "floor", "ratio"], rows))


if __name__ == "__main__":
    main()
