"""BayesOpt strategy: whole-space and pool modes, batches, acquisitions, objectives, diagnostics, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

import nasaccel as na
from nasaccel._core import neighbours
from nasaccel.strategies import BayesOpt, strategy_from_config
from nasaccel.strategies.bayesopt import KERNELS, build_kernel
from nasaccel.trial import Objective, Trial, TrialState


def landscape(space, g) -> dict[str, float]:
    """A smooth synthetic landscape: accuracy grows with the number of conv3x3 edges (op 3), size with convs."""
    ops = [g.at(i, 0) for i in range(len(g))]
    return {"acc": float(sum(o == 3 for o in ops)) + 0.1 * float(sum(o == 2 for o in ops)),
            "size": float(sum(o in (2, 3) for o in ops))}


def run(strategy, space, n, objectives=None, batch=1, seed=0, constraints=()):
    strategy.setup(space, objectives or [Objective("acc")], list(constraints), seed)
    out, number = [], 0
    while len(out) < n:
        asked = [strategy.ask() for _ in range(batch)]
        for g in asked:
            strategy.tell(Trial(number, space.to_text(g), g.to_text(), TrialState.COMPLETE, landscape(space, g)), g)
            number += 1
        out += asked
    return out


def test_whole_space_search_finds_the_optimum_without_repeats():
    """On NB201 (enumerated whole) BO proposes no genome twice and finds the all-conv3x3 cell within 30 asks."""
    space = na.NB201CellSpace()
    s = BayesOpt(n_init=5, n_restarts=0, refit_every=3)
    props = run(s, space, 30)
    texts = [g.to_text() for g in props]
    assert len(set(texts)) == len(texts)
    assert max(landscape(space, g)["acc"] for g in props) == 6.0
    assert s.diagnostics["n_observations"] >= 25


@pytest.mark.parametrize("kernel", KERNELS)
def test_every_kernel_runs_on_nb201(kernel):
    """Each kernel choice builds for NB201 and improves on its random initial design."""
    space = na.NB201CellSpace()
    props = run(BayesOpt(kernel=kernel, n_init=5, n_restarts=0, refit_every=3), space, 20)
    init = max(landscape(space, g)["acc"] for g in props[:5])
    assert max(landscape(space, g)["acc"] for g in props) > init


@pytest.mark.parametrize("acquisition", ["ei", "ucb", "pi", "thompson"])
@pytest.mark.parametrize("batch", ["kriging_believer", "local_penalization"])
def test_acquisitions_and_batches_are_reproducible(acquisition, batch):
    """Every acquisition and batch mode gives valid, distinct, seeded proposals with several in flight."""
    space = na.NB201CellSpace()
    a = run(BayesOpt(acquisition=acquisition, batch=batch, n_init=4, n_restarts=0, refit_every=4, thompson_candidates=100), space, 16, batch=4, seed=2)
    b = run(BayesOpt(acquisition=acquisition, batch=batch, n_init=4, n_restarts=0, refit_every=4, thompson_candidates=100), space, 16, batch=4, seed=2)
    assert [g.to_text() for g in a] == [g.to_text() for g in b]
    assert len({g.to_text() for g in a}) == 16


def test_pool_mode_on_a_large_space():
    """A space too large to enumerate is searched over a mutation pool; proposals are valid and new."""
    space = na.ChainSpace((1, 16), 3, widths=(4, 8), kernels=(3, 5), strides=(1, 2), min_layers=2, max_layers=5,
                          max_skip_offset=2)
    s = BayesOpt(kernel="wl", n_init=4, pool_size=500, n_restarts=0)
    s.setup(space, [Objective("acc")], [], 0)
    assert s._space_pop is None
    ask_new_valid(s, space, 15, lambda g: float(len(g)))


def ask_new_valid(strategy, space, n: int, acc) -> None:
    """Asks n times, checking each proposal is valid and new, and tells it the result {"acc": acc(g)}."""
    seen = set()
    for i in range(n):
        g = strategy.ask()
        space.validate(g)
        assert g.to_text() not in seen
        seen.add(g.to_text())
        strategy.tell(Trial(i, space.to_text(g), g.to_text(), TrialState.COMPLETE, {"acc": acc(g)}), g)


@pytest.mark.parametrize("kernel", ["edit", "wl"])
def test_cached_pool_proposes_exactly_as_a_fresh_pool(kernel):
    """Keeping the pool's distances between steps gives the very proposals that recomputing them gives."""
    space = na.ChainSpace((1, 16), 3, widths=(4, 8), kernels=(3, 5), strides=(1, 2), min_layers=2, max_layers=6,
                          max_skip_offset=2)

    def proposals(cached):
        s = BayesOpt(kernel=kernel, n_init=4, pool_size=300, n_incumbents=3, n_restarts=0, refit_every=2,
                     cache_pool=cached)
        s.setup(space, [Objective("acc")], [], 3)
        out = []
        for i in range(30):
            g = s.ask()
            # widths and kernels pay, depth a little: the incumbents change now and then
            acc = float(sum(g.at(k, 1) + 0.5 * g.at(k, 2) for k in range(len(g))) / len(g) + 0.1 * len(g))
            s.tell(Trial(i, space.to_text(g), g.to_text(), TrialState.COMPLETE, {"acc": acc}), g)
            out.append(g.to_text())
        return out, s

    cached, s = proposals(True)
    fresh, _ = proposals(False)
    assert cached == fresh
    assert len(set(cached)) == 30
    assert 3 <= len(s._pool._blocks) <= 4 and all(c is not None for _, c in s._pool._blocks.values())


