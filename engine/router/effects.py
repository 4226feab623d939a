"""What the router core asks its shell to do: the one way out of every handler. Pure types.

Every handler of :class:`~engine.router.core.RouterCore` returns a list of these, in the order
they must happen (a journal record before the reply that depends on it). The shell
(``engine.router.actor``) carries them out: replies on ``ord.cmd``, publications on ``ord.pub``,
venue requests, queries, and journal lines.
"""

from __future__ import annotations

import msgspec

from engine.messages import AnyMsg
from engine.router.batcher import Batch
from engine.router.records import Record

__all__ = ["Effect", "Forget", "JournalRecord", "Publish", "Query", "Reply", "Send"]


class Reply(msgspec.Struct, frozen=True):
    """Answer a command on ``ord.cmd``."""

    identity: bytes
    msg: AnyMsg


class Publish(msgspec.Struct, frozen=True):
    topic: str
    msg: AnyMsg
    retain: bool = True
    forget: bool = False  # drop the retained copy after publishing (terminal order)


class Forget(msgspec.Struct, frozen=True):
    """Stop probing this peer (fenced)."""

    identity: bytes


class Query(msgspec.Struct, frozen=True):
    """Ask the venue for one order by clOrdId; answer with ``RouterCore.on_query_result``."""

    inst: str
    cl_ord_id: str


class Send(msgspec.Struct, frozen=True):
    """Send ``batch`` over ``transport``; answer with ``RouterCore.on_venue_result``."""

    batch: Batch
    transport: str


class JournalRecord(msgspec.Struct, frozen=True):
    """Append ``record`` to the journal (written by the shell, in effect order)."""

    record: Record


Effect = Reply | Publish | Forget | Query | Send | JournalRecord
