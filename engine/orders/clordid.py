"""clOrdId ⟷ (strategy short id, epoch, counter).

Every order okxmm sends carries a clOrdId that says who owns it, so ownership survives a router
restart and reconciliation can attribute (or cancel) whatever the venue still holds.

Layout (OKX: 1–32 case-sensitive alphanumerics), fixed-width base-62 fields::

    PREFIX (2) | short_id (3) | epoch (11) | counter (1..16)
    "om"         "00a"          "1dGh3kq9ZxA"  "7"

Invariants:
- ``decode(encode(s, e, n)) == (s, e, n)`` for every valid input; output is ≤ 32 chars.
- Ids of one (short_id, epoch) are unique while the counter grows; different (short_id, epoch)
  pairs never collide (fixed widths, no separators needed).
- ``decode`` of anything that does not start with ``PREFIX`` or is malformed returns ``None``
  (a foreign or manual order), never raises.

Strategies build ids with :class:`ClOrdIdSequence` using the ``short_id`` from ``Welcome`` and
their own epoch (the one in their routing id ``S:<name>:<epoch>``).
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = [
    "COUNTER_MAX",
    "EPOCH_MAX",
    "MAX_LEN",
    "PREFIX",
    "SHORT_ID_MAX",
    "ClOrdIdParts",
    "ClOrdIdSequence",
    "decode",
    "encode",
    "is_ours",
    "short_id_for",
]

PREFIX = "om"
MAX_LEN = 32
_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_INDEX = {c: i for i, c in enumerate(_ALPHABET)}
_BASE = len(_ALPHABET)
_SHORT_W = 3
_EPOCH_W = 11
_HEAD = len(PREFIX) + _SHORT_W + _EPOCH_W
_COUNTER_W = MAX_LEN - _HEAD

SHORT_ID_MAX = _BASE**_SHORT_W - 1
EPOCH_MAX = _BASE**_EPOCH_W - 1  # > 2**64: a nanosecond timestamp fits
COUNTER_MAX = _BASE**_COUNTER_W - 1


class ClOrdIdParts(NamedTuple):
    """The decoded fields of one of our clOrdIds."""

    short_id: str
    epoch: int
    counter: int


def _b62(value: int, width: int | None = None) -> str:
    if value < 0:
        raise ValueError("negative value in clOrdId")
    digits = []
    while True:
        value, rem = divmod(value, _BASE)
        digits.append(_ALPHABET[rem])
        if value == 0:
            break
    out = "".join(reversed(digits))
    if width is not None:
        if len(out) > width:
            raise ValueError(f"value does not fit in {width} base-62 digits")
        out = out.rjust(width, "0")
    return out


def _unb62(text: str) -> int | None:
    value = 0
    for ch in text:
        digit = _INDEX.get(ch)
        if digit is None:
            return None
        value = value * _BASE + digit
    return value


def short_id_for(index: int) -> str:
    """The short id for the router's ``index``-th strategy name (0 ≤ index ≤ SHORT_ID_MAX)."""
    if not 0 <= index <= SHORT_ID_MAX:
        raise ValueError(f"short id index out of range: {index}")
    return _b62(index, _SHORT_W)


def _check_short_id(short_id: str) -> None:
    if len(short_id) != _SHORT_W or any(c not in _INDEX for c in short_id):
        raise ValueError(f"short id must be {_SHORT_W} base-62 characters: {short_id!r}")


def encode(short_id: str, epoch: int, counter: int) -> str:
    """Build the clOrdId; raises ValueError if a field is out of range."""
    _check_short_id(short_id)
    if not 0 <= epoch <= EPOCH_MAX:
        raise ValueError(f"epoch out of range: {epoch}")
    if not 0 <= counter <= COUNTER_MAX:
        raise ValueError(f"counter out of range: {counter}")
    return f"{PREFIX}{short_id}{_b62(epoch, _EPOCH_W)}{_b62(counter)}"


def decode(cl_ord_id: str) -> ClOrdIdParts | None:
    """The fields of one of our ids, or None for a foreign/malformed id."""
    if not cl_ord_id.startswith(PREFIX) or not _HEAD < len(cl_ord_id) <= MAX_LEN:
        return None
    short_id = cl_ord_id[len(PREFIX) : len(PREFIX) + _SHORT_W]
    epoch = _unb62(cl_ord_id[len(PREFIX) + _SHORT_W : _HEAD])
    counter_text = cl_ord_id[_HEAD:]
    counter = _unb62(counter_text)
    if epoch is None or counter is None or any(c not in _INDEX for c in short_id):
        return None
    if len(counter_text) > 1 and counter_text[0] == "0":
        return None  # not canonical: encode never pads the counter
    return ClOrdIdParts(short_id, epoch, counter)


def is_ours(cl_ord_id: str) -> bool:
    """True when ``cl_ord_id`` was made by :func:`encode`."""
    return decode(cl_ord_id) is not None


class ClOrdIdSequence:
    """Fresh ids for one strategy epoch: ``seq.next()`` → ``"om00a…1"``, ``"om00a…2"``, ..."""

    def __init__(self, short_id: str, epoch: int, start: int = 0) -> None:
        _check_short_id(short_id)
        if not 0 <= epoch <= EPOCH_MAX:
            raise ValueError(f"epoch out of range: {epoch}")
        self.short_id = short_id
        self.epoch = epoch
        self._head = f"{PREFIX}{short_id}{_b62(epoch, _EPOCH_W)}"
        self._counter = start

    @property
    def counter(self) -> int:
        """The counter of the last id handed out (``start`` before the first)."""
        return self._counter

    def next(self) -> str:
        """A new id, never returned before by this sequence."""
        self._counter += 1
        if self._counter > COUNTER_MAX:
            raise ValueError("clOrdId counter exhausted")
        return self._head + _b62(self._counter)
