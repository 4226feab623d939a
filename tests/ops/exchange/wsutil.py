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
