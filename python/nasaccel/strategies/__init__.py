"""Search strategies behind one ask/tell interface, each in its own module."""

from __future__ import annotations

from typing import Any

from .base import SearchExhausted, Strategy
from .bayesopt import BayesOpt
from .coevolution import Coevolution
from .evolution import RegularizedEvolution
from .exhaustive import Exhaustive
from .local_search import LocalSearch
from .nsga2 import NSGA2
from .random_search import RandomSearch
from .rl_controller import RLController

STRATEGIES: dict[str, type[Strategy]] = {
    cls.name: cls
    for cls in (
        RandomSearch,
        Exhaustive,
        LocalSearch,
        RegularizedEvolution,
        NSGA2,
        Coevolution,
        RLController,
        BayesOpt,
    )
}


def strategy_from_config(config: dict[str, Any] | str) -> Strategy:
    """A strategy from ``"name"`` or ``{"name": ..., "params": {...}}`` (or the params inline)."""
    if isinstance(config, str):
        config = {"name": config}
    if not isinstance(config, dict) or "name" not in config:
        raise ValueError(f"strategy config {config!r} needs a 'name'; known: {sorted(STRATEGIES)}")
    name = config["name"]
    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; known: {sorted(STRATEGIES)}")
    params = dict(config.get("params", {}))
    params.update({k: v for k, v in config.items() if k not in ("name", "params")})
    try:
        return STRATEGIES[name](**params)
    except TypeError as e:
        raise ValueError(f"bad parameters for strategy {name!r}: {e}") from e


__all__ = [
    "NSGA2",
    "STRATEGIES",
    "BayesOpt",
    "Coevolution",
    "Exhaustive",
    "LocalSearch",
    "RandomSearch",
    "RLController",
    "RegularizedEvolution",
    "SearchExhausted",
    "Strategy",
    "strategy_from_config",
]
