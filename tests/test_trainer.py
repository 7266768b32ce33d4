"""TorchTrainer: metrics, determinism, fidelities (epochs, data fraction, resolution), FLOPs, reporting, config."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
import torch

import nasaccel as na
from nasaccel import data
from nasaccel.evaluation import TorchTrainer, evaluator_from_config
from nasaccel.evaluation.flops import count_macs
from nasaccel.evaluation.inheritance import CheckpointStore
from nasaccel.executors import EvalContext
from nasaccel.trial import TrialPruned, TrialState

torch.set_num_threads(1)

ARCH = "conv-8-k3-s1|maxpool-k3-s2|conv-16-k5-s2+1"


@pytest.fixture(scope="module")
def m1d():
    return data.mnist1d(seed=0, num_samples=500)


@pytest.fixture(scope="module")
def digits():
    return data.digits(seed=0)


@pytest.fixture(scope="module")
def space():
    return na.ChainSpace.mnist1d(widths=(8, 16, 32), max_layers=4)


class Spy(TorchTrainer):
    """Records the input shape and training mode of every forward pass of the networks it builds."""

    def build(self, genome, space):
        module = super().build(genome, space)
        self.calls = []
        module.register_forward_pre_hook(lambda m, args: self.calls.append((tuple(args[0].shape), m.training)))
        return module

    def train_batches(self):
        return [shape for shape, training in self.calls if training]


def _evaluate(trainer, space, arch=ARCH, seed=0):
    ctx = EvalContext(0, seed, arch)
    return trainer.evaluate(space.from_text(arch), space, ctx), ctx


def test_metrics_are_fractions_and_counts(m1d, space):
    """evaluate returns accuracies in [0, 1], the parameter count, MACs, FLOPs = 2 MACs and the epochs trained."""
    trainer = TorchTrainer(m1d, epochs=2)
    metrics, _ = _evaluate(trainer, space)
    assert set(metrics) >= {"val_acc", "test_acc", "params", "flops", "macs", "train_time_s", "epochs", "inherited_params"}
    assert 0.0 <= metrics["val_acc"] <= 1.0 and 0.0 <= metrics["test_acc"] <= 1.0
    module = space.build_module(space.from_text(ARCH))
    assert metrics["params"] == sum(p.numel() for p in module.parameters())
    assert metrics["macs"] == count_macs(module, (1, 40))
    assert metrics["flops"] == 2 * metrics["macs"]
    assert metrics["epochs"] == 2.0 and metrics["train_time_s"] > 0
    assert all(isinstance(v, float) and math.isfinite(v) for v in metrics.values())


def _twice_and_contrast(space, make, seed, make_other, other_seed):
    """Metrics (without wall time) of ``make()`` evaluated twice at ``seed``, then of ``make_other()`` at
    ``other_seed``; and whether the two repeats' learning curves agree."""
    runs = [_evaluate(f(), space, seed=s) for f, s in ((make, seed), (make, seed), (make_other, other_seed))]
    for m, _ in runs:
        m.pop("train_time_s")
    (a, ca), (b, cb), (c, _) = runs
    return a, b, c, ca.curve == cb.curve


def test_same_seed_and_arch_give_identical_metrics(m1d, space):
    """Two evaluations with the same (seed, arch) agree bit for bit; another seed changes the result."""
    def make():
        return TorchTrainer(m1d, epochs=2)

    a, b, c, same_curve = _twice_and_contrast(space, make, 7, make, 8)
    assert a == b and same_curve
    assert a["val_loss"] != c["val_loss"]


def test_evaluate_restores_global_torch_state(m1d, space):
    """Threads, deterministic mode and the global torch RNG are as the caller left them."""
    torch.set_num_threads(1)
    torch.manual_seed(11)
    expected = torch.rand(3)
    torch.manual_seed(11)
    seen = []

    class Probe(TorchTrainer):
        def build(self, genome, space):
            seen.append((torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()))
            return super().build(genome, space)

    _evaluate(Probe(m1d, epochs=1, threads=2), space)
    assert seen == [(2, True)]
    assert torch.get_num_threads() == 1 and not torch.are_deterministic_algorithms_enabled()
    assert torch.equal(torch.rand(3), expected)


