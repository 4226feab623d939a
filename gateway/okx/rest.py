"""OKX v5 REST client: one keep-alive ``httpx.AsyncClient``, ONE signed :meth:`request` and an
endpoint table (path, method, rate-limit bucket, auth).

Contract:
* Every response envelope is decoded into typed DTOs; a non-zero ``code`` raises the typed error
  from ``engine.errors`` (auth, rate limit, unavailable, venue). Trade endpoints return a
  :class:`TradeResult` for codes ``0/1/2`` so the caller sees every per-item ``sCode``.
* The clock offset to OKX comes from ``GET public/time`` (at :meth:`start` and every
  ``resync_interval_s``); ``50102`` (timestamp expired) resyncs and retries once — the venue
  refused the request before processing it, so this is safe even for writes.
* Retries only where safe: GETs on unavailability/rate limit. Writes are never retried here; the
  caller retries them idempotently by ``clOrdId``.
* A token bucket per OKX bucket delays requests instead of spending them on ``50011``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar
from urllib.parse import urlencode

import httpx
import msgspec
from loguru import logger

from engine.clock import Clock
from engine.config import Credentials
from engine.errors import (
    RateLimitError,
    RemoteProtocolError,
    VenueError,
    VenueUnavailableError,
)
from gateway.okx.codes import MISSING_CREDENTIALS, TIMESTAMP_EXPIRED, venue_error
from gateway.okx.ratelimit import RateLimiter
from gateway.okx.results import TradeResult
from gateway.okx.schemas import (
    AccountConfig,
    AmendOrderReq,
    Balance,
    BookData,
    CancelAllAfterData,
    CancelOrderReq,
    FillData,
    InstrumentData,
    MarkPriceData,
    OrderAck,
    OrderData,
    PlaceOrderReq,
    PositionData,
    RestResponse,
    ServerTime,
    SystemStatusData,
    TickerData,
)
from gateway.okx.signing import auth_headers

__all__ = ["ENDPOINTS", "Endpoint", "OkxRestClient"]

T = TypeVar("T")
_NS_PER_MS = 1_000_000
_NS_PER_S = 1_000_000_000


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One REST endpoint: how to call it and which rate-limit bucket it spends.

    ``per_inst``: the bucket is keyed by ``instId``; ``batch``: the body is an array and each item
    spends a token (a one-item batch spends the ``single`` bucket, as OKX counts it)."""

    method: Literal["GET", "POST"]
    path: str
    bucket: str
    auth: bool
    per_inst: bool = False
    batch: bool = False
    single: str = ""
    trade: bool = False  # envelope code 1/2 carries per-item sCodes


ENDPOINTS: dict[str, Endpoint] = {
    "time": Endpoint("GET", "/api/v5/public/time", "time", auth=False),
    "system-status": Endpoint("GET", "/api/v5/system/status", "system-status", auth=False),
    "instruments": Endpoint("GET", "/api/v5/public/instruments", "instruments", auth=False),
    "books": Endpoint("GET", "/api/v5/market/books", "books", auth=False),
    "ticker": Endpoint("GET", "/api/v5/market/ticker", "ticker", auth=False),
    "tickers": Endpoint("GET", "/api/v5/market/tickers", "ticker", auth=False),
    "mark-price": Endpoint("GET", "/api/v5/public/mark-price", "mark-price", auth=False),
    "account-config": Endpoint("GET", "/api/v5/account/config", "account-config", auth=True),
    "balance": Endpoint("GET", "/api/v5/account/balance", "balance", auth=True),
    "positions": Endpoint("GET", "/api/v5/account/positions", "positions", auth=True),
    "orders-pending": Endpoint("GET", "/api/v5/trade/orders-pending", "orders-pending", True),
    "fills": Endpoint("GET", "/api/v5/trade/fills", "fills", auth=True),
    "get-order": Endpoint("GET", "/api/v5/trade/order", "get-order", auth=True, per_inst=True),
    "order": Endpoint("POST", "/api/v5/trade/order", "order", auth=True, per_inst=True, trade=True),
    "batch-orders": Endpoint(
        "POST", "/api/v5/trade/batch-orders", "batch-orders", True, True, True, "order", True
    ),
    "cancel-order": Endpoint(
        "POST", "/api/v5/trade/cancel-order", "cancel", auth=True, per_inst=True, trade=True
    ),
    "cancel-batch-orders": Endpoint(
        "POST",
        "/api/v5/trade/cancel-batch-orders",
        "batch-cancel",
        True,
        True,
        True,
        "cancel",
        True,
    ),
    "amend-order": Endpoint(
        "POST", "/api/v5/trade/amend-order", "amend", auth=True, per_inst=True, trade=True
    ),
    "amend-batch-orders": Endpoint(
        "POST",
        "/api/v5/trade/amend-batch-orders",
        "batch-amend",
        True,
        True,
        True,
        "amend",
        True,
    ),
    "cancel-all-after": Endpoint(
        "POST", "/api/v5/trade/cancel-all-after", "cancel-all-after", auth=True
    ),
}

