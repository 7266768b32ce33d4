"""Latency-constrained width search (AOWS): slimmable training, unary statistics, chain-MRF solve, baselines.

``width_search`` runs the whole pipeline; the parts are :class:`~nasaccel.spaces.WidthSpace` (the
widths of a ChainSpace backbone), :class:`SlimmableNetwork` and :func:`train_slimmable` (sandwich-rule
training), :class:`UnaryStatistics`, :func:`build_width_table` / :class:`WidthLatencyModel` (per-layer
latency terms measured with ONNX Runtime), :func:`solve_widths` and :class:`AdaptiveNarrowing` (the
C++ ``ChainMRF``), and the baselines :func:`greedy_prune` and :func:`uniform_scaling`.

torch is imported only by the modules that train (``slimmable``, ``training``, ``search``), so
importing this package needs numpy alone.
"""

from __future__ import annotations

from typing import Any

from .aows import AdaptiveNarrowing as AdaptiveNarrowing
from .aows import WidthSolution as WidthSolution
from .aows import check_budget as check_budget
from .aows import solve_widths as solve_widths
from .baselines import GreedyResult as GreedyResult
from .baselines import greedy_prune as greedy_prune
from .baselines import slimmable_scorer as slimmable_scorer
from .baselines import uniform_scaling as uniform_scaling
from .latency import WidthLatencyModel as WidthLatencyModel
from .latency import build_width_table as build_width_table
from .latency import random_choice as random_choice
from .latency import width_term_examples as width_term_examples
from .unary import UnaryStatistics as UnaryStatistics

_LAZY = {
    "SlimmableNetwork": ".slimmable",
    "train_slimmable": ".training",
    "train_network": ".training",
    "evaluate_config": ".training",
    "estimate_unary": ".training",
    "width_search": ".search",
    "WidthSearchResult": ".search",
    "export_onnx": ".search",
    "measure_latency": ".search",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AdaptiveNarrowing", "GreedyResult", "UnaryStatistics", "WidthLatencyModel", "WidthSolution",
    "build_width_table", "check_budget", "greedy_prune", "random_choice", "slimmable_scorer", "solve_widths",
    "uniform_scaling", "width_term_examples", *_LAZY,
]