def test_parego_uses_both_objectives():
    """With multi_objective='parego' the proposals trade the objectives off (some small cells are proposed)."""
    space = na.NB201CellSpace()
    objs = [Objective("acc"), Objective("size", "minimize")]
    props = run(BayesOpt(multi_objective="parego", n_init=5, n_restarts=0), space, 30, objectives=objs, seed=1)
    sizes = [landscape(space, g)["size"] for g in props[5:]]
    accs = [landscape(space, g)["acc"] for g in props[5:]]
    assert min(sizes) <= 1 and max(accs) >= 3


def test_constraint_violations_rank_last():
    """Infeasible results sit below every feasible one in the GP targets."""
    space = na.NB201CellSpace()
    s = BayesOpt(n_init=3, n_restarts=0)
    run(s, space, 6, constraints=[na.trial.Constraint.parse("size <= 2")])
    complete = [i for i, st in enumerate(s.status) if st == "complete"]
    y = s._targets(complete)
    infeasible = np.array([s.violations[i] > 0 for i in complete])
    if infeasible.any() and (~infeasible).any():
        assert y[infeasible].max() < y[~infeasible].min()


def test_resume_mid_batch_with_pending_points():
    """A state saved with proposals in flight resumes to the same proposals once they are told."""
    space = na.NB201CellSpace()
    a = BayesOpt(n_init=4, n_restarts=1)
    run(a, space, 8, seed=4)
    pending = [a.ask(), a.ask()]
    state = json.loads(json.dumps(a.state_dict(), allow_nan=False))
    b = BayesOpt(n_init=4, n_restarts=1)
    b.setup(space, [Objective("acc")], [], 4)
    b.load_state_dict(state)
    for s in (a, b):
        for i, g in enumerate(pending):
            s.tell(Trial(100 + i, space.to_text(g), g.to_text(), TrialState.COMPLETE, landscape(space, g)), g)
    assert [a.ask().to_text() for _ in range(3)] == [b.ask().to_text() for _ in range(3)]


def one_edit(a: na.Genome, b: na.Genome) -> bool:
    return len(a) == len(b) and sum(a.at(i, 0) != b.at(i, 0) for i in range(len(a))) == 1


@pytest.mark.parametrize("kernel", ["edit+histogram", "wl"])
def test_trust_region_proposes_neighbours_of_a_centre_that_only_improves(kernel):
    """With trust_region, every GP proposal is a one-edit neighbour of the centre or a global restart that
    becomes the centre; between restarts the centre moves only to better results, to the best neighbour told."""
    space = na.NB201CellSpace()
    s = BayesOpt(kernel=kernel, n_init=5, n_restarts=0, refit_every=3, trust_region=True)
    s.setup(space, [Objective("acc")], [], 3)
    for i in range(60):
        before = s.centre
        g = s.ask()
        text = g.to_text()
        if i >= 5:
            centre = s.points[s.centre]
            if s.centre == s.index[text]:
                # a global proposal: the centre had no unseen neighbour left
                assert before is not None and all(t in s.index for t in
                                                  (n.to_text() for n in neighbours(na.Genome.from_text(
                                                      s.points[before]), space.spec)))
            else:
                assert one_edit(na.Genome.from_text(centre), g)
        s.tell(Trial(i, space.to_text(g), text, TrialState.COMPLETE, landscape(space, g)), g)
        if i >= 5 and before is not None and s.centre != s.index[text]:
            assert s.values[s.centre][0] >= s.values[before][0]
    # the synthetic landscape is unimodal: the climb reaches the all-conv3x3 cell
    assert max(v[0] for v in s.values if v is not None) == 6.0
    assert s.state_dict()["centre"] == s.points[s.centre]