_SUB_ACCOUNT_BUCKETS = frozenset({"order", "batch-orders", "amend", "batch-amend"})


class OkxRestClient:
    """Async OKX REST client. ``credentials=None`` allows public endpoints only.

    Call :meth:`start` (clock sync) before private calls, :meth:`close` at the end."""

    def __init__(
        self,
        base_url: str,
        credentials: Credentials | None,
        *,
        simulated: bool,
        clock: Clock,
        http2: bool = False,
        timeout_s: float = 5.0,
        limiter: RateLimiter | None = None,
        get_retries: int = 2,
        retry_backoff_s: float = 0.2,
        resync_interval_s: float = 300.0,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._creds = credentials
        self._simulated = simulated
        self._clock = clock
        self._limiter = limiter if limiter is not None else RateLimiter()
        self._get_retries = get_retries
        self._retry_backoff_s = retry_backoff_s
        self._resync_ns = int(resync_interval_s * _NS_PER_S)
        headers = {"Accept": "application/json"}
        if simulated:
            headers["x-simulated-trading"] = "1"
        self._http = httpx.AsyncClient(http2=http2, timeout=timeout_s, headers=headers)
        self._decoders: dict[Any, msgspec.json.Decoder[Any]] = {}
        self._encoder = msgspec.json.Encoder()
        self.offset_ms = 0
        self._synced_mono_ns: int | None = None
        self.requests = 0
        self.errors = 0

    # ------------------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Sync the clock offset (needed before signed requests)."""
        await self.sync_time()

    async def close(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> OkxRestClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def now_ms(self) -> int:
        """Venue time estimate: local wall clock plus the measured offset."""
        return self._clock.now_ns() // _NS_PER_MS + self.offset_ms

    async def sync_time(self) -> int:
        """Measure ``offset_ms`` from ``public/time`` (midpoint of the round trip); return it."""
        t0 = self._clock.now_ns()
        res = await self._send(ENDPOINTS["time"], "/api/v5/public/time", b"", ServerTime)
        t1 = self._clock.now_ns()
        if not res.data:
            raise RemoteProtocolError("public/time returned no data")
        server_ms = int(res.data[0].ts)
        offset = server_ms - (t0 + t1) // 2 // _NS_PER_MS
        if abs(offset - self.offset_ms) > 100 or self._synced_mono_ns is None:
            logger.info("okx clock offset", offset_ms=offset, rtt_ms=(t1 - t0) // _NS_PER_MS)
        self.offset_ms = offset
        self._synced_mono_ns = self._clock.monotonic_ns()
        return offset

    # -------------------------------------------------------------------------------- request
    async def request(
        self,
        name: str,
        data_type: type[T],
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
    ) -> RestResponse[T]:
        """Call endpoint ``name`` (see :data:`ENDPOINTS`); GET ``params`` become the query, a POST
        ``body`` (Struct, list of Structs or mapping) is sent as compact JSON.

        Raises the typed :class:`~engine.errors.VenueError` family on a non-zero code (trade
        endpoints: only when no per-item results came back)."""
        ep = ENDPOINTS[name]
        path = ep.path
        if params:
            clean = {k: v for k, v in params.items() if v != ""}
            if clean:
                path = f"{path}?{urlencode(clean, safe=',')}"
        raw = b"" if body is None else self._encoder.encode(body)
        await self._acquire(ep, params, body)
        attempts = 1 + (self._get_retries if ep.method == "GET" else 0)
        resynced = False
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self._send(ep, path, raw, data_type)
            except VenueError as exc:
                if exc.code == TIMESTAMP_EXPIRED and not resynced:
                    logger.warning("okx timestamp expired, resyncing clock", endpoint=name)
                    resynced = True
                    await self.sync_time()
                    attempt -= 1
                    continue
                retryable = isinstance(exc, VenueUnavailableError | RateLimitError)
                if ep.method != "GET" or not retryable or attempt >= attempts:
                    self.errors += 1
                    raise
                logger.info("okx GET retry", endpoint=name, code=exc.code, attempt=attempt)
                await asyncio.sleep(self._retry_backoff_s * 2 ** (attempt - 1))

    async def _acquire(self, ep: Endpoint, params: Mapping[str, str] | None, body: Any) -> None:
        """Wait until the endpoint's bucket(s) have tokens."""
        spends: list[tuple[str, str, int]] = []
        if ep.batch and isinstance(body, Sequence):
            per_inst: dict[str, int] = {}
            for item in body:
                inst = getattr(item, "instId", "") or ""
                per_inst[inst] = per_inst.get(inst, 0) + 1
            for inst, n in per_inst.items():
                bucket = ep.single if len(body) == 1 and ep.single else ep.bucket
                spends.append((bucket, inst, n))
            n_orders = len(body)
        else:
            inst = ""
            if ep.per_inst:
                inst = (params or {}).get("instId", "") or getattr(body, "instId", "") or ""
            spends.append((ep.bucket, inst, 1))
            n_orders = 1
        if ep.bucket in _SUB_ACCOUNT_BUCKETS:
            spends.append(("sub-account-orders", "", n_orders))
        for bucket, key, n in spends:
            while True:
                wait_ns = self._limiter.reserve(bucket, key, self._clock.monotonic_ns(), n)
                if wait_ns == 0:
                    break
                await asyncio.sleep(wait_ns / _NS_PER_S)

    async def _send(
        self, ep: Endpoint, path: str, raw: bytes, data_type: type[T]
    ) -> RestResponse[T]:
        """One HTTP exchange: sign, send, decode the envelope, map errors."""
        headers: dict[str, str] = {}
        if ep.method == "POST":
            headers["Content-Type"] = "application/json"
        if ep.auth:
            if self._creds is None:
                raise VenueError(MISSING_CREDENTIALS, "private endpoint needs credentials", 401)
            if (
                self._synced_mono_ns is None
                or self._clock.monotonic_ns() - self._synced_mono_ns > self._resync_ns
            ):
                await self.sync_time()
            headers.update(auth_headers(self._creds, self.now_ms(), ep.method, path, raw.decode()))
        self.requests += 1
        try:
            resp = await self._http.request(
                ep.method, self._base + path, content=raw or None, headers=headers
            )
        except httpx.TimeoutException:
            raise VenueUnavailableError("timeout", f"{ep.method} {ep.path} timed out") from None
        except httpx.HTTPError as exc:
            raise VenueUnavailableError(
                "transport", f"{ep.method} {ep.path}: {type(exc).__name__}"
            ) from None
        return self._decode(ep, resp, data_type)

    def _decode(self, ep: Endpoint, resp: httpx.Response, data_type: type[T]) -> RestResponse[T]:
        status = resp.status_code
        decoder = self._decoders.get(data_type)
        if decoder is None:
            decoder = self._decoders[data_type] = msgspec.json.Decoder(RestResponse[data_type])  # type: ignore[valid-type]
        try:
            env: RestResponse[T] = decoder.decode(resp.content)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            if status >= 400:
                # 404 and proxies answer with other shapes; the status is what we know.
                raise venue_error(str(status), resp.reason_phrase, status) from None
            raise RemoteProtocolError(f"{ep.path}: bad envelope: {exc}") from None
        if env.code == "0":
            return env
        if ep.trade and env.code in ("1", "2") and env.data:
            return env
        raise venue_error(env.code, env.msg, status)

    # ------------------------------------------------------------------------ public endpoints
    async def server_time_ms(self) -> int:
        res = await self.request("time", ServerTime)
        return int(res.data[0].ts)

    async def system_status(self, state: str = "") -> list[SystemStatusData]:
        return (await self.request("system-status", SystemStatusData, params={"state": state})).data

    async def instruments(self, inst_type: str, inst_id: str = "") -> list[InstrumentData]:
        params = {"instType": inst_type, "instId": inst_id}
        return (await self.request("instruments", InstrumentData, params=params)).data

    async def books(self, inst_id: str, sz: int = 400) -> BookData:
        res = await self.request("books", BookData, params={"instId": inst_id, "sz": str(sz)})
        if not res.data:
            raise RemoteProtocolError(f"market/books for {inst_id} returned no data")
        return res.data[0]

    async def ticker(self, inst_id: str) -> TickerData:
        res = await self.request("ticker", TickerData, params={"instId": inst_id})
        if not res.data:
            raise RemoteProtocolError(f"market/ticker for {inst_id} returned no data")
        return res.data[0]

    async def mark_price(self, inst_type: str, inst_id: str = "") -> list[MarkPriceData]:
        params = {"instType": inst_type, "instId": inst_id}
        return (await self.request("mark-price", MarkPriceData, params=params)).data

    # ----------------------------------------------------------------------- account endpoints
    async def account_config(self) -> AccountConfig:
        res = await self.request("account-config", AccountConfig)
        if not res.data:
            raise RemoteProtocolError("account/config returned no data")
        return res.data[0]

    async def balance(self, ccy: str = "") -> Balance:
        res = await self.request("balance", Balance, params={"ccy": ccy})
        return res.data[0] if res.data else Balance()

    async def positions(self, inst_type: str = "", inst_id: str = "") -> list[PositionData]:
        params = {"instType": inst_type, "instId": inst_id}
        return (await self.request("positions", PositionData, params=params)).data

    async def orders_pending(
        self, inst_type: str = "", inst_id: str = "", limit: int = 100
    ) -> list[OrderData]:
        """Every pending order (pages through ``after`` cursors)."""
        out: list[OrderData] = []
        after = ""
        while True:
            params = {"instType": inst_type, "instId": inst_id, "limit": str(limit), "after": after}
            page = (await self.request("orders-pending", OrderData, params=params)).data
            out.extend(page)
            if len(page) < limit:
                return out
            after = page[-1].ordId

    async def fills(
        self, inst_type: str = "", inst_id: str = "", limit: int = 100
    ) -> list[FillData]:
        """The most recent fills (one page, newest first)."""
        params = {"instType": inst_type, "instId": inst_id, "limit": str(limit)}
        return (await self.request("fills", FillData, params=params)).data

    async def get_order(self, inst_id: str, ord_id: str = "", cl_ord_id: str = "") -> OrderData:
        params = {"instId": inst_id, "ordId": ord_id, "clOrdId": cl_ord_id}
        res = await self.request("get-order", OrderData, params=params)
        if not res.data:
            raise RemoteProtocolError(f"trade/order for {inst_id} returned no data")
        return res.data[0]

    # ------------------------------------------------------------------------- trade endpoints
    async def _trade(self, name: str, body: Any) -> TradeResult:
        env = await self.request(name, OrderAck, body=body)
        return TradeResult(env.code, env.msg, env.data, env.inTime, env.outTime)

    async def place_order(self, req: PlaceOrderReq) -> OrderAck:
        """Place one order; raises ``OrderRejectedError`` (or another VenueError) on sCode."""
        return (await self._trade("order", req)).single()

    async def place_orders(self, reqs: Sequence[PlaceOrderReq]) -> TradeResult:
        """Up to 20 orders; per-item results in order."""
        return await self._trade("batch-orders", list(reqs))

    async def cancel_order(self, req: CancelOrderReq) -> OrderAck:
        return (await self._trade("cancel-order", req)).single()

    async def cancel_orders(self, reqs: Sequence[CancelOrderReq]) -> TradeResult:
        return await self._trade("cancel-batch-orders", list(reqs))

    async def amend_order(self, req: AmendOrderReq) -> OrderAck:
        return (await self._trade("amend-order", req)).single()

    async def amend_orders(self, reqs: Sequence[AmendOrderReq]) -> TradeResult:
        return await self._trade("amend-batch-orders", list(reqs))

    async def cancel_all_after(self, timeout_s: int, tag: str = "") -> CancelAllAfterData:
        """Arm (10–120 s) or disarm (0) the dead man's switch."""
        body: dict[str, str] = {"timeOut": str(timeout_s)}
        if tag:
            body["tag"] = tag
        res = await self.request("cancel-all-after", CancelAllAfterData, body=body)
        return res.data[0] if res.data else CancelAllAfterData()
