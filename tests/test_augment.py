"""Augmentation: seeded shifts, stretches, gains and noise of training batches, against numpy oracles."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from nasaccel.evaluation.augment import Augmentation


def _batch(shape, seed=0):
    return torch.from_numpy(np.random.default_rng(seed).standard_normal(shape).astype(np.float32))


def test_circular_shift_is_numpy_roll_by_the_drawn_amounts():
    """Without stretch a circular shift moves each example by the integers drawn first from the generator (numpy.roll)."""
    x = _batch((5, 2, 40))
    out = Augmentation(shift=7)(x, np.random.default_rng(3)).numpy()
    shifts = np.random.default_rng(3).integers(-7, 8, size=(5, 1))
    for b in range(5):
        np.testing.assert_array_equal(out[b], np.roll(x[b].numpy(), shifts[b, 0], axis=-1))


def test_two_dimensional_shift_rolls_each_axis():
    """For images (B, C, H, W) each example moves by its own (dy, dx), drawn as one (B, 2) array."""
    x = _batch((4, 3, 6, 9))
    out = Augmentation(shift=2)(x, np.random.default_rng(5)).numpy()
    shifts = np.random.default_rng(5).integers(-2, 3, size=(4, 2))
    for b in range(4):
        np.testing.assert_array_equal(out[b], np.roll(x[b].numpy(), tuple(shifts[b]), axis=(1, 2)))


def test_zero_padded_shift_fills_with_zeros():
    """With padding='zeros' the values shifted in are 0 and the others are the example's, moved."""
    x = _batch((6, 1, 12)) + 10.0  # no zero among the inputs
    out = Augmentation(shift=4, padding="zeros")(x, np.random.default_rng(1)).numpy()
    shifts = np.random.default_rng(1).integers(-4, 5, size=6)
    for b, s in enumerate(shifts):
        expected = np.zeros(12, np.float32)
        src = x[b, 0].numpy()
        if s >= 0:
            expected[s:] = src[: 12 - s]
        else:
            expected[:s] = src[-s:]
        np.testing.assert_array_equal(out[b, 0], expected)


@pytest.mark.parametrize("padding", ["circular", "zeros"])
def test_stretch_matches_numpy_interp(padding):
    """Output sample i reads position c + (i - c) / f - s by linear interpolation (numpy.interp as the oracle)."""
    n = 40
    x = _batch((3, 2, n))
    aug = Augmentation(shift=5, stretch=0.3, padding=padding)
    out = aug(x, np.random.default_rng(9)).numpy()
    rng = np.random.default_rng(9)
    shifts = rng.integers(-5, 6, size=(3, 1))
    factors = rng.uniform(0.7, 1.3, size=(3, 1))
    c = (n - 1) / 2
    i = np.arange(n)
    for b in range(3):
        q = c + (i - c) / factors[b, 0] - shifts[b, 0]
        for ch in range(2):
            row = x[b, ch].numpy().astype(np.float64)
            if padding == "circular":
                want = np.interp(q, np.arange(n), row, period=n)
            else:
                want = np.interp(q, np.arange(-1, n + 1), np.concatenate([[0.0], row, [0.0]]), left=0.0, right=0.0)
            np.testing.assert_allclose(out[b, ch], want, rtol=0, atol=1e-5)


def test_gain_and_noise_follow_the_draw_order():
    """Gains (B,) are drawn before the noise (x.shape): out = x * gain + noise * N(0, 1)."""
    x = _batch((4, 1, 10))
    out = Augmentation(scale=0.2, noise=0.5)(x, np.random.default_rng(2)).numpy()
    rng = np.random.default_rng(2)
    gain = rng.uniform(0.8, 1.2, size=4).astype(np.float32)
    noise = rng.standard_normal(size=(4, 1, 10), dtype=np.float32) * np.float32(0.5)
    np.testing.assert_allclose(out, x.numpy() * gain[:, None, None] + noise, rtol=0, atol=1e-6)


def test_same_generator_seed_gives_the_same_batch():
    """Two generators of the same seed give identical outputs; another seed gives another batch."""
    x = _batch((8, 1, 40))
    aug = Augmentation(shift=10, stretch=0.1, scale=0.1, noise=0.05)
    a = aug(x, np.random.default_rng(4))
    b = aug(x, np.random.default_rng(4))
    c = aug(x, np.random.default_rng(5))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_inactive_augmentation_is_the_identity():
    """All settings at zero return the batch itself and draw nothing from the generator."""
    x = _batch((3, 1, 8))
    rng = np.random.default_rng(0)
    aug = Augmentation()
    assert not aug.active and aug(x, rng) is x
    assert rng.integers(1 << 30) == np.random.default_rng(0).integers(1 << 30)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 6), st.integers(2, 30), st.integers(0, 29), st.integers(0, 2**32 - 1))
def test_circular_shift_permutes_each_row(batch, length, shift, seed):
    """A circular shift rearranges each row: its sorted values are unchanged."""
    shift = min(shift, length - 1)
    x = _batch((batch, 2, length), seed=seed % 1000)
    out = Augmentation(shift=shift)(x, np.random.default_rng(seed)).numpy()
    np.testing.assert_array_equal(np.sort(out, axis=-1), np.sort(x.numpy(), axis=-1))


def test_config_round_trip():
    """config() rebuilds an equal augmentation; from_config passes an Augmentation through."""
    aug = Augmentation(shift=3, padding="zeros", stretch=0.2, scale=0.1, noise=0.01)
    assert Augmentation.from_config(aug.config()) == aug
    assert Augmentation.from_config(aug) is aug


@pytest.mark.parametrize(
    ("config", "match"),
    [
        ({"shift": -1}, "shift must be an integer >= 0 .*got -1"),
        ({"shift": 2.5}, "shift must be an integer >= 0 .*got 2.5"),
        ({"padding": "reflect"}, "unknown augmentation padding 'reflect'"),
        ({"stretch": 1.0}, r"stretch must be in \[0, 1\), got 1.0"),
        ({"scale": -0.1}, r"scale must be in \[0, 1\), got -0.1"),
        ({"noise": float("nan")}, "noise must be a finite number >= 0, got nan"),
        ({"shfit": 3}, r"unknown augmentation setting\(s\) \['shfit'\]"),
    ],
)
def test_bad_settings_are_refused(config, match):
    """Bad settings raise ValueError naming the value."""
    with pytest.raises(ValueError, match=match):
        Augmentation.from_config(config)


def test_shapes_are_checked():
    """A shift as long as an axis, or a batch without a spatial axis, is refused."""
    with pytest.raises(ValueError, match=r"shift 40 must be smaller than every spatial size of the inputs \[40\]"):
        Augmentation(shift=40).check_shape((1, 40))
    with pytest.raises(ValueError, match=r"needs a batch \(B, C, \*spatial\), got shape \[4, 40\]"):
        Augmentation(shift=1)(torch.zeros(4, 40), np.random.default_rng(0))
