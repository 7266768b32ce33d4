"""Conformance suite: every strategy honours the ask/tell contract (parametrised over all of them)."""

from __future__ import annotations

import json

import pytest

import nasaccel as na
from nasaccel.strategies import STRATEGIES, strategy_from_config
from nasaccel.trial import Objective, Trial, TrialState

SMALL = {
    "random": {},
    "exhaustive": {},
    "local_search": {"n_init": 3, "restart": "best_unexplored"},
    "regularized_evolution": {"population_size": 6, "sample_size": 3},
    "nsga2": {"population_size": 6},
    "coevolution": {"n_modules": 8, "n_blueprints": 4, "n_species": 3, "evaluations_per_generation": 5},
    "rl": {"hidden_size": 16},
    "bayesopt": {"n_init": 5, "pool_size": 300, "n_restarts": 0, "refit_every": 5},
}
SPACES = {
    "nb201": lambda: na.NB201CellSpace(),
    "chain": lambda: na.ChainSpace(
        (1, 16), 3, widths=(4, 8), kernels=(3, 5), strides=(1, 2), min_layers=2, max_layers=5, max_skip_offset=2
    ),
    "recurrent": lambda: na.RecurrentCellSpace(num_nodes=4),
    "width": lambda: na.spaces.WidthSpace((1, 40), 10),
}


def test_every_registered_strategy_is_covered():
    """The suite below runs every registered strategy."""
    assert set(SMALL) == set(STRATEGIES)


# The chain and width spaces are far too large to enumerate, so exhaustive search skips them.
CASES = [(n, sp) for n in SMALL for sp in SPACES if not (n == "exhaustive" and sp in ("chain", "width"))]


def make(name: str, space_name: str, seed: int = 0):
    space = SPACES[space_name]()
    s = strategy_from_config({"name": name, "params": SMALL[name]})
    s.setup(space, [Objective("acc"), Objective("size", "minimize")], [], seed)
    return s, space


def score(space, genome) -> dict[str, float]:
    """A deterministic synthetic landscape over architectures."""
    h = space.to_text(space.canonicalize(genome))
    return {"acc": (sum(map(ord, h)) * 7919 % 1000) / 1000, "size": float(len(h))}


def drive(strategy, space, n: int, start: int = 0, order: str = "fifo", batch: int = 1) -> list[str]:
    """Ask and tell n times (in batches, told in the given order); returns the proposals as text."""
    out, number = [], start
    while len(out) < n:
        asked = [strategy.ask() for _ in range(min(batch, n - len(out)))]
        for g in asked:
            space.validate(space.canonicalize(g))
        told = asked if order == "fifo" else list(reversed(asked))
        for g in told:
            t = Trial(number, space.to_text(space.canonicalize(g)), g.to_text(), TrialState.COMPLETE, score(space, g))
            number += 1
            strategy.tell(t, g)
        out += [g.to_text() for g in asked]
    return out


@pytest.mark.parametrize("name, space_name", CASES)
def test_proposals_valid_and_reproducible(name, space_name):
    """Every proposal is valid, and the same seed gives the same proposals for the same results."""
    a, space = make(name, space_name, seed=3)
    b, _ = make(name, space_name, seed=3)
    pa, pb = drive(a, space, 40), drive(b, space, 40)
    assert pa == pb
    c, _ = make(name, space_name, seed=4)
    assert drive(c, space, 40) != pa


@pytest.mark.parametrize("name, space_name", CASES)
def test_state_dict_round_trip_resumes_exactly(name, space_name):
    """A fresh strategy loaded from a JSON round trip of state_dict continues exactly as the original."""
    a, space = make(name, space_name, seed=5)
    drive(a, space, 17)
    state = json.loads(json.dumps(a.state_dict(), allow_nan=False))
    b, _ = make(name, space_name, seed=5)
    b.load_state_dict(state)
    assert drive(a, space, 25, start=17) == drive(b, space, 25, start=17)


@pytest.mark.parametrize("name, space_name", CASES)
def test_out_of_order_results(name, space_name):
    """Several proposals in flight, told in reverse order, keep the strategy working and valid."""
    a, space = make(name, space_name, seed=6)
    proposals = drive(a, space, 40, order="reversed", batch=4)
    assert len(proposals) == 40


