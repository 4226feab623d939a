"""Build OKX clients from configuration: venue URLs, demo header, credentials (never logged)."""

from __future__ import annotations

from collections.abc import Callable

from engine.clock import Clock
from gateway.okx.rest import OkxRestClient
from gateway.okx.ws import OkxWsClient
from gateway.okx.ws_protocol import WsEvent
from ops.config import OkxmmConfig, resolve_credentials

__all__ = ["make_private_ws", "make_public_ws", "make_rest"]


def make_rest(cfg: OkxmmConfig, clock: Clock, *, private: bool = True) -> OkxRestClient:
    """REST client for ``cfg.venue`` (``x-simulated-trading: 1`` on okx-demo)."""
    rest_url = cfg.venue.urls(cfg.exchange)[0]
    creds = resolve_credentials(cfg) if private else None
    return OkxRestClient(rest_url, creds, simulated=cfg.venue.simulated, clock=clock)


def make_public_ws(
    cfg: OkxmmConfig, clock: Clock, on_event: Callable[[WsEvent], None], *, name: str = "public"
) -> OkxWsClient:
    return OkxWsClient(cfg.venue.urls(cfg.exchange)[1], name=name, clock=clock, on_event=on_event)


def make_private_ws(
    cfg: OkxmmConfig,
    clock: Clock,
    on_event: Callable[[WsEvent], None],
    *,
    venue_time_s: Callable[[], int] | None = None,
    name: str = "private",
) -> OkxWsClient:
    """Private WS (logs in); pass ``venue_time_s`` from a synced REST client's ``now_ms``."""
    return OkxWsClient(
        cfg.venue.urls(cfg.exchange)[2],
        name=name,
        clock=clock,
        on_event=on_event,
        credentials=resolve_credentials(cfg),
        venue_time_s=venue_time_s,
    )
