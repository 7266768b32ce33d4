"""The final stage: spreading a front, retraining it in a second study, ONNX export with trained weights."""

from __future__ import annotations

import re
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nasaccel as na
from nasaccel.executors import Executor, run_evaluation
from nasaccel.final import (
    export_onnx, final_study_names, near_front, retrain_front, retrain_order, spread_front, trained_state,
)
from nasaccel.trial import Objective, Trial, TrialState


def trial(n, acc, lat):
    return Trial(n, f"a{n}", "", TrialState.COMPLETE, {"acc": acc, "lat": lat})


def test_spread_front_keeps_both_ends_evenly():
    """With more members than top, the picks are at evenly spaced ranks along the objective, both ends included."""
    front = [trial(i, 1.0 - i / 10, float(i)) for i in range(10)]
    picked = spread_front(front[::-1], Objective("lat", "minimize"), 4)
    assert [t.metrics["lat"] for t in picked] == [0.0, 3.0, 6.0, 9.0]
    assert [t.number for t in spread_front(front, Objective("lat", "minimize"), 20)] == list(range(10))


def test_spread_front_spaces_positive_values_in_their_logarithm():
    """Positive values (latencies) are spread by their logarithm: a crowded cheap end does not take every pick."""
    lats = [1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 10.0, 100.0]
    front = [trial(i, 0.5 + i / 100, lat) for i, lat in enumerate(lats)]
    assert [t.metrics["lat"] for t in spread_front(front, Objective("lat", "minimize"), 3)] == [1.0, 10.0, 100.0]
    # targets at 1, 3.16, 10, 31.6 and 100 each take the nearest member still free in log distance: 1, 1.5, 10,
    # 100, and the last target (100 taken) the nearest one left, 1.4; top members are always returned
    picked = spread_front(front, Objective("lat", "minimize"), 5)
    assert [t.metrics["lat"] for t in picked] == [1.0, 1.4, 1.5, 10.0, 100.0]
    # maximised objectives are ordered best first and spread the same way
    accs = spread_front(front, Objective("lat", "maximize"), 3)
    assert [t.metrics["lat"] for t in accs] == [100.0, 10.0, 1.0]


def test_spread_front_refuses_bad_top():
    """top must be a positive integer."""
    with pytest.raises(ValueError, match="top"):
        spread_front([], Objective("lat", "minimize"), 0)


def test_final_study_names():
    """Final stages of a study are '<name>-final' and '-final-<k>', in storage order; others are not."""
    names = ["s", "s-final", "t-final", "s-final-2", "s-finale", "s-final-x"]
    assert final_study_names(names, "s") == ["s-final", "s-final-2"]


class Synthetic:
    """Deterministic accuracy and latency from the architecture text; ``bonus`` marks a second fidelity."""

    def __init__(self, bonus=0.0):
        self.bonus = bonus

    def evaluate(self, genome, space, context=None):
        text = space.to_text(genome)
        return {"acc": (sum(map(ord, text)) % 97) / 97 + self.bonus, "lat": float(len(text))}

    def config(self):
        return {"type": "synthetic", "bonus": self.bonus}


def chain():
    return na.ChainSpace((1, 16), 3, widths=(4, 8), kernels=(3, 5), strides=(1, 2), max_layers=3)


def test_retrain_front_evaluates_the_front_in_a_second_study(tmp_path):
    """The final study holds the front members once each, evaluated by the new evaluator; re-running adds nothing."""
    db = str(tmp_path / "s.db")
    study = na.Study(chain(), na.RandomSearch(), Synthetic(), objectives=["acc", "lat:minimize"], storage=db, name="s")
    study.optimize(n_trials=25)
    front = {t.arch for t in study.pareto_front()}
    final = retrain_front(study, Synthetic(bonus=1.0), top=100)
    assert final.name == "s-final"
    assert {t.arch for t in final.trials} == front and len(final.trials) == len(front)
    assert all(t.metrics["acc"] >= 1.0 for t in final.trials)
    again = retrain_front(study, Synthetic(bonus=1.0), top=100)
    assert again.name == "s-final" and len(again.trials) == len(front)
    # a search that went on may have another front: that one gets its own final study
    study.optimize(n_trials=25)
    if {t.arch for t in study.pareto_front()} != front:
        assert retrain_front(study, Synthetic(bonus=1.0), top=100).name == "s-final-2"


