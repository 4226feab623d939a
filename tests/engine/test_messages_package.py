"""``engine.messages`` split by concept: one union, same tags, every name re-exported."""

from __future__ import annotations

import importlib
import typing
from decimal import Decimal

import msgspec

from engine import messages as m

TAGS = [
    "BookTop", "BookStatus", "Trade", "Ticker", "MarkPrice", "InstrumentInfo", "PubHeartbeat",
    "BalanceDetail", "AccountUpdate", "Position", "OrderUpdate", "Fill", "StreamStatus",
    "StrategyLimits", "Hello", "Welcome", "Heartbeat", "NewOrder", "Amend", "Cancel", "CancelAll",
    "Bye", "Ack", "Reject", "Fenced", "OrderEvent", "StrategyStatus", "RiskState", "RiskLimits",
    "RiskSnapshot", "GetSnapshot", "SnapshotEnd", "CtlRequest", "CtlReply", "ActorStatus",
    "RecentFills", "AccountConfig", "MarginState",
]  # fmt: skip
MODULES = ["base", "md", "account", "commands", "risk", "margin", "control"]


def test_one_union_with_the_tags_unchanged() -> None:
    members = typing.get_args(m.AnyMsg)
    assert [t.__name__ for t in members] == TAGS
    assert [msgspec.inspect.type_info(t).tag for t in members] == TAGS  # type: ignore[attr-defined]


def test_every_submodule_name_is_re_exported_and_defined_once() -> None:
    seen: dict[str, str] = {}
    for mod in MODULES:
        sub = importlib.import_module(f"engine.messages.{mod}")
        for name in sub.__all__:
            assert name not in seen, f"{name} in {seen.get(name)} and {mod}"
            seen[name] = mod
            assert getattr(m, name) is getattr(sub, name)
            assert name in m.__all__
    assert set(m.__all__) == set(seen) | {"AnyMsg", "Envelope"}


def test_wire_bytes_unchanged() -> None:
    """A pinned encoding: a tag or field order change would break running peers."""
    env = m.Envelope(1, "w", 2, 3, 4, m.Cancel(cl_ord_id="om1", inst="BTC-USDT-SWAP"))
    assert msgspec.msgpack.encode(env) == bytes.fromhex(
        "9601a17702030493a643616e63656ca36f6d31ad4254432d555344542d53574150"
    )
    ack = msgspec.msgpack.decode(msgspec.msgpack.encode(m.Ack(cmd_seq=5)), type=m.AnyMsg)
    assert ack == m.Ack(cmd_seq=5)
    st = m.StrategyStatus("s", "i", "quoting", True, bids=[(Decimal(1), Decimal(2))])
    assert msgspec.msgpack.decode(msgspec.msgpack.encode(st), type=m.AnyMsg) == st
