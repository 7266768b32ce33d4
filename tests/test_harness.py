"""The C++ timing harness: robust statistics, the median's confidence interval, adaptive repeats."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nasaccel import _core


def numpy_stats(x: np.ndarray) -> dict[str, float]:
    med = float(np.median(x))
    return {
        "median": med,
        "mad": float(np.median(np.abs(x - med))),
        "mean": float(np.mean(x)),
        "stddev": float(np.std(x, ddof=1)) if x.size > 1 else 0.0,
        "min": float(np.min(x)),
        "max": float(np.max(x)),
        "p90": float(np.percentile(x, 90)),
    }


@pytest.mark.parametrize("n", [1, 2, 7, 100, 1001])
def test_summary_matches_numpy(n):
    """Without outliers every statistic equals numpy's (median, MAD, mean, ddof-1 std, min, max, linear p90)."""
    x = np.random.default_rng(n).normal(1e-3, 1e-5, n)
    s = _core.summarize_timings(x, outlier_k=1e9)
    for k, v in numpy_stats(x).items():
        assert getattr(s, k) == pytest.approx(v, rel=1e-12, abs=1e-18), k
    assert (s.n, s.rejected) == (n, 0)


def test_outliers_beyond_k_mad_are_rejected_and_counted():
    """Samples farther than k * 1.4826 * MAD from the median are dropped; the rest are summarised."""
    rng = np.random.default_rng(1)
    clean = rng.normal(1.0, 0.01, 200)
    x = np.concatenate([clean, [5.0, 7.0, 0.2]])
    s = _core.summarize_timings(x, outlier_k=5.0)
    med = np.median(x)
    mad = np.median(np.abs(x - med))
    keep = x[np.abs(x - med) <= 5.0 * 1.4826 * mad]
    assert s.rejected == x.size - keep.size == 3
    assert s.n == keep.size
    for k, v in numpy_stats(keep).items():
        assert getattr(s, k) == pytest.approx(v, rel=1e-12), k


def test_zero_mad_rejects_nothing():
    """When more than half the samples are equal (MAD 0), no sample is called an outlier."""
    s = _core.summarize_timings(np.array([1.0] * 10 + [2.0, 3.0]))
    assert s.rejected == 0 and s.n == 12 and s.median == 1.0


@pytest.mark.parametrize("confidence", [0.8, 0.9, 0.95, 0.99])
def test_median_ci_ranks_are_exact_binomial(confidence):
    """The order-statistic CI uses the largest rank l with 2 P(Bin(n, 1/2) <= l-1) <= 1 - confidence."""
    binom = pytest.importorskip("scipy.stats").binom
    alpha = 1 - confidence
    for n in range(1, 301):
        lo, hi, ok = _core.median_confidence_ranks(n, confidence)
        valid = [l for l in range(1, (n + 1) // 2 + 1) if 2 * binom.cdf(l - 1, n, 0.5) <= alpha + 1e-12]
        if not valid:
            assert not ok and (lo, hi) == (0, n - 1), n
        else:
            assert ok and (lo, hi) == (max(valid) - 1, n - max(valid)), n


@pytest.mark.parametrize("n", [1001, 5000, 100000])
def test_median_ci_normal_approximation_keeps_coverage(n):
    """Above n = 1000 the normal approximation's ranks give coverage within 0.5 % of the level."""
    binom = pytest.importorskip("scipy.stats").binom
    lo, hi, ok = _core.median_confidence_ranks(n, 0.95)
    assert ok and hi == n - 1 - lo
    coverage = 1 - 2 * binom.cdf(lo, n, 0.5)
    assert 0.95 - 0.005 <= coverage <= 0.95 + 0.01


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(1e-6, 1.0, allow_nan=False), min_size=1, max_size=60),
    st.floats(-1e-3, 1e-3),
    st.randoms(use_true_random=False),
)
def test_summary_invariants(values, shift, rnd):
    """Order does not matter, a shift moves location statistics only, and min <= CI <= max."""
    x = np.array(values)
    s = _core.summarize_timings(x)
    y = x.copy()
    rnd.shuffle(y)
    t = _core.summarize_timings(y)
    assert s.median == t.median and s.n == t.n and s.mad == t.mad
    u = _core.summarize_timings(x + shift)
    assert u.n == s.n and u.rejected == s.rejected
    assert u.median == pytest.approx(s.median + shift, abs=1e-12)
    assert u.mad == pytest.approx(s.mad, abs=1e-12)
    assert s.min <= s.ci_low <= s.median <= s.ci_high <= s.max


