"""GivenArchitectures: proposes a fixed list once, in order, and resumes from its state."""

from __future__ import annotations

import json

import pytest

import nasaccel as na
from nasaccel.strategies.base import SearchExhausted
from nasaccel.strategies.given import GivenArchitectures
from nasaccel.trial import Objective, Trial, TrialState

ARCHS = ["conv-4-k3-s1", "conv-8-k3-s2|maxpool-k3-s1", "identity|conv-4-k3-s1+1"]


def space():
    return na.ChainSpace((1, 16), 3, widths=(4, 8), kernels=(3,), strides=(1, 2), max_layers=3, max_skip_offset=1)


def setup(archs=ARCHS):
    s = GivenArchitectures(archs)
    sp = space()
    s.setup(sp, [Objective("acc")], [], 0)
    return s, sp


def test_proposes_the_list_in_order_then_is_exhausted():
    """ask returns the given architectures in order, finished turns true, a further ask raises SearchExhausted."""
    s, sp = setup()
    assert [sp.to_text(s.ask()) for _ in ARCHS] == ARCHS
    assert s.finished
    with pytest.raises(SearchExhausted):
        s.ask()


def test_state_round_trip_resumes_at_the_same_position():
    """A fresh instance loaded with the JSON state proposes what the original would have proposed next."""
    s, sp = setup()
    g = s.ask()
    s.tell(Trial(0, sp.to_text(g), g.to_text(), TrialState.COMPLETE, {"acc": 0.5}), g)
    state = json.loads(json.dumps(s.state_dict()))
    t, _ = setup()
    t.load_state_dict(state)
    assert sp.to_text(t.ask()) == ARCHS[1] == sp.to_text(s.ask())


def test_in_a_study_evaluates_each_arch_once():
    """A study with the strategy and no budget stops after evaluating exactly the given architectures."""
    sp = space()
    study = na.Study(sp, GivenArchitectures(ARCHS), _Len(), objectives=["acc"])
    study.optimize()
    assert [t.arch for t in study.trials] == ARCHS


class _Len:
    def evaluate(self, genome, space, context=None):
        return {"acc": float(len(space.to_text(genome)))}


@pytest.mark.parametrize(
    "archs, match",
    [([], "must not be empty"), ("conv-4-k3-s1", "sequence"), ([ARCHS[0], ARCHS[0]], "more than once"), ([""], "non-empty")],
)
def test_bad_lists_are_refused(archs, match):
    """Empty lists, a bare string, repeats and empty texts raise ValueError naming the problem."""
    with pytest.raises(ValueError, match=match):
        GivenArchitectures(archs)


def test_arch_outside_the_space_is_named_at_setup():
    """An architecture the study's space cannot parse raises ValueError naming it."""
    with pytest.raises(ValueError, match="conv-16-k3-s1"):
        setup(["conv-16-k3-s1"])


def test_bad_state_position_is_refused():
    """A stored position outside the list raises ValueError."""
    s, _ = setup()
    state = s.state_dict() | {"position": 9}
    with pytest.raises(ValueError, match="position 9"):
        s.load_state_dict(state)