def test_trust_region_moves_on_a_better_result_and_leaves_a_failed_centre():
    """A told result better than the centre becomes the centre (first improvement); a centre whose trial
    failed is replaced by the best observation at the next ask."""
    space = na.NB201CellSpace()
    s = BayesOpt(kernel="edit+histogram", n_init=3, n_restarts=0, trust_region=True)
    s.setup(space, [Objective("acc")], [], 0)
    for i in range(4):
        g = s.ask()
        s.tell(Trial(i, space.to_text(g), g.to_text(), TrialState.COMPLETE, {"acc": float(i)}), g)
    assert s.centre is not None and s.values[s.centre] == [3.0]  # the best of four, the last told
    g = s.ask()
    s.tell(Trial(4, space.to_text(g), g.to_text(), TrialState.COMPLETE, {"acc": 10.0}), g)
    assert s.points[s.centre] == g.to_text()
    s.status[s.centre] = "failed"  # as if its result had been withdrawn
    g2 = s.ask()
    assert s.values[s.centre] == [3.0] and one_edit(na.Genome.from_text(s.points[s.centre]), g2)


def test_trust_region_centre_is_feasible_first_and_pareto_moves_on_dominance():
    """Under a constraint the centre is the best feasible result (any violation ranks below every feasible
    one); with ParEGO the centre moves only to a result that Pareto-dominates it."""
    space = na.NB201CellSpace()
    s = BayesOpt(kernel="edit+histogram", n_init=6, n_restarts=0, trust_region=True)
    run(s, space, 25, seed=1, constraints=[na.trial.Constraint.parse("size <= 2")])
    feasible = [i for i, st in enumerate(s.status) if st == "complete" and s.violations[i] == 0]
    assert feasible and s.violations[s.centre] == 0
    assert s.values[s.centre][0] == max(s.values[i][0] for i in feasible)

    p = BayesOpt(kernel="edit+histogram", n_init=3, n_restarts=0, multi_objective="parego", trust_region=True)
    p.setup(space, [Objective("acc"), Objective("size", "minimize")], [], 0)
    for i, (acc, size) in enumerate([(1.0, 3.0), (2.0, 3.0), (0.5, 1.0)]):
        g = p.ask()
        p.tell(Trial(i, space.to_text(g), g.to_text(), TrialState.COMPLETE, {"acc": acc, "size": size}), g)
    g = p.ask()
    centre = p.centre
    assert p.values[centre] == [2.0, -3.0]  # (2, 3) dominates (1, 3); (0.5, 1) does not dominate it
    p.tell(Trial(3, space.to_text(g), g.to_text(), TrialState.COMPLETE, {"acc": 9.0, "size": 99.0}), g)
    assert p.centre == centre  # better accuracy but larger: no dominance, no move
    g = p.ask()
    p.tell(Trial(4, space.to_text(g), g.to_text(), TrialState.COMPLETE, {"acc": 9.0, "size": 0.0}), g)
    assert p.points[p.centre] == g.to_text()


@pytest.mark.parametrize("acquisition, batch", [("ei", "kriging_believer"), ("thompson", "kriging_believer"),
                                                ("ucb", "local_penalization")])
def test_trust_region_batches_are_distinct_and_reproducible(acquisition, batch):
    """Several proposals in flight around one centre are distinct, and a seed gives the same ones."""
    space = na.NB201CellSpace()

    def props():
        s = BayesOpt(kernel="edit+histogram", acquisition=acquisition, batch=batch, n_init=4, n_restarts=0,
                     refit_every=4, thompson_candidates=50, trust_region=True)
        return [g.to_text() for g in run(s, space, 24, batch=4, seed=5)]

    a = props()
    assert a == props() and len(set(a)) == 24


