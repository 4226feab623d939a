"""The status view's state: fed by bus deliveries with their receive times, read as rows (pure).

Every delivery comes with the wall (``now_ns``) and monotonic (``mono_ns``) times it was received
and every view takes the current times, so tests drive it with hand-made envelopes and a fake
clock. Liveness of a publisher is the age of its last message (heartbeats come every 100 ms);
its lag is receive wall time minus the envelope's send time, as seen by the view's own loop.
A worker is not a publisher: its status, relayed by the router every 250 ms, is its heartbeat.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from engine.actor import StatusValue
from engine.messages import (
    BookStatus,
    BookTop,
    Envelope,
    MarginState,
    OrderEvent,
    OrderState,
    PubHeartbeat,
    RiskSnapshot,
    RiskState,
    Side,
    StrategyStatus,
    StreamStatus,
)

__all__ = [
    "PUBLISHERS",
    "ActorRow",
    "ActorView",
    "ChildStatus",
    "DashboardState",
    "WorkerRow",
    "WorkerView",
    "fmt_decimal",
    "fmt_ms",
    "fmt_ratio",
    "parse_child",
]

_NS_PER_MS = 1_000_000
_NS_PER_S = 1_000_000_000

PUBLISHERS = ("md-feed", "private-gw", "router", "risk")
"""Bus publishers (envelope ``src``) the view expects: listed even before they are heard."""

_OPEN = {
    OrderState.PENDING,
    OrderState.SENT,
    OrderState.ACK,
    OrderState.LIVE,
    OrderState.PARTIALLY_FILLED,
    OrderState.AMEND_PENDING,
    OrderState.CANCEL_PENDING,
}

# The supervisor reports each child as "<state> pid=<pid> restarts=<n>".
_CHILD = re.compile(r"^(?P<state>.+?) pid=(?P<pid>\d+) restarts=(?P<restarts>\d+)$")


@dataclass(frozen=True)
class ChildStatus:
    """One child process as the supervisor sees it."""

    state: str  # starting, running, exited, failed, stopped, stopping, "restart in 1.0s"
    pid: int = 0
    restarts: int = 0

    @property
    def running(self) -> bool:
        return self.state == "running"


def parse_child(value: StatusValue) -> ChildStatus:
    """The supervisor's status string of a child; unknown forms are kept whole as the state."""
    m = _CHILD.match(str(value))
    if m is None:
        return ChildStatus(str(value))
    return ChildStatus(m["state"], int(m["pid"]), int(m["restarts"]))


@dataclass
class ActorView:
    """What the bus says about one publisher."""

    epoch: int | None = None
    restarts_seen: int = 0  # epoch changes seen on the bus
    last_heard_mono: int | None = None
    last_lag_ms: float = 0.0
    # (monotonic second, worst lag in it): a cheap sliding maximum even at book rates
    lag_buckets: deque[tuple[int, float]] = field(default_factory=deque)
    messages: int = 0
    heartbeats: int = 0

    def note_lag(self, mono_ns: int, lag_ms: float, window_s: int) -> None:
        sec = mono_ns // _NS_PER_S
        if self.lag_buckets and self.lag_buckets[-1][0] == sec:
            if lag_ms > self.lag_buckets[-1][1]:
                self.lag_buckets[-1] = (sec, lag_ms)
        else:
            self.lag_buckets.append((sec, lag_ms))
        while self.lag_buckets and self.lag_buckets[0][0] <= sec - window_s:
            self.lag_buckets.popleft()

    def max_lag_ms(self, mono_ns: int, window_s: int) -> float:
        oldest = mono_ns // _NS_PER_S - window_s
        return max((lag for sec, lag in self.lag_buckets if sec > oldest), default=0.0)


@dataclass
class WorkerView:
    """One strategy worker: its latest status and its open orders as the router reports them."""

    status: StrategyStatus | None = None
    status_ts_ns: int = 0  # when the router published that status (wall clock)
    open_orders: dict[str, OrderEvent] = field(default_factory=dict)
    fills_seen: int = 0  # fills in live ord| events since the view started, every epoch
    last_fill: str = ""


@dataclass(frozen=True)
class ActorRow:
    """One line of the actors table."""

    name: str
    process: str  # the supervisor's state of the process, "-" when it does not run it
    pid: int
    restarts: int
    bus: str  # up | silent | never | - (not on the bus)
    alive: bool
    heard_ms: float | None  # age of the last message heard from it
    lag_ms: float | None  # latest receive time minus envelope send time
    max_lag_ms: float | None  # worst lag over the window
    detail: str = ""