def test_reports_validation_accuracy_after_each_epoch(m1d, space):
    """context.report is called with (epoch, val_acc) for epochs 1..E; the last value is the returned val_acc."""
    metrics, ctx = _evaluate(TorchTrainer(m1d, epochs=3), space)
    assert [s for s, _ in ctx.curve] == [1.0, 2.0, 3.0]
    assert ctx.curve[-1][1] == metrics["val_acc"]


def test_epochs_and_batches_are_honoured(m1d, space):
    """Each epoch runs ceil(n / batch_size) training batches covering the training split once (a lone example joins the last batch)."""
    n = len(m1d.y_train)
    for batch_size in (64, n - 1):
        spy = Spy(m1d, epochs=3, batch_size=batch_size)
        _evaluate(spy, space)
        batches = spy.train_batches()
        per_epoch = math.ceil(n / batch_size) - (1 if n % batch_size == 1 else 0)
        assert len(batches) == 3 * per_epoch
        assert sum(shape[0] for shape in batches) == 3 * n
        assert all(shape[0] >= 2 for shape in batches)


def test_data_fraction_is_a_stratified_subset(m1d, space):
    """data_fraction trains on the stratified subset of that size, the same for every architecture."""
    spy = Spy(m1d, epochs=1, data_fraction=0.25, batch_size=32)
    _evaluate(spy, space)
    expected = len(data.stratified_subset(m1d.y_train, 0.25, seed=0))
    assert sum(shape[0] for shape in spy.train_batches()) == expected
    assert expected < len(m1d.y_train) / 3


def test_resolution_resamples_one_dimensional_inputs(m1d, space):
    """resolution=20 feeds signals of length 20 to the network; parameters stay, MACs shrink."""
    full, _ = _evaluate(TorchTrainer(m1d, epochs=1), space)
    spy = Spy(m1d, epochs=1, resolution=20)
    low, _ = _evaluate(spy, space)
    assert {shape[1:] for shape, _ in spy.calls} == {(1, 20)}
    assert low["params"] == full["params"] and low["macs"] < full["macs"]
    module = space.build_module(space.from_text(ARCH))
    assert low["macs"] == count_macs(module, (1, 20))


def test_resolution_resizes_images(digits):
    """resolution=16 upsamples 8x8 digits to 16x16 (bilinear) for a 2-D chain network."""
    space2d = na.ChainSpace((1, 8, 8), 10, widths=(8,), kernels=(3,), max_layers=2)
    spy = Spy(digits, epochs=1, resolution=(16, 12), data_fraction=0.2)
    metrics, _ = _evaluate(spy, space2d, arch="conv-8-k3-s2|conv-8-k3-s1")
    assert {shape[1:] for shape, _ in spy.calls} == {(1, 16, 12)}
    assert metrics["macs"] == count_macs(space2d.build_module(space2d.from_text("conv-8-k3-s2|conv-8-k3-s1")), (1, 16, 12))
    resampled = spy._resample(digits.x_val[:2])
    expected = torch.nn.functional.interpolate(torch.from_numpy(digits.x_val[:2]), size=(16, 12), mode="bilinear")
    np.testing.assert_allclose(resampled, expected.numpy(), rtol=0, atol=1e-6)


def test_space_and_data_must_agree(m1d, digits):
    """A space whose input shape, channels or classes differ from the data's raises ValueError naming both."""
    g_space = na.ChainSpace((1, 40), 10, max_layers=2)
    with pytest.raises(ValueError, match=r"input_shape \[1, 40\] but data 'digits' has input shape \[1, 8, 8\]"):
        TorchTrainer(digits, epochs=1).evaluate(g_space.from_text("conv-16-k3-s1"), g_space)
    five = na.ChainSpace((1, 40), 5, max_layers=2)
    with pytest.raises(ValueError, match="num_classes 5 but data 'mnist1d' has 10 classes"):
        TorchTrainer(m1d, epochs=1).evaluate(five.from_text("conv-16-k3-s1"), five)
    nb = na.NB201CellSpace(num_cells=1, channels=4)
    with pytest.raises(ValueError, match=r"input_channels 3 but data 'digits' has 1 channels"):
        TorchTrainer(digits, epochs=1).evaluate(nb.from_text(nb.to_text(nb.sample(na.Rng(0)))), nb)
    with pytest.raises(ValueError, match=r"takes images .* input shape \[1, 40\]"):
        TorchTrainer(m1d, epochs=1).evaluate(nb.sample(na.Rng(0)), nb)


