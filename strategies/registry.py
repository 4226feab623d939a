"""Strategy names → implementations (the ``--strategy`` option)."""

from __future__ import annotations

from engine.errors import ConfigError
from strategies.avellaneda_stoikov import AvellanedaStoikov
from strategies.base import BaseStrategy
from strategies.sample_mm import SampleMM
from strategies.skew import InventorySkew, Volatility

__all__ = ["STRATEGIES", "make_strategy"]

STRATEGIES: dict[str, type[BaseStrategy]] = {
    SampleMM.name: SampleMM,
    InventorySkew.name: InventorySkew,
    Volatility.name: Volatility,
    AvellanedaStoikov.name: AvellanedaStoikov,
}


def make_strategy(name: str) -> BaseStrategy:
    """A new strategy instance; raises ConfigError naming the known strategies."""
    try:
        return STRATEGIES[name]()
    except KeyError:
        known = ", ".join(sorted(STRATEGIES))
        raise ConfigError([("strategy", f"unknown strategy {name!r}; known: {known}")]) from None
