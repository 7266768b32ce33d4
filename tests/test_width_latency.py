"""Width latency table and MRF terms: term enumeration, fitting, and MRF latency == table prediction."""

from __future__ import annotations

import numpy as np
import pytest

from nasaccel.latency.table import CONSTANT, LatencyTable, terms_of
from nasaccel.spaces import WidthSpace
from nasaccel.spaces.width import mobilenet_backbone
from nasaccel.width import WidthLatencyModel, build_width_table, random_choice, width_term_examples

SPACE = WidthSpace((1, 24), 5, mobilenet_backbone((1, 24), residual=True, scale=0.25), multipliers=(0.5, 1.0, 1.5))
POOLS = WidthSpace((2, 8, 8), 5, "maxpool-k3-s1|conv-6-k3-s1|dwsep-8-k3-s2|avgpool-k3-s1|dwsep-8-k5-s1+1",
                   multipliers=(0.5, 1.0))


def term_value(t) -> float:
    """A made-up, deterministic latency per term (seconds)."""
    return 1e-7 * (5 + t[1] * t[2] + 3 * t[1] + len(t[0]))


def fake_measure(descriptions):
    """Latency of a description by the made-up term values, plus a per-call cost; exactly additive."""
    out = []
    for d in descriptions:
        out.append(2e-6 + sum(c * term_value(t) for t, c in terms_of(d).items() if t != CONSTANT))
    return out


@pytest.fixture(scope="module", params=["residual", "pools"])
def built(request):
    space = SPACE if request.param == "residual" else POOLS
    return space, build_width_table(space, networks=6, measure=fake_measure)


def _configs(space, n, seed=0):
    rng = np.random.default_rng(seed)
    return [space.genome(random_choice(space, rng)) for _ in range(n)] + [space.widest(), space.narrowest()]


def test_term_examples_cover_every_configuration(built):
    """Every term of every sampled configuration is among width_term_examples, each example running that term."""
    space, _ = built
    examples = width_term_examples(space)
    for g in _configs(space, 40):
        for t in terms_of(space.description(g)):
            if t != CONSTANT:
                assert t in examples
    for t, ex in examples.items():
        assert t in terms_of(ex)


def test_fit_recovers_an_additive_latency(built):
    """On exactly additive made-up latencies the fitted table predicts whole networks to 1e-6 relative."""
    space, res = built
    assert res.fit_mape < 1e-6
    for g in _configs(space, 20, seed=3):
        d = space.description(g)
        assert res.table.predict(d) == pytest.approx(fake_measure([d])[0], rel=1e-6)


def test_mrf_latency_equals_table_prediction(built):
    """The MRF terms (unary, pairwise, constant) sum to the table's whole-network prediction for any configuration."""
    space, res = built
    model = WidthLatencyModel(space, res.table)
    mrf = model.mrf([np.zeros(space.num_choices)] * space.num_nodes)
    for g in _configs(space, 30, seed=5):
        want = res.table.predict(space.description(g))
        assert model.predict(g) == pytest.approx(want, rel=1e-12)
        assert mrf.evaluate(space.choice_of(g))[1] == pytest.approx(want, rel=1e-12)
    assert model.max_latency() == pytest.approx(res.table.predict(space.description(space.widest())))


def test_min_latency_equals_enumeration(built):
    """min_latency is the smallest predicted latency over every tie-respecting configuration."""
    import itertools

    space, res = built
    model = WidthLatencyModel(space, res.table)
    lats = []
    for c in itertools.product(range(space.num_choices), repeat=space.num_nodes):
        try:
            lats.append(model.predict(list(c)))
        except ValueError:
            continue  # breaks a tie
    assert model.min_latency() == pytest.approx(min(lats), rel=1e-12)


def test_table_for_another_space_is_refused():
    """A table lacking a term the space needs raises UnmeasuredTermError (a ValueError) naming the term."""
    other = WidthSpace((1, 24), 5, "conv-4-k3-s1|dwsep-8-k3-s2", multipliers=(0.5, 1.0))
    table = build_width_table(other, networks=2, measure=fake_measure).table
    with pytest.raises(ValueError, match=r"has no term '.*', which width configurations of this space need"):
        WidthLatencyModel(SPACE, table)
    with pytest.raises(ValueError, match="networks must be an integer >= 2"):
        build_width_table(SPACE, networks=1, measure=fake_measure)


def test_table_saves_and_loads(tmp_path, built):
    """A width table survives a JSON round trip with the same MRF terms."""
    space, res = built
    res.table.save(tmp_path / "t.json")
    a, b = WidthLatencyModel(space, res.table), WidthLatencyModel(space, LatencyTable.load(tmp_path / "t.json"))
    for x, y in zip(a.pairwise_latency, b.pairwise_latency):
        np.testing.assert_array_equal(x, y)
    assert a.constant == b.constant


def test_real_onnx_runtime_table_is_consistent():
    """A table measured with ONNX Runtime prices the measured whole networks within 25 % (loaded machine)."""
    space = WidthSpace((1, 16), 4, "conv-4-k3-s1|dwsep-8-k3-s2", multipliers=(0.5, 1.0))
    res = build_width_table(space, networks=3, passes=1)
    assert res.isolated_terms == len(width_term_examples(space))
    model = WidthLatencyModel(space, res.table)
    for text, lat in zip(res.extra["networks_text"], res.extra["network_latencies_s"]):
        assert model.predict(space.from_text(text)) == pytest.approx(lat, rel=0.25)