def test_trains_nb201_networks_on_images(digits):
    """An NB201 cell network (1 cell per stage, 4 channels) trains on digits and learns above chance."""
    nb = na.NB201CellSpace(num_cells=1, channels=4, num_classes=10, input_channels=1)
    arch = "|nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|skip_connect~0|nor_conv_1x1~1|nor_conv_3x3~2|"
    metrics = TorchTrainer(digits, epochs=2, data_fraction=0.5, lr=1e-2).evaluate(nb.from_text(arch), nb, EvalContext(0, 0, arch))
    assert metrics["val_acc"] > 0.3


def test_learning_beats_chance_on_mnist1d(space):
    """A small conv net trained 6 epochs on 1,600 MNIST-1D signals is far above the 10% chance level."""
    trainer = TorchTrainer(data.mnist1d(num_samples=2000), epochs=6, lr=1e-2)
    metrics, ctx = _evaluate(trainer, space, arch="conv-32-k5-s1|conv-32-k3-s2|conv-32-k3-s2")
    assert metrics["val_acc"] > 0.6 and metrics["test_acc"] > 0.6
    assert ctx.curve[-1][1] > ctx.curve[0][1]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"optimizer": "sgd", "momentum": 0.9, "weight_decay": 1e-4},
        {"optimizer": "adamw", "weight_decay": 1e-2, "schedule": "constant", "label_smoothing": 0.1},
    ],
)
def test_optimizer_settings(m1d, space, kwargs):
    """SGD with Nesterov momentum, AdamW, constant schedule and label smoothing train deterministically."""
    a, _ = _evaluate(TorchTrainer(m1d, epochs=1, **kwargs), space)
    b, _ = _evaluate(TorchTrainer(m1d, epochs=1, **kwargs), space)
    a.pop("train_time_s"), b.pop("train_time_s")
    assert a == b and math.isfinite(a["val_loss"])


def test_cosine_schedule_reaches_zero(m1d, space):
    """With the cosine schedule the last step's learning rate is 0 (annealed over all steps)."""
    lrs = []

    class Watch(TorchTrainer):
        def _optimizer(self, model):
            opt = super()._optimizer(model)
            opt.register_step_pre_hook(lambda o, a, k: lrs.append(o.param_groups[0]["lr"]))
            return opt

    _evaluate(Watch(m1d, epochs=2, lr=0.01, batch_size=128), space)
    steps = len(lrs)
    assert lrs[0] == pytest.approx(0.01)
    assert lrs[-1] == pytest.approx(0.01 * 0.5 * (1 + math.cos(math.pi * (steps - 1) / steps)))


class _StopAt:
    def __init__(self, step):
        self.step = step

    def should_prune(self, step, value, curve, history):
        return step >= self.step


def test_pruned_trial_carries_static_metrics(m1d, space):
    """When the pruner stops the curve, TrialPruned carries the step, params, MACs and epochs trained."""
    ctx = EvalContext(0, 0, ARCH, pruner=_StopAt(2))
    with pytest.raises(TrialPruned) as info:
        TorchTrainer(m1d, epochs=5).evaluate(space.from_text(ARCH), space, ctx)
    m = info.value.metrics
    assert m["pruned_step"] == 2.0 and m["epochs"] == 2.0 and m["params"] > 0 and m["flops"] == 2 * m["macs"]
    assert len(ctx.curve) == 2


