"""Slimmable sandwich training, unary statistics collection, fine-tuning and determinism per seed."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nasaccel.data import load_data
from nasaccel.spaces import WidthSpace
from nasaccel.width import AdaptiveNarrowing, WidthLatencyModel, build_width_table
from nasaccel.width.training import evaluate_config, train_network, train_slimmable
from test_width_latency import fake_measure

torch.set_num_threads(1)

DATA = load_data("digits")
SPACE = WidthSpace((1, 8, 8), 10, "conv-8-k3-s2|dwsep-16-k3-s2|dwsep-16-k3-s1|conv-16-k1-s1+1", multipliers=(0.25, 0.5, 1.0, 1.5))


def test_sandwich_training_improves_widest_and_narrowest():
    """Two epochs of sandwich training lower the loss of the widest and the narrowest configuration."""
    x_cal = DATA.x_train[:256]
    before = train_slimmable(SPACE, DATA, epochs=1, seed=0, batch_size=64, lr=1e-9)
    after = train_slimmable(SPACE, DATA, epochs=2, seed=0, batch_size=64, lr=1e-2)
    for cfg, gain in ((SPACE.widest(), 0.5), (SPACE.narrowest(), 0.1)):
        c = SPACE.choice_of(cfg)
        loss0, _ = evaluate_config(before.network, c, x_cal, DATA.x_val, DATA.y_val)
        loss1, _ = evaluate_config(after.network, c, x_cal, DATA.x_val, DATA.y_val)
        assert loss1 < loss0 - gain
    assert after.history[1]["widest_train_loss"] < after.history[0]["widest_train_loss"]


def test_unary_statistics_collect_every_sampled_configuration():
    """After stats_from, every step attributes num_random + extra_samples losses; counts per node sum to them."""
    run = train_slimmable(SPACE, DATA, epochs=2, seed=1, batch_size=128, num_random=2, extra_samples=3, stats_from=0.5)
    steps = len(range(0, len(DATA.y_train), 128)) * 2
    collected = steps - int(0.5 * steps)
    assert run.samples == collected * 5
    assert (run.unary.counts.sum(axis=1) == run.samples).all()
    for g in SPACE.ties:
        np.testing.assert_array_equal(run.unary.counts[g[0]], run.unary.counts[g[1]])
    # a narrower first layer costs more loss on average than the widest one
    m = run.unary.means()
    assert m[0, 0] > m[0, -1]


def test_same_seed_same_weights_and_statistics():
    """Two runs with one seed give identical weights and unary statistics; another seed differs."""
    a = train_slimmable(SPACE, DATA, epochs=1, seed=3, stats_from=0.0)
    b = train_slimmable(SPACE, DATA, epochs=1, seed=3, stats_from=0.0)
    c = train_slimmable(SPACE, DATA, epochs=1, seed=4, stats_from=0.0)
    for (ka, va), (_, vb) in zip(a.network.state_dict().items(), b.network.state_dict().items()):
        assert torch.equal(va, vb), ka
    np.testing.assert_array_equal(a.unary.sums, b.unary.sums)
    assert not np.array_equal(a.unary.sums, c.unary.sums)


def test_adaptive_narrowing_runs_inside_training():
    """With a narrowing sampler the marginals are refreshed each epoch after start and sharpen over training."""
    model = WidthLatencyModel(SPACE, build_width_table(SPACE, networks=3, measure=fake_measure).table)
    budget = model.min_latency() + 0.3 * (model.max_latency() - model.min_latency())
    run = train_slimmable(SPACE, DATA, epochs=4, seed=0, stats_from=0.0, batch_size=256,
                          sampler=AdaptiveNarrowing(model, budget, start=0.25))
    assert [h["progress"] for h in run.narrowing] == [0.25, 0.5, 0.75]
    assert run.narrowing[-1]["entropy"] < np.log(SPACE.num_choices)


def test_finetuning_an_extracted_network_keeps_its_accuracy_and_improves():
    """An extracted configuration fine-tuned for one epoch is at least as accurate as the slimmable one was."""
    run = train_slimmable(SPACE, DATA, epochs=2, seed=0, batch_size=64)
    cfg = [2, 2, 2, 2]
    _, acc_slim = evaluate_config(run.network, cfg, DATA.x_train[:512], DATA.x_val, DATA.y_val)
    net = run.network.extract(cfg)
    metrics = train_network(net, DATA, epochs=1, seed=0)
    assert metrics["val_acc"] >= acc_slim - 0.05 and 0.0 <= metrics["test_acc"] <= 1.0


@pytest.mark.parametrize(
    ("kw", "msg"),
    [(dict(epochs=0), "epochs must be an integer >= 1"), (dict(num_random=0, extra_samples=1), "must be >= 2"),
     (dict(stats_from=2.0), "stats_from must be a number in"), (dict(data=load_data("mnist1d", num_samples=200)), "space expects inputs")],
)
def test_bad_training_arguments(kw, msg):
    """Bad epochs, too few samples per step, a bad stats_from or mismatched data raise ValueError."""
    args = dict(data=DATA) | kw
    with pytest.raises(ValueError, match=msg):
        train_slimmable(SPACE, **args)


def test_estimate_unary_from_validation_data():
    """estimate_unary scores `samples` configurations on held-out data; same seed, same statistics; narrow costs more."""
    from nasaccel.width.training import estimate_unary

    run = train_slimmable(SPACE, DATA, epochs=2, seed=0, batch_size=64, lr=1e-2)
    args = (run.network, DATA.x_train[:256], DATA.x_val, DATA.y_val)
    a = estimate_unary(*args, samples=24, group=4, seed=2)
    b = estimate_unary(*args, samples=24, group=4, seed=2)
    np.testing.assert_array_equal(a.sums, b.sums)
    assert (a.counts.sum(axis=1) == 24).all()
    m = a.means()
    assert np.nanmean(m[:, 0]) > np.nanmean(m[:, -1])
    assert not run.network.stats  # calibrations are dropped after scoring
