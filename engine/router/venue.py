"""The router's venue I/O: trade ops over the private WS (REST fallback), order pushes, queries.

Why the router keeps its own private WS with an ``orders`` subscription instead of reading
private-gw's ``acct.pub``: the router needs the ack and the state of *its own* orders with the
least delay (cancel-on-death and re-cancel-on-late-ack are decided on them), and the WS session
that carries its trade ops is the natural source — one hop less, and no dependency on another
actor being up for the router to know what it has at the venue. private-gw keeps publishing
order/fill updates for everybody else (risk, tools).

Adapter over the gateway clients (``gateway.okx.ws.OkxWsClient``, ``gateway.okx.rest
.OkxRestClient``): maps a :class:`~engine.router.batcher.Batch` to the single or batch operation,
and returns a :class:`TradeResult` or the request-level :class:`VenueError` — it never raises.
Trade ops are rate-limited by the router's batcher; the REST client here gets a limiter without
the trade buckets so they are not counted twice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from loguru import logger

from engine.errors import RemoteProtocolError, VenueError, VenueUnavailableError
from engine.router.batcher import Batch
from gateway.okx.ratelimit import LIMITS, BucketSpec, RateLimiter
from gateway.okx.rest import OkxRestClient
from gateway.okx.results import TradeResult
from gateway.okx.schemas import FillData, OrderAck, OrderData
from gateway.okx.ws import OkxWsClient

__all__ = ["NOT_FOUND_CODES", "Transport", "Venue", "rest_limiter"]

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
NOT_FOUND_CODES = frozenset({"51603"})


def rest_limiter() -> RateLimiter:
    """The REST client's limiter: every OKX bucket except the trade ones (the batcher's)."""
    limits: dict[str, BucketSpec] = {k: v for k, v in LIMITS.items() if k not in _TRADE_BUCKETS}
    return RateLimiter(limits)


class Venue:
    """Sends batches and queries; ``ws`` may be None (REST only)."""

    def __init__(
        self,
        rest: OkxRestClient,
        ws: OkxWsClient | None,
        *,
        timeout_s: float,
        use_ws: bool = True,
        on_transport: Callable[[Transport], None] | None = None,
    ) -> None:
        self.rest = rest
        self.ws = ws
        self._timeout_s = timeout_s
        self._use_ws = use_ws
        self._on_transport = on_transport
        self.sent_ws = 0
        self.sent_rest = 0

    def transport(self) -> Transport:
        if self._use_ws and self.ws is not None and self.ws.is_open:
            return "ws"
        return "rest"

    async def send(self, batch: Batch, transport: Transport) -> TradeResult | VenueError:
        """One request for ``batch``; per-item results, or the request-level error."""
        single = len(batch.reqs) == 1
        try:
            if transport == "ws" and self.ws is not None:
                op = _WS_OPS[batch.op][0 if single else 1]
                self.sent_ws += 1
                return await self.ws.request(op, batch.reqs, self._timeout_s)
            name = _REST_OPS[batch.op][0 if single else 1]
            body = batch.reqs[0] if single else list(batch.reqs)
            self.sent_rest += 1
            env = await self.rest.request(name, OrderAck, body=body)
            return TradeResult(env.code, env.msg, env.data, env.inTime, env.outTime)
        except VenueError as exc:
            return exc
        except RemoteProtocolError as exc:
            return VenueUnavailableError("protocol", str(exc))
        except (OSError, RuntimeError) as exc:
            logger.warning("venue send failed", op=batch.op, error=type(exc).__name__)
            return VenueUnavailableError("transport", type(exc).__name__)

    async def query(self, inst: str, cl_ord_id: str) -> OrderData | VenueError | None:
        """The order by clOrdId; None when the venue has no such order."""
        try:
            return await self.rest.get_order(inst, cl_ord_id=cl_ord_id)
        except VenueError as exc:
            if exc.code in NOT_FOUND_CODES:
                return None
            return exc
        except RemoteProtocolError:
            return None  # code 0 with no data: nothing there

    async def pending(self) -> list[OrderData]:
        return await self.rest.orders_pending()

    async def fills(self, limit: int) -> list[FillData]:
        return await self.rest.fills(limit=limit)

    async def cancel_all_after(self, timeout_s: int, tag: str = "") -> None:
        await self.rest.cancel_all_after(timeout_s, tag)
