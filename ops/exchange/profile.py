"""Venue profiles: which OKX the local exchange imitates.

``current`` is OKX as of December 2026 (okx-v5.md §14), the default; ``legacy`` is early-2026
OKX, for clients written before. Every difference between the two is one named switch below;
``exchange.venue`` in the config (or ``--switch name=value`` on ``okxmm exchange``) overrides
any of them on top of the chosen profile.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Literal

__all__ = ["PROFILES", "ProfileName", "VenueRules", "describe", "parse_switches", "resolve"]

ProfileName = Literal["current", "legacy"]


@dataclass(frozen=True, slots=True)
class VenueRules:
    """The switches (see ``describe`` for what each one does)."""

    ws_ops_need_inst_id_code: bool
    initial_snapshot: bool
    checksum_mode: Literal["crc32", "zero"]
    max_amends_in_flight: int  # 0: no limit
    order_push_repeat_rate: float  # share of orders-channel pushes sent twice (new uTime)
    phantom_delete_rate: float  # share of book updates that delete a level never sent
    ws_connects_per_s: int  # new WS connections per second per IP; more get HTTP 429 (0: any)
    ws_requests_per_hour: int  # subscribe/unsubscribe/login per connection per hour (0: any)


PROFILES: dict[str, VenueRules] = {
    "current": VenueRules(
        ws_ops_need_inst_id_code=True,
        initial_snapshot=False,
        checksum_mode="zero",
        max_amends_in_flight=3,
        order_push_repeat_rate=0.0,
        phantom_delete_rate=0.3,
        ws_connects_per_s=3,
        ws_requests_per_hour=480,
    ),
    "legacy": VenueRules(
        ws_ops_need_inst_id_code=False,
        initial_snapshot=True,
        checksum_mode="crc32",
        max_amends_in_flight=0,
        order_push_repeat_rate=0.0,
        phantom_delete_rate=0.0,
        # off: the clients and tests written against early-2026 venues open connections and
        # resubscribe freely; today's OKX refuses (okx-v5.md §5, §14)
        ws_connects_per_s=0,
        ws_requests_per_hour=0,
    ),
}

_HELP = {
    "ws_ops_need_inst_id_code": "WS order ops need instIdCode (50014 without it); instId ignored",
    "initial_snapshot": "books channels start with an action=snapshot push",
    "checksum_mode": "books checksum: crc32 of the top 25 levels, or always 0",
    "max_amends_in_flight": "amends of one order in progress at once; more get 51513 (0: any)",
    "order_push_repeat_rate": "share of orders-channel pushes repeated with a new uTime",
    "phantom_delete_rate": "share of book updates deleting a level the client never saw",
    "ws_connects_per_s": "new WS connections per second per IP; more are refused with HTTP 429 "
    "before the upgrade (0: any)",
    "ws_requests_per_hour": "subscribe/unsubscribe/login requests per connection per hour; "
    "more get event error 60014 'Requests too frequent' (0: any)",
}


def resolve(profile: str, overrides: dict[str, object] | None = None) -> VenueRules:
    """The rules of ``profile`` with ``overrides`` applied; ValueError names a bad key/value."""
    if profile not in PROFILES:
        raise ValueError(f"unknown venue profile {profile!r} (known: {', '.join(PROFILES)})")
    rules = PROFILES[profile]
    if not overrides:
        return rules
    known = {f.name: f for f in fields(VenueRules)}
    changes: dict[str, object] = {}
    for key, value in overrides.items():
        if key not in known:
            raise ValueError(f"unknown venue switch {key!r} (known: {', '.join(known)})")
        current = getattr(rules, key)
        changes[key] = _coerce(key, value, current)
    return replace(rules, **changes)  # type: ignore[arg-type]


def _coerce(key: str, value: object, like: object) -> object:
    text = str(value).strip().lower()
    if isinstance(like, bool):
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"venue switch {key} wants true/false, got {value!r}")
    if isinstance(like, int):
        if not text.isdigit():
            raise ValueError(f"venue switch {key} wants a whole number >= 0, got {value!r}")
        return int(text)
    if isinstance(like, float):
        try:
            rate = float(text)
        except ValueError:
            rate = -1.0
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"venue switch {key} wants a rate in [0, 1], got {value!r}")
        return rate
    if key == "checksum_mode" and text in ("crc32", "zero"):
        return text
    raise ValueError(f"venue switch {key}: bad value {value!r}")


def parse_switches(items: list[str]) -> dict[str, str]:
    """``["name=value", ...]`` from the command line; ValueError names a malformed item."""
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise ValueError(f"--switch wants NAME=VALUE, got {item!r}")
        out[name.strip()] = value.strip()
    return out


def describe() -> str:
    """One line per switch with its value in each profile (for ``--help`` and the docs)."""
    lines = []
    for name, help_text in _HELP.items():
        values = ", ".join(f"{p}={asdict(r)[name]}" for p, r in PROFILES.items())
        lines.append(f"{name}: {help_text} [{values}]")
    return "\n".join(lines)