def test_flops_match_torch_flop_counter(space):
    """2 x (Conv + Linear MACs without bias) equals torch.utils.flop_counter's count; BN adds one MAC per element."""
    from torch.utils.flop_counter import FlopCounterMode

    for arch in (ARCH, "dwsep-32-k7-s2|conv-16-k3-s1+1|avgpool-k3-s2|identity+1,2"):
        module = space.build_module(space.from_text(arch)).eval()
        per_layer = count_macs(module, (1, 40), per_layer=True)
        modules = dict(module.named_modules())
        bn = sum(v for k, v in per_layer.items() if isinstance(modules[k], torch.nn.modules.batchnorm._BatchNorm))
        bias = sum(modules[k].out_features for k in per_layer if isinstance(modules[k], torch.nn.Linear))
        counter = FlopCounterMode(display=False)
        with counter, torch.no_grad():
            module(torch.zeros(1, 1, 40))
        assert 2 * (sum(per_layer.values()) - bn - bias) == counter.get_total_flops()
        bn_elems = []
        hooks = [m.register_forward_hook(lambda m, i, o: bn_elems.append(o.numel()))
                 for m in module.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
        module(torch.zeros(1, 1, 40))
        for h in hooks:
            h.remove()
        assert bn == sum(bn_elems)


def test_config_round_trip_and_pickling(m1d, tmp_path):
    """config() rebuilds an equal trainer through evaluator_from_config; the trainer pickles with its arrays."""
    trainer = TorchTrainer("mnist1d", data_args={"num_samples": 500}, epochs=3, lr=0.002, resolution=30,
                           checkpoint_dir=tmp_path / "ck")
    config = trainer.config()
    assert config["type"] == "train" and config["data"] == "mnist1d" and config["resolution"] == [30]
    rebuilt = evaluator_from_config(config)
    assert isinstance(rebuilt, TorchTrainer) and rebuilt.config() == config
    np.testing.assert_array_equal(rebuilt.data.x_train, trainer.data.x_train)
    clone = pickle.loads(pickle.dumps(trainer))
    assert clone.config() == config
    np.testing.assert_array_equal(clone.data.x_val, trainer.data.x_val)
    relative = evaluator_from_config({"type": "train", "data": "digits", "epochs": 1, "checkpoint_dir": "ck"}, base_dir=str(tmp_path))
    assert relative.checkpoint_dir == str(tmp_path / "ck") and relative.data.name == "digits"
    with pytest.raises(ValueError, match="bad key"):
        evaluator_from_config({"type": "train", "data": "digits", "epoch": 1})


def test_with_fidelity_changes_only_what_is_asked(m1d):
    """with_fidelity copies the settings, changes the given fidelities and shares the data arrays."""
    base = TorchTrainer(m1d, epochs=9, lr=0.003)
    low = base.with_fidelity(epochs=1, data_fraction=0.5)
    assert low.epochs == 1 and low.data_fraction == 0.5 and low.lr == 0.003 and low.data is base.data
    with pytest.raises(ValueError, match="cannot change"):
        base.with_fidelity(data="digits")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"epochs": 0}, "epochs must be an integer >= 1, got 0"),
        ({"batch_size": 2.5}, "batch_size must be an integer >= 1, got 2.5"),
        ({"optimizer": "rmsprop"}, "unknown optimizer 'rmsprop'"),
        ({"lr": -1.0}, r"lr must be in \(0, inf\], got -1.0"),
        ({"schedule": "step"}, "unknown schedule 'step'"),
        ({"data_fraction": 0.0}, r"data_fraction must be in \(0, 1\], got 0.0"),
        ({"label_smoothing": 1.0}, r"label_smoothing must be in \[0, 1\), got 1.0"),
        ({"resolution": (20, 20)}, r"resolution \[20, 20\] must be 1 integer"),
        ({"resolution": 0}, r"resolution \[0\] must be positive"),
        ({"threads": 0}, "threads must be an integer >= 1, got 0"),
        ({"data_args": {"seed": 1}}, "data_args applies only"),
        ({"augment": {"shift": 40}}, r"augmentation shift 40 must be smaller than every spatial size of the inputs \[40\]"),
        ({"augment": {"shift": 30}, "resolution": 20}, r"shift 30 must be smaller .* \[20\]"),
        ({"augment": {"shfit": 1}}, r"unknown augmentation setting\(s\) \['shfit'\]"),
        ({"augment": [("shift", 1)]}, "augment must be a mapping"),
        ({"train_on_validation": True, "data_fraction": 0.5}, "does not combine with data_fraction 0.5"),
        ({"train_on_validation": 1}, "train_on_validation must be true or false, got 1"),
        ({"refit": "yes"}, "refit must be true or false, got 'yes'"),
        ({"refit": True, "train_on_validation": True}, "does not combine with train_on_validation"),
        ({"refit": True, "data_fraction": 0.5}, "does not combine with train_on_validation or data_fraction 0.5"),
    ],
)
def test_bad_settings_are_refused(m1d, kwargs, match):
    """Bad trainer settings raise ValueError naming the value."""
    with pytest.raises(ValueError, match=match):
        TorchTrainer(m1d, **kwargs)


