"""The OKX WS connection state table: the session path, CLOSED terminal, illegal pairs logged."""

from __future__ import annotations

from gateway.okx.ws_state import TRANSITIONS, WsMachine, WsState, WsTrigger

S, T = WsState, WsTrigger


def test_private_session_path_and_reconnect() -> None:
    m = WsMachine("private")
    for trigger, state in [
        (T.CONNECT, S.CONNECTING),
        (T.LOGIN, S.LOGGING_IN),
        (T.OPENED, S.OPEN),
        (T.LOST, S.BACKOFF),
        (T.CONNECT, S.CONNECTING),
        (T.LOST, S.BACKOFF),  # connect failed
        (T.CONNECT, S.CONNECTING),
        (T.OPENED, S.OPEN),  # public: no login
        (T.CLOSE, S.CLOSED),
    ]:
        assert m.apply(trigger) is state
    assert m.illegal == 0


def test_closed_is_terminal_and_illegal_pairs_are_counted() -> None:
    assert all((S.CLOSED, t) not in TRANSITIONS for t in T if t is not T.CLOSE)
    m = WsMachine("public")
    assert m.apply(T.OPENED) is S.OPEN  # IDLE + OPENED has no row: logged, still moves
    assert m.illegal == 1
    m.apply(T.CLOSE)
    m.apply(T.CONNECT)
    assert m.illegal == 2
