"""Loading a backtest's market: raw recorder files or Tardis CSVs, merged in time order, and the
instrument's rules (recorded ``public/instruments`` if the data has it, else the local
exchange's table, which matches OKX's for the instruments it lists)."""

from __future__ import annotations

import heapq
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

from engine.errors import ConfigError
from engine.messages import InstrumentInfo
from ops.exchange.config import ExchangeConfig
from ops.marketdata.rawfile import RawFrame, read_raw
from ops.marketdata.tardis import read_tardis_book, read_tardis_trades

__all__ = ["frames_of", "instrument_info", "latency_samples"]


def _one(path: Path) -> Iterator[RawFrame]:
    name = path.name
    if name.endswith(".okxraw.gz"):
        return read_raw(path)
    if "trades" in name and name.endswith((".csv", ".csv.gz")):
        return read_tardis_trades(path)
    if "book" in name and name.endswith((".csv", ".csv.gz")):
        return read_tardis_book(path)
    raise ConfigError([("--data", f"{path}: not a raw recorder file or a Tardis book/trades CSV")])


def frames_of(
    paths: list[Path], start_ns: int | None = None, end_ns: int | None = None
) -> Iterator[RawFrame]:
    """Every frame of ``paths`` (files or directories of them) in receive-time order."""
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            files += sorted(p.glob("*.okxraw.gz"))
        elif p.exists():
            files.append(p)
        else:
            raise ConfigError([("--data", f"{p} does not exist")])
    if not files:
        raise ConfigError([("--data", "no data files given")])
    merged = heapq.merge(*(_one(f) for f in files), key=lambda f: f.recv_ns)
    for f in merged:
        if start_ns is not None and f.recv_ns < start_ns:
            continue
        if end_ns is not None and f.recv_ns > end_ns:
            return
        yield f


def instrument_info(inst: str, frames: list[RawFrame]) -> InstrumentInfo:
    """``inst``'s rules from a recorded ``public/instruments`` answer, else the local table."""
    for f in frames:
        if not f.stream.startswith("rest:instruments"):
            continue
        try:
            rows = json.loads(f.text)["data"]
        except (ValueError, KeyError):
            continue
        for r in rows:
            if r.get("instId") == inst:
                return InstrumentInfo(
                    inst=inst,
                    inst_type=r["instType"],
                    tick_sz=Decimal(r["tickSz"]),
                    lot_sz=Decimal(r["lotSz"]),
                    min_sz=Decimal(r["minSz"]),
                    state=r.get("state", "live"),
                    ct_val=Decimal(r["ctVal"]) if r.get("ctVal") else None,
                    settle_ccy=r.get("settleCcy", ""),
                )
    for spec in ExchangeConfig().instruments:
        if spec.inst_id == inst:
            return InstrumentInfo(
                inst=inst,
                inst_type=spec.inst_type,
                tick_sz=Decimal(spec.tick_sz),
                lot_sz=Decimal(spec.lot_sz),
                min_sz=Decimal(spec.min_sz),
                state="live",
                ct_val=Decimal(spec.ct_val) if spec.ct_val else None,
                settle_ccy="USDT" if inst.endswith("USDT-SWAP") else "",
            )
    raise ConfigError([("--inst", f"no rules for {inst}: record public/instruments with the data")])


def latency_samples(path: Path, option: str = "--latency-file") -> tuple[int, ...]:
    """Latencies recorded live, one per line in milliseconds (``#`` starts a comment; what
    ``okxmm latencies`` writes), as ns; ConfigError naming ``option`` and the bad line."""
    if not path.exists():
        raise ConfigError([(option, f"{path} does not exist")])
    out: list[int] = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        try:
            ms = float(text)
        except ValueError:
            ms = -1.0
        if not 0 <= ms < 60_000:
            raise ConfigError([(option, f"{path}:{n}: {text!r} is not a latency in ms")])
        out.append(int(ms * 1_000_000))
    if not out:
        raise ConfigError([(option, f"{path}: no samples")])
    return tuple(out)
