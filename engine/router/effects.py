"""What the router core asks its shell to do: the one way out of every handler. Pure types.

Every handler of :class:`~engine.router.core.RouterCore` returns a list of these, in the order
they must happen (a journal record before the reply that depends on it). The shell
(``engine.router.actor``) carries them out: replies on ``ord.cmd``, publications on ``ord.pub``,
venue requests, queries, and journal lines.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.messages import AnyMsg
from engine.router.batcher import Batch
from engine.router.records import Record

__all__ = ["Effect", "Forget", "JournalRecord", "Publish", "Query", "Reply", "Send"]


@dataclass(frozen=True, slots=True)
class Reply:
    """Answer a command on ``ord.cmd``."""

    identity: bytes
    msg: AnyMsg


@dataclass(frozen=True, slots=True)
class Publish:
    topic: str
    msg: AnyMsg
    retain: bool = True
    forget: bool = False  # drop the retained copy after publishing (terminal order)


@dataclass(frozen=True, slots=True)
class Forget:
    """Stop probing this peer (fenced)."""

    identity: bytes


@dataclass(frozen=True, slots=True)
class Query:
    """Ask the venue for one order by clOrdId; answer with ``RouterCore.on_query_result``."""

    inst: str
    cl_ord_id: str


@dataclass(frozen=True, slots=True)
class Send:
    """Send ``batch`` over ``transport``; answer with ``RouterCore.on_venue_result``."""

    batch: Batch
    transport: str


@dataclass(frozen=True, slots=True)
class JournalRecord:
    """Append ``record`` to the journal (written by the shell, in effect order)."""

    record: Record


Effect = Reply | Publish | Forget | Query | Send | JournalRecord
