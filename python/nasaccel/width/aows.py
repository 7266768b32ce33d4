"""AOWS (Berman et al., CVPR 2020): widths that minimise the estimated loss under a latency budget.

:func:`solve_widths` builds the chain MRF (unary costs from :class:`UnaryStatistics`, latency terms
from :class:`WidthLatencyModel`, residual ties) and solves it exactly or by the Lagrangian relaxation.
:class:`AdaptiveNarrowing` turns the same MRF into a sampling distribution for slimmable training:
per-node tempered marginals of ``exp(-(U + lambda T) / tau)`` at the budget's multiplier ``lambda``,
with ``tau`` annealed from hot (near uniform) to cold (near the current optimum), so that training
concentrates on the widths that can matter under the budget.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._core import Genome
from .latency import WidthLatencyModel

__all__ = ["AdaptiveNarrowing", "WidthSolution", "check_budget", "solve_widths"]


def check_budget(model: WidthLatencyModel, budget: float) -> float:
    """``budget`` (seconds) as a float; ``ValueError`` naming it when it is not positive and finite or is
    below the narrowest network's latency (naming that minimum)."""
    if isinstance(budget, bool) or not isinstance(budget, numbers.Real) or not math.isfinite(budget) or budget <= 0:
        raise ValueError(f"latency budget must be a positive finite number of seconds, got {budget!r}")
    lo = model.min_latency()
    if budget < lo - 1e-12 * max(1.0, lo):
        raise ValueError(
            f"latency budget {budget * 1e3:.4g} ms is below the narrowest network's latency {lo * 1e3:.4g} ms "
            "(by the latency table); raise the budget or add narrower width multipliers"
        )
    return float(budget)


@dataclass
class WidthSolution:
    """Widths chosen under a budget: the genome, its choice and widths, estimated cost and latency."""

    genome: Genome
    choice: list[int]
    widths: list[int]
    cost: float
    latency_s: float
    solver: str
    lam: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"choice": self.choice, "widths": self.widths, "cost": self.cost, "latency_s": self.latency_s,
                "solver": self.solver, "lambda": self.lam}


def solve_widths(
    model: WidthLatencyModel, unary_costs: Sequence[Sequence[float]], budget: float, solver: str = "exact"
) -> WidthSolution:
    """The widths minimising the summed unary costs with predicted latency within ``budget`` (seconds).

    Parameters
    ----------
    model : WidthLatencyModel
        Latency terms of the space.
    unary_costs : sequence of arrays
        One cost per width choice per node (e.g. :meth:`UnaryStatistics.costs`).
    budget : float
        Latency budget in seconds.
    solver : {"exact", "lagrangian"}
        ``ChainMRF.solve_exact`` (the true optimum) or ``solve_lagrangian`` (AOWS' Viterbi with bisection).
    """
    if solver not in ("exact", "lagrangian"):
        raise ValueError(f"solver must be 'exact' or 'lagrangian', got {solver!r}")
    budget = check_budget(model, budget)
    mrf = model.mrf(unary_costs)
    lam = None
    if solver == "exact":
        states, cost, lat = mrf.solve_exact(budget)
    else:
        states, cost, lat, lam = mrf.solve_lagrangian(budget)
    space = model.space
    genome = space.genome([int(s) for s in states])
    return WidthSolution(genome, space.choice_of(genome), space.widths_of(genome), float(cost), float(lat), solver,
                         None if lam is None else float(lam))


class AdaptiveNarrowing:
    """Annealed MRF marginals as the width sampling distribution of slimmable training.

    Parameters
    ----------
    model : WidthLatencyModel
        Latency terms.
    budget : float
        Latency budget in seconds (checked against the narrowest network).
    start : float
        Fraction of training after which narrowing begins (uniform sampling before).
    tau_start, tau_end : float
        Temperatures relative to the unary costs' spread (the mean over nodes of max - min), annealed
        geometrically from ``tau_start`` to ``tau_end`` between ``start`` and the end of training.
    uniform_mix : float
        Share of uniform probability mixed in, so that every width keeps being sampled (and its
        unary estimate keeps being updated).
    """

    def __init__(
        self,
        model: WidthLatencyModel,
        budget: float,
        *,
        start: float = 0.3,
        tau_start: float = 1.0,
        tau_end: float = 0.05,
        uniform_mix: float = 0.1,
    ) -> None:
        self.model = model
        self.budget = check_budget(model, budget)
        for name, v, lo, hi in (("start", start, 0.0, 1.0), ("uniform_mix", uniform_mix, 0.0, 1.0)):
            if isinstance(v, bool) or not isinstance(v, numbers.Real) or not lo <= v <= hi:
                raise ValueError(f"{name} must be in [{lo:g}, {hi:g}], got {v!r}")
        for name, v in (("tau_start", tau_start), ("tau_end", tau_end)):
            if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v) or v <= 0:
                raise ValueError(f"{name} must be a positive number, got {v!r}")
        self.start, self.tau_start, self.tau_end, self.uniform_mix = float(start), float(tau_start), float(tau_end), float(uniform_mix)
        self.probs: list[np.ndarray] | None = None
        self.history: list[dict[str, Any]] = []

    def temperature(self, progress: float) -> float | None:
        """Relative temperature at training progress in [0, 1]; None before narrowing starts."""
        if progress < self.start:
            return None
        f = 1.0 if self.start >= 1.0 else (progress - self.start) / (1.0 - self.start)
        return self.tau_start * (self.tau_end / self.tau_start) ** min(max(f, 0.0), 1.0)

    def update(self, unary_costs: Sequence[np.ndarray], progress: float) -> list[np.ndarray] | None:
        """Recompute the sampling probabilities from the current unary costs at training ``progress``.

        Returns the per-node probabilities (also kept in :attr:`probs`), or None while sampling stays uniform.
        """
        tau_rel = self.temperature(progress)
        if tau_rel is None:
            self.probs = None
            return None
        costs = [np.asarray(u, float) for u in unary_costs]
        spread = float(np.mean([u.max() - u.min() for u in costs]))
        scale = spread if spread > 0 else 1.0
        mrf = self.model.mrf(costs)
        _, _, _, lam = mrf.solve_lagrangian(self.budget)
        if not math.isfinite(lam):
            # Only the fastest configurations fit: a multiplier large enough to rule out everything slower.
            lat_spread = self.model.max_latency() - self.model.min_latency()
            lam = 1e3 * scale / max(lat_spread, 1e-12)
        marg = mrf.marginals(tau_rel * scale, lam)
        K = self.model.space.num_choices
        self.probs = [(1.0 - self.uniform_mix) * np.asarray(p) + self.uniform_mix / K for p in marg]
        for p in self.probs:
            p /= p.sum()
        self.history.append({"progress": float(progress), "tau": tau_rel * scale, "lambda": float(lam),
                             "entropy": float(np.mean([-(p * np.log(p)).sum() for p in self.probs]))})
        return self.probs