def test_trainer_in_a_study(m1d):
    """A study with the trainer completes trials with val_acc, and ASHA pruning marks some trials PRUNED."""
    space = na.ChainSpace.mnist1d(widths=(8, 16), kernels=(3,), max_layers=2, max_skip_offset=0)
    trainer = TorchTrainer(m1d, epochs=3, data_fraction=0.5, batch_size=64)
    study = na.Study(space, na.RandomSearch(), trainer, objectives=["val_acc"], seed=0,
                     pruner=na.SuccessiveHalvingPruner(min_step=1, reduction_factor=3))
    study.optimize(n_trials=8)
    states = [t.state for t in study.trials]
    assert TrialState.COMPLETE in states and TrialState.PRUNED in states
    best = study.best_trial
    assert best.metrics["val_acc"] == max(t.metrics["val_acc"] for t in study.completed_trials())


class InputSpy(TorchTrainer):
    """Keeps a copy of every input batch of the networks it builds, with the training mode."""

    def build(self, genome, space):
        module = super().build(genome, space)
        self.inputs = []
        module.register_forward_pre_hook(lambda m, args: self.inputs.append((args[0].detach().clone(), m.training)))
        return module

    def split(self, training):
        return [x for x, t in self.inputs if t == training]


def test_augmentation_changes_only_training_batches(m1d, space):
    """augment transforms the training batches, keeping their sizes and order; validation and test inputs are untouched."""
    plain = InputSpy(m1d, epochs=2)
    shifted = InputSpy(m1d, epochs=2, augment={"shift": 10})
    _evaluate(plain, space)
    _evaluate(shifted, space)
    train_p, train_s = plain.split(True), shifted.split(True)
    assert [x.shape for x in train_p] == [x.shape for x in train_s]
    assert not any(torch.equal(a, b) for a, b in zip(train_p, train_s))
    # A circular shift rearranges each signal: same examples in the same order, moved.
    for a, b in zip(train_p, train_s):
        torch.testing.assert_close(a.sort(dim=-1).values, b.sort(dim=-1).values, rtol=0, atol=0)
    eval_p, eval_s = plain.split(False), shifted.split(False)
    assert len(eval_p) == len(eval_s) and all(torch.equal(a, b) for a, b in zip(eval_p, eval_s))
    np.testing.assert_array_equal(torch.cat(eval_s[-1:]).numpy(), m1d.x_test)


def test_augmented_training_is_deterministic_per_seed(m1d, space):
    """With augmentation the same (seed, arch) gives identical metrics; they differ from training without it."""
    aug = {"shift": 8, "stretch": 0.1, "scale": 0.1, "noise": 0.05}
    a, b, c, same_curve = _twice_and_contrast(
        space, lambda: TorchTrainer(m1d, epochs=2, augment=aug), 3, lambda: TorchTrainer(m1d, epochs=2), 3
    )
    assert a == b and same_curve
    assert a["train_loss"] != c["train_loss"]


