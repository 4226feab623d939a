"""The router's venue over OKX: trade ops on the private WS (REST fallback), order pushes, queries.

Why the router keeps its own private WS with an ``orders`` subscription instead of reading
private-gw's ``acct.pub``: the router needs the ack and the state of *its own* orders with the
least delay (cancel-on-death and re-cancel-on-late-ack are decided on them), and the WS session
that carries its trade ops is the natural source — one hop less, and no dependency on another
actor being up for the router to know what it has at the venue. private-gw keeps publishing
order/fill updates for everybody else (risk, tools).

:class:`OkxRouterVenue` implements ``engine.router.ports.VenuePort`` over the gateway clients
(``OkxWsClient``, ``OkxRestClient``): it maps a :class:`~engine.router.batcher.Batch` to the
single or batch operation and speaks only the router's own types (``engine.router.events``) —
OKX payloads are converted here (``gateway.okx.convert``) and never raise out of ``send``.
Trade ops are rate-limited by the router's batcher (:class:`OkxTradeLimiter`); the REST client
here gets a limiter without the trade buckets so they are not counted twice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from loguru import logger

from engine.clock import Clock
from engine.config import Credentials
from engine.errors import RemoteProtocolError, VenueError, VenueUnavailableError
from engine.messages import InstrumentInfo
from engine.router.batcher import Batch
from engine.router.config import RouterConfig
from engine.router.events import (
    Outcome,
    VenueFailure,
    VenueFill,
    VenueNotFound,
    VenueOrder,
    VenueResult,
)
from gateway.okx import codes, convert
from gateway.okx.ratelimit import LIMITS, BucketSpec, OkxTradeLimiter, RateLimiter
from gateway.okx.rest import OkxRestClient
from gateway.okx.results import TradeResult
from gateway.okx.schemas import OrderAck, PushArg
from gateway.okx.ws import OkxWsClient
from gateway.okx.ws_protocol import Connected, Disconnected, OrdersPush, WsEvent

__all__ = ["OkxRouterVenue", "Transport", "rest_limiter"]

Transport = Literal["ws", "rest"]

_WS_OPS: dict[str, tuple[str, str]] = {
    "place": ("order", "batch-orders"),
    "cancel": ("cancel-order", "batch-cancel-orders"),
    "amend": ("amend-order", "batch-amend-orders"),
}
_REST_OPS: dict[str, tuple[str, str]] = {
    "place": ("order", "batch-orders"),
    "cancel": ("cancel-order", "cancel-batch-orders"),
    "amend": ("amend-order", "amend-batch-orders"),
}
_TRADE_BUCKETS = frozenset(
    {
        "order",
        "cancel",
        "amend",
        "batch-orders",
        "batch-cancel",
        "batch-amend",
        "sub-account-orders",
    }
)
_NOT_FOUND = VenueNotFound(codes.NOT_FOUND)
_KYC_TO_PLACE = 2  # identity verification level OKX requires to place orders (okx-v5.md §14)


def rest_limiter() -> RateLimiter:
    """The REST client's limiter: every OKX bucket except the trade ones (the batcher's)."""
    limits: dict[str, BucketSpec] = {k: v for k, v in LIMITS.items() if k not in _TRADE_BUCKETS}
    return RateLimiter(limits)


class OkxRouterVenue:
    """The router's OKX session: one REST client, one private WS with the ``orders`` channel."""

    def __init__(
        self,
        rc: RouterConfig,
        rest_url: str,
        ws_url: str,
        creds: Credentials,
        clock: Clock,
        *,
        simulated: bool,
    ) -> None:
        self.rest = OkxRestClient(
            rest_url,
            creds,
            simulated=simulated,
            clock=clock,
            limiter=rest_limiter(),
            timeout_s=rc.venue_timeout_s,
        )
        self.ws = OkxWsClient(
            ws_url,
            name="router-private",
            clock=clock,
            on_event=self._on_ws_event,
            credentials=creds,
            venue_time_s=lambda: self.rest.now_ms() // 1000,
        )
        self.ws.subscribe([PushArg(channel="orders", instType="ANY")])
        self._timeout_s = rc.venue_timeout_s
        self._use_ws = rc.use_ws_trade
        self._stp_mode = rc.stp_mode
        # instId → instIdCode, from the instruments loaded at start: today's WS order ops name
        # the instrument by code only (okx-v5.md §8); bounded by the configured instruments
        self._codes: dict[str, int] = {}
        self._uncoded_warned: set[str] = set()
        self._blocked_logged = False  # the ACCOUNT_BLOCKED error line is written once
        self.sent_ws = 0
        self.sent_rest = 0
        self._on_orders: Callable[[list[VenueOrder]], None] = lambda _: None
        self._on_up: Callable[[int], None] = lambda _: None
        self._on_down: Callable[[str], None] = lambda _: None

    def limiter(self) -> OkxTradeLimiter:
        """The trade limits for the router's batcher."""
        return OkxTradeLimiter()

    def bind(
        self,
        on_orders: Callable[[list[VenueOrder]], None],
        on_up: Callable[[int], None],
        on_down: Callable[[str], None],
    ) -> None:
        """Where order pushes and private-WS session changes go."""
        self._on_orders, self._on_up, self._on_down = on_orders, on_up, on_down

    def _on_ws_event(self, ev: WsEvent) -> None:
        if isinstance(ev, OrdersPush):
            self._on_orders([convert.venue_order(d) for d in ev.data])
        elif isinstance(ev, Connected):
            self._on_up(ev.session)
        elif isinstance(ev, Disconnected):
            self._on_down(ev.reason)

    @property
    def is_open(self) -> bool:
        return self.ws.is_open

    def transport(self) -> Transport:
        if self._use_ws and self.ws.is_open:
            return "ws"
        return "rest"

    async def start(self) -> None:
        await self.rest.start()
        await self._check_kyc()

    async def _check_kyc(self) -> None:
        """Say at start, in one ERROR line, that the venue will refuse every place (59113)."""
        try:
            level = (await self.rest.account_config()).kycLv
        except (VenueError, RemoteProtocolError, OSError) as exc:
            logger.debug("account/config not read at start", error=str(exc))
            return
        if level.isdigit() and int(level) < _KYC_TO_PLACE:
            self._blocked_logged = True  # this is the one line; the refusals will not repeat it
            logger.error(
                "this account's KYC level is below 2: the venue will refuse every order (59113);"
                " new orders are refused until the account is verified and the router restarts",
                kyc_level=level,
            )

    async def run(self) -> None:
        await self.ws.run()

    async def wait_open(self, timeout_s: float) -> bool:
        return await self.ws.wait_open(timeout_s)

    async def close(self) -> None:
        await self.ws.close()

    async def close_rest(self) -> None:
        await self.rest.close()

    async def send(self, batch: Batch, transport: str) -> VenueResult:
        """One request for ``batch``: per-item answers, or the request-level failure."""
        single = len(batch.reqs) == 1
        if transport == "ws" and not self._all_coded(batch):
            transport = "rest"  # REST still takes instId: slower, never refused for it
        codes_ = self._codes if transport == "ws" else {}
        reqs = [
            convert.okx_request(r, code=codes_.get(r.inst), stp_mode=self._stp_mode)
            for r in batch.reqs
        ]
        try:
            if transport == "ws":
                op = _WS_OPS[batch.op][0 if single else 1]
                self.sent_ws += 1
                result = await self.ws.request(op, reqs, self._timeout_s)
            else:
                name = _REST_OPS[batch.op][0 if single else 1]
                body = reqs[0] if single else reqs
                self.sent_rest += 1
                env = await self.rest.request(name, OrderAck, body=body)
                result = TradeResult(env.code, env.msg, env.data, env.inTime, env.outTime)
        except VenueError as exc:
            return convert.venue_failure(exc)
        except RemoteProtocolError as exc:
            return convert.venue_failure(VenueUnavailableError("protocol", str(exc)))
        except (OSError, RuntimeError) as exc:
            logger.warning("venue send failed", op=batch.op, error=type(exc).__name__)
            return convert.venue_failure(VenueUnavailableError("transport", type(exc).__name__))
        acks = convert.venue_acks(result)
        if not self._blocked_logged:
            blocked = next((a for a in acks if a.outcome is Outcome.ACCOUNT_BLOCKED), None)
            if blocked is not None:
                self._blocked_logged = True
                logger.error(
                    "the venue refuses this account's orders: a configuration error, not retried;"
                    " new orders are refused until the router restarts",
                    code=blocked.code,
                    msg=blocked.msg,
                    hint="OKX 59113: complete identity verification (KYC) level 2",
                )
        return acks

    def _all_coded(self, batch: Batch) -> bool:
        """Every instrument of ``batch`` has its instIdCode (else it goes by REST, said once)."""
        missing = {r.inst for r in batch.reqs if r.inst not in self._codes}
        for inst in missing - self._uncoded_warned:
            self._uncoded_warned.add(inst)
            logger.error(
                "no instIdCode for this instrument: its orders go by REST, not WS",
                inst=inst,
                hint="the venue's public/instruments did not list a code at start",
            )
        return not missing

    async def query(self, inst: str, cl_ord_id: str) -> VenueOrder | VenueNotFound | VenueFailure:
        """The order by clOrdId, or the venue's "no such order", or the query's failure."""
        try:
            return convert.venue_order(await self.rest.get_order(inst, cl_ord_id=cl_ord_id))
        except VenueError as exc:
            if exc.code == codes.NOT_FOUND:
                return _NOT_FOUND
            return convert.venue_failure(exc)
        except RemoteProtocolError:
            return _NOT_FOUND  # code 0 with no data: nothing there

    async def pending(self) -> list[VenueOrder]:
        return [convert.venue_order(d) for d in await self.rest.orders_pending()]

    async def fills(self, limit: int) -> list[VenueFill]:
        return [convert.venue_fill(f) for f in await self.rest.fills(limit=limit)]

    async def cancel_all_after(self, timeout_s: int, tag: str = "") -> None:
        await self.rest.cancel_all_after(timeout_s, tag)

    def learn_instrument(self, info: InstrumentInfo) -> None:
        """A code the bus announced (md-feed reloads instruments; OKX may relist a symbol
        under a new code): the next WS order uses it."""
        if info.inst_id_code is not None and self._codes.get(info.inst) != info.inst_id_code:
            if info.inst in self._codes:
                logger.info("instIdCode changed", inst=info.inst, code=info.inst_id_code)
            self._codes[info.inst] = info.inst_id_code

    async def instrument(self, inst: str) -> InstrumentInfo | None:
        """The instrument's rules by REST (None if the venue does not list it)."""
        for d in await self.rest.instruments(convert.inst_type_of(inst), inst):
            if d.instId == inst:
                info = convert.instrument_info(d)
                if info.inst_id_code is not None:
                    self._codes[inst] = info.inst_id_code
                else:
                    logger.error("venue lists no instIdCode; WS orders impossible", inst=inst)
                return info
        return None
