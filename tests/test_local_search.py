"""LocalSearch: first-improvement climbing, model-ordered neighbours, memory of known architectures, restarts."""

from __future__ import annotations

import itertools
import json

import pytest

import nasaccel as na
from nasaccel._core import Genome, neighbours
from nasaccel.strategies.local_search import LocalSearch, _normalised_ranks
from nasaccel.trial import Objective, Trial, TrialState

# An additive landscape on NB201 cells: a per-edge value for each op, summed (optimum: op 3 on every edge
# but edge 4, where op 1 wins).
WEIGHTS = [[0, 2, 3, 5, 1], [0, 1, 3, 4, 2], [1, 0, 2, 4, 3], [0, 2, 1, 5, 3], [0, 6, 2, 3, 1], [2, 1, 3, 4, 0]]
OPTIMUM = "3;3;3;3;1;3"


def additive(genome: Genome) -> float:
    return float(sum(WEIGHTS[i][genome.at(i, 0)] for i in range(6)))


def setup(seed: int = 0, **params) -> tuple[LocalSearch, na.NB201CellSpace]:
    space = na.NB201CellSpace()
    s = LocalSearch(**params)
    s.setup(space, [Objective("acc")], [], seed)
    return s, space


def tell(s: LocalSearch, space, g: Genome, number: int, value: float | None = None) -> None:
    metrics = {"acc": additive(g) if value is None else value}
    s.tell(Trial(number, space.to_text(g), g.to_text(), TrialState.COMPLETE, metrics), g)


def run(s: LocalSearch, space, n: int, fn=additive) -> list[str]:
    out = []
    for k in range(n):
        g = s.ask()
        out.append(g.to_text())
        tell(s, space, g, k, fn(g))
    return out


def queries_to(target: str, proposals: list[str]) -> int:
    return proposals.index(target) + 1 if target in proposals else 10**9


def test_exact_sequence_seed_0():
    """Seed 0 on the additive landscape proposes exactly this sequence (pins sampling, model order and moves)."""
    s, space = setup(seed=0)
    assert run(s, space, 14) == [
        "2;3;2;2;3;4", "2;2;4;3;3;4", "3;2;0;0;2;3", "4;3;1;4;1;0", "2;2;2;4;3;2",  # 5 random samples
        "2;2;4;3;3;2", "2;2;4;3;1;2",  # two improving moves from the first best sample
        "1;2;4;3;1;2", "4;2;4;3;1;2", "2;2;4;4;1;2", "2;2;4;1;1;2", "2;1;4;3;1;2", "2;4;4;3;1;2",
        "3;2;4;3;1;2",  # the next improvement
    ]


def test_climb_starts_from_best_initial_sample_and_moves_on_first_improvement():
    """After n_init samples the climb proposes neighbours of the best one and moves at the first better one."""
    s, space = setup(seed=3, n_init=4, order="random")
    inits = [s.ask() for _ in range(4)]
    for k, g in enumerate(inits):
        tell(s, space, g, k)
    best = max(inits, key=additive)
    current, number = best, 4
    for _ in range(40):  # this seed meets no local optimum within 40 steps
        g = s.ask()
        assert g.to_text() in {n.to_text() for n in neighbours(current, space.spec, True)}
        tell(s, space, g, number)
        number += 1
        if additive(g) > additive(current):
            current = g
        assert s.current == current.to_text()
    assert additive(current) == max(additive(Genome.from_text(t)) for t in s.known)


def test_known_architectures_are_never_proposed_again():
    """Neighbours and random samples already told are judged from memory, not proposed again."""
    s, space = setup(seed=1)
    proposals = run(s, space, 300)
    assert len(proposals) == len(set(proposals))


