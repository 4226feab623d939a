"""Prometheus metrics of one actor: read at scrape time, served over HTTP from the actor's loop.

Cheap on the hot paths by construction: most series are *read* from the counters an actor
already keeps for ``ctl status`` when Prometheus scrapes (a provider per actor, called on the
event loop, so it sees consistent state without locks). Latencies are :class:`Histogram`s whose
``observe_ns`` is a bisect and two additions. A scrape writes the text exposition (0.0.4)
itself; prometheus-client only supplies the process series (RSS, CPU, open fds) and is imported
at the first scrape, so an actor with metrics off never loads it. Every series carries the
``actor`` label, the process ones too, so a target's series name their actor whatever the scrape
config says. Label values must come from bounded sets (instruments, strategies, codes): never
an order id.
"""

from __future__ import annotations

import asyncio
import contextlib
from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

from loguru import logger
from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

__all__ = [
    "LATENCY_BUCKETS_S",
    "ActorMetrics",
    "BusSubscriber",
    "Histogram",
    "MetricsConfig",
    "MetricsServer",
    "Snapshot",
    "subscriber_series",
]

# Text exposition 0.0.4: what every Prometheus 2.x parses.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# 50 µs .. 5 s: tick-to-order is tens of µs, a venue ack tens of ms.
LATENCY_BUCKETS_S: tuple[float, ...] = (
    0.00005,
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
)

# Fixed offsets from ``port_base`` per stable actor; workers from WORKER_OFFSET by config index.
_OFFSETS: dict[str, int] = {
    "supervisor": 0,
    "exchange": 1,
    "md-feed": 2,
    "private-gw": 3,
    "router": 4,
    "risk": 5,
    "alerts": 6,
    "recorder": 7,
}
WORKER_OFFSET = 10


class MetricsConfig(BaseModel):
    """``metrics:``: each actor serves ``/metrics`` on ``host:port_base + offset``.

    ``port`` pins this one process's port (``okxmm up`` passes each child its own through
    ``OKXMM_METRICS__PORT``); 0 lets the system choose (``ctl status`` shows ``metrics_port``)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    host: str = "127.0.0.1"
    port_base: int = Field(default=9400, ge=1, le=65535)
    port: int | None = Field(default=None, ge=0, le=65535)
    ports: dict[str, int] = {}

    def port_for(self, actor: str, worker_index: int | None = None) -> int:
        """The scheme's port of ``actor`` (a worker: by its index in the config, else 0)."""
        if actor in self.ports:
            return self.ports[actor]
        if actor in _OFFSETS:
            return self.port_base + _OFFSETS[actor]
        if worker_index is not None:
            return self.port_base + WORKER_OFFSET + worker_index
        return 0


class Histogram:
    """Cumulative latency buckets, observed in ns; exported in seconds."""

    def __init__(self, buckets_s: Sequence[float] = LATENCY_BUCKETS_S) -> None:
        self.bounds_s = tuple(buckets_s)
        self._bounds_ns = [int(b * 1e9) for b in self.bounds_s]
        self.counts = [0] * (len(self.bounds_s) + 1)  # the last one is +Inf
        self.sum_ns = 0

    def observe_ns(self, ns: int) -> None:
        # bisect_left: a value equal to a bound belongs to that bucket (le is inclusive)
        self.counts[bisect_left(self._bounds_ns, ns)] += 1
        self.sum_ns += ns

    @property
    def count(self) -> int:
        return sum(self.counts)

    def cumulative(self) -> list[tuple[str, float]]:
        out: list[tuple[str, float]] = []
        acc = 0
        for bound, n in zip((*self.bounds_s, float("inf")), self.counts, strict=True):
            acc += n
            out.append(("+Inf" if bound == float("inf") else repr(bound), float(acc)))
        return out


Kind = Literal["counter", "gauge", "histogram"]


@dataclass
class _Family:
    kind: Kind
    doc: str
    label_names: list[str]
    samples: list[tuple[list[str], float | Histogram]] = field(default_factory=list)