def test_bad_samples_raise_value_error():
    """Empty or non-finite samples and bad settings are ValueErrors naming the value."""
    with pytest.raises(ValueError, match="empty"):
        _core.summarize_timings(np.array([]))
    with pytest.raises(ValueError, match="sample 1"):
        _core.summarize_timings(np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match="confidence"):
        _core.summarize_timings(np.array([1.0]), confidence=1.5)
    with pytest.raises(ValueError, match="2-D|1-D"):
        _core.summarize_timings(np.ones((2, 2)))


def test_options_validate_and_name_the_bad_option():
    """Inconsistent harness options raise ValueError naming the option."""
    with pytest.raises(ValueError, match="max_repeats"):
        _core.HarnessOptions(min_repeats=10, max_repeats=5)
    with pytest.raises(ValueError, match="rel_tolerance"):
        _core.HarnessOptions(rel_tolerance=0.0)
    with pytest.raises(ValueError, match="max_seconds"):
        _core.HarnessOptions(max_seconds=float("inf"))
    assert _core.HarnessOptions(min_repeats=3).to_dict()["min_repeats"] == 3


def test_calls_are_counted_and_capped():
    """fn runs exactly warm-up + timed calls; max_repeats caps the timed calls; the baseline runs apart."""
    calls = {"fn": 0, "base": 0}

    def fn():
        # seven work sizes in turn, microseconds apart: the median's interval has width on any clock, so the
        # 1e-12 tolerance is never met (an empty fn can time identically on a coarse clock and converge)
        calls["fn"] += 1
        sum(range(calls["fn"] % 7 * 2000))

    def base():
        calls["base"] += 1

    opts = _core.HarnessOptions(warmup_calls=4, min_repeats=25, max_repeats=25, rel_tolerance=1e-12,
                                max_seconds=10.0, overhead_repeats=300)
    m = _core.time_callable(fn, opts, base)
    assert m.warmup_calls == 4 and m.calls == 25 and calls["fn"] == 29
    assert calls["base"] == 300 + 300 // 10 + 1  # timed baseline calls plus its short warm-up
    assert not m.converged and m.samples.shape == (25,)


def test_converges_at_min_repeats_when_tolerance_is_loose():
    """A loose tolerance stops at the first check (min_repeats) with converged set."""
    m = _core.time_callable(lambda: None, _core.HarnessOptions(min_repeats=20, rel_tolerance=1e6, warmup_calls=0))
    assert m.converged and m.calls == 20


def test_overhead_is_subtracted_from_statistics_and_raw_is_kept():
    """stats are the raw samples minus the baseline's median; without subtraction stats == raw."""
    m = _core.time_spin(2e-4, _core.HarnessOptions(min_repeats=20, max_repeats=20, overhead_repeats=500))
    assert m.raw.min >= 2e-4  # a busy wait of 0.2 ms cannot take less
    assert m.overhead == m.overhead_stats.median > 0
    corrected = _core.summarize_timings(m.samples - m.overhead)
    assert m.stats.median == pytest.approx(corrected.median, rel=1e-12)
    assert m.stats.median == pytest.approx(m.raw.median - m.overhead, rel=1e-9)
    n = _core.time_noop(_core.HarnessOptions(subtract_overhead=False, min_repeats=10, max_repeats=10))
    assert n.overhead == 0.0 and n.stats.median == n.raw.median and n.calls == 10


def test_python_exceptions_propagate():
    """An exception raised by the timed callable reaches the caller unchanged."""

    def boom():
        raise KeyError("inside")

    with pytest.raises(KeyError, match="inside"):
        _core.time_callable(boom)


def test_non_callables_are_value_errors():
    """fn and baseline must be callable."""
    with pytest.raises(ValueError, match="not callable"):
        _core.time_callable(3)
    with pytest.raises(ValueError, match="baseline is not callable"):
        _core.time_callable(lambda: None, _core.HarnessOptions(), "x")


def test_time_cap_stops_a_slow_callable():
    """max_seconds bounds warm-up plus timing: a 20 ms spin under a 50 ms cap stops after a few calls."""
    m = _core.time_spin(0.02, _core.HarnessOptions(warmup_calls=1, min_repeats=100, max_repeats=1000, max_seconds=0.05))
    assert 1 <= m.calls <= 4 and not m.converged
