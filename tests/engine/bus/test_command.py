"""Commands over real DEALER/ROUTER sockets: ack, timeout, IMMEDIATE, crash detection by probe."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest
import zmq
import zmq.asyncio

from engine.bus.command import CommandClient, CommandSendError, CommandServer
from engine.clock import SystemClock
from engine.config import BusConfig
from engine.messages import Ack, Cancel, Fenced, Hello, Reject, StrategyLimits, Welcome

PEER = Path(__file__).with_name("peer.py")


@pytest.fixture
async def ctx() -> AsyncIterator[zmq.asyncio.Context]:
    c = zmq.asyncio.Context()
    yield c
    c.destroy(linger=0)


def limits() -> StrategyLimits:
    return StrategyLimits(Decimal(1), Decimal(1), 1, 1)


def new_client(
    ctx: zmq.asyncio.Context, bus: BusConfig, name: str, epoch: int = 1, **kw: int
) -> CommandClient:
    """A client of ``ord.cmd`` named like a strategy worker (``S:name:epoch``), not started."""
    return CommandClient(
        ctx,
        bus.connect_endpoint("ord.cmd"),
        identity=f"S:{name}:{epoch}".encode(),
        src=name,
        epoch=epoch,
        clock=SystemClock(),
        **kw,
    )


@pytest.fixture
async def pair(
    ctx: zmq.asyncio.Context, bus_config: BusConfig
) -> AsyncIterator[tuple[CommandServer, CommandClient]]:
    """A started server and a client connected to it (identity ``S:a:1``)."""
    clock = SystemClock()
    server = CommandServer(ctx, bus_config.bind_endpoint("ord.cmd"), src="router", clock=clock)
    await server.start()
    client = new_client(ctx, bus_config, "a")
    await client.start()
    await client.wait_connected(2)
    yield server, client
    await client.close()
    await server.close()


async def test_request_gets_its_ack_and_reject_by_cmd_seq(
    pair: tuple[CommandServer, CommandClient],
) -> None:
    server, client = pair

    async def serve() -> None:
        for _ in range(2):
            got = await server.recv(2)
            assert got is not None
            identity, env = got
            assert identity == b"S:a:1"
            assert isinstance(env.msg, Cancel)
            reply = Ack(cmd_seq=env.seq) if env.msg.cl_ord_id == "ok" else Reject(env.seq, "nope")
            assert server.reply(identity, reply)

    task = asyncio.create_task(serve())
    ok = await client.request(Cancel(cl_ord_id="ok", inst="X"), 2)
    bad = await client.request(Cancel(cl_ord_id="bad", inst="X"), 2)
    await task
    assert isinstance(ok.msg, Ack)
    assert isinstance(bad.msg, Reject)
    assert bad.msg.reason == "nope"


async def test_request_times_out_when_nobody_answers(
    pair: tuple[CommandServer, CommandClient],
) -> None:
    _server, client = pair
    with pytest.raises(TimeoutError):
        await client.request(Cancel(cl_ord_id="x", inst="X"), 0.2)


async def test_no_commands_queued_while_server_is_down(
    ctx: zmq.asyncio.Context, bus_config: BusConfig
) -> None:
    """IMMEDIATE: with no server, send fails at once; a server started later receives nothing."""
    clock = SystemClock()
    client = new_client(ctx, bus_config, "a")
    await client.start()
    with pytest.raises(CommandSendError):
        client.send(Cancel(cl_ord_id="stale", inst="X"))
    server = CommandServer(ctx, bus_config.bind_endpoint("ord.cmd"), src="router", clock=clock)
    await server.start()
    await client.wait_connected(2)
    client.send(Cancel(cl_ord_id="fresh", inst="X"))
    got = await server.recv(2)
    assert got is not None
    assert isinstance(got[1].msg, Cancel)
    assert got[1].msg.cl_ord_id == "fresh"
    await client.close()
    await server.close()


@pytest.mark.slow
async def test_killed_client_process_is_reported_by_probe_within_milliseconds(
    ctx: zmq.asyncio.Context, bus_config: BusConfig, tmp_path: Path
) -> None:
    clock = SystemClock()
    gone: asyncio.Queue[tuple[bytes, int]] = asyncio.Queue()
    server = CommandServer(
        ctx,
        bus_config.bind_endpoint("ord.cmd"),
        src="router",
        clock=clock,
        on_disconnect=lambda ident: gone.put_nowait((ident, clock.monotonic_ns())),
    )
    await server.start()
    # The child's stderr goes to a file: inheriting pytest's captured fd made it stall at times.
    err = (tmp_path / "peer.err").open("w")
    proc = subprocess.Popen(
        [sys.executable, str(PEER), "dealer", bus_config.ipc_dir, "victim"],
        stdout=subprocess.PIPE,
        stderr=err,
        text=True,
    )
    try:
        got = await server.recv(10)
        assert got is not None
        identity, env = got
        assert isinstance(env.msg, Hello)
        assert server.reply(identity, Welcome("victim", env.msg.epoch, "v1", limits()))
        line = await asyncio.to_thread(proc.stdout.readline)  # type: ignore[union-attr]
        assert line.strip() == "Welcome"
        killed_ns = clock.monotonic_ns()
        proc.send_signal(signal.SIGKILL)
        async with asyncio.timeout(2):
            while True:
                await server.recv(0.01)  # keep draining heartbeats
                if not gone.empty():
                    break
        ident, seen_ns = gone.get_nowait()
        assert ident == identity
        assert (seen_ns - killed_ns) / 1e6 < 100
        assert not server.reply(identity, Ack(cmd_seq=1))
    finally:
        proc.kill()
        proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()
        err.close()
        await server.close()


async def test_hello_refused_with_reject_resolves_the_request(
    pair: tuple[CommandServer, CommandClient],
) -> None:
    """A Hello the server refuses (bad fields) is answered by a Reject: no 10 s timeout."""
    server, client = pair

    async def refuse() -> None:
        got = await server.recv(2)
        assert got is not None
        assert isinstance(got[1].msg, Hello)
        assert server.reply(got[0], Reject(got[1].seq, "strategy name taken"))

    task = asyncio.create_task(refuse())
    reply = await client.request(Hello(strategy="h", epoch=1, inst="BTC-USDT-SWAP"), 2)
    await task
    assert isinstance(reply.msg, Reject)
    assert reply.msg.reason == "strategy name taken"


async def test_pending_sees_a_queued_command_without_awaiting(
    pair: tuple[CommandServer, CommandClient],
) -> None:
    server, client = pair
    assert not server.pending()
    for i in range(3):
        client.send(Cancel(cl_ord_id=f"c{i}", inst="X"))
    async with asyncio.timeout(2):
        # pending() is a non-awaitable peek (that is what is tested): poll it
        while not server.pending():  # noqa: ASYNC110
            await asyncio.sleep(0.001)
    got = [await server.recv(0) for _ in range(3)]
    assert [g[1].msg.cl_ord_id for g in got if g is not None and isinstance(g[1].msg, Cancel)] == [
        "c0",
        "c1",
        "c2",
    ]
    assert not server.pending()


async def test_server_keeps_reading_while_replies_and_peeks_interleave(
    pair: tuple[CommandServer, CommandClient],
) -> None:
    """Replies (sync sends) and pending() peeks from other coroutines must never swallow the
    edge-triggered wake-up of a receive awaited meanwhile (it once stalled the router)."""
    server, client = pair
    n = 3000
    got: list[int] = []

    async def read() -> None:
        while len(got) < n:
            item = await server.recv(None)
            assert item is not None
            got.append(item[1].seq)
            await asyncio.sleep(0)  # let the other coroutines act while a receive is awaited

    async def poke() -> None:
        while len(got) < n:
            server.pending()
            server.reply(b"S:a:1", Ack(cmd_seq=0))
            await asyncio.sleep(0)

    async def drain_replies() -> None:
        while len(got) < n:
            await client.recv(0.01)

    async def send() -> None:
        for i in range(n):
            while True:
                try:
                    client.send(Cancel(cl_ord_id=f"c{i}", inst="X"))
                    break
                except CommandSendError:  # HWM: the reader is behind, let it catch up
                    await asyncio.sleep(0.001)
            if i % 7 == 0:
                await asyncio.sleep(0)

    async with asyncio.timeout(20):
        await asyncio.gather(read(), poke(), drain_replies(), send())
    assert len(got) == n
    assert got == sorted(got)  # in order, none lost


async def test_short_recv_timeouts_never_lose_a_reply(
    pair: tuple[CommandServer, CommandClient],
) -> None:
    """Many tiny recv timeouts racing many replies: none lost, none twice."""
    server, client = pair
    n = 500
    client.send(Cancel(cl_ord_id="hello", inst="X"))
    got = await server.recv(2)
    assert got is not None
    identity = got[0]

    async def replies() -> None:
        for i in range(n):
            assert server.reply(identity, Ack(cmd_seq=10_000 + i))
            if i % 3 == 0:
                await asyncio.sleep(0.0005)

    task = asyncio.create_task(replies())
    seen: list[int] = []
    async with asyncio.timeout(20):
        while len(seen) < n:
            env = await client.recv(0.0003)  # often expires while a reply is arriving
            if env is not None:
                assert isinstance(env.msg, Ack)
                seen.append(env.msg.cmd_seq)
    await task
    assert seen == [10_000 + i for i in range(n)]


async def test_reply_that_arrives_during_a_later_send_is_still_read(
    ctx: zmq.asyncio.Context, bus_config: BusConfig, tmp_path: Path
) -> None:
    """The client reads replies from a callback on the edge-triggered ZMQ_FD. A reply that lands
    while the loop is busy, followed by a send before the loop polls again, has its wake-up
    consumed by that send: the request must still resolve although no later reply comes."""
    err = (tmp_path / "acker.err").open("w")
    proc = subprocess.Popen(
        [sys.executable, str(PEER), "acker", bus_config.ipc_dir],
        stdout=subprocess.PIPE,
        stderr=err,
        text=True,
    )
    assert proc.stdout is not None
    client = new_client(ctx, bus_config, "edge")
    try:
        assert (await asyncio.to_thread(proc.stdout.readline)).strip() == "ready"
        await client.start()
        await client.wait_connected(5)
        for i in range(50):
            pending = asyncio.create_task(client.request(Cancel(cl_ord_id=f"a{i}", inst="X"), 2))
            await asyncio.sleep(0)  # the request task runs up to its await: command sent
            # Block the loop (on purpose) until the acker has sent the reply, then send a
            # command nobody answers: that send processes the socket's mailbox, as it would in
            # a busy strategy that sends again before its loop polls.
            assert proc.stdout.readline().startswith("acked")
            client.send(Cancel(cl_ord_id=f"silent{i}", inst="X"))
            reply = await pending
            assert isinstance(reply.msg, Ack)
            assert (await asyncio.to_thread(proc.stdout.readline)).startswith("silent")
    finally:
        await client.close()
        proc.kill()
        proc.wait()
        proc.stdout.close()
        err.close()


async def test_unread_replies_are_bounded_newest_kept(
    ctx: zmq.asyncio.Context, bus_config: BusConfig
) -> None:
    """A caller that never reads its unawaited replies (the supervisor) cannot grow the inbox
    without end: the oldest are dropped and counted."""
    clock = SystemClock()
    server = CommandServer(ctx, bus_config.bind_endpoint("ord.cmd"), src="router", clock=clock)
    await server.start()
    client = new_client(ctx, bus_config, "b", inbox_max=5)
    await client.start()
    try:
        await client.wait_connected(2)
        client.send(Cancel(cl_ord_id="hello", inst="X"))
        got = await server.recv(2)
        assert got is not None
        for i in range(20):
            assert server.reply(got[0], Ack(cmd_seq=100 + i))
        async with asyncio.timeout(2):
            # the FD callback has no awaitable of its own: watch its counter
            while client.inbox_dropped < 15:  # noqa: ASYNC110
                await asyncio.sleep(0.001)
        kept = [await client.recv(0) for _ in range(5)]
        assert [e.msg.cmd_seq for e in kept if e is not None and isinstance(e.msg, Ack)] == [
            115,
            116,
            117,
            118,
            119,
        ]
        assert await client.recv(0) is None
        assert client.inbox_dropped == 15
    finally:
        await client.close()
        await server.close()


async def test_server_keeps_answering_while_thousands_of_clients_come_and_go(
    ctx: zmq.asyncio.Context, bus_config: BusConfig
) -> None:
    """Workers rejoin and restart for the router's whole life. Two ways this once went silent:
    a probe to a just-closed client raised before the server re-armed its receive (the next
    client's Hello sat unread), and after 2000 disconnects the monitor queue filled, which
    blocks libzmq's I/O thread. 2100 join/leave cycles must each be answered at once."""
    clock = SystemClock()
    server = CommandServer(ctx, bus_config.bind_endpoint("ord.cmd"), src="router", clock=clock)
    await server.start()

    async def serve() -> None:
        while True:
            got = await server.recv(None)
            assert got is not None
            identity, env = got
            if isinstance(env.msg, Hello):
                assert server.reply(identity, Welcome("w", env.msg.epoch, "001", limits()))
                assert server.reply(identity, Fenced("w", env.msg.epoch, "next"))

    serving = asyncio.create_task(serve())
    previous: CommandClient | None = None
    try:
        for epoch in range(1, 2101):
            client = new_client(ctx, bus_config, "w", epoch)
            await client.start()
            if previous is not None:
                await previous.close()  # after the new one exists: what a rejoin does
            previous = client
            await client.wait_connected(2)
            reply = await client.request(Hello(strategy="w", epoch=epoch, inst="X"), 2)
            assert isinstance(reply.msg, Welcome), epoch
            fenced = await client.recv(2)
            assert fenced is not None
            assert isinstance(fenced.msg, Fenced), epoch
    finally:
        serving.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await serving
        if previous is not None:
            await previous.close()
        await server.close()


async def test_a_stalled_server_loop_never_blocks_its_io_thread_on_monitor_events(
    ctx: zmq.asyncio.Context, bus_config: BusConfig, tmp_path: Path
) -> None:
    """libzmq writes monitor events with a blocking send from its I/O thread. While the
    router's loop is stalled, 2100 clients connect and leave (more than the 2000 events a
    default monitor pipe holds): every one must still get through, and the router answer a
    new client afterwards."""
    clock = SystemClock()
    server = CommandServer(ctx, bus_config.bind_endpoint("ord.cmd"), src="router", clock=clock)
    await server.start()
    err = (tmp_path / "churn.err").open("w")
    try:
        # run synchronously on purpose: this loop (the server's) does nothing meanwhile
        churn = subprocess.run(
            [sys.executable, str(PEER), "churn", bus_config.ipc_dir, "2100"],
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            timeout=60,
            check=False,
        )
        assert churn.returncode == 0, (tmp_path / "churn.err").read_text()[-2000:]
        assert churn.stdout.strip() == "done"
        client = new_client(ctx, bus_config, "after")
        await client.start()
        await client.wait_connected(5)
        client.send(Cancel(cl_ord_id="after", inst="X"))
        async with asyncio.timeout(10):
            while True:  # the churners' probes come first: servers skip them
                got = await server.recv(None)
                assert got is not None
                if got[0] == b"S:after:1":
                    break
        assert isinstance(got[1].msg, Cancel)
        await client.close()
    finally:
        err.close()
        await server.close()