class Snapshot:
    """What one scrape collects: families by name, each sample labelled with the actor."""

    def __init__(self, actor: str) -> None:
        self.actor = actor
        self._families: dict[str, _Family] = {}

    def _add(
        self, kind: Kind, name: str, doc: str, labels: dict[str, str], v: float | Histogram
    ) -> None:
        keys = sorted(labels)
        fam = self._families.get(name)
        if fam is None:
            fam = self._families[name] = _Family(kind, doc, ["actor", *keys])
        if fam.kind != kind:  # one name, two kinds: a provider's bug
            raise TypeError(f"metric {name} is already a {fam.kind}")
        fam.samples.append(([self.actor, *(labels[k] for k in keys)], v))

    def counter(self, name: str, doc: str, value: float, **labels: str) -> None:
        """A counter; ``name`` without ``_total`` (the exposition adds it)."""
        self._add("counter", name, doc, labels, value)

    def gauge(self, name: str, doc: str, value: float, **labels: str) -> None:
        self._add("gauge", name, doc, labels, value)

    def state(
        self, name: str, doc: str, current: str, states: Iterable[str], **labels: str
    ) -> None:
        """An enum as one gauge per state, 1 for the current one."""
        for s in states:
            self.gauge(name, doc, 1.0 if s == current else 0.0, state=s, **labels)

    def histogram(self, name: str, doc: str, h: Histogram, **labels: str) -> None:
        self._add("histogram", name, doc, labels, h)

    def text(self) -> list[str]:
        """This scrape in the text exposition format 0.0.4 (written here: formatting through
        prometheus-client's objects costs several times more, on the actor's loop)."""
        out: list[str] = []
        for name, f in self._families.items():
            full = f"{name}_total" if f.kind == "counter" else name
            out.append(f"# HELP {full} {_escape_doc(f.doc)}\n# TYPE {full} {f.kind}\n")
            names = f.label_names
            for values, v in f.samples:
                labels = ",".join(f'{k}="{_escape(x)}"' for k, x in zip(names, values, strict=True))
                if isinstance(v, Histogram):
                    for le, n in v.cumulative():
                        out.append(f'{name}_bucket{{{labels},le="{le}"}} {n}\n')
                    out.append(f"{name}_count{{{labels}}} {v.count}\n")
                    out.append(f"{name}_sum{{{labels}}} {_num(v.sum_ns / 1e9)}\n")
                else:
                    out.append(f"{full}{{{labels}}} {_num(v)}\n")
        return out


def _num(v: float) -> str:
    if v != v:  # NaN
        return "NaN"
    if v in (float("inf"), float("-inf")):
        return "+Inf" if v > 0 else "-Inf"
    return repr(float(v))


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _escape_doc(doc: str) -> str:
    return doc.replace("\\", "\\\\").replace("\n", "\\n")


Provider = Callable[[Snapshot], None]


class ActorMetrics:
    """An actor's metrics: providers read at scrape time, histograms, the process collector."""

    def __init__(self, actor: str) -> None:
        self.actor = actor
        self._providers: list[Provider] = []
        self._histograms: list[tuple[str, str, Histogram, dict[str, str]]] = []
        self._process: CollectorRegistry | None = None  # the process collector's, when scraped

    def add(self, provider: Provider) -> None:
        """Call ``provider`` at every scrape."""
        self._providers.append(provider)

    def histogram(self, name: str, doc: str, **labels: str) -> Histogram:
        """A latency histogram ``name`` (seconds), exported with ``labels``."""
        h = Histogram()
        self._histograms.append((name, doc, h, labels))
        return h

    def snapshot(self) -> Snapshot:
        """Every provider's and histogram's series, now."""
        snap = Snapshot(self.actor)
        for provider in self._providers:
            provider(snap)
        for name, doc, h, labels in self._histograms:
            snap.histogram(name, doc, h, **labels)
        return snap

    def exposition(self) -> bytes:
        """The text exposition of every series, the process collector's too."""
        if self._process is None:
            from prometheus_client import CollectorRegistry
            from prometheus_client.process_collector import ProcessCollector

            self._process = CollectorRegistry(auto_describe=False)
            ProcessCollector(registry=self._process)
        from prometheus_client import generate_latest

        own = "".join(self.snapshot().text()).encode()
        # process series: labelled with the actor like the rest, so a target names itself
        return own + _with_actor(generate_latest(self._process), self.actor)


