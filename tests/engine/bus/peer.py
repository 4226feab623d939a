"""A bus peer run as a real subprocess by the tests: ``python tests/engine/bus/peer.py MODE ...``.

Modes:
  pub IPC_DIR N        publish N retained marks + heartbeats, print "ready", serve forever
  dealer IPC_DIR NAME  connect a CommandClient, say Hello, print the reply tag, heartbeat forever
  churn IPC_DIR N      connect N DEALERs to ord.cmd one after another, each until its handshake is
                       done (a send with IMMEDIATE succeeds), then close it; print "done"
  acker IPC_DIR        serve ord.cmd: Ack every Cancel (print "acked SEQ" after the reply is
                       sent) except those whose cl_ord_id starts with "silent" (print "silent SEQ")
"""

from __future__ import annotations

import asyncio
import sys
from decimal import Decimal

import zmq.asyncio

from engine import topics
from engine.bus.command import CommandClient, CommandServer
from engine.bus.publisher import Publisher
from engine.clock import SystemClock
from engine.config import BusConfig
from engine.messages import Ack, Cancel, Heartbeat, Hello, MarkPrice


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


async def run_acker(bus: BusConfig) -> None:
    ctx = zmq.asyncio.Context()
    server = CommandServer(ctx, bus.bind_endpoint("ord.cmd"), src="acker", clock=SystemClock())
    await server.start()
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    while True:
        got = await server.recv(None)
        if got is None or not isinstance(got[1].msg, Cancel):
            continue
        identity, env = got
        if env.msg.cl_ord_id.startswith("silent"):
            sys.stdout.write(f"silent {env.seq}\n")
        else:
            server.reply(identity, Ack(cmd_seq=env.seq))
            sys.stdout.write(f"acked {env.seq}\n")
        sys.stdout.flush()


def run_churn(bus: BusConfig, n: int) -> None:
    ctx = zmq.Context()
    endpoint = bus.connect_endpoint("ord.cmd")
    for i in range(n):
        sock = ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.IMMEDIATE, 1)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.ROUTING_ID, f"churn-{i}".encode())
        sock.connect(endpoint)
        # IMMEDIATE: POLLOUT only once the server is really there (handshake done)
        if not sock.poll(10_000, zmq.POLLOUT):
            raise SystemExit(f"churn {i}: never connected")
        sock.send(b"", zmq.NOBLOCK)  # an empty body is a probe: servers skip it
        sock.close()
    sys.stdout.write("done\n")
    sys.stdout.flush()
    ctx.term()


def main() -> None:
    mode, ipc = sys.argv[1], sys.argv[2]
    bus = BusConfig(transport="ipc", ipc_dir=ipc)
    if mode == "pub":
        asyncio.run(run_pub(bus, int(sys.argv[3])))
    elif mode == "dealer":
        asyncio.run(run_dealer(bus, sys.argv[3]))
    elif mode == "churn":
        run_churn(bus, int(sys.argv[3]))
    elif mode == "acker":
        asyncio.run(run_acker(bus))


if __name__ == "__main__":
    main()