class Coarse:
    """Accuracy on a coarse grid (so that ties happen) and latency from the architecture text, salted by ``salt``."""

    def __init__(self, salt=0):
        self.salt = salt

    def evaluate(self, genome, space, context=None):
        text = space.to_text(genome)
        h = sum((i + 1 + self.salt) * ord(c) for i, c in enumerate(text))
        return {"acc": (h % 11) / 100, "lat": float(len(text) + h % 3), "ok": float(h % 5 != 0)}

    def config(self):
        return {"type": "coarse", "salt": self.salt}


def oracle_band(trials, tolerance):
    """Brute force: t stays unless some u has acc >= t.acc + tol, lat <= t.lat, and one of the two strictly."""
    out = []
    for t in trials:
        a, l = t.metrics["acc"], t.metrics["lat"]
        beaten = any(
            u.metrics["acc"] - tolerance >= a and u.metrics["lat"] <= l
            and (u.metrics["acc"] - tolerance > a or u.metrics["lat"] < l)
            for u in trials
        )
        if not beaten:
            out.append(t.number)
    return out


@settings(max_examples=25, deadline=None)
@given(salt=st.integers(0, 50), tolerance=st.sampled_from([0.0, 0.01, 0.02, 0.05, 0.2]))
def test_near_front_matches_brute_force_and_contains_the_front(salt, tolerance):
    """The band equals the brute-force epsilon-dominance filter over feasible trials, grows with the tolerance,
    always holds the Pareto front, and is the front itself at tolerance 0."""
    study = na.Study(chain(), na.RandomSearch(), Coarse(salt), objectives=["acc", "lat:minimize"],
                     constraints=["ok>=0.5"], seed=salt)
    study.optimize(n_trials=30)
    feasible = study.completed_trials(feasible_only=True)
    band = near_front(study, tolerance)
    assert [t.number for t in band] == oracle_band(feasible, tolerance)
    front = {t.number for t in study.pareto_front()}
    assert front <= {t.number for t in band}
    assert {t.number for t in band} <= {t.number for t in near_front(study, tolerance + 0.03)}
    if tolerance == 0.0:
        assert {t.number for t in band} == front


@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf"), True, "0.01", None])
def test_near_front_refuses_bad_tolerance(bad):
    """The tolerance is a finite number >= 0; the message names the bad value."""
    study = na.Study(chain(), na.RandomSearch(), Synthetic(), objectives=["acc", "lat:minimize"])
    with pytest.raises(ValueError, match=re.escape(f"tolerance must be a finite number >= 0, got {bad!r}")):
        near_front(study, bad)


def test_retrain_front_with_a_tolerance_retrains_the_near_ties(tmp_path):
    """With a tolerance the final study holds the spread of the band, a superset of the front when top allows."""
    study = na.Study(chain(), na.RandomSearch(), Coarse(), objectives=["acc", "lat:minimize"], name="s")
    study.optimize(n_trials=30)
    band = near_front(study, 0.05)
    assert len(band) > len(study.pareto_front())
    final = retrain_front(study, Synthetic(bonus=1.0), top=100, tolerance=0.05)
    assert sorted(t.arch for t in final.trials) == sorted(t.arch for t in band)
    picked = retrain_front(study, Synthetic(bonus=1.0), top=3, tolerance=0.05)
    assert picked.name == "s-final-2"
    spread = [t.arch for t in spread_front(band, study.objectives[-1], 3)]
    assert [t.arch for t in picked.trials] == [spread[i] for i in retrain_order(3)]


