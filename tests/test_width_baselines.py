"""Greedy layer-by-layer pruning and uniform width scaling under a latency budget."""

from __future__ import annotations

import numpy as np
import pytest

from nasaccel.spaces import WidthSpace
from nasaccel.spaces.width import mobilenet_backbone
from nasaccel.width import WidthLatencyModel, build_width_table, greedy_prune, uniform_scaling
from test_width_latency import fake_measure

SPACE = WidthSpace((1, 24), 5, mobilenet_backbone((1, 24), residual=True, scale=0.25), multipliers=(0.5, 0.75, 1.0, 1.5))
MODEL = WidthLatencyModel(SPACE, build_width_table(SPACE, networks=4, measure=fake_measure).table)
WEIGHTS = np.array([3.0, 1.0, 1.0, 0.5, 0.5, 2.0])


def score(choice) -> float:
    """A made-up loss: narrower nodes cost more, some nodes more than others."""
    return float(sum(WEIGHTS[n] / (1 + k) for n, k in enumerate(choice)))


@pytest.mark.parametrize("f", [0.1, 0.4, 0.8])
def test_greedy_follows_the_cheapest_ratio_and_meets_the_budget(f):
    """Each greedy step shrinks the unit with the least score increase per latency saved; the result meets the budget."""
    lo, hi = MODEL.min_latency(), MODEL.max_latency()
    budget = lo + f * (hi - lo)
    res = greedy_prune(MODEL, budget, score)
    assert res.solution.latency_s <= budget * (1 + 1e-12)
    current = [SPACE.num_choices - 1] * SPACE.num_nodes
    units = [(0,), (1, 2), (3, 4), (5,)]
    for step in res.path:
        lat = MODEL.predict(current)
        options = []
        for u in units:
            if current[u[0]] == 0:
                continue
            c = list(current)
            for n in u:
                c[n] -= 1
            options.append(((score(c) - score(current)) / (lat - MODEL.predict(c)), c))
        want = min(options, key=lambda o: o[0])[1]
        assert step["choice"] == want
        current = want
    assert res.solution.choice == current
    # it stops at the first configuration within the budget
    if len(res.path) > 1:
        assert res.path[-2]["latency_s"] > budget


def test_uniform_scaling_takes_the_widest_common_multiplier_within_budget():
    """uniform_scaling returns the largest k with every node at choice k whose latency meets the budget."""
    lats = [MODEL.predict(SPACE.uniform(k)) for k in range(SPACE.num_choices)]
    for k in range(SPACE.num_choices):
        sol = uniform_scaling(MODEL, lats[k] * (1 + 1e-9))
        assert sol.choice == [k] * SPACE.num_nodes
    assert uniform_scaling(MODEL, 10.0).choice == [SPACE.num_choices - 1] * SPACE.num_nodes


def test_budget_below_minimum_is_refused_by_both():
    """Both baselines name the budget and the narrowest latency when the budget is too small."""
    lo = MODEL.min_latency()
    for call in (lambda b: greedy_prune(MODEL, b, score), lambda b: uniform_scaling(MODEL, b)):
        with pytest.raises(ValueError, match="below the narrowest network's latency"):
            call(lo * 0.9)


def test_greedy_crosses_a_flat_stretch_of_the_table():
    """When no shrink saves latency by the table, greedy takes the least-slower one and still reaches the budget."""
    import copy

    flat = copy.copy(MODEL)
    flat.unary_latency = [np.zeros(4) for _ in range(SPACE.num_nodes)]
    flat.pairwise_latency = [np.zeros((4, 4)) for _ in range(SPACE.num_nodes - 1)]
    flat.unary_latency[0] = np.array([0.0, 2e-6, 2e-6, 2e-6])  # only the last shrink of node 0 saves latency
    flat.constant = 1e-6
    res = greedy_prune(flat, 2e-6, score)
    assert res.solution.choice == [0, 3, 3, 3, 3, 3]
    assert [s["choice"][0] for s in res.path] == [2, 1, 0]
