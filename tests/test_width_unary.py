"""UnaryStatistics: per (node, width) mean of attributed losses, step centring, filling and errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nasaccel.width import UnaryStatistics


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.lists(st.integers(0, 2), min_size=3, max_size=3), st.floats(-5, 5)), min_size=1, max_size=30))
def test_means_equal_groupby_oracle(samples):
    """means[n, k] is the mean loss over the samples whose node n chose k (NaN when none did)."""
    u = UnaryStatistics(3, 3)
    for choice, loss in samples:
        u.update(choice, loss)
    m = u.means()
    for n in range(3):
        for k in range(3):
            vals = [loss for c, loss in samples if c[n] == k]
            if vals:
                assert m[n, k] == pytest.approx(np.mean(vals), abs=1e-9)
                assert u.counts[n, k] == len(vals)
            else:
                assert np.isnan(m[n, k])


def test_update_step_centres_losses_on_the_step_mean():
    """update_step attributes loss - mean(step losses), so a constant shift of one step's losses cancels."""
    a, b = UnaryStatistics(2, 2), UnaryStatistics(2, 2)
    choices = [[0, 1], [1, 1], [1, 0]]
    a.update_step(choices, [1.0, 2.0, 3.0])
    b.update_step(choices, [11.0, 12.0, 13.0])
    np.testing.assert_allclose(a.means(), b.means())
    np.testing.assert_allclose(a.means(), [[-1.0, 0.5], [1.0, -0.5]])


def test_costs_fill_unsampled_widths_with_the_node_maximum():
    """A never-sampled width costs its node's worst observed mean; a node with no sample at all raises."""
    u = UnaryStatistics(2, 3)
    u.update([0, 1], 1.0)
    u.update([2, 1], 3.0)
    c = u.costs()
    np.testing.assert_allclose(c[0], [1.0, 3.0, 3.0])
    np.testing.assert_allclose(c[1], [2.0, 2.0, 2.0])
    with pytest.raises(ValueError, match="node 0 has no sampled configuration"):
        UnaryStatistics(2, 3).costs()


def test_round_trip_through_dict():
    """to_dict / from_dict keep sums and counts."""
    u = UnaryStatistics(2, 2)
    u.update([0, 1], 0.5)
    v = UnaryStatistics.from_dict(u.to_dict())
    np.testing.assert_array_equal(v.counts, u.counts)
    np.testing.assert_array_equal(v.sums, u.sums)


@pytest.mark.parametrize(
    ("call", "msg"),
    [
        (lambda u: u.update([0, 3], 1.0), r"index outside \[0, 3\)"),
        (lambda u: u.update([0], 1.0), "must hold 2 integer width indices"),
        (lambda u: u.update([0, 1], float("nan")), "loss must be finite"),
        (lambda u: u.update_step([[0, 1]], [1.0]), "at least 2 sampled configurations"),
        (lambda u: u.update_step([[0, 1], [1, 1]], [1.0]), "2 choices but 1 losses"),
        (lambda u: UnaryStatistics(0, 2), "num_nodes must be a positive integer"),
    ],
)
def test_bad_inputs_raise_value_error(call, msg):
    """Out-of-range choices, wrong lengths, non-finite losses and lone steps raise ValueError by name."""
    with pytest.raises(ValueError, match=msg):
        call(UnaryStatistics(2, 3))