@pytest.mark.parametrize("name", list(SMALL))
def test_failed_trials_are_accepted(name):
    """FAILED trials (no metrics) are told without error and never crash later proposals."""
    a, space = make(name, "nb201", seed=1)
    for i in range(30):
        g = a.ask()
        failed = i % 3 == 0
        t = Trial(i, space.to_text(g), g.to_text(), TrialState.FAILED if failed else TrialState.COMPLETE,
                  {} if failed else score(space, g), {}, "boom" if failed else None)
        a.tell(t, g)


@pytest.mark.parametrize("name", list(SMALL))
def test_strategy_in_a_study_on_nb201(name, benchmarks_dir):
    """Each strategy runs a 60-trial study on the NB201 table and finds a cell above 91% CIFAR-10."""
    bench = na.TabularBenchmark.from_file(benchmarks_dir / "nb201.csv")
    s = strategy_from_config({"name": name, "params": SMALL[name]})
    study = na.Study(na.NB201CellSpace(), s, bench, objectives=["test_acc_cifar10", "latency_ms_gold_6226:minimize"],
                     seed=0)
    study.optimize(n_trials=60)
    assert len(study.trials) == 60
    assert study.best_trial.metrics["test_acc_cifar10"] > 91.0


@pytest.mark.parametrize(
    "config, match",
    [
        ({"name": "nope"}, "unknown strategy 'nope'"),
        ({"name": "regularized_evolution", "params": {"population_size": 1}}, "population_size"),
        ({"name": "regularized_evolution", "params": {"sample_size": 99}}, "sample_size"),
        ({"name": "nsga2", "params": {"crossover_kind": "zigzag"}}, "zigzag"),
        ({"name": "local_search", "params": {"n_init": 0}}, "n_init"),
        ({"name": "coevolution", "params": {"max_slots": 0}}, "max_slots"),
        ({"name": "random", "params": {"bogus": 1}}, "bogus"),
        ({"name": "bayesopt", "params": {"kernel": "nope"}}, "nope"),
        ({"name": "regularized_evolution", "params": {"mutation_weights": {"teleport": 1}}}, "teleport"),
    ],
)
def test_bad_strategy_config(config, match):
    """Bad strategy names and parameters raise ValueError naming the value."""
    with pytest.raises(ValueError, match=match):
        strategy_from_config(config)


def test_exhaustive_covers_the_space_once():
    """Exhaustive proposes every genome of NB201 exactly once, then is finished."""
    s, space = make("exhaustive", "nb201")
    seen = set()
    while not s.finished:
        g = s.ask()
        seen.add(g.to_text())
    assert len(seen) == 15625
    with pytest.raises(na.strategies.SearchExhausted):
        s.ask()


def test_exhaustive_finds_macro_optimum(benchmarks_dir):
    """An exhaustive study of NAS-Bench-Macro returns the table's true optimum."""
    bench = na.TabularBenchmark.from_file(benchmarks_dir / "nas_bench_macro_cifar10.json")
    study = na.Study(na.MacroSpace(), na.Exhaustive(), bench, objectives=["mean_acc"])
    study.optimize()
    assert len(study.trials) == 6561
    _, value = bench.best("mean_acc")
    best = study.best_trial
    assert best.metrics["mean_acc"] == value == max(r["mean_acc"] for r in bench.rows.values())
    assert bench.rows[best.arch]["mean_acc"] == value


def test_evolution_children_are_one_mutation_away():
    """Regularized evolution's children differ from their recorded parent by one point mutation on NB201."""
    s, space = make("regularized_evolution", "nb201", seed=2)
    drive(s, space, 6)
    for _ in range(20):
        child = s.ask()
        parent = s.parent_of(child)
        assert parent is not None
        diffs = sum(a != b for a, b in zip(child.genes.ravel(), parent.genes.ravel()))
        assert diffs == 1
        t = Trial(0, space.to_text(child), child.to_text(), TrialState.COMPLETE, score(space, child))
        s.tell(t, child)
