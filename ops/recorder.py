"""Recorder actor: subscribes to every publisher and writes a journal (``okxmm record``).

Inbox: md.pub, acct.pub, ord.pub, risk.pub (everything, heartbeats included).
Outbox: the journal file.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import zmq
import zmq.asyncio

from engine.actor import Actor, run_actor
from engine.bus.sockets import configure_sub, connect, recv_frames
from engine.errors import ConfigError
from ops.config import OkxmmConfig, load_config
from ops.journal_file import JournalRecord, JournalWriter
from ops.tap import PUBLISHERS

__all__ = ["main"]


def main(cfg: OkxmmConfig, *, out: str | None) -> int:
    """Record until stopped; ``out`` defaults to ``<var_dir>/journal/bus.journal``."""
    path = Path(out) if out else Path(cfg.var_dir) / "journal" / "bus.journal"
    try:  # before the actor starts: a path we cannot write is the operator's to fix
        writer = JournalWriter(path)
    except OSError as exc:
        raise ConfigError([("--out", f"cannot write {path}: {exc.strerror}")]) from None

    async def record(actor: Actor[OkxmmConfig]) -> None:
        socks: list[tuple[str, zmq.asyncio.Socket]] = []
        for bus, endpoint in PUBLISHERS.items():
            sock = actor.ctx.socket(zmq.SUB)
            configure_sub(sock)
            sock.setsockopt(zmq.SUBSCRIBE, b"")
            connect(sock, cfg.bus.connect_endpoint(endpoint))
            socks.append((bus, sock))

        async def pump(bus: str, sock: zmq.asyncio.Socket) -> None:
            while True:
                frames = await recv_frames(sock, None)
                if frames and len(frames) == 2:
                    writer.write(JournalRecord(bus, frames[0], frames[1], actor.clock.now_ns()))

        actor.add_status(lambda: {"recorded": writer.written, "journal": str(path)})
        for bus, sock in socks:
            actor.spawn(pump(bus, sock), f"record-{bus}")
        try:
            await actor.stopping.wait()
        finally:
            await actor.cancel_tasks()
            writer.close()
            for _, sock in socks:
                sock.close(linger=0)
            actor.log.info("journal closed", path=str(path), records=writer.written)

    return run_actor("recorder", cfg, record, ctl_endpoint=cfg.bus.bind_endpoint("ctl.recorder"))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m ops.recorder")
    parser.add_argument("--config")
    parser.add_argument("--out")
    ns = parser.parse_args()
    try:
        sys.exit(main(load_config(ns.config), out=ns.out))
    except ConfigError as exc:
        sys.stderr.write(f"{exc}\n")
        sys.exit(2)
