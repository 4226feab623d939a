"""The router actor, composed: the router shell (``engine.router.actor``) on the OKX venue.

``python -m ops.router --config okxmm.yaml`` runs it (the supervisor does). This is the one
place the router meets the gateway: the shell and its core only know ``VenuePort`` and the
router's own venue events.
"""

from __future__ import annotations

import argparse
import sys

from engine.actor import Actor, run_actor
from engine.clock import Clock
from engine.router.actor import STOP_TIMEOUT_S, Router
from engine.router.ports import VenuePort
from gateway.okx.router_venue import OkxRouterVenue
from ops.config import OkxmmConfig, load_config, resolve_credentials

__all__ = ["main", "okx_venue"]


def okx_venue(cfg: OkxmmConfig, clock: Clock) -> VenuePort:
    """The router's OKX venue: REST plus its own private WS, per ``cfg.venue``."""
    rest_url, _, ws_private, _ = cfg.venue.urls(cfg.exchange)
    return OkxRouterVenue(
        cfg.router,
        rest_url,
        ws_private,
        resolve_credentials(cfg),
        clock,
        simulated=cfg.venue.simulated,
    )


async def _run(actor: Actor[OkxmmConfig]) -> None:
    await Router(actor, okx_venue(actor.cfg, actor.clock)).run()


def main(cfg: OkxmmConfig) -> int:
    """Run the router until stopped (SIGTERM: cancel everything, then exit); the exit code."""
    return run_actor(
        "router",
        cfg,
        _run,
        ctl_endpoint=cfg.bus.bind_endpoint("ctl.router"),
        stop_timeout_s=STOP_TIMEOUT_S,
    )


def _cli(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.router")
    parser.add_argument("--config", default=None, help="okxmm YAML config")
    args = parser.parse_args(argv)
    return main(load_config(args.config))


if __name__ == "__main__":
    sys.exit(_cli())
