"""What the router shell needs of a venue, in the router's own types (``engine.router.events``).

The OKX implementation is ``gateway.okx.router_venue.OkxRouterVenue``; the shell
(``engine.router.actor``) is given one and never sees a wire type.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from engine.messages import InstrumentInfo
from engine.router.batcher import Batch, TradeLimiter
from engine.router.events import VenueFailure, VenueFill, VenueNotFound, VenueOrder, VenueResult

__all__ = ["VenuePort"]


class VenuePort(Protocol):
    """Trade ops, queries, pushes and the dead-man's switch of one venue account."""

    sent_ws: int
    sent_rest: int

    @property
    def is_open(self) -> bool:
        """The push session (private WS) is up."""
        ...

    def limiter(self) -> TradeLimiter:
        """The venue's trade rate limits, for the router's batcher."""
        ...

    def bind(
        self,
        on_orders: Callable[[list[VenueOrder]], None],
        on_up: Callable[[int], None],
        on_down: Callable[[str], None],
    ) -> None:
        """Where order pushes and push-session changes go."""
        ...

    def transport(self) -> str:
        """The transport the next request would take ("ws" or "rest")."""
        ...

    async def start(self) -> None: ...

    async def run(self) -> None:
        """The push session, reconnecting, until closed."""
        ...

    async def wait_open(self, timeout_s: float) -> bool: ...

    async def close(self) -> None: ...

    async def close_rest(self) -> None: ...

    async def send(self, batch: Batch, transport: str) -> VenueResult:
        """One request for ``batch``; never raises."""
        ...

    async def query(
        self, inst: str, cl_ord_id: str
    ) -> VenueOrder | VenueNotFound | VenueFailure: ...

    async def pending(self) -> list[VenueOrder]: ...

    async def fills(self, limit: int) -> list[VenueFill]: ...

    async def cancel_all_after(self, timeout_s: int, tag: str = "") -> None: ...

    async def instrument(self, inst: str) -> InstrumentInfo | None: ...

    def learn_instrument(self, info: InstrumentInfo) -> None:
        """Instrument metadata from the bus (md-feed's ``inst|``): e.g. a new instIdCode."""
