"""Codec: every message round-trips, garbage is rejected cleanly, schemas evolve by appending."""

from __future__ import annotations

import typing
from decimal import Decimal
from enum import Enum

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine import messages as m
from engine.codec import Codec

ALL_MESSAGES: list[type[m.Msg]] = list(typing.get_args(m.AnyMsg))


def sample(tp: msgspec.inspect.Type, depth: int = 0) -> object:
    """A non-default value of an inspected type, so every field is exercised."""
    if isinstance(tp, msgspec.inspect.UnionType):
        non_none = [t for t in tp.types if not isinstance(t, msgspec.inspect.NoneType)]
        return sample(non_none[0], depth)
    if isinstance(tp, msgspec.inspect.StrType):
        return "x-1"
    if isinstance(tp, msgspec.inspect.BoolType):
        return True
    if isinstance(tp, msgspec.inspect.IntType):
        return 42
    if isinstance(tp, msgspec.inspect.FloatType):
        return 1.5
    if isinstance(tp, msgspec.inspect.DecimalType):
        return Decimal("123.450")
    if isinstance(tp, msgspec.inspect.EnumType):
        members: list[Enum] = list(tp.cls)
        return members[-1]
    if isinstance(tp, msgspec.inspect.ListType):
        return [sample(tp.item_type, depth + 1)]
    if isinstance(tp, msgspec.inspect.TupleType):
        return tuple(sample(t, depth + 1) for t in tp.item_types)
    if isinstance(tp, msgspec.inspect.DictType):
        return {"k": sample(tp.value_type, depth + 1)}
    if isinstance(tp, msgspec.inspect.StructType):
        return build(tp.cls)
    raise AssertionError(f"no sample for {tp}")


def build(cls: type[msgspec.Struct]) -> msgspec.Struct:
    info = msgspec.inspect.type_info(cls)
    assert isinstance(info, msgspec.inspect.StructType)
    return cls(**{f.name: sample(f.type) for f in info.fields})


@pytest.mark.parametrize("cls", ALL_MESSAGES, ids=lambda c: c.__name__)
def test_every_message_round_trips(cls: type[m.Msg]) -> None:
    codec = Codec("t", 7, lambda: 99)
    msg = build(cls)
    env = codec.decode(codec.encode(msg, seq=5))  # type: ignore[arg-type]
    assert env is not None
    assert env.msg == msg
    assert (env.v, env.src, env.epoch, env.seq, env.ts_ns) == (m.PROTOCOL_VERSION, "t", 7, 5, 99)


def test_wire_is_plain_msgpack_with_tag_first() -> None:
    codec = Codec("md-feed", 1, lambda: 5)
    body = codec.encode(m.Heartbeat(strategy="s1"), seq=3)
    assert msgspec.msgpack.decode(body) == [1, "md-feed", 1, 3, 5, ["Heartbeat", "s1"]]


@given(st.binary(max_size=200))
def test_garbage_frames_are_counted_never_raised(data: bytes) -> None:
    codec = Codec("t", 1, lambda: 0)
    before = codec.bad_frames
    env = codec.decode(data)
    if env is None:
        assert codec.bad_frames == before + 1


def test_wrong_field_type_is_rejected_and_counted() -> None:
    codec = Codec("t", 1, lambda: 0)
    bad = msgspec.msgpack.encode([1, "x", 1, 1, 1, ["Heartbeat", 12345]])
    assert codec.decode(bad) is None
    unknown_tag = msgspec.msgpack.encode([1, "x", 1, 1, 1, ["NoSuchMessage"]])
    assert codec.decode(unknown_tag) is None
    assert codec.bad_frames == 2


class HeartbeatV2(msgspec.Struct, frozen=True, tag="Heartbeat", array_like=True):
    """Heartbeat as a future version would define it: one appended, defaulted field."""

    strategy: str
    load_pct: float = 0.0


class EnvelopeV2(msgspec.Struct, frozen=True, array_like=True):
    v: int
    src: str
    epoch: int
    seq: int
    ts_ns: int
    msg: HeartbeatV2


def test_schema_evolution_appended_default_field_decodes_both_ways() -> None:
    old = Codec("old", 1, lambda: 1)
    # new writer -> old reader: the extra trailing field is ignored
    new_body = msgspec.msgpack.encode(EnvelopeV2(1, "new", 1, 1, 1, HeartbeatV2("s", 12.5)))
    env = old.decode(new_body)
    assert env is not None
    assert env.msg == m.Heartbeat(strategy="s")
    # old writer -> new reader: the missing field takes its default
    new_decoder = msgspec.msgpack.Decoder(EnvelopeV2)
    decoded = new_decoder.decode(old.encode(m.Heartbeat(strategy="s"), seq=1))
    assert decoded.msg == HeartbeatV2("s", 0.0)