def test_train_on_validation_adds_the_validation_split(m1d, space):
    """train_on_validation trains on train + validation examples each epoch; the evaluation inputs stay the same."""
    both = InputSpy(m1d, epochs=1, batch_size=1000, train_on_validation=True)
    _evaluate(both, space)
    (batch,) = both.split(True)
    expected = np.concatenate([m1d.x_train, m1d.x_val])
    got = batch.numpy()
    assert len(got) == len(expected)
    order = np.lexsort(got.reshape(len(got), -1).T)
    want = np.lexsort(expected.reshape(len(expected), -1).T)
    np.testing.assert_array_equal(got[order], expected[want])
    np.testing.assert_array_equal(both.split(False)[-2].numpy(), m1d.x_val)  # the last validation pass
    assert TorchTrainer(m1d, train_on_validation=True).config()["train_on_validation"] is True


def test_refit_is_a_held_out_run_then_a_train_on_validation_run(m1d, space, tmp_path):
    """refit: validation metrics (and the learning curve) are those of training on the training split alone; test
    accuracy, training loss and the saved weights those of a train_on_validation run from the same initial weights."""
    common = {"epochs": 3, "augment": {"shift": 4}}
    plain, plain_ctx = _evaluate(TorchTrainer(m1d, **common), space)
    both, _ = _evaluate(TorchTrainer(m1d, train_on_validation=True, checkpoint_dir=tmp_path / "tv", **common), space)
    refit, refit_ctx = _evaluate(TorchTrainer(m1d, refit=True, checkpoint_dir=tmp_path / "refit", **common), space)
    assert refit["val_acc"] == plain["val_acc"] and refit["val_loss"] == plain["val_loss"]
    assert refit_ctx.curve == plain_ctx.curve and len(refit_ctx.curve) == 3
    assert refit["test_acc_before_refit"] == plain["test_acc"]
    assert refit["test_acc"] == both["test_acc"] and refit["train_loss"] == both["train_loss"]
    assert both["train_loss"] != plain["train_loss"]
    assert 0 < refit["refit_time_s"] < refit["train_time_s"]
    saved = CheckpointStore(tmp_path / "refit").load(ARCH)
    want = CheckpointStore(tmp_path / "tv").load(ARCH)
    assert saved.keys() == want.keys() and all(torch.equal(saved[k], want[k]) for k in saved)
    trainer = TorchTrainer(m1d, refit=True)
    assert trainer.config()["refit"] is True and trainer.with_fidelity(epochs=1).refit  # rebuilt from config()


def test_refit_does_not_run_for_a_pruned_trial(m1d, space):
    """A curve the pruner stops is not trained a second time: TrialPruned comes from the first training."""
    ctx = EvalContext(0, 0, ARCH, pruner=_StopAt(2))
    with pytest.raises(TrialPruned) as info:
        TorchTrainer(m1d, epochs=4, refit=True).evaluate(space.from_text(ARCH), space, ctx)
    assert info.value.metrics["epochs"] == 2.0 and "refit_time_s" not in info.value.metrics
    assert len(ctx.curve) == 2


def test_augment_survives_config_and_with_fidelity(m1d):
    """config() holds the augmentation settings, evaluator_from_config and with_fidelity keep them."""
    trainer = TorchTrainer("mnist1d", data_args={"num_samples": 500}, epochs=3, augment={"shift": 5, "padding": "zeros"})
    config = trainer.config()
    assert config["augment"] == {"shift": 5, "padding": "zeros", "stretch": 0.0, "scale": 0.0, "noise": 0.0}
    assert evaluator_from_config(config).config() == config
    assert trainer.with_fidelity(epochs=1).augment == trainer.augment
    assert TorchTrainer(m1d).config()["augment"] is None


@pytest.mark.slow
def test_process_executor_matches_inline(m1d):
    """Trials trained in spawned worker processes give the same metrics as inline ones."""
    space = na.ChainSpace.mnist1d(widths=(8,), kernels=(3,), max_layers=2, max_skip_offset=0)
    trainer = TorchTrainer(m1d, epochs=1)
    runs = []
    for executor in ("inline", "process"):
        study = na.Study(space, na.RandomSearch(), trainer, objectives=["val_acc"], seed=3)
        study.optimize(n_trials=4, executor=executor, n_workers=2 if executor == "process" else None)
        runs.append({t.arch: t.metrics["val_loss"] for t in study.trials})
    assert runs[0] == runs[1]
