"""Sessions: identities, welcome, fencing (journalled, final, cancels), heartbeat silence."""

from __future__ import annotations

from decimal import Decimal

from engine.messages import Fenced, Hello, StrategyStatus, Welcome
from engine.router.config import RouterConfig
from engine.router.effects import Effect, Forget
from engine.router.pretrade import OrderLimits
from engine.router.records import JEpoch, JShortId
from engine.router.sessions import Sessions, parse_identity
from tests.engine.router.helpers import INST
from tests.engine.router.subcores import desk, owned, published, records, replies

MS = 1_000_000
LIMITS = OrderLimits(Decimal(1), Decimal(1), 1, 1)


def _hello(ss: Sessions, name: str, epoch: int, mono: int = 0) -> list[Effect]:
    out: list[Effect] = []
    ident = f"S:{name}:{epoch}".encode()
    msg = Hello(strategy=name, epoch=epoch, inst=INST)
    ss.on_hello(out, ident, name, epoch, 1, msg, 0, mono, LIMITS)
    return out


def test_parse_identity() -> None:
    assert parse_identity(b"S:alpha:3") == ("S", "alpha", 3)
    assert parse_identity(b"O:supervisor") == ("O", "supervisor", 0)
    assert parse_identity(b"S:alpha") is None
    assert parse_identity(b"\xff") is None


def test_welcome_journals_short_id_and_epoch_once() -> None:
    ss = Sessions(RouterConfig(), desk())
    out = _hello(ss, "alpha", 1)
    assert [type(r) for r in records(out)] == [JShortId, JEpoch]
    (w,) = replies(out)
    assert isinstance(w, Welcome)
    again = _hello(ss, "alpha", 1)
    assert records(again) == []  # the same epoch again: no new records
    assert isinstance(replies(again)[0], Welcome)


def test_a_newer_epoch_fences_the_older_which_stays_fenced() -> None:
    d = desk()
    ss = Sessions(RouterConfig(), d)
    _hello(ss, "alpha", 1)
    order = owned(d, strategy="alpha", epoch=1)
    out = _hello(ss, "alpha", 2)
    assert any(isinstance(e, Forget) and e.identity == b"S:alpha:1" for e in out)
    assert d.batcher.queued("cancel") == 1
    assert order.want_cancel
    assert isinstance(replies(_hello(ss, "alpha", 1))[0], Fenced)


def test_heartbeat_silence_fences_once() -> None:
    cfg = RouterConfig()
    ss = Sessions(cfg, desk())
    _hello(ss, "alpha", 1)
    out: list[Effect] = []
    ss.on_timer(out, 0, (cfg.dead_after_ms + 1) * MS)
    assert any(isinstance(m, Fenced) for m in replies(out))
    out = []
    ss.on_timer(out, 0, 10 * cfg.dead_after_ms * MS)
    assert out == []


def test_a_fence_is_published_as_the_strategys_status_a_bye_is_not() -> None:
    cfg = RouterConfig()
    ss = Sessions(cfg, desk())
    _hello(ss, "alpha", 1)
    _hello(ss, "beta", 1)
    out: list[Effect] = []
    sess = ss.sessions[b"S:beta:1"]
    ss.fence(out, sess, "bye: stopping", 0, 0)
    assert published(out) == []  # an orderly goodbye: the worker said stopped itself
    ss.on_timer(out, 0, (cfg.dead_after_ms + 1) * MS)
    (status,) = published(out)
    assert isinstance(status, StrategyStatus)
    assert (status.strategy, status.state, status.quoting) == ("alpha", "fenced", False)
    assert "heartbeat" in status.reason