@dataclass(frozen=True)
class WorkerRow:
    """One line of the workers table."""

    name: str
    inst: str
    state: str
    alive: bool
    quotes: str
    live_orders: int
    live_bids: int
    live_asks: int
    fills: int
    position: Decimal | None
    volume: Decimal | None
    pnl: Decimal | None  # worker's own trading P&L since it started, quote ccy, after fees
    pnl_usd: Decimal | None  # risk's P&L attribution to this strategy, USD
    status_age_ms: float | None
    last_fill: str


@dataclass
class DashboardState:
    """What the view shows; fed by bus deliveries with their receive times (pure)."""

    alive_ms: int = 1000  # heartbeats come every 100 ms: a second of silence means trouble
    lag_window_s: int = 10
    expected: tuple[str, ...] = PUBLISHERS
    actors: dict[str, ActorView] = field(default_factory=dict)
    books: dict[str, BookTop] = field(default_factory=dict)
    book_states: dict[str, str] = field(default_factory=dict)
    workers: dict[str, WorkerView] = field(default_factory=dict)
    streams: dict[str, dict[str, StreamStatus]] = field(default_factory=dict)
    risk: RiskSnapshot | None = None
    risk_states: dict[str, str] = field(default_factory=dict)
    margin: MarginState | None = None  # the margin actor's (margin accounts only)
    # called after every delivery: lets a waiter wake on a change instead of polling
    on_change: Callable[[], None] | None = field(default=None, repr=False, compare=False)

    # ---------------------------------------------------------------------------- input
    def on_delivery(
        self, env: Envelope, *, now_ns: int, mono_ns: int, from_snapshot: bool = False
    ) -> None:
        """Apply one delivery received at ``now_ns`` (wall) / ``mono_ns`` (monotonic)."""
        view = self.actors.setdefault(env.src, ActorView())
        if view.epoch is not None and env.epoch != view.epoch:
            view.restarts_seen += 1
            self._publisher_restarted(env.src)
        view.epoch = env.epoch
        if not from_snapshot:
            # Snapshot items are retained copies (old ts_ns): they say nothing about lag.
            view.messages += 1
            view.last_heard_mono = mono_ns
            view.last_lag_ms = max(0.0, (now_ns - env.ts_ns) / _NS_PER_MS)
            view.note_lag(mono_ns, view.last_lag_ms, self.lag_window_s)
        self.on_message(env.msg, ts_ns=env.ts_ns, from_snapshot=from_snapshot, src=env.src)
        if self.on_change is not None:
            self.on_change()

    def _publisher_restarted(self, src: str) -> None:
        if src == "router":
            # A restarted router's snapshot lists every open order again (the subscriber
            # resyncs on a new epoch); orders it no longer knows would otherwise stay forever.
            for w in self.workers.values():
                w.open_orders.clear()
        self.streams.pop(src, None)

    def on_message(
        self, msg: object, *, ts_ns: int = 0, from_snapshot: bool = False, src: str = ""
    ) -> None:
        """Apply one message (``ts_ns``: when its publisher sent it)."""
        if isinstance(msg, PubHeartbeat):
            self.actors.setdefault(msg.actor, ActorView()).heartbeats += 1
        elif isinstance(msg, BookTop):
            self.books[msg.inst] = msg
            self.book_states[msg.inst] = msg.state.value
        elif isinstance(msg, BookStatus):
            self.book_states[msg.inst] = msg.state.value
        elif isinstance(msg, StrategyStatus):
            w = self.workers.setdefault(msg.strategy, WorkerView())
            if ts_ns >= w.status_ts_ns:  # a late snapshot copy must not replace a newer status
                w.status, w.status_ts_ns = msg, ts_ns
        elif isinstance(msg, OrderEvent):
            self._on_order(msg, from_snapshot)
        elif isinstance(msg, StreamStatus):
            self.streams.setdefault(src, {})[msg.stream] = msg
        elif isinstance(msg, RiskSnapshot):
            self.risk = msg
        elif isinstance(msg, RiskState):
            self.risk_states[f"{msg.scope}:{msg.key}"] = f"{msg.state.value} {msg.reason}".strip()
        elif isinstance(msg, MarginState):
            self.margin = msg

    def _on_order(self, ev: OrderEvent, from_snapshot: bool) -> None:
        w = self.workers.setdefault(ev.strategy, WorkerView())
        if ev.state in _OPEN:
            w.open_orders[ev.cl_ord_id] = ev
        else:
            w.open_orders.pop(ev.cl_ord_id, None)
        # A snapshot repeats the latest event of an open order: its fill was counted already.
        if ev.fill_sz and not from_snapshot:
            w.fills_seen += 1
            w.last_fill = f"{ev.side.value} {ev.fill_sz}@{ev.fill_px}"

    # ---------------------------------------------------------------------------- views
    def actor_rows(
        self, children: Mapping[str, StatusValue], *, now_ns: int, mono_ns: int
    ) -> list[ActorRow]:
        """Every child of the supervisor (start order), then publishers and workers it does not
        run (a worker started by hand with ``okxmm strategy run`` still reports via the router)."""
        names = list(children)
        names += [n for n in self.expected if n not in names]
        names += sorted(n for n in self.actors if n not in names)
        names += sorted(n for n in self.workers if n not in names)
        rows = []
        for name in names:
            child = parse_child(children[name]) if name in children else None
            if name in self.workers:
                rows.append(self._worker_actor_row(name, child, now_ns))
            else:
                rows.append(self._publisher_row(name, child, mono_ns))
        return rows

    def _publisher_row(self, name: str, child: ChildStatus | None, mono_ns: int) -> ActorRow:
        view = self.actors.get(name)
        on_bus = view is not None or name in self.expected
        heard = None
        if view is not None and view.last_heard_mono is not None:
            heard = (mono_ns - view.last_heard_mono) / _NS_PER_MS
        if not on_bus:
            bus = "-"
        elif heard is None:
            bus = "never"
        else:
            bus = "up" if heard <= self.alive_ms else "silent"
        alive = (child is None or child.running) and bus in ("up", "-")
        streams = self.streams.get(name, {})
        detail = " ".join(
            f"{s.stream}:{'up' if s.up else 'down'}"
            + ("" if s.up or not s.reason else f"({s.reason})")
            for s in sorted(streams.values(), key=lambda s: s.stream)
        )
        return ActorRow(
            name=name,
            process=child.state if child else "-",
            pid=child.pid if child else 0,
            restarts=child.restarts if child else (view.restarts_seen if view else 0),
            bus=bus,
            alive=alive,
            heard_ms=heard,
            lag_ms=view.last_lag_ms if view is not None and heard is not None else None,
            max_lag_ms=(
                view.max_lag_ms(mono_ns, self.lag_window_s)
                if view is not None and heard is not None
                else None
            ),
            detail=detail,
        )

    def _worker_actor_row(self, name: str, child: ChildStatus | None, now_ns: int) -> ActorRow:
        """A worker is not a publisher: its status, relayed by the router, is its heartbeat."""
        w = self.workers[name]
        age = (now_ns - w.status_ts_ns) / _NS_PER_MS if w.status is not None else None
        bus = "never" if age is None else ("up" if age <= self.alive_ms else "silent")
        return ActorRow(
            name=name,
            process=child.state if child else "-",
            pid=child.pid if child else 0,
            restarts=child.restarts if child else 0,
            bus=bus,
            alive=(child is None or child.running) and bus == "up",
            heard_ms=age,
            lag_ms=None,
            max_lag_ms=None,
            # epochs are start times in ns: the last digits are enough to tell a restart
            detail=f"epoch …{w.status.epoch % 1_000_000:06d}" if w.status is not None else "",
        )

    def worker_rows(self, children: Mapping[str, StatusValue], *, now_ns: int) -> list[WorkerRow]:
        rows = []
        for name, w in sorted(self.workers.items()):
            st = w.status
            child = parse_child(children[name]) if name in children else None
            age = (now_ns - w.status_ts_ns) / _NS_PER_MS if st is not None else None
            if child is not None and not child.running:
                state, alive = f"process {child.state}", False
            elif st is None or age is None:
                state, alive = "no status yet", False
            elif age > self.alive_ms:
                state, alive = f"silent {age / 1000:.1f}s (was {st.state})", False
            else:
                state, alive = st.state + (f": {st.reason}" if st.reason else ""), True
            pnl_usd = self.risk.pnl_by_strategy_usd.get(name) if self.risk is not None else None
            bids = sum(1 for o in w.open_orders.values() if o.side is Side.BUY)
            rows.append(
                WorkerRow(
                    name=name,
                    inst=st.inst if st else next((o.inst for o in w.open_orders.values()), "-"),
                    state=state,
                    alive=alive,
                    # a dead worker's last desired quotes are not on the venue any more
                    quotes=_quotes(st) if st is not None and alive else "-",
                    live_orders=len(w.open_orders),
                    live_bids=bids,
                    live_asks=len(w.open_orders) - bids,
                    fills=st.fills if st is not None else w.fills_seen,
                    position=st.net_position if st is not None else None,
                    volume=st.volume if st is not None else None,
                    pnl=st.pnl if st is not None else None,
                    pnl_usd=pnl_usd,
                    status_age_ms=age,
                    last_fill=w.last_fill,
                )
            )
        return rows

    def liveness(
        self, children: Mapping[str, StatusValue], *, now_ns: int, mono_ns: int
    ) -> tuple[tuple[str, bool, str], ...]:
        """What changes when something dies or comes back: each actor's (alive, process) and
        whether each worker has orders left. Quotes and counts move all the time: left out."""
        actors = tuple(
            (r.name, r.alive, r.process)
            for r in self.actor_rows(children, now_ns=now_ns, mono_ns=mono_ns)
        )
        workers = tuple(
            (f"{w.name} orders", w.live_orders > 0, "")
            for w in self.worker_rows(children, now_ns=now_ns)
        )
        return actors + workers

    def summary(
        self, children: Mapping[str, StatusValue] | None = None, *, now_ns: int, mono_ns: int
    ) -> str:
        """One line for logs: actors, books, workers, total P&L."""
        kids = children or {}
        parts = [
            "actors: "
            + ", ".join(
                _actor_word(r) for r in self.actor_rows(kids, now_ns=now_ns, mono_ns=mono_ns)
            )
        ]
        for inst, book in sorted(self.books.items()):
            bid = book.bids[0][0] if book.bids else "-"
            ask = book.asks[0][0] if book.asks else "-"
            parts.append(f"{inst} {self.book_states.get(inst, '?')} {bid}/{ask}")
        for r in self.worker_rows(kids, now_ns=now_ns):
            text = (
                f"{r.name}: {r.state} quotes={r.quotes} live={r.live_orders} fills={r.fills}"
                f" pos={fmt_decimal(r.position)} pnl={fmt_decimal(r.pnl)}"
            )
            if r.pnl_usd is not None:
                text += f" ({r.pnl_usd:.2f}USD)"
            parts.append(text)
        if self.risk is not None:
            parts.append(f"pnl={self.risk.pnl_in_usd_since_running:.2f}USD")
        if self.margin is not None:
            m = self.margin
            parts.append(
                f"margin={fmt_ratio(m.mgn_ratio)} {m.status}"
                + (f" ({m.action})" if m.action else "")
            )
        # only what restricts trading: an ACTIVE scope is the normal case
        parts += [f"{k}={v}" for k, v in sorted(self.risk_states.items()) if v != "ACTIVE"]
        return " | ".join(parts)


