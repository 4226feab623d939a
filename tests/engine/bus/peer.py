"""A bus peer run as a real subprocess by the tests: ``python tests/engine/bus/peer.py MODE ...``.

Modes:
  pub IPC_DIR N        publish N retained marks + heartbeats, print "ready", serve forever
  dealer IPC_DIR NAME  connect a CommandClient, say Hello, print the reply tag, heartbeat forever
"""

from __future__ import annotations

import asyncio
import sys
from decimal import Decimal

import zmq.asyncio

from engine import topics
from engine.bus.command import CommandClient
from engine.bus.publisher import Publisher
from engine.clock import SystemClock
from engine.config import BusConfig
from engine.messages import Heartbeat, Hello, MarkPrice


async def run_pub(bus: BusConfig, n: int) -> None:
    ctx = zmq.asyncio.Context()
    clock = SystemClock()
    pub = Publisher(
        ctx,
        bus.bind_endpoint("md.pub"),
        src="peer",
        epoch=clock.now_ns(),
        clock=clock,
        snap_endpoint=bus.bind_endpoint("md.snap"),
        heartbeat_ms=50,
    )
    await pub.start()
    for i in range(n):
        pub.publish(topics.mark("BTC-USDT-SWAP"), MarkPrice("BTC-USDT-SWAP", Decimal(i), i))
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    i = n
    while True:
        await asyncio.sleep(0.02)
        pub.publish(topics.mark("BTC-USDT-SWAP"), MarkPrice("BTC-USDT-SWAP", Decimal(i), i))
        i += 1


async def run_dealer(bus: BusConfig, name: str) -> None:
    ctx = zmq.asyncio.Context()
    clock = SystemClock()
    epoch = clock.now_ns()
    client = CommandClient(
        ctx,
        bus.connect_endpoint("ord.cmd"),
        identity=f"S:{name}:{epoch}".encode(),
        src=name,
        epoch=epoch,
        clock=clock,
    )
    await client.start()
    await client.wait_connected(5)
    reply = await client.request(Hello(strategy=name, epoch=epoch, inst="X"), 5)
    sys.stdout.write(type(reply.msg).__name__ + "\n")
    sys.stdout.flush()
    while True:
        await asyncio.sleep(0.05)
        client.send(Heartbeat(strategy=name))


def main() -> None:
    mode, ipc = sys.argv[1], sys.argv[2]
    bus = BusConfig(transport="ipc", ipc_dir=ipc)
    if mode == "pub":
        asyncio.run(run_pub(bus, int(sys.argv[3])))
    elif mode == "dealer":
        asyncio.run(run_dealer(bus, sys.argv[3]))


if __name__ == "__main__":
    main()
