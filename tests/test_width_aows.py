"""AOWS solve and adaptive narrowing against brute force over every width configuration."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nasaccel.spaces import WidthSpace
from nasaccel.spaces.width import mobilenet_backbone
from nasaccel.width import AdaptiveNarrowing, WidthLatencyModel, build_width_table, solve_widths
from test_width_latency import fake_measure

SPACE = WidthSpace((1, 24), 5, mobilenet_backbone((1, 24), residual=True, scale=0.25), multipliers=(0.5, 1.0, 1.5))
MODEL = WidthLatencyModel(SPACE, build_width_table(SPACE, networks=4, measure=fake_measure).table)


def configurations():
    """Every tie-respecting configuration."""
    out = []
    for c in itertools.product(range(SPACE.num_choices), repeat=SPACE.num_nodes):
        if all(len({c[n] for n in g}) == 1 for g in SPACE.ties):
            out.append(list(c))
    return out


CONFIGS = configurations()
LATS = np.array([MODEL.predict(c) for c in CONFIGS])


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31), st.floats(0.0, 1.0))
def test_exact_widths_are_the_brute_force_optimum(seed, f):
    """solve_widths(exact) returns the cheapest configuration within the budget; lagrangian meets it, never cheaper."""
    rng = np.random.default_rng(seed)
    costs = [rng.normal(size=SPACE.num_choices) for _ in range(SPACE.num_nodes)]
    budget = LATS.min() + f * (LATS.max() - LATS.min())
    total = np.array([sum(costs[n][k] for n, k in enumerate(c)) for c in CONFIGS])
    best = total[LATS <= budget * (1 + 1e-12)].min()
    sol = solve_widths(MODEL, costs, budget)
    assert sol.cost == pytest.approx(best, abs=1e-9)
    assert sol.latency_s <= budget * (1 + 1e-12)
    assert sol.widths == SPACE.widths_of(sol.choice)
    lag = solve_widths(MODEL, costs, budget, solver="lagrangian")
    assert lag.latency_s <= budget * (1 + 1e-12) and lag.cost >= sol.cost - 1e-9 and lag.lam >= 0


def test_budget_below_the_narrowest_names_both():
    """A budget below the narrowest network's latency raises ValueError naming the budget and that minimum."""
    lo = LATS.min()
    with pytest.raises(ValueError, match=rf"latency budget {lo * 0.5e3:.4g} ms is below the narrowest network's latency {lo * 1e3:.4g} ms"):
        solve_widths(MODEL, [np.zeros(3)] * SPACE.num_nodes, lo * 0.5)
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="latency budget must be a positive finite number"):
            solve_widths(MODEL, [np.zeros(3)] * SPACE.num_nodes, bad)
    with pytest.raises(ValueError, match="solver must be 'exact' or 'lagrangian'"):
        solve_widths(MODEL, [np.zeros(3)] * SPACE.num_nodes, lo, solver="viterbi")


def test_narrowing_marginals_equal_brute_force_and_anneal():
    """Narrowing probabilities are the mixed tempered marginals at the budget's multiplier; they sharpen as tau falls."""
    rng = np.random.default_rng(0)
    costs = [rng.normal(size=3) for _ in range(SPACE.num_nodes)]
    budget = float(np.quantile(LATS, 0.4))
    nar = AdaptiveNarrowing(MODEL, budget, start=0.2, tau_start=1.0, tau_end=0.05, uniform_mix=0.1)
    assert nar.update(costs, 0.1) is None  # before start: uniform
    probs = nar.update(costs, 0.2)
    h = nar.history[-1]
    total = np.array([sum(costs[n][k] for n, k in enumerate(c)) for c in CONFIGS])
    e = (total + h["lambda"] * LATS) / h["tau"]
    w = np.exp(-(e - e.min()))
    w /= w.sum()
    for n in range(SPACE.num_nodes):
        marg = np.bincount([c[n] for c in CONFIGS], weights=w, minlength=3)
        np.testing.assert_allclose(probs[n], 0.9 * marg + 0.1 / 3, atol=1e-9)
        assert probs[n].sum() == pytest.approx(1.0)
    for g in SPACE.ties:
        np.testing.assert_allclose(probs[g[0]], probs[g[1]])
    late = nar.update(costs, 1.0)
    assert nar.history[-1]["entropy"] < nar.history[0]["entropy"]
    assert all(p.min() >= 0.1 / 3 - 1e-12 for p in late)


def test_narrowing_arguments_are_checked():
    """Bad schedule arguments raise ValueError naming them."""
    for kw, msg in [(dict(start=1.5), "start must be in"), (dict(tau_end=0.0), "tau_end must be a positive"),
                    (dict(uniform_mix=-0.1), "uniform_mix must be in")]:
        with pytest.raises(ValueError, match=msg):
            AdaptiveNarrowing(MODEL, float(LATS.max()), **kw)