def test_trust_region_in_pool_mode_resumes_to_the_same_proposals():
    """On a space too large to enumerate (neighbours with gene insertions) the trust region proposes valid
    new genomes, and a state saved mid-run resumes to the same proposals, centre included."""
    space = na.ChainSpace((1, 16), 3, widths=(4, 8), kernels=(3, 5), strides=(1, 2), min_layers=2, max_layers=6,
                          max_skip_offset=2)

    def acc(g):
        return float(sum(g.at(k, 1) + 0.5 * g.at(k, 2) for k in range(len(g))) / len(g) + 0.1 * len(g))

    def make():
        s = BayesOpt(kernel="edit+histogram", n_init=4, pool_size=300, n_restarts=0, refit_every=2, trust_region=True)
        s.setup(space, [Objective("acc")], [], 7)
        return s

    a = make()
    ask_new_valid(a, space, 14, acc)
    b = make()
    b.load_state_dict(json.loads(json.dumps(a.state_dict(), allow_nan=False)))
    assert b.centre == a.centre
    for i in range(6):
        ga, gb = a.ask(), b.ask()
        assert ga.to_text() == gb.to_text()
        for s, g in ((a, ga), (b, gb)):
            s.tell(Trial(20 + i, space.to_text(g), g.to_text(), TrialState.COMPLETE, {"acc": acc(g)}), g)


def test_build_kernel_refuses_hamming_on_variable_length():
    """Hamming kernels need fixed-length genomes: a variable-length space raises ValueError."""
    chain = na.ChainSpace((1, 16), 3, widths=(4, 8), kernels=(3,), strides=(1,), min_layers=2, max_layers=5)
    with pytest.raises(ValueError, match="fixed-length"):
        build_kernel("hamming", chain.spec)
    assert build_kernel("hamming_ard", na.NB201CellSpace().spec).n_params == 7


@pytest.mark.parametrize(
    "params, match",
    [
        ({"acquisition": "greedy"}, "greedy"),
        ({"batch": "all"}, "all"),
        ({"n_init": 0}, "n_init"),
        ({"pool_size": 1.5}, "pool_size"),
        ({"xi": -1.0}, "xi"),
        ({"multi_objective": "ehvi2"}, "ehvi2"),
        ({"random_fraction": 1.5}, "random_fraction"),
        ({"trust_region": "yes"}, "trust_region"),
        ({"kernel": "edit+bag"}, "edit\\+bag"),
    ],
)
def test_bad_parameters_raise(params, match):
    """Bad parameters raise ValueError naming the value."""
    with pytest.raises(ValueError, match=match):
        strategy_from_config({"name": "bayesopt", "params": params})


@pytest.mark.parametrize("n_obs", [40, 450])  # exact largest eigenvalue up to 400 observations, a norm bound above
def test_pruned_expected_improvement_has_the_full_argmax(n_obs):
    """Bounding EI by the prior standard deviation skips candidates but keeps the exact maximiser and its log value."""
    from nasaccel._core import Population
    from nasaccel.gp import EditDistanceKernel, GaussianProcess, expected_improvement
    from nasaccel.strategies.bayesopt import pruned_expected_improvement

    space = na.NB201CellSpace()
    obs = Population.random(space.spec, n_obs, 3)
    y = np.array([landscape(space, g)["acc"] for g in obs])
    k = 2.0 * EditDistanceKernel(1.5)
    gp = GaussianProcess(k, noise=1e-3, fit_noise=False, optimize=False).fit(obs, y)
    cands = Population.random(space.spec, 3000, 4)
    ks = k(cands, obs)
    excluded = np.zeros(len(cands), bool)
    excluded[:10] = True
    pruned = pruned_expected_improvement(gp, ks, float(y.max()), 0.0, excluded, chunk=64)
    m, s = gp.predict(cross=ks, return_std=True)
    full = np.where(excluded, -np.inf, expected_improvement(m, s, float(y.max())))
    j = int(np.argmax(pruned))
    assert j == int(np.argmax(full)) and np.exp(pruned[j]) == pytest.approx(full[j], rel=1e-9)
    assert np.isinf(pruned).sum() > 1000  # most candidates were never solved for
