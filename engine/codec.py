"""One encoder and one decoder per socket: bodies are msgpack :class:`Envelope`s.

Decoding is the validation. A frame that fails to decode is counted and logged with its source,
and ``decode`` returns ``None``: a bad frame never raises into a receive loop.
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec
from loguru import logger

from engine.messages import PROTOCOL_VERSION, AnyMsg, Envelope

__all__ = ["Codec"]


class Codec:
    """Encoder + decoder for one socket, built once and reused.

    ``src``/``epoch`` stamp outgoing envelopes; ``now_ns`` supplies ``ts_ns``.
    """

    def __init__(self, src: str, epoch: int, now_ns: Callable[[], int], name: str = "") -> None:
        self.src = src
        self.epoch = epoch
        self._now_ns = now_ns
        self.name = name or src
        self._encoder = msgspec.msgpack.Encoder()
        self._decoder = msgspec.msgpack.Decoder(Envelope)
        self.bad_frames = 0
        self.bad_versions = 0
        self.decoded = 0

    def encode(self, msg: AnyMsg, seq: int = 0) -> bytes:
        """Wrap ``msg`` in an envelope stamped now and encode it."""
        env = Envelope(PROTOCOL_VERSION, self.src, self.epoch, seq, self._now_ns(), msg)
        return self._encoder.encode(env)

    def encode_envelope(self, env: Envelope) -> bytes:
        """Encode an envelope as is (replay, relays)."""
        return self._encoder.encode(env)

    def decode(self, body: bytes, origin: str = "") -> Envelope | None:
        """Decode one body; on failure count it, log it, and return None."""
        try:
            env = self._decoder.decode(body)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            self.bad_frames += 1
            logger.warning(
                "bad frame dropped",
                socket=self.name,
                origin=origin,
                error=str(exc),
                size=len(body),
                bad_frames=self.bad_frames,
            )
            return None
        if env.v != PROTOCOL_VERSION:
            # a peer of another protocol version: its fields may mean something else
            self.bad_versions += 1
            logger.error(
                "message of an unknown protocol version dropped",
                socket=self.name,
                origin=origin,
                version=env.v,
                expected=PROTOCOL_VERSION,
                bad_versions=self.bad_versions,
            )
            return None
        self.decoded += 1
        return env
