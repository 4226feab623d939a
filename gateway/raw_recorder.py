"""Raw market-data recorder (``okxmm record --raw``): the venue's public frames, verbatim.

Subscribes ``books``, ``trades``, ``tickers`` and ``mark-price`` of every configured instrument
on the venue's public WS (OKX live or demo as the local exchange) and writes every frame with
its receive time (:mod:`ops.marketdata.rawfile`). Today's OKX sends no book snapshot on
subscribe, so a REST ``market/books`` snapshot of each instrument is recorded after the first
book push of every (re)connect and every ``snapshot_every_s``: a replay bootstraps and heals
gaps from them exactly as the live md-feed does. After the first push, not on connect: a
snapshot older than the subscription misses the updates between the two, which on a busy book
(100 updates/s) left the replay invalid until the next periodic snapshot. A separate actor
from the bus recorder: it needs no engine running.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import httpx

from engine.actor import Actor, StatusValue, run_actor
from engine.errors import ConfigError
from gateway.okx.schemas import PushArg
from gateway.okx.ws import OkxWsClient
from gateway.okx.ws_protocol import Connected, Disconnected, WsEvent
from ops.config import OkxmmConfig
from ops.marketdata.rawfile import RawWriter

__all__ = ["RawRecorder", "main"]

CHANNELS = ("books", "trades", "tickers", "mark-price")


class RawRecorder:
    """One public WS connection and a REST client feeding a :class:`RawWriter`."""

    def __init__(
        self, actor: Actor[OkxmmConfig], writer: RawWriter, snapshot_every_s: float = 60.0
    ) -> None:
        self.actor = actor
        self.writer = writer
        cfg = actor.cfg
        self.rest_url = cfg.venue.urls(cfg.exchange)[0].rstrip("/")
        self.insts = list(dict.fromkeys(cfg.instruments))
        self.snapshot_every_s = snapshot_every_s
        self.http = httpx.AsyncClient(timeout=10.0)
        self.ws = OkxWsClient(
            cfg.venue.urls(cfg.exchange)[1],
            name="record-public",
            clock=actor.clock,
            on_event=self._on_event,
            on_raw=self._on_raw,
            ping_after_s=cfg.md_feed.ping_after_s,
        )
        self.snapshots = 0
        self.snapshot_errors = 0
        self._due = asyncio.Event()  # some instrument's snapshot is due
        self._due_insts: set[str] = set()  # whose first book push of this session came
        self._await_book: set[str] = set()  # insts connected but without a book push yet
        actor.add_status(self.status)

    def _on_raw(self, frame: str | bytes) -> None:
        if frame in ("pong", b"pong"):
            return
        self.writer.write(self.actor.clock.now_ns(), "ws:public", frame)
        if self._await_book:
            self._first_book(frame if isinstance(frame, str) else frame.decode(errors="replace"))

    def _first_book(self, text: str) -> None:
        """A session's first book push of an instrument makes its snapshot due."""
        head = text[:200]
        if '"channel":"books"' not in head or '"event"' in head:
            return
        for inst in list(self._await_book):
            if f'"instId":"{inst}"' in head:
                self._await_book.discard(inst)
                self._due_insts.add(inst)
                self._due.set()

    def _on_event(self, ev: WsEvent) -> None:
        if isinstance(ev, Connected):
            self._await_book = set(self.insts)
        elif isinstance(ev, Disconnected):
            self.writer.write(self.actor.clock.now_ns(), "note", f"disconnected: {ev.reason}")

    async def _snapshot(self, inst: str) -> None:
        url = f"{self.rest_url}/api/v5/market/books"
        try:
            r = await self.http.get(url, params={"instId": inst, "sz": "400"})
        except httpx.HTTPError as exc:
            self.snapshot_errors += 1
            self.actor.log.warning("book snapshot failed", inst=inst, error=type(exc).__name__)
            return
        if r.status_code != 200:
            self.snapshot_errors += 1
            self.actor.log.warning("book snapshot refused", inst=inst, status=r.status_code)
            return
        # the request names the instrument; OKX's answer does not: keep both, verbatim
        self.writer.write(self.actor.clock.now_ns(), f"rest:books:{inst}", r.text)
        self.snapshots += 1

    async def _instruments(self) -> None:
        """The instruments' rules (tick, lot, ctVal), once: a backtest needs them."""
        for inst_type in sorted({_inst_type(i) for i in self.insts}):
            url = f"{self.rest_url}/api/v5/public/instruments"
            try:
                r = await self.http.get(url, params={"instType": inst_type})
            except httpx.HTTPError as exc:
                self.actor.log.warning("instruments not recorded", error=type(exc).__name__)
                continue
            if r.status_code == 200:
                self.writer.write(
                    self.actor.clock.now_ns(), f"rest:instruments:{inst_type}", r.text
                )

    async def _snapshots(self) -> None:
        await self._instruments()
        while True:
            due: set[str] | list[str] = self.insts  # the periodic round: all of them
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.snapshot_every_s):
                    await self._due.wait()
                    due, self._due_insts = self._due_insts, set()
            self._due.clear()
            for inst in [i for i in self.insts if i in due]:
                await self._snapshot(inst)

    async def _flusher(self) -> None:
        while True:
            await asyncio.sleep(1.0)  # a quiet market still reaches the disk every second
            self.writer.flush()

    def status(self) -> dict[str, StatusValue]:
        return {
            "frames": self.writer.frames,
            "members": self.writer.members,
            "files": len(self.writer.files),
            "snapshots": self.snapshots,
            "snapshot_errors": self.snapshot_errors,
            "ws_reconnects": self.ws.reconnects,
        }

    async def run(self) -> None:
        self.ws.subscribe([PushArg(channel=c, instId=i) for i in self.insts for c in CHANNELS])
        actor = self.actor
        actor.spawn(self.ws.run(), "ws-public")
        actor.spawn(self._snapshots(), "snapshots")
        actor.spawn(self._flusher(), "flusher")
        actor.log.info("recording raw market data", dir=str(self.writer.dir), insts=self.insts)
        try:
            await actor.stopping.wait()
        finally:
            await self.ws.close()
            await self.http.aclose()
            self.writer.close()


def _inst_type(inst: str) -> str:
    parts = inst.split("-")
    if len(parts) == 2:
        return "SPOT"
    if parts[-1] == "SWAP":
        return "SWAP"
    return "FUTURES" if len(parts) == 3 else "OPTION"


def main(cfg: OkxmmConfig, *, out: str | None, snapshot_every_s: float = 60.0) -> int:
    """Record until stopped into ``out`` (default ``<var_dir>/marketdata``)."""
    directory = Path(out) if out else Path(cfg.var_dir) / "marketdata"
    try:
        writer = RawWriter(directory)
    except OSError as exc:
        raise ConfigError([("--out", f"cannot write {directory}: {exc.strerror}")]) from None

    async def record(actor: Actor[OkxmmConfig]) -> None:
        await RawRecorder(actor, writer, snapshot_every_s).run()

    return run_actor(
        "recorder-raw", cfg, record, ctl_endpoint=cfg.bus.bind_endpoint("ctl.recorder-raw")
    )
