"""Parameter sweeps: every combination of a grid, each backtest in its own process.

``--grid step_pct=0.0005,0.001 num_orders_per_side=3,5`` → four runs of the same data and
settings on a local process pool (one worker per core by default), one row per run, sorted by
the chosen metric. Each run is the same deterministic backtest as a single one, so the table
does not depend on the pool's scheduling. With ``cluster`` the runs go to a Dask distributed
scheduler instead (``"local"``: a :class:`distributed.LocalCluster` of worker processes on this
machine, started and stopped here); the data paths must be readable by the cluster's workers.
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


def _on_cluster(
    address: str, data: list[str], cfg: BacktestConfig, grid: list[dict[str, str]],
    workers: int | None,
) -> list[dict[str, Any]]:  # fmt: skip
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ConfigError(
            [("--cluster", "needs Dask distributed: pip install 'okxmm[cluster]'")]
        ) from None
    cluster = None
    if address == "local":
        cluster = LocalCluster(  # type: ignore[no-untyped-call]
            n_workers=workers or 2, threads_per_worker=1, processes=True,
            dashboard_address=None,
        )  # fmt: skip
    try:
        with Client(cluster if cluster is not None else address) as client:  # type: ignore[no-untyped-call]
            # pure=False: identical tasks must still each run (they are cheap to key apart)
            futures = [client.submit(_one, data, cfg, g, pure=False) for g in grid]
            return list(client.gather(futures))
    except OSError as exc:
        raise ConfigError([("--cluster", f"cannot reach {address}: {exc}")]) from None
    finally:
        if cluster is not None:
            cluster.close()


def run_sweep(
    data: list[Path], cfg: BacktestConfig, grid: list[dict[str, str]], *, sort: str = "pnl",
    workers: int | None = None, cluster: str | None = None,
) -> list[dict[str, Any]]:  # fmt: skip
    """Every run's summary (with ``params``), best ``sort`` first; failed runs last. ``cluster``:
    a Dask scheduler address, or ``"local"``; None: a local process pool."""
    paths = [str(d) for d in data]
    if cluster is not None:
        rows = _on_cluster(cluster, paths, cfg, grid, workers)
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(_one, paths, cfg, g) for g in grid]
            rows = [f.result() for f in futures]

    def key(r: dict[str, Any]) -> tuple[int, float]:
        v = r.get(sort)
        return (1, 0.0) if not isinstance(v, int | float) else (0, -float(v))

    return sorted(rows, key=key)
