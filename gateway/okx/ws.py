"""OKX WebSocket connection manager (websockets ≥ 13 asyncio API).

One :class:`OkxWsClient` owns one logical connection to one URL and keeps it up:

* connect → (private URLs) login and await the ack → resubscribe everything subscribed so far →
  read frames, handing each parsed event to ``on_event`` (synchronously, in order);
* keep-alive: every ``ping_after_s`` (< OKX's 30 s idle rule) send the text ``ping`` whatever the
  traffic — OKX counts "no data" per connection and some venues (our simulator too) count only
  what the client sends, so a busy book stream alone does not keep it open (as ccxt and
  okx-client-gw-py do); no frame at all within ``pong_timeout_s`` after a ping → the connection
  is stale and is dropped. The read loop itself carries no timer (it is the hot path);
* on any loss: ``Disconnected`` is delivered, pending trade ops fail with
  ``VenueUnavailableError`` (outcome unknown), then reconnect after an exponential backoff with
  jitter, reset once a session stayed up ``stable_after_s``;
* login refusals (600xx) are logged once per attempt with the OKX code and retried with a longer
  backoff — never a crash loop;
* OKX's connection rules (okx-v5.md §5): a connect refused with HTTP 429 (more than 3 new
  connections per second per IP), a ``60014`` "Requests too frequent" (more than 480
  subscribe/unsubscribe/login per connection per hour: the session is dropped, a new connection
  has a fresh allowance) and every close are logged with the HTTP status / OKX code / close code
  and reason, and retried after the backoff, which a rate refusal never resets;
* private connections carry trade ops: ``await ws.request(op, args, timeout_s)``.

``on_event`` must not block; it gets ``Connected``/``Disconnected`` as well as venue events, and a
``WsError`` with the OKX code after each refused login.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable, Sequence
from typing import Any

from loguru import logger
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from engine.clock import Clock
from engine.config import Credentials
from engine.errors import AuthError, RateLimitError, VenueError, VenueUnavailableError
from engine.metrics import Snapshot
from gateway.okx.codes import REQUESTS_TOO_FREQUENT, SERVICE_UPGRADE, venue_error
from gateway.okx.results import TradeResult
from gateway.okx.schemas import PushArg
from gateway.okx.signing import login_args
from gateway.okx.ws_protocol import (
    TRADE_OPS,
    Connected,
    Disconnected,
    LoginAck,
    Notice,
    OpResponse,
    WsError,
    WsEvent,
    WsParser,
    encode_login,
    encode_op,
    encode_subscribe,
)
from gateway.okx.ws_state import WsMachine, WsState, WsTrigger

__all__ = ["OkxWsClient", "WsState"]

_NS_PER_S = 1_000_000_000


class _StaleError(Exception):
    """No frame (not even ``pong``) within the keep-alive deadline."""


_HTTP_TOO_MANY = 429


class OkxWsClient:
    """Self-healing OKX WS connection. Run :meth:`run` as a task; stop with :meth:`close`."""

    def __init__(
        self,
        url: str,
        *,
        name: str,
        clock: Clock,
        on_event: Callable[[WsEvent], None],
        on_raw: Callable[[str | bytes], None] | None = None,
        credentials: Credentials | None = None,
        venue_time_s: Callable[[], int] | None = None,
        ping_after_s: float = 15.0,
        pong_timeout_s: float = 10.0,
        backoff_initial_s: float = 0.25,
        backoff_max_s: float = 30.0,
        auth_backoff_initial_s: float = 5.0,
        stable_after_s: float = 30.0,
        open_timeout_s: float = 10.0,
        login_timeout_s: float = 10.0,
        rng: random.Random | None = None,
    ) -> None:
        self.url = url
        self.name = name
        self._clock = clock
        self._on_event = on_event
        self._on_raw = on_raw  # every frame as received, before parsing (the raw recorder)
        self._creds = credentials
        self._venue_time_s = venue_time_s or (lambda: clock.now_ns() // _NS_PER_S)
        self._ping_after_s = ping_after_s
        self._pong_timeout_s = pong_timeout_s
        self._backoff_initial_s = backoff_initial_s
        self._backoff_max_s = backoff_max_s
        self._auth_backoff_initial_s = auth_backoff_initial_s
        self._stable_after_ns = int(stable_after_s * _NS_PER_S)
        self._open_timeout_s = open_timeout_s
        self._login_timeout_s = login_timeout_s
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self._parser = WsParser()
        self._subs: dict[PushArg, None] = {}  # insertion-ordered set
        self._ws: ClientConnection | None = None
        self._pending: dict[str, asyncio.Future[TradeResult]] = {}
        self._closing = asyncio.Event()
        self._open = asyncio.Event()
        self._req_counter = 0
        self._machine = WsMachine(name)  # the connection state: only through its table
        self.session = 0
        self.failures = 0
        self.last_error_code = ""
        self.frames = 0
        self.reconnects = 0

    @property
    def state(self) -> WsState:
        return self._machine.state

    @property
    def illegal_state_transitions(self) -> int:
        return self._machine.illegal

    @property
    def bad_frames(self) -> int:
        return self._parser.bad_frames

    @property
    def is_open(self) -> bool:
        return self.state is WsState.OPEN

    # ------------------------------------------------------------------------- subscriptions
    def metrics(self, snap: Snapshot, stream: str) -> None:
        """The connection's Prometheus series, labelled with ``stream`` (public, private...)."""
        snap.state(
            "okxmm_ws_state",
            "1 for the venue WS's current state.",
            str(self.state),
            WsState,
            stream=stream,
        )
        snap.counter("okxmm_ws_reconnects", "Venue WS reconnects.", self.reconnects, stream=stream)
        snap.counter(
            "okxmm_ws_bad_frames", "Venue WS frames not understood.", self.bad_frames, stream=stream
        )

    def subscribe(self, args: Sequence[PushArg]) -> None:
        """Remember ``args`` (resubscribed on every reconnect) and subscribe now if open."""
        new = [a for a in args if a not in self._subs]
        for a in new:
            self._subs[a] = None
        if new and self._ws is not None and self.state is WsState.OPEN:
            self._send_nowait(encode_subscribe(new))

    def unsubscribe(self, args: Sequence[PushArg]) -> None:
        """Forget ``args`` and unsubscribe now if open."""
        gone = [a for a in args if a in self._subs]
        for a in gone:
            del self._subs[a]
        if gone and self._ws is not None and self.state is WsState.OPEN:
            self._send_nowait(encode_subscribe(gone, op="unsubscribe"))

    def resubscribe(self, args: Sequence[PushArg]) -> None:
        """Unsubscribe then subscribe again (OKX answers a fresh snapshot)."""
        self.unsubscribe(args)
        self.subscribe(args)

    def _send_nowait(self, data: bytes) -> None:
        ws = self._ws
        if ws is None:
            return
        task = asyncio.get_running_loop().create_task(self._send(ws, data))
        task.add_done_callback(_swallow)

    @staticmethod
    async def _send(ws: ClientConnection, data: bytes) -> None:
        with contextlib.suppress(ConnectionClosed):
            await ws.send(data.decode())

    # ------------------------------------------------------------------------------ trade ops
    async def request(
        self,
        op: str,
        args: Sequence[Any],
        timeout_s: float = 5.0,
        exp_time_ms: int | None = None,
    ) -> TradeResult:
        """Send a trade op and await its response.

        Returns the :class:`TradeResult` for codes 0/1/2; raises the typed VenueError for a
        request-level failure, ``VenueUnavailableError`` when not connected, the connection drops
        or no response comes within ``timeout_s`` (outcome unknown: query or retry by clOrdId)."""
        if op not in TRADE_OPS:
            raise ValueError(f"not a trade op: {op}")
        ws = self._ws
        if ws is None or self.state is not WsState.OPEN:
            raise VenueUnavailableError("ws-not-open", f"{self.name} is not connected")
        self._req_counter += 1
        req_id = f"r{self.session}x{self._req_counter}"
        fut: asyncio.Future[TradeResult] = asyncio.get_running_loop().create_future()
        self._pending[req_id] = fut
        try:
            try:
                await ws.send(encode_op(req_id, op, args, exp_time_ms).decode())
            except ConnectionClosed:
                raise VenueUnavailableError("ws-closed", f"{self.name} closed") from None
            try:
                async with asyncio.timeout(timeout_s):
                    return await fut
            except TimeoutError:
                raise VenueUnavailableError("timeout", f"{op} got no response") from None
        finally:
            self._pending.pop(req_id, None)

    def _resolve(self, ev: OpResponse) -> None:
        fut = self._pending.get(ev.id)
        if fut is None or fut.done():
            return
        res = ev.result
        if res.code in ("0", "1", "2") and (res.items or res.code == "0"):
            fut.set_result(res)
        else:
            fut.set_exception(venue_error(res.code, res.msg))

    def _fail_pending(self, reason: str) -> None:
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(VenueUnavailableError("ws-closed", reason))
        self._pending.clear()

    # ------------------------------------------------------------------------------ lifecycle
    async def wait_open(self, timeout_s: float) -> bool:
        """True once a session is open (logged in, subscribed); False on timeout."""
        try:
            async with asyncio.timeout(timeout_s):
                await self._open.wait()
        except TimeoutError:
            return False
        return True

    async def close(self) -> None:
        self._closing.set()
        ws = self._ws
        if ws is not None:
            await ws.close()

    def drop(self, reason: str) -> None:
        """Close the current connection (it reconnects); e.g. on a ``64008`` notice."""
        ws = self._ws
        if ws is not None:
            logger.info("okx ws dropping connection", ws=self.name, reason=reason)
            self._send_close(ws)

    def _send_close(self, ws: ClientConnection) -> None:
        task = asyncio.get_running_loop().create_task(ws.close())
        task.add_done_callback(_swallow)

    async def run(self) -> None:
        """Connect and stay connected until :meth:`close`."""
        while not self._closing.is_set():
            self._machine.apply(WsTrigger.CONNECT)
            started = self._clock.monotonic_ns()
            auth_failed = False
            limited = False  # refused for rate: the next attempt must wait longer, not reset
            reason = "closed"
            close: dict[str, object] = {}
            try:
                await self._connect_and_serve()
            except AuthError as exc:
                auth_failed = True
                reason = f"login refused {exc.code}"
                self.last_error_code = exc.code
            except _StaleError:
                reason = "stale: no pong"
            except ConnectionClosed as exc:
                # OKX's close code and reason (e.g. 4004 "No data received in 30s")
                rcvd = exc.rcvd
                reason = f"closed {rcvd.code} {rcvd.reason}".strip() if rcvd else "closed"
                close = {"close_code": rcvd.code if rcvd else None}
                close["close_reason"] = rcvd.reason if rcvd else "no close frame"
            except InvalidStatus as exc:
                status = exc.response.status_code
                body = exc.response.body.decode(errors="replace")[:200] if exc.response.body else ""
                reason = f"connect refused: HTTP {status} {body}".strip()
                limited = status == _HTTP_TOO_MANY
                close = {"http_status": status}
            except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
                reason = f"connect failed: {type(exc).__name__}"
            except VenueError as exc:
                reason = f"venue error {exc.code} {exc.msg}".strip()
                limited = isinstance(exc, RateLimitError)
                self.last_error_code = exc.code
                close = {"code": exc.code}
            finally:
                self._ws = None
                self._open.clear()
                self._fail_pending(reason)
            if self.state is WsState.OPEN:
                self._on_event(Disconnected(self.session, reason))
            if self._closing.is_set():
                break
            if not limited and self._clock.monotonic_ns() - started >= self._stable_after_ns:
                self.failures = 0
            delay = self._backoff_s(auth_failed)
            self.failures += 1
            self.reconnects += 1
            if auth_failed:
                logger.error(
                    "okx ws login refused; check credentials and clock",
                    ws=self.name,
                    code=self.last_error_code,
                    retry_in_s=round(delay, 2),
                )
                # the owner learns it too (already logged here: it should not log it again)
                self._on_event(WsError(self.last_error_code, "login refused"))
            else:
                logger.warning(
                    "okx ws disconnected",
                    ws=self.name,
                    reason=reason,
                    retry_in_s=round(delay, 2),
                    **close,
                )
            self._machine.apply(WsTrigger.LOST)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._closing.wait()
        self._machine.apply(WsTrigger.CLOSE)

    def _backoff_s(self, auth_failed: bool) -> float:
        base = self._auth_backoff_initial_s if auth_failed else self._backoff_initial_s
        ceiling = min(self._backoff_max_s, base * (1 << min(self.failures, 16)))
        return ceiling * (0.5 + 0.5 * self._rng.random())

    async def _connect_and_serve(self) -> None:
        async with connect(
            self.url,
            open_timeout=self._open_timeout_s,
            ping_interval=None,  # OKX keep-alive is the text ping below
            # no permessage-deflate: compressing each order op / inflating each book frame cost
            # ~150 µs per message in the router (profiled), more than the rest of its work
            compression=None,
            close_timeout=1.0,
            max_size=2**24,
        ) as ws:
            self._ws = ws
            if self._creds is not None:
                self._machine.apply(WsTrigger.LOGIN)
                await self._login(ws)
            self.session += 1
            if self._subs:
                await ws.send(encode_subscribe(list(self._subs)).decode())
            self._machine.apply(WsTrigger.OPENED)
            self._open.set()
            logger.info("okx ws open", ws=self.name, session=self.session, subs=len(self._subs))
            self._on_event(Connected(self.session))
            loop = asyncio.get_running_loop()
            keepalive = loop.create_task(self._keepalive(ws), name=f"{self.name}-keepalive")
            reader = loop.create_task(self._read(ws), name=f"{self.name}-read")
            try:
                done, _ = await asyncio.wait(
                    {keepalive, reader}, return_when=asyncio.FIRST_COMPLETED
                )
                for task in done:
                    task.result()  # re-raise why the session ended (closed, stale...)
            finally:
                for task in (keepalive, reader):
                    task.cancel()
                for task in (keepalive, reader):
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task

    async def _login(self, ws: ClientConnection) -> None:
        assert self._creds is not None
        await ws.send(encode_login(login_args(self._creds, self._venue_time_s())).decode())
        async with asyncio.timeout(self._login_timeout_s):
            while True:
                ev = self._parser.parse(await ws.recv())
                if isinstance(ev, LoginAck):
                    return
                if isinstance(ev, WsError):
                    err = venue_error(ev.code, ev.msg)
                    if isinstance(err, AuthError | RateLimitError):
                        raise err  # a rate refusal is not a credentials problem
                    raise AuthError(ev.code, ev.msg)

    async def _keepalive(self, ws: ClientConnection) -> None:
        """Text ``ping`` every ``ping_after_s``; raises :class:`_StaleError` when not even a
        ``pong`` arrived within ``pong_timeout_s`` of one."""
        while True:
            await asyncio.sleep(self._ping_after_s)
            seen = self.frames
            await ws.send("ping")
            await asyncio.sleep(self._pong_timeout_s)
            if self.frames == seen:
                raise _StaleError

    async def _read(self, ws: ClientConnection) -> None:
        parse = self._parser.parse
        on_event = self._on_event
        on_raw = self._on_raw
        while True:
            frame = await ws.recv()
            self.frames += 1
            if on_raw is not None:
                on_raw(frame)
            ev = parse(frame)
            if isinstance(ev, OpResponse):
                self._resolve(ev)
                continue
            if isinstance(ev, Notice) and ev.code == SERVICE_UPGRADE:
                logger.warning("okx ws reconnect notice", ws=self.name, code=ev.code)
            on_event(ev)
            if isinstance(ev, WsError) and ev.code == REQUESTS_TOO_FREQUENT:
                # this connection's subscribe allowance is spent: a new one starts afresh
                raise RateLimitError(ev.code, ev.msg)


def _swallow(task: asyncio.Task[None]) -> None:
    if not task.cancelled():
        task.exception()
