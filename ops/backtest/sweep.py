"""Parameter sweeps: every combination of a grid, each backtest in its own process.

``--grid step_pct=0.0005,0.001 num_orders_per_side=3,5`` → four runs of the same data and
settings on a local process pool (one worker per core by default), one row per run, sorted by
the chosen metric. Each run is the same deterministic backtest as a single one, so the table
does not depend on the pool's scheduling. (Issue 17 also asks for a cluster such as Dask; not
yet.)
"""

from __future__ import annotations

import itertools
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

from loguru import logger

from engine.errors import ConfigError
from ops.backtest.data import frames_of
from ops.backtest.engine import Backtest, BacktestConfig
from ops.backtest.report import summarize
from strategies.params import StrategyParams

__all__ = ["parse_grid", "run_sweep"]


def parse_grid(items: list[str]) -> list[dict[str, str]]:
    """``["a=1,2", "b=x"]`` → every combination as ``{name: value}``; ConfigError if malformed
    or a name is not a strategy parameter."""
    axes: list[tuple[str, list[str]]] = []
    known = set(StrategyParams.model_fields)
    for item in items:
        name, sep, values = item.partition("=")
        vals = [v.strip() for v in values.split(",") if v.strip()]
        if not sep or not name or not vals:
            raise ConfigError([("--grid", f"{item!r} is not NAME=V1,V2,...")])
        if name not in known:
            raise ConfigError([("--grid", f"{name!r} is not a strategy parameter")])
        axes.append((name, vals))
    return [dict(zip([a for a, _ in axes], combo, strict=True))
            for combo in itertools.product(*(v for _, v in axes))]  # fmt: skip


def _one(data: list[str], cfg: BacktestConfig, change: dict[str, str]) -> dict[str, Any]:
    logger.remove()  # a pool worker: the decisions' INFO lines are not the result
    try:
        params = StrategyParams.model_validate({**cfg.params.model_dump(), **change})
    except ValueError as exc:
        return {"params": change, "error": str(exc).splitlines()[0]}
    bt = Backtest(replace(cfg, params=params))
    bt.run(frames_of([Path(d) for d in data]))
    return {"params": change, **summarize(bt)}


def run_sweep(
    data: list[Path], cfg: BacktestConfig, grid: list[dict[str, str]], *, sort: str = "pnl",
    workers: int | None = None,
) -> list[dict[str, Any]]:  # fmt: skip
    """Every run's summary (with ``params``), best ``sort`` first; failed runs last."""
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(_one, [str(d) for d in data], cfg, g) for g in grid]
        rows = [f.result() for f in futures]

    def key(r: dict[str, Any]) -> tuple[int, float]:
        v = r.get(sort)
        return (1, 0.0) if not isinstance(v, int | float) else (0, -float(v))

    return sorted(rows, key=key)
