"""WS helpers for the exchange tests: wait for a matching JSON frame with a deadline."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import websockets


async def recv_until(
    ws: websockets.ClientConnection, pred: Callable[[dict[str, Any]], bool], within: float = 5.0
) -> dict[str, Any]:
    """The first JSON frame satisfying ``pred`` (``pong`` frames skipped); TimeoutError if none."""
    async with asyncio.timeout(within):
        while True:
            raw = await ws.recv()
            if raw == "pong":
                continue
            msg = json.loads(raw)
            if pred(msg):
                return msg


def channel_is(name: str) -> Callable[[dict[str, Any]], bool]:
    return lambda m: m.get("arg", {}).get("channel") == name and "data" in m


async def login(ws: websockets.ClientConnection, account: tuple[str, str, str]) -> dict[str, Any]:
    """Send a WS login for ``account``; the login or error event."""
    from ops.exchange.testing import ws_login_args

    await ws.send(json.dumps({"op": "login", "args": [ws_login_args(account)]}))
    return await recv_until(ws, lambda m: m.get("event") in ("login", "error"))


async def subscribe(ws: websockets.ClientConnection, arg: dict[str, str]) -> dict[str, Any]:
    await ws.send(json.dumps({"op": "subscribe", "args": [arg]}))
    return await recv_until(ws, lambda m: m.get("event") in ("subscribe", "error"))
