"""A tiny test strategy, run as a real process by the router's acceptance tests.

Connects to the router with the real ``CommandClient`` (routing id ``S:<name>:<epoch>``), says
Hello, rests ``--orders`` post-only orders far from the touch (all acked by the venue), writes
``READY <short_id>`` on stdout, then either keeps heartbeating from its event loop
(``--mode heartbeat``) or hangs its event loop in a busy loop (``--mode busy``).

If the router fences it (e.g. after SIGSTOP/SIGCONT) it writes ``FENCED <reason>`` and exits 3.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from decimal import Decimal

import zmq.asyncio

from engine.bus.command import CommandClient, CommandSendError
from engine.clock import SystemClock
from engine.messages import Ack, Fenced, Heartbeat, Hello, NewOrder, OrdType, Side, Welcome
from engine.orders.clordid import ClOrdIdSequence


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def _heartbeats(client: CommandClient, name: str, period_s: float) -> None:
    while True:
        # router away (restarting): keep beating, the DEALER reconnects by itself
        with contextlib.suppress(CommandSendError):
            client.send(Heartbeat(strategy=name))
        await asyncio.sleep(period_s)


async def _run(args: argparse.Namespace) -> int:
    ctx = zmq.asyncio.Context()
    clock = SystemClock()
    client = CommandClient(
        ctx,
        args.endpoint,
        identity=f"S:{args.name}:{args.epoch}".encode(),
        src=args.name,
        epoch=args.epoch,
        clock=clock,
        sndhwm=100,
    )
    await client.start()
    try:
        await client.wait_connected(10.0)
        env = await client.request(
            Hello(strategy=args.name, epoch=args.epoch, inst=args.inst), 10.0
        )
        if not isinstance(env.msg, Welcome):
            _say(f"FENCED {getattr(env.msg, 'reason', '')}")
            return 3
        ids = ClOrdIdSequence(env.msg.short_id, args.epoch)
        hb = asyncio.get_running_loop().create_task(_heartbeats(client, args.name, 0.05))
        px0 = Decimal(args.px)
        step = Decimal(args.step)
        side = Side(args.side)
        reqs = [
            client.request(
                NewOrder(
                    cl_ord_id=ids.next(),
                    inst=args.inst,
                    side=side,
                    ord_type=OrdType.POST_ONLY,
                    sz=Decimal(args.sz),
                    px=px0 - step * i if side is Side.BUY else px0 + step * i,
                ),
                args.timeout,
            )
            for i in range(args.orders)
        ]
        replies = await asyncio.gather(*reqs)
        acked_ids = [r.msg.cl_ord_id for r in replies if isinstance(r.msg, Ack)]
        acked = len(acked_ids)
        if args.allow_rejects:
            _say(f"READY {env.msg.short_id} {','.join(acked_ids)}")
        elif acked != args.orders:
            _say(f"NOTREADY {acked} {[r.msg for r in replies if not isinstance(r.msg, Ack)][:2]}")
            return 2
        else:
            _say(f"READY {env.msg.short_id}")
        if args.mode == "busy":
            hb.cancel()
            spin = 0
            while True:  # the event loop hangs; libzmq's I/O thread still answers ZMTP pings
                spin += 1
        while True:
            got = await client.recv(1.0)
            if got is not None and isinstance(got.msg, Fenced):
                _say(f"FENCED {got.msg.reason}")
                hb.cancel()
                return 3
    finally:
        await client.close()
        ctx.destroy(linger=0)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--endpoint", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--epoch", type=int, required=True)
    p.add_argument("--inst", default="BTC-USDT-SWAP")
    p.add_argument("--orders", type=int, default=40)
    p.add_argument("--px", required=True)
    p.add_argument("--step", default="1")
    p.add_argument("--sz", default="1")
    p.add_argument("--side", default="buy")
    p.add_argument("--allow-rejects", action="store_true", help="READY lists the acked ids")
    p.add_argument("--timeout", type=float, default=10.0)
    p.add_argument("--mode", choices=["heartbeat", "busy"], default="heartbeat")
    return asyncio.run(_run(p.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
