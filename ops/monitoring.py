"""Where Prometheus finds the actors of one configuration: a scrape config for ``okxmm up``.

The targets are the processes ``okxmm up`` runs (the supervisor, the local exchange when it
starts it, every actor child), each at ``metrics.host`` and its port of the
``metrics.port_base`` scheme (``engine.metrics.MetricsConfig``). ``okxmm config prometheus``
prints it; ``deploy/prometheus.yml`` is the docker compose version (targets by service name).
"""

from __future__ import annotations

from typing import Any

from ops.config import OkxmmConfig
from ops.supervisor import build_specs

__all__ = ["prometheus_config", "scrape_targets"]


def scrape_targets(cfg: OkxmmConfig) -> dict[str, str]:
    """Actor name → ``host:port`` of its ``/metrics``, for everything ``okxmm up`` runs."""
    names = ["supervisor"] + [s.name for s in build_specs(cfg, None)]
    host = cfg.metrics.host if cfg.metrics.host not in ("0.0.0.0", "::") else "127.0.0.1"  # noqa: S104 - a bind-all address is no target
    return {name: f"{host}:{cfg.metrics_port(name)}" for name in names}


def prometheus_config(cfg: OkxmmConfig, *, interval_s: float = 5.0) -> dict[str, Any]:
    """A ``prometheus.yml`` (as a mapping) scraping every target, ``actor`` as a target label."""
    return {
        "global": {
            "scrape_interval": f"{interval_s:g}s",
            "evaluation_interval": f"{interval_s:g}s",
        },
        "scrape_configs": [
            {
                "job_name": "okxmm",
                # the series carry their own ``actor`` label: keep it, not an exported_ copy
                "honor_labels": True,
                "static_configs": [
                    {"targets": [target], "labels": {"actor": name}}
                    for name, target in scrape_targets(cfg).items()
                ],
            }
        ],
    }
