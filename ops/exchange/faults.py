"""Fault injection state: persistent knobs (from config, changed at runtime) and one-shot
counters (skip the next N seqIds, corrupt the next N checksums)."""

from __future__ import annotations

import random
from dataclasses import dataclass

from ops.exchange.config import FaultConfig
from ops.exchange.profile import VenueRules

__all__ = ["Faults"]

_HTTP = {"50011": 429, "50001": 503, "50026": 500, "50013": 429}


@dataclass(slots=True)
class Faults:
    """Current fault settings of the running exchange."""

    ack_delay_ms: int = 0
    error_rate: float = 0.0
    error_code: str = "50011"
    freeze: bool = False
    clock_offset_ms: int = 0
    checksum_mode: str = "crc32"
    initial_snapshot: bool = True
    skip_seq: int = 0  # one-shot: the next N book updates skip a seqId
    corrupt_checksum: int = 0  # one-shot: the next N book updates carry a wrong checksum
    drop_ws_every_s: float = 0.0  # periodic connection drops (0 = off)
    order_push_repeat_rate: float = 0.0  # venue switch of the same name, changeable at runtime

    @classmethod
    def from_config(cls, c: FaultConfig, rules: VenueRules | None = None) -> Faults:
        """The configured knobs; book knobs left unset come from the venue profile."""
        snap = c.initial_snapshot
        mode = c.checksum_mode
        if rules is not None:
            snap = rules.initial_snapshot if snap is None else snap
            mode = rules.checksum_mode if mode is None else mode
        return cls(
            ack_delay_ms=c.ack_delay_ms,
            error_rate=c.error_rate,
            error_code=c.error_code,
            freeze=c.freeze,
            clock_offset_ms=c.clock_offset_ms,
            checksum_mode=mode or "crc32",
            initial_snapshot=True if snap is None else snap,
            skip_seq=c.skip_seq,
            corrupt_checksum=c.corrupt_checksum,
            drop_ws_every_s=c.drop_ws_every_s,
            order_push_repeat_rate=rules.order_push_repeat_rate if rules is not None else 0.0,
        )

    def injected_error(self, rng: random.Random) -> tuple[str, int] | None:
        """(code, http status) when this request must fail, else None."""
        if self.error_rate > 0 and rng.random() < self.error_rate:
            return self.error_code, _HTTP.get(self.error_code, 200)
        return None

    def as_dict(self) -> dict[str, object]:
        return {
            "ack_delay_ms": self.ack_delay_ms,
            "error_rate": self.error_rate,
            "error_code": self.error_code,
            "freeze": self.freeze,
            "clock_offset_ms": self.clock_offset_ms,
            "checksum_mode": self.checksum_mode,
            "initial_snapshot": self.initial_snapshot,
            "skip_seq": self.skip_seq,
            "corrupt_checksum": self.corrupt_checksum,
            "drop_ws_every_s": self.drop_ws_every_s,
            "order_push_repeat_rate": self.order_push_repeat_rate,
        }