def _quotes(st: StrategyStatus) -> str:
    """Best quoted bid and ask with the number of levels: ``100.1 (2) / 100.3 (2)``."""
    bid = f"{max(px for px, _ in st.bids)} ({len(st.bids)})" if st.bids else "-"
    ask = f"{min(px for px, _ in st.asks)} ({len(st.asks)})" if st.asks else "-"
    return f"{bid} / {ask}"


def fmt_decimal(value: Decimal | None, places: int | None = None) -> str:
    """``-`` for unknown; fixed ``places``, or as few digits as the value needs (no exponent)."""
    if value is None:
        return "-"
    return f"{value:.{places}f}" if places is not None else f"{value.normalize():f}"


def fmt_ratio(value: Decimal | None) -> str:
    """A margin ratio (1 = 100 %) in percent; ``-`` when nothing needs margin."""
    return "-" if value is None else f"{value * 100:.1f}%"


def fmt_ms(value: float | None) -> str:
    """A duration given in ms: ``12ms`` below a second, ``3.1s`` above."""
    if value is None:
        return "-"
    return f"{value / 1000:.1f}s" if value >= 1000 else f"{value:.0f}ms"


def _actor_word(r: ActorRow) -> str:
    """``router up 2ms``, ``risk silent 3.1s``, ``mm-btc exited``."""
    if r.process not in ("-", "running"):
        return f"{r.name} {r.process}"
    if r.bus == "up":
        return f"{r.name} up" + (f" {fmt_ms(r.lag_ms)}" if r.lag_ms is not None else "")
    if r.bus == "silent":
        return f"{r.name} silent {fmt_ms(r.heard_ms)}"
    if r.bus == "never":
        return f"{r.name} never heard"
    return f"{r.name} {r.process}"
