"""``engine.metrics``: histogram buckets, label sets, and the exposition scraped over real HTTP
(httpx against the actor-loop server, parsed with prometheus-client's own parser)."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from engine.metrics import ActorMetrics, Histogram, MetricsConfig, MetricsServer, Snapshot


def _samples(text: str) -> list[Sample]:
    return [s for fam in text_string_to_metric_families(text) for s in fam.samples]


def _value(samples: list[Sample], name: str, **labels: str) -> float:
    found = [s.value for s in samples if s.name == name and labels.items() <= s.labels.items()]
    assert len(found) == 1, (name, labels, found)
    return found[0]


def test_histogram_bounds_are_inclusive_and_cumulative() -> None:
    h = Histogram((0.001, 0.01))
    for ns in (1_000_000, 1_000_001, 20_000_000):  # on the 1 ms bound, just above, above all
        h.observe_ns(ns)
    assert h.cumulative() == [("0.001", 1.0), ("0.01", 2.0), ("+Inf", 3.0)]
    assert h.count == 3
    assert h.sum_ns == 22_000_001


def test_port_scheme_gives_every_actor_its_own_port() -> None:
    cfg = MetricsConfig(port_base=9500, ports={"risk": 9999})
    ports = [cfg.port_for(a) for a in ("supervisor", "md-feed", "private-gw", "router", "alerts")]
    ports += [cfg.port_for("w", i) for i in range(3)]
    assert len(set(ports)) == len(ports)
    assert cfg.port_for("risk") == 9999
    assert cfg.port_for("unknown-worker") == 0  # not in the config: the system chooses


def test_one_name_cannot_be_two_kinds() -> None:
    snap = Snapshot("a")
    snap.counter("okxmm_x", "x", 1)
    with pytest.raises(TypeError, match="okxmm_x"):
        snap.gauge("okxmm_x", "x", 1)


@pytest.fixture
async def served() -> AsyncIterator[tuple[ActorMetrics, str]]:
    metrics = ActorMetrics("router")
    server = MetricsServer(metrics, "127.0.0.1", 0)
    await server.start()
    try:
        yield metrics, f"http://127.0.0.1:{server.port}"
    finally:
        await server.close()


async def test_exposition_over_http(served: tuple[ActorMetrics, str]) -> None:
    metrics, url = served
    sent = {"place": 3}
    metrics.add(lambda s: [s.counter("okxmm_orders_sent", "d", n, op=o) for o, n in sent.items()])
    metrics.add(
        lambda s: s.state("okxmm_book_state", "d", "VALID", ("VALID", "RESYNCING"), inst="X")
    )
    odd = 'a "quoted"\\ back\nslash'  # label values are escaped, not trusted
    metrics.add(lambda s: s.gauge("okxmm_odd", "two\nlines", float("nan"), why=odd))
    h = metrics.histogram("okxmm_router_ack_latency_seconds", "d", op="place")
    h.observe_ns(2_000_000)
    async with httpx.AsyncClient() as client:
        r = await client.get(f"{url}/metrics")
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
        got = _samples(r.text)
        sent["place"] = 5  # read at scrape time: the next scrape sees the new value
        again = _samples((await client.get(f"{url}/metrics")).text)
        missing = await client.get(f"{url}/nope")
    assert _value(got, "okxmm_orders_sent_total", actor="router", op="place") == 3
    assert _value(again, "okxmm_orders_sent_total", op="place") == 5
    assert _value(got, "okxmm_book_state", inst="X", state="VALID") == 1
    assert math.isnan(_value(got, "okxmm_odd", why=odd))
    assert _value(got, "okxmm_book_state", inst="X", state="RESYNCING") == 0
    assert _value(got, "okxmm_router_ack_latency_seconds_bucket", op="place", le="0.001") == 0
    assert _value(got, "okxmm_router_ack_latency_seconds_bucket", op="place", le="0.0025") == 1
    assert _value(got, "okxmm_router_ack_latency_seconds_count", op="place") == 1
    assert _value(got, "okxmm_router_ack_latency_seconds_sum", op="place") == pytest.approx(0.002)
    # the process collector's series name their actor too
    assert _value(got, "process_resident_memory_bytes", actor="router") > 1_000_000
    assert _value(got, "process_cpu_seconds_total", actor="router") > 0
    assert all(s.labels.get("actor") == "router" for s in got)
    assert missing.status_code == 404


async def test_a_failing_provider_fails_the_scrape_not_the_server(
    served: tuple[ActorMetrics, str],
) -> None:
    metrics, url = served
    bug = [True]

    def sometimes_broken(snap: Snapshot) -> None:
        if bug[0]:
            raise RuntimeError("provider bug")
        snap.gauge("okxmm_fine", "d", 1)

    metrics.add(sometimes_broken)
    async with httpx.AsyncClient() as client:
        assert (await client.get(f"{url}/metrics")).status_code == 500
        bug[0] = False
        r = await client.get(f"{url}/metrics")  # the server lives on
    assert r.status_code == 200
    assert _value(_samples(r.text), "okxmm_fine") == 1
