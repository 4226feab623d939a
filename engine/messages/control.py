"""Snapshots (Clone) and control requests; actor liveness.

Part of :mod:`engine.messages` (import from there); the class name is the wire tag."""

# ruff: noqa: RUF012 — Msg is a msgspec.Struct (copies mutable defaults); ruff cannot see
# that across modules
from __future__ import annotations

from engine.messages.base import Msg

__all__ = ["ActorStatus", "CtlReply", "CtlRequest", "GetSnapshot", "SnapshotEnd"]


# --------------------------------------------------------------------------- snapshots and ctl
class GetSnapshot(Msg, frozen=True):
    """Ask a state owner's ``*.snap`` ROUTER for every topic starting with ``prefix``."""

    prefix: str = ""


class SnapshotEnd(Msg, frozen=True):
    """Last frame of a snapshot: the publisher's seq per topic at the time of the snapshot."""

    seq_by_topic: dict[str, int]


class CtlRequest(Msg, frozen=True):
    """Control request: ping, status, pause, resume, reload, stop, halt, ..."""

    cmd: str
    args: dict[str, str] = {}


class CtlReply(Msg, frozen=True):
    """Control reply; ``status`` holds counters and states for ``status``."""

    cmd: str
    ok: bool
    detail: str = ""
    status: dict[str, str | int | float | bool] = {}


class ActorStatus(Msg, frozen=True):
    """An actor's liveness and counters, published by the supervisor (topic ``actor|<name>|``)."""

    name: str
    pid: int
    state: str
    restarts: int = 0
    detail: str = ""
