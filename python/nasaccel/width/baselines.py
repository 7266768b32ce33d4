"""Baselines of the width search under the same latency budget: greedy pruning and uniform scaling.

:func:`greedy_prune` is the layer-by-layer greedy AOWS compares against (as in NetAdapt / AutoSlim):
start from the widest network and repeatedly shrink, by one width choice, the node (or residual tie
group) whose shrink costs the least score per second of latency saved, until the latency meets the
budget. The score of a configuration is measured on the slimmable network (validation loss after
batch-norm calibration, :func:`slimmable_scorer`), the latency is the table's.
:func:`uniform_scaling` multiplies every width by the largest multiplier that meets the budget.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .aows import WidthSolution, check_budget
from .latency import WidthLatencyModel

__all__ = ["GreedyResult", "greedy_prune", "slimmable_scorer", "uniform_scaling"]


@dataclass
class GreedyResult:
    """The greedy solution plus its path (one entry per shrink) and the number of configurations scored."""

    solution: WidthSolution
    path: list[dict[str, Any]] = field(default_factory=list)
    evaluations: int = 0


def _groups(model: WidthLatencyModel) -> list[tuple[int, ...]]:
    """Decision units: each residual tie group once, every other node alone (in node order)."""
    space = model.space
    seen: set[int] = set()
    out = []
    for n in range(space.num_nodes):
        if n in seen:
            continue
        g = next((tuple(g) for g in space.ties if n in g), (n,))
        seen.update(g)
        out.append(g)
    return out


def greedy_prune(
    model: WidthLatencyModel, budget: float, score: Callable[[tuple[int, ...]], float]
) -> GreedyResult:
    """Shrink the widest configuration one step at a time, cheapest score increase per latency saved first.

    Parameters
    ----------
    model : WidthLatencyModel
        Latency of configurations (seconds).
    budget : float
        Latency budget in seconds; ``ValueError`` when below the narrowest network's latency.
    score : callable
        ``score(choice) -> float`` to minimise (e.g. validation loss of the slimmable network).

    Notes
    -----
    A shrink that saves no latency by the table is taken only when no shrink does (the one costing the
    least extra latency): tiny layers' terms sit within the table's noise, and shrinking further may still
    reach the budget. Each step scores every unit once; ties in the ratio go to the earlier unit.
    """
    budget = check_budget(model, budget)
    space = model.space
    cache: dict[tuple[int, ...], float] = {}

    def scored(c: tuple[int, ...]) -> float:
        if c not in cache:
            cache[c] = float(score(c))
        return cache[c]

    current = tuple([space.num_choices - 1] * space.num_nodes)
    lat = model.predict(current)
    path: list[dict[str, Any]] = []
    groups = _groups(model)
    while lat > budget + 1e-12 * max(budget, 1.0):
        base = scored(current)
        best: tuple[float, tuple[int, ...], float] | None = None
        fallback: tuple[float, tuple[int, ...], float] | None = None
        for g in groups:
            k = current[g[0]]
            if k == 0:
                continue
            cand = list(current)
            for n in g:
                cand[n] = k - 1
            c = tuple(cand)
            saved = lat - model.predict(c)
            if saved <= 0:
                # not faster by the table (tiny layers sit within its noise): a last resort, least slower first
                if fallback is None or saved > fallback[2]:
                    fallback = (float("inf"), c, saved)
                continue
            ratio = (scored(c) - base) / saved
            if best is None or ratio < best[0]:
                best = (ratio, c, saved)
        if best is None:
            best = fallback
        if best is None:
            # every node is at its narrowest choice (cannot happen when the budget passed check_budget)
            raise ValueError(
                f"greedy pruning cannot reach the latency budget {budget * 1e3:.4g} ms: the narrowest "
                f"configuration {space.to_text(space.genome(current))} takes {lat * 1e3:.4g} ms"
            )
        current = best[1]
        lat = model.predict(current)
        path.append({"choice": list(current), "latency_s": lat, "score": scored(current), "ratio": best[0]})
    genome = space.genome(list(current))
    sol = WidthSolution(genome, space.choice_of(genome), space.widths_of(genome), scored(current), lat, "greedy")
    return GreedyResult(sol, path, len(cache))


def uniform_scaling(model: WidthLatencyModel, budget: float) -> WidthSolution:
    """Every node at the largest common width choice whose latency meets ``budget`` (seconds)."""
    budget = check_budget(model, budget)
    space = model.space
    for k in range(space.num_choices - 1, -1, -1):
        g = space.uniform(k)
        lat = model.predict(g)
        if lat <= budget + 1e-12 * max(budget, 1.0):
            return WidthSolution(g, space.choice_of(g), space.widths_of(g), float("nan"), lat, "uniform")
    lo = model.predict(space.narrowest())
    raise ValueError(
        f"latency budget {budget * 1e3:.4g} ms is below the uniformly narrowest network's latency {lo * 1e3:.4g} ms"
    )


def slimmable_scorer(
    network: Any, x_calib: np.ndarray, x_val: np.ndarray, y_val: np.ndarray, metric: str = "loss"
) -> Callable[[Sequence[int]], float]:
    """``score(choice)``: validation loss (``metric="loss"``) or error rate (``"error"``) of a slimmable
    network's configuration after batch-norm calibration on ``x_calib``."""
    from .training import evaluate_config

    if metric not in ("loss", "error"):
        raise ValueError(f"metric must be 'loss' or 'error', got {metric!r}")

    def score(choice: Sequence[int]) -> float:
        loss, acc = evaluate_config(network, list(choice), x_calib, x_val, y_val)
        network.stats.pop(network.key(list(choice)), None)  # keep memory flat over hundreds of configurations
        return loss if metric == "loss" else 1.0 - acc

    return score
