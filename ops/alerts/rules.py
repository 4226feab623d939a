"""What a person must know now, from bus messages and the supervisor's view of its children.

Pure: messages and times in, :class:`Alert` values out. Each rule fires on a transition, never
on a steady state, and says when the condition is over (``resolved``):

| source | condition | severity |
|---|---|---|
| ``riskstate|`` | a scope HALTED (kill switch, loss limit, …) / REDUCING | critical / warning |
| ``strat|`` | a worker fenced by the router, stopped, or backing off refusals | warning |
| ``bookstate|`` | a book not VALID for ``book_invalid_s`` | warning |
| ``stream|`` | the private stream's venue login refused | critical |
| ``margin|`` | margin ratio at the warning / danger (or liquidation) level | warning / critical |
| supervisor | an actor restarted / died and is not restarted again | warning / critical |

A loss-limit halt is named as such (the reason risk gives starts with "loss limit").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from engine.messages import (
    AnyMsg,
    BookState,
    BookStatus,
    MarginState,
    RiskState,
    StrategyStatus,
    StreamStatus,
    TradingState,
)

__all__ = ["Alert", "AlertRules", "Severity"]

Severity = Literal["info", "warning", "critical"]
_NS_PER_S = 1_000_000_000
_WORKER_ALERT_STATES = {"fenced", "stopped", "backing-off"}


@dataclass(frozen=True, slots=True)
class Alert:
    """One notification. ``key`` names the condition (de-duplication is per key and severity)."""

    key: str
    severity: Severity
    title: str
    text: str = ""
    resolved: bool = False


class AlertRules:
    """Turns state changes into alerts; remembers only the last state per key (bounded by the
    number of scopes, workers, instruments and children there are)."""

    def __init__(self, book_invalid_s: float = 10.0) -> None:
        self._book_invalid_ns = int(book_invalid_s * _NS_PER_S)
        self._risk: dict[tuple[str, str], TradingState] = {}
        self._worker: dict[str, str] = {}
        self._book_bad_since: dict[str, int] = {}  # inst → monotonic ns it stopped being VALID
        self._book_alerted: set[str] = set()
        self._login_refused = False
        self._children: dict[str, tuple[str, int]] = {}  # name → (state, restarts)
        self._margin = "healthy"

    # ------------------------------------------------------------------------------ bus
    def on_message(self, msg: AnyMsg, mono_ns: int) -> list[Alert]:
        if isinstance(msg, RiskState):
            return self._on_risk(msg)
        if isinstance(msg, StrategyStatus):
            return self._on_worker(msg)
        if isinstance(msg, BookStatus):
            return self._on_book(msg, mono_ns)
        if isinstance(msg, StreamStatus):
            return self._on_stream(msg)
        if isinstance(msg, MarginState):
            return self._on_margin(msg)
        return []

    def _on_risk(self, msg: RiskState) -> list[Alert]:
        where = "account" if msg.scope == "account" else f"{msg.scope} {msg.key}"
        key = f"risk:{msg.scope}:{msg.key}"
        before = self._risk.get((msg.scope, msg.key), TradingState.ACTIVE)
        self._risk[(msg.scope, msg.key)] = msg.state
        if msg.state is before:
            return []
        why = f": {msg.reason}" if msg.reason else ""
        if msg.state is TradingState.HALTED:
            what = "loss limit hit" if msg.reason.startswith("loss limit") else "HALTED"
            return [Alert(key, "critical", f"risk {what} ({where})", f"trading halted{why}")]
        if msg.state is TradingState.REDUCING:
            return [Alert(key, "warning", f"risk REDUCING ({where})", f"reduce-only{why}")]
        return [Alert(key, "info", f"risk ACTIVE again ({where})", f"was {before}", True)]

    def _on_worker(self, msg: StrategyStatus) -> list[Alert]:
        before = self._worker.get(msg.strategy, "")
        self._worker[msg.strategy] = msg.state
        if msg.state == before:
            return []
        key = f"worker:{msg.strategy}"
        why = f": {msg.reason}" if msg.reason else ""
        if msg.state in _WORKER_ALERT_STATES:
            title = f"worker {msg.strategy} ({msg.inst}) {msg.state}"
            return [Alert(key, "warning", title, f"{msg.state}{why}")]
        if before in _WORKER_ALERT_STATES and msg.state == "quoting":
            return [Alert(key, "info", f"worker {msg.strategy} quoting again", "", True)]
        return []

    def _on_book(self, msg: BookStatus, mono_ns: int) -> list[Alert]:
        key = f"book:{msg.inst}"
        if msg.state is BookState.VALID:
            self._book_bad_since.pop(msg.inst, None)
            if msg.inst in self._book_alerted:
                self._book_alerted.discard(msg.inst)
                return [Alert(key, "info", f"book {msg.inst} valid again", "", True)]
            return []
        self._book_bad_since.setdefault(msg.inst, mono_ns)
        return []

    def _on_stream(self, msg: StreamStatus) -> list[Alert]:
        key = f"login:{msg.stream}"
        refused = not msg.up and msg.reason.startswith("login refused")
        if refused and not self._login_refused:
            self._login_refused = True
            text = f"{msg.reason}: check the API key, secret, passphrase and IP allow-list"
            return [Alert(key, "critical", f"venue login refused ({msg.stream})", text)]
        if msg.up and self._login_refused:
            self._login_refused = False
            return [Alert(key, "info", f"venue login accepted ({msg.stream})", "", True)]
        return []

    def _on_margin(self, msg: MarginState) -> list[Alert]:
        before, self._margin = self._margin, msg.status
        if msg.status == before:
            return []
        ratio = "n/a" if msg.mgn_ratio is None else f"{msg.mgn_ratio * 100:.0f} %"
        text = f"margin ratio {ratio}" + (f": {msg.reason}" if msg.reason else "")
        if msg.status == "healthy":
            return [Alert("margin", "info", "margin healthy again", f"was {before}", True)]
        severity: Severity = "warning" if msg.status == "warning" else "critical"
        return [Alert("margin", severity, f"margin {msg.status.upper()}", text)]

    # ---------------------------------------------------------------------------- timer
    def on_timer(self, mono_ns: int) -> list[Alert]:
        out = []
        for inst, since in self._book_bad_since.items():
            if inst in self._book_alerted or mono_ns - since < self._book_invalid_ns:
                continue
            self._book_alerted.add(inst)
            secs = (mono_ns - since) / _NS_PER_S
            text = "quotes on it are pulled until it resyncs"
            out.append(Alert(f"book:{inst}", "warning", f"book {inst} invalid {secs:.0f} s", text))
        return out

    # ----------------------------------------------------------------------- supervisor
    def on_children(self, children: dict[str, tuple[str, int]]) -> list[Alert]:
        """The supervisor's children: name → (state word, restarts so far)."""
        out: list[Alert] = []
        for name, (state, restarts) in children.items():
            before = self._children.get(name)
            self._children[name] = (state, restarts)
            if before is None:
                continue  # first sight: the baseline
            key = f"actor:{name}"
            if state.startswith("gave up") or state == "failed":
                if not (before[0].startswith("gave up") or before[0] == "failed"):
                    out.append(Alert(key, "critical", f"{name} died and is not restarted", state))
            elif restarts > before[1]:
                out.append(Alert(key, "warning", f"{name} restarted", f"restart #{restarts}"))
        return out