def test_retrain_order_exact_sequence():
    """Both ends first, then bisection breadth first."""
    assert retrain_order(12) == [0, 11, 5, 2, 8, 1, 3, 6, 9, 4, 7, 10]
    assert retrain_order(5) == [0, 4, 2, 1, 3]
    assert [retrain_order(n) for n in range(3)] == [[], [0], [0, 1]]


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 200))
def test_retrain_order_is_a_permutation_whose_prefixes_span_the_range(n):
    """Every index once, ends first; every prefix of k >= 2 picks leaves no gap wider than twice an even spacing."""
    order = retrain_order(n)
    assert sorted(order) == list(range(n))
    assert order[: min(n, 2)] == [0, n - 1][: min(n, 2)]
    for k in range(2, n + 1):
        prefix = sorted(order[:k])
        widest = max(b - a for a, b in zip(prefix, prefix[1:]))
        assert widest <= 2 * -(-(n - 1) // (k - 1))


@pytest.mark.parametrize("bad", [0, -5, float("nan"), float("inf"), True, "60"])
def test_retrain_front_refuses_bad_timeout(bad):
    """The timeout is None or finite seconds > 0; the message names the bad value."""
    study = na.Study(chain(), na.RandomSearch(), Synthetic(), objectives=["acc", "lat:minimize"])
    study.optimize(n_trials=5)
    with pytest.raises(ValueError, match=re.escape(f"timeout must be a finite number of seconds > 0, got {bad!r}")):
        retrain_front(study, Synthetic(bonus=1.0), timeout=bad)


class Slow(Synthetic):
    """Synthetic scores after a pause: a final stage long enough to be cut short."""

    def evaluate(self, genome, space, context=None):
        time.sleep(0.3)
        return super().evaluate(genome, space, context)


def test_retrain_front_timeout_trains_the_ends_then_stops(tmp_path, caplog):
    """A timeout shorter than one training still trains both ends of the front; no further member starts, a
    warning says how many were trained; resuming without a timeout trains the rest in retrain order."""
    db = str(tmp_path / "s.db")
    study = na.Study(chain(), na.RandomSearch(), Coarse(), objectives=["acc", "lat:minimize"], storage=db, name="s")
    study.optimize(n_trials=40)
    band = near_front(study, 0.05)
    assert len(band) >= 4
    spread = [t.arch for t in spread_front(band, study.objectives[-1], 4)]
    with caplog.at_level("WARNING", logger="nasaccel.final"):
        cut = retrain_front(study, Slow(bonus=1.0), top=4, tolerance=0.05, timeout=0.1)
    assert [t.arch for t in cut.trials] == [spread[0], spread[-1]]
    assert "timeout of 0.1 s reached after 2 of 4 networks" in caplog.text
    full = retrain_front(study, Synthetic(bonus=1.0), top=4, tolerance=0.05)
    assert full.name == cut.name
    assert [t.arch for t in full.trials] == [spread[i] for i in retrain_order(4)]


class Threads(Executor):
    """Two evaluations at once in threads of this process (the space object is used directly)."""

    n_workers = 2

    def __init__(self):
        import concurrent.futures as cf

        self._pool = cf.ThreadPoolExecutor(max_workers=2)

    def submit(self, space, evaluator, genome_text, context):
        return self._pool.submit(run_evaluation, space, evaluator, genome_text, context)

    def shutdown(self):
        self._pool.shutdown(wait=True)


class SlowArch(Synthetic):
    """Synthetic scores after a pause that is long for one architecture, short for the others."""

    def __init__(self, slow_arch, bonus=0.0):
        super().__init__(bonus)
        self.slow_arch = slow_arch

    def evaluate(self, genome, space, context=None):
        time.sleep(1.0 if space.to_text(genome) == self.slow_arch else 0.05)
        return super().evaluate(genome, space, context)


def test_retrain_front_keeps_workers_busy_while_an_end_trains(tmp_path):
    """While one end of the front trains for longer than the timeout, the other worker trains the next members:
    they start before that end finishes, and the timeout still lets no member start after it."""
    db = str(tmp_path / "s.db")
    study = na.Study(chain(), na.RandomSearch(), Coarse(), objectives=["acc", "lat:minimize"], storage=db, name="s")
    study.optimize(n_trials=40)
    spread = [t.arch for t in spread_front(near_front(study, 0.05), study.objectives[-1], 4)]
    ex = Threads()
    try:
        final = retrain_front(study, SlowArch(spread[-1], bonus=1.0), top=4, tolerance=0.05, timeout=0.5, executor=ex)
    finally:
        ex.shutdown()
    trials = final.trials
    assert [t.arch for t in trials] == [spread[i] for i in retrain_order(4)]
    slow = trials[1]
    assert slow.arch == spread[-1] and slow.datetime_complete - slow.datetime_start >= 1.0
    assert all(t.datetime_start < slow.datetime_complete for t in trials[2:])
    assert all(t.state == TrialState.COMPLETE for t in trials)


def test_retrain_front_needs_a_completed_trial():
    """A study without completed trials has no front to retrain."""
    study = na.Study(chain(), na.RandomSearch(), Synthetic(), objectives=["acc", "lat:minimize"])
    with pytest.raises(ValueError, match="no completed"):
        retrain_front(study, Synthetic())


# ------------------------------------------------------------------ ONNX export


def trained_like(space, genome, seed=0):
    """The module of ``genome`` with non-trivial batch-norm statistics, as after training."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(seed)
    m = space.build_module(genome)
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.normal_(0, 0.2)
                mod.running_mean.normal_(0, 0.3)
                mod.running_var.uniform_(0.5, 2.0)
    return m.eval()


@pytest.mark.parametrize(
    "arch",
    ["conv-8-k5-s2|dwsep-16-k3-s1|maxpool-k3-s2+1", "conv-16-k3-s1|conv-8-k5-s2+1|identity+1"],
)
def test_export_onnx_equals_torch(tmp_path, arch):
    """The exported graph, run by ONNX Runtime, gives the torch module's logits (eval mode) to 1e-4."""
    ort = pytest.importorskip("onnxruntime")
    torch = pytest.importorskip("torch")
    space = na.ChainSpace((1, 40), 10, widths=(8, 16), kernels=(3, 5), strides=(1, 2), max_layers=3, max_skip_offset=1)
    g = space.from_text(arch)
    module = trained_like(space, g)
    info = export_onnx(space, g, module.state_dict(), tmp_path / "m.onnx", batch_size=7)
    assert info["max_abs_diff"] < 1e-4 and info["argmax_agreement"] == 1.0
    sess = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(3).standard_normal((7, 1, 40)).astype(np.float32)
    got = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    with torch.no_grad():
        want = module(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=1e-4)


def test_export_onnx_refuses_weights_of_another_network(tmp_path):
    """Weights of a different architecture raise ValueError naming the missing or misshapen tensor."""
    pytest.importorskip("onnxruntime")
    space = na.ChainSpace((1, 40), 10, widths=(8, 16), kernels=(3,), strides=(1, 2), max_layers=2)
    state = trained_like(space, space.from_text("conv-8-k3-s1")).state_dict()
    with pytest.raises(ValueError, match="shape|no tensor"):
        export_onnx(space, space.from_text("conv-16-k3-s1"), state, tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_trained_state_reads_the_trainer_checkpoints(tmp_path):
    """trained_state finds the trainer's checkpoint inside a composite config, and names what is missing."""
    torch = pytest.importorskip("torch")
    from nasaccel.evaluation import CheckpointStore

    CheckpointStore(tmp_path).save("conv-8-k3-s1", {"w": torch.ones(2)})
    cfg = {"type": "composite", "evaluators": [{"type": "latency"}, {"type": "train", "checkpoint_dir": str(tmp_path)}]}
    assert torch.equal(trained_state(cfg, "conv-8-k3-s1")["w"], torch.ones(2))
    with pytest.raises(ValueError, match="no trained weights of 'conv-16-k3-s1'"):
        trained_state(cfg, "conv-16-k3-s1")
    with pytest.raises(ValueError, match="checkpoint_dir"):
        trained_state({"type": "train"}, "conv-8-k3-s1")