def test_model_order_reaches_an_additive_optimum_sooner_than_random_order():
    """On an additive landscape the model-ordered climb reaches the optimum in fewer queries than random order."""
    model, rand = [], []
    for seed in range(8):
        s, space = setup(seed=seed)
        model.append(queries_to(OPTIMUM, run(s, space, 200)))
        s, space = setup(seed=seed, order="random")
        rand.append(queries_to(OPTIMUM, run(s, space, 200)))
    assert max(model) < 10**9 and sum(model) < 0.75 * sum(rand)


def test_model_orders_neighbours_by_true_gain_once_the_space_is_known():
    """With the whole additive space told, neighbours come in order of their true gain."""
    s, space = setup(seed=2)
    for k, ops in enumerate(itertools.product(range(5), repeat=6)):
        g = Genome([[o] for o in ops])
        tell(s, space, g, k)
    start = "0;0;0;0;0;0"
    order = s._ordered(start, neighbours(Genome.from_text(start), space.spec, True))
    gains = [additive(Genome.from_text(t)) for t in order]
    assert gains == sorted(gains, reverse=True)


def test_best_unexplored_restart_climbs_from_the_best_told_architecture():
    """At a local optimum, restart='best_unexplored' climbs next from the best told architecture not walked from."""
    s, space = setup(seed=4, n_init=1, restart="best_unexplored", order="random")
    # A landscape whose only local optimum is all-zero ops: every climb from it ends at once.
    fn = lambda g: 10.0 if g.to_text() == "0;0;0;0;0;0" else float(-sum(g.at(i, 0) for i in range(6)))  # noqa: E731
    g = s.ask()
    tell(s, space, g, 0, fn(g))
    number = 1
    while s.current != "0;0;0;0;0;0":
        g = s.ask()
        tell(s, space, g, number, fn(g))
        number += 1
    for _ in range(24):  # walk the whole neighbourhood of the optimum
        g = s.ask()
        tell(s, space, g, number, fn(g))
        number += 1
    g = s.ask()
    unexplored = {t: f for t, f in s.known.items() if t not in s.explored or t == s.current}
    assert s.current == max((t for t in unexplored), key=lambda t: (s.known[t], t))
    assert g.to_text() in {n.to_text() for n in neighbours(Genome.from_text(s.current), space.spec, True)}


def test_state_round_trip_keeps_memory_and_model():
    """A JSON round trip of state_dict mid-climb continues with the same proposals, memory and model."""
    a, space = setup(seed=9)
    run(a, space, 37)
    state = json.loads(json.dumps(a.state_dict(), allow_nan=False))
    b, _ = setup(seed=9)
    b.load_state_dict(state)
    assert b.known == a.known
    assert run(a, space, 30) == run(b, space, 30)


def test_failed_trials_are_remembered_below_every_result():
    """A FAILED trial is remembered (never proposed again) and ranks below every completed one."""
    s, space = setup(seed=5)
    g = s.ask()
    s.tell(Trial(0, space.to_text(g), g.to_text(), TrialState.FAILED, {}, {}, "boom"), g)
    state = json.loads(json.dumps(s.state_dict(), allow_nan=False))
    assert state["known"][0][0] == g.to_text()
    proposals = run(s, space, 50)
    assert g.to_text() not in proposals


def test_normalised_ranks_share_ties():
    """Ranks are scaled to [0, 1] and tied values share their mean rank."""
    assert _normalised_ranks([(0.0, 3.0), (0.0, 1.0), (0.0, 3.0), (0.0, 2.0)]) == [5 / 6, 0.0, 5 / 6, 1 / 3]
    assert _normalised_ranks([(1.0,)]) == [0.5]


@pytest.mark.parametrize(
    "params, match",
    [({"order": "sideways"}, "sideways"), ({"l2": 0.0}, "l2"), ({"restart": "never"}, "never"), ({"n_init": 0}, "n_init")],
)
def test_bad_parameters(params, match):
    """Bad parameters raise ValueError naming the value."""
    with pytest.raises(ValueError, match=match):
        LocalSearch(**params)
