"""The router's venue against the real local exchange with an account below KYC level 2: one
ERROR line at start (account/config ``kycLv``), and the venue's 59113 comes back as
ACCOUNT_BLOCKED with OKX's text without another line."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from typing import Any

import pytest
from loguru import logger
from pydantic import SecretStr

from engine.clock import SystemClock
from engine.config import Credentials
from engine.messages import OrdType, Side
from engine.router.batcher import Batch
from engine.router.config import RouterConfig
from engine.router.events import Outcome, PlaceReq, VenueAck
from gateway.okx.router_venue import OkxRouterVenue
from ops.exchange.config import AccountSpec, ExchangeConfig
from ops.exchange.server import serve
from ops.exchange.venue import Venue

KEY, SECRET, PHRASE = "kyc1", "kyc1-secret", "kyc1-phrase"


@pytest.fixture
def errors() -> Iterator[list[dict[str, Any]]]:
    got: list[dict[str, Any]] = []
    sink = logger.add(lambda m: got.append(m.record), level="ERROR")
    yield got
    logger.remove(sink)


@pytest.fixture
def kyc_level() -> int:
    return 1


@pytest.fixture
async def venue(
    free_port: int, kyc_level: int, errors: list[dict[str, Any]]
) -> AsyncIterator[OkxRouterVenue]:
    cfg = ExchangeConfig(port=free_port, realtime=False)
    spec = AccountSpec(api_key=KEY, secret=SECRET, passphrase=PHRASE, kyc_level=kyc_level)
    ex = Venue(cfg, SystemClock(), [spec])
    stop, ready = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(
        serve(ex, host="127.0.0.1", port=free_port, ssl_cert=None, stop=stop, ready=ready)
    )
    await asyncio.wait_for(ready.wait(), 10)
    creds = Credentials(
        api_key=SecretStr(KEY), secret=SecretStr(SECRET), passphrase=SecretStr(PHRASE)
    )
    base = f"127.0.0.1:{free_port}"
    rv = OkxRouterVenue(
        RouterConfig(),
        f"http://{base}",
        f"ws://{base}/ws/v5/private",
        creds,
        SystemClock(),
        simulated=True,
    )
    await rv.start()
    try:
        yield rv
    finally:
        await rv.close_rest()
        stop.set()
        await task


def _place(cid: str) -> PlaceReq:
    return PlaceReq(
        inst="BTC-USDT-SWAP",
        cl_ord_id=cid,
        side=Side.BUY,
        ord_type=OrdType.LIMIT,
        sz=Decimal(1),
        px=Decimal(50000),
    )


async def test_59113_is_account_blocked_and_said_once_at_start(
    venue: OkxRouterVenue, errors: list[dict[str, Any]]
) -> None:
    first = await venue.send(Batch("place", [_place("k1"), _place("k2")]), "rest")
    again = await venue.send(Batch("place", [_place("k3")]), "rest")
    for acks in (first, again):
        assert isinstance(acks, list)
        for ack in acks:
            assert isinstance(ack, VenueAck)
            assert (ack.outcome, ack.code) == (Outcome.ACCOUNT_BLOCKED, "59113")
            assert "complete KYC2 verification" in ack.msg
    (line,) = errors  # one ERROR line in all: at start, before any order
    assert "KYC level is below 2" in line["message"]
    assert "59113" in line["message"]
    assert line["extra"]["kyc_level"] == "1"


@pytest.mark.parametrize("kyc_level", [2])
async def test_level_2_starts_quietly_and_places(
    venue: OkxRouterVenue, errors: list[dict[str, Any]]
) -> None:
    (ack,) = await venue.send(Batch("place", [_place("ok1")]), "rest")
    assert isinstance(ack, VenueAck)
    assert (ack.outcome, ack.code) == (Outcome.OK, "0")
    assert errors == []