def _with_actor(text: bytes, actor: str) -> bytes:
    """Add ``actor="..."`` to every sample line of a label-less exposition (the process one)."""
    label = b'{actor="' + _escape(actor).encode() + b'"}'
    out = []
    for line in text.splitlines(keepends=True):
        if line.startswith(b"#") or not line.strip():
            out.append(line)
            continue
        name, _, rest = line.partition(b" ")
        if b"{" in name:  # already labelled: add ours first
            out.append(name.replace(b"{", label[:-1] + b",", 1) + b" " + rest)
        else:
            out.append(name + label + b" " + rest)
    return b"".join(out)


class MetricsServer:
    """``GET /metrics`` on the actor's own event loop (no thread: providers need no locks)."""

    def __init__(self, metrics: ActorMetrics, host: str, port: int) -> None:
        self._metrics = metrics
        self._host = host
        self._port = port
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        """The bound port (the chosen one when configured as 0)."""
        assert self._server is not None
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self._host, self._port)

    def _exposition(self) -> tuple[bytes, bytes, bytes]:
        try:
            return b"200 OK", self._metrics.exposition(), CONTENT_TYPE.encode()
        except Exception:  # noqa: BLE001 - a provider's bug fails the scrape, not the actor
            logger.exception("metrics scrape failed")
            return b"500 Internal Server Error", b"scrape failed\n", b"text/plain"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(5.0):
                request = await reader.readline()
                while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                    pass  # headers: nothing in them changes the answer
            parts = request.split()
            if len(parts) < 2 or parts[0] not in (b"GET", b"HEAD"):
                status, body, ctype = b"405 Method Not Allowed", b"GET only\n", b"text/plain"
            elif parts[1].split(b"?")[0] in (b"/metrics", b"/"):
                status, body, ctype = self._exposition()
            else:
                status, body, ctype = b"404 Not Found", b"try /metrics\n", b"text/plain"
            head = b"HTTP/1.1 " + status + b"\r\nContent-Type: " + ctype
            head += b"\r\nContent-Length: " + str(len(body)).encode()
            head += b"\r\nConnection: close\r\n\r\n"
            writer.write(head if parts[:1] == [b"HEAD"] else head + body)
            await writer.drain()
        except (TimeoutError, ConnectionError, ValueError):
            pass  # a scraper that went away or sent a line over 64 KiB: nothing to answer
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


class BusSubscriber(Protocol):
    """What :func:`subscriber_series` reads of an ``engine.bus.subscriber.Subscriber``."""

    gaps: int
    resyncs: int
    delivered: int

    def silent(self) -> bool: ...

    @property
    def last_heard_ns(self) -> int | None: ...


def subscriber_series(snap: Snapshot, bus: str, sub: BusSubscriber, now_ns: int) -> None:
    """A bus subscription's delivery, gaps, resyncs and lag (time since its publisher was heard);
    ``bus`` names the publisher's family (md, acct, ord, risk), the same in every actor."""
    snap.counter(
        "okxmm_bus_delivered", "Messages delivered by a bus subscription.", sub.delivered, bus=bus
    )
    snap.counter("okxmm_bus_gaps", "Sequence gaps seen on a bus subscription.", sub.gaps, bus=bus)
    snap.counter(
        "okxmm_bus_resyncs", "Snapshot resyncs of a bus subscription.", sub.resyncs, bus=bus
    )
    snap.gauge(
        "okxmm_bus_silent",
        "1 while a subscription's publisher is silent.",
        float(sub.silent()),
        bus=bus,
    )
    heard = sub.last_heard_ns
    if heard is not None:
        snap.gauge(
            "okxmm_bus_last_heard_seconds",
            "Seconds since a subscription's publisher was last heard (bus lag).",
            max(0, now_ns - heard) / 1e9,
            bus=bus,
        )
