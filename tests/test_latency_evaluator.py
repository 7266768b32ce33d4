"""LatencyEvaluator: measured on ONNX Runtime or predicted from a saved table, in studies and composites."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

import nasaccel as na
from nasaccel.evaluation import CompositeEvaluator, LatencyEvaluator, evaluator_from_config
from nasaccel.evaluation.latency import default_metric
from nasaccel.latency import LatencyTable, UnmeasuredTermError, describe_with, latency_description, profile_space, terms_of


def small_space():
    return na.ChainSpace((3, 8, 8), 4, ops=("conv", "dwsep", "maxpool"), widths=(8, 16), kernels=(3,), min_layers=1,
                         max_layers=3, max_skip_offset=1)


def additive_truth(seed=0):
    """An exact additive model: hidden seconds per term, so a table fitted to it is checkable."""
    rng = np.random.default_rng(seed)
    values = {}

    def measure(d):
        return sum(c * values.setdefault(t, float(rng.uniform(1e-5, 1e-4))) for t, c in terms_of(d).items())

    return measure


def fitted_table(space, tmp_path, n=60, batch_size=1, threads=1):
    res = profile_space(space, n, describe=describe_with(space), measure=additive_truth(), seed=1, progress=False,
                        device={"batch_size": batch_size, "intra_op_threads": threads},
                        space_config={"space": space.config()})
    path = tmp_path / "table.json"
    res.table.save(path)
    return path, res.table


def test_metric_name_carries_the_batch_size():
    """Batch 1 is latency_ms; any other batch is named in the metric (latency_b256_ms)."""
    assert default_metric(1) == "latency_ms" and default_metric(256) == "latency_b256_ms"
    assert LatencyEvaluator(batch_size=8).metric == "latency_b8_ms"
    assert LatencyEvaluator(batch_size=8, metric="lat8").metric == "lat8"


def test_measured_mode_times_the_network_and_records_the_context(tmp_path):
    """Measured latency is positive ms; each record (memory and JSON lines) has arch, batch, threads and machine."""
    pytest.importorskip("onnxruntime")
    space = small_space()
    log = tmp_path / "lat.jsonl"
    fast = na._core.HarnessOptions(warmup_calls=2, min_repeats=5, max_repeats=20, max_seconds=0.05, overhead_repeats=50)
    ev = LatencyEvaluator(batch_size=2, threads=1, log_path=log, harness=fast)
    g = space.from_text("conv-16-k3-s1|maxpool-k3-s2+1")
    out = ev.evaluate(g, space)
    assert list(out) == ["latency_b2_ms"] and 0 < out["latency_b2_ms"] < 1e3
    rec = ev.records[-1]
    assert rec["arch"] == "conv-16-k3-s1|maxpool-k3-s2+1" and rec["batch_size"] == 2 and rec["threads"] == 1
    assert rec["latency_s"] * 1e3 == pytest.approx(out["latency_b2_ms"]) and "load_average" in rec["machine"]
    ev.evaluate(space.from_text("dwsep-8-k3-s2"), space)
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    assert [x["arch"] for x in lines] == ["conv-16-k3-s1|maxpool-k3-s2+1", "dwsep-8-k3-s2"]
    assert lines[0]["runner"]["intra_op_threads"] == 1 and lines[0]["runner"]["batch_size"] == 2
    clone = pickle.loads(pickle.dumps(ev))  # process-pool executors ship the evaluator
    assert clone.config() == ev.config() and clone._measure is None
    assert evaluator_from_config(ev.config()).config() == ev.config()
    with pytest.raises(ValueError, match="not HarnessOptions fields"):
        LatencyEvaluator(harness={"repeats": 3})


def test_predicted_mode_prices_with_the_table(tmp_path):
    """Predicted ms equal the table's price of the genome's description; batch and threads come from the table."""
    space = small_space()
    path, table = fitted_table(space, tmp_path, batch_size=4, threads=2)
    ev = LatencyEvaluator("predicted", table=str(path))
    assert (ev.batch_size, ev.threads, ev.metric) == (4, 2, "latency_b4_ms")
    rng = na.Rng(5)
    priced = 0
    for _ in range(10):
        g = space.sample(rng)
        d = latency_description(space, g)
        if table.can_predict(d):
            assert ev.evaluate(g, space)["latency_b4_ms"] == pytest.approx(1e3 * table.predict(d))
            assert LatencyEvaluator("predicted", table=table).evaluate(g, space) == ev.evaluate(g, space)
            priced += 1
    assert priced > 0


def test_predicted_mode_on_macro_and_nb201_tables(tmp_path):
    """Tables of MacroSpace and NB201 (image size stored with the table) price their genomes."""
    for space, size in ((na.MacroSpace(init_channels=8, head_channels=32), [16, 16]), (na.NB201CellSpace(), [16, 16])):
        res = profile_space(space, 40, describe=describe_with(space, input_size=size), measure=additive_truth(), seed=2,
                            progress=False, device={"batch_size": 1}, space_config={"space": space.config(), "input_size": size})
        ev = LatencyEvaluator("predicted", table=res.table)
        assert ev.input_size == size
        rng, priced = na.Rng(9), 0
        for _ in range(10):
            g = space.sample(rng)
            d = latency_description(space, g, input_size=size)
            if res.table.can_predict(d):
                assert ev.evaluate(g, space)["latency_ms"] == pytest.approx(1e3 * res.table.predict(d))
                priced += 1
        assert priced > 0


def test_unmeasured_term_names_the_term_and_the_architecture(tmp_path):
    """A genome needing a term the table never measured raises UnmeasuredTermError naming both."""
    narrow = na.ChainSpace((3, 8, 8), 4, ops=("conv",), widths=(8,), kernels=(3,), strides=(1,), min_layers=1, max_layers=1)
    _, table = fitted_table(narrow, tmp_path, n=1)
    wide = na.ChainSpace((3, 8, 8), 4, ops=("conv",), widths=(8, 32), kernels=(3,), strides=(1,), min_layers=1, max_layers=1)
    table.space = {}  # priced as if for this space: the term check must still catch the wider layer
    ev = LatencyEvaluator("predicted", table=table)
    assert ev.evaluate(wide.from_text("conv-8-k3-s1"), wide)["latency_ms"] > 0
    with pytest.raises(UnmeasuredTermError, match=r"'conv-32-k3-s1'.*'conv\|k3\|s1\|8x8\|3->32'"):
        ev.evaluate(wide.from_text("conv-32-k3-s1"), wide)


def test_bad_settings_raise_value_errors(tmp_path):
    """Bad mode, missing or mismatched tables, batch or threads, and a foreign space are named."""
    space = small_space()
    path, table = fitted_table(space, tmp_path)
    with pytest.raises(ValueError, match="mode must be one of"):
        LatencyEvaluator("guessed")
    with pytest.raises(ValueError, match="needs a latency table"):
        LatencyEvaluator("predicted")
    with pytest.raises(ValueError, match="does not exist"):
        LatencyEvaluator("predicted", table=tmp_path / "nope.json")
    with pytest.raises(ValueError, match="batch_size 8 differs from the latency table's batch size 1"):
        LatencyEvaluator("predicted", table=path, batch_size=8)
    with pytest.raises(ValueError, match="threads 2 differs"):
        LatencyEvaluator("predicted", table=path, threads=2)
    with pytest.raises(ValueError, match="table is for predicted mode"):
        LatencyEvaluator(table=path)
    for kw in ({"batch_size": 0}, {"threads": True}, {"passes": 0}, {"metric": ""}):
        with pytest.raises(ValueError, match=next(iter(kw))):
            LatencyEvaluator(**kw)
    bare = LatencyTable(table.terms, table.values, table.coverage_counts)
    with pytest.raises(ValueError, match="does not record its batch size"):
        LatencyEvaluator("predicted", table=bare)
    other = na.ChainSpace((3, 8, 8), 4, ops=("conv",), widths=(8,), kernels=(3,))
    with pytest.raises(ValueError, match="profiled on space"):
        LatencyEvaluator("predicted", table=path).evaluate(other.from_text("conv-8-k3-s1"), other)
    with pytest.raises(ValueError, match="no latency description for object"):
        LatencyEvaluator().evaluate(None, object())


def test_from_config_round_trips_with_relative_paths(tmp_path):
    """{"type": "latency"} builds the evaluator (table path relative to base_dir); config() rebuilds it."""
    space = small_space()
    fitted_table(space, tmp_path)
    ev = evaluator_from_config({"type": "latency", "mode": "predicted", "table": "table.json"}, base_dir=str(tmp_path))
    assert isinstance(ev, LatencyEvaluator) and ev.table_path == str(tmp_path / "table.json")
    again = evaluator_from_config(ev.config())
    assert again.config() == ev.config()
    g = space.from_text("conv-8-k3-s1")
    assert again.evaluate(g, space) == ev.evaluate(g, space)
    m = evaluator_from_config({"type": "latency", "batch_size": 16, "threads": 2})
    assert m.config() == {"type": "latency", "mode": "measured", "batch_size": 16, "threads": 2,
                          "metric": "latency_b16_ms", "passes": 1}
    with pytest.raises(ValueError, match="bad key"):
        evaluator_from_config({"type": "latency", "batch": 4})


def test_composes_with_torch_trainer_in_a_study():
    """CompositeEvaluator([latency, TorchTrainer]) gives both metrics, and a study can constrain latency_ms."""
    pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    pytest.importorskip("sklearn")
    space = na.ChainSpace((1, 8, 8), 10, ops=("conv", "maxpool"), widths=(4,), kernels=(3,), max_layers=2)
    fast = na._core.HarnessOptions(warmup_calls=2, min_repeats=5, max_repeats=20, max_seconds=0.05, overhead_repeats=50)
    ev = CompositeEvaluator([LatencyEvaluator(harness=fast), na.TorchTrainer("digits", epochs=1, batch_size=256)])
    assert ev.config()["evaluators"][0]["type"] == "latency"
    study = na.Study(space, na.RandomSearch(), ev, objectives=["val_acc:maximize", "latency_ms:minimize"],
                     constraints=["latency_ms <= 1000"])
    study.optimize(2)
    done = [t for t in study.trials if t.state == na.TrialState.COMPLETE]
    assert len(done) == 2
    for t in done:
        assert t.metrics["latency_ms"] > 0 and 0 <= t.metrics["val_acc"] <= 1 and t.metrics["params"] > 0
