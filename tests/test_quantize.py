"""Int8 deployment: static quantization of network graphs, int8 latency, and the int8 accuracy of trained networks."""

from __future__ import annotations

import numpy as np
import pytest

import nasaccel as na
from nasaccel.evaluation import LatencyEvaluator, TorchTrainer, evaluator_from_config
from nasaccel.evaluation.latency import default_metric
from nasaccel.executors import EvalContext
from nasaccel.latency import OnnxMeasure, genome_onnx
from nasaccel.latency.quantize import check_precision, quantize_int8

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnxruntime.quantization")

ARCH = "conv-16-k5-s1|maxpool-k3-s1+1|conv-16-k3-s2|conv-8-k3-s2"


def space_1d():
    return na.ChainSpace((1, 40), 10, ops=("conv", "maxpool"), widths=(8, 16), kernels=(3, 5), strides=(1, 2),
                         min_layers=1, max_layers=4, max_skip_offset=1)


def run(model, x):
    so = ort.SessionOptions()
    so.log_severity_level = 3
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    return sess.run(None, {inp.name: x.reshape(len(x), *[int(d) for d in inp.shape[1:]]).astype(np.float32)})[0]


def test_the_int8_graph_runs_integer_convolutions_and_stays_close_to_fp32():
    """Every Conv's weights are quantized (QDQ: DequantizeLinear of int8 initialisers); logits move little."""
    space = space_1d()
    g = space.from_text(ARCH)
    fp32 = genome_onnx(space, g, batch_size=8, seed=3)
    rng = np.random.default_rng(0)
    calib = rng.standard_normal((64, 1, 40)).astype(np.float32)
    q = quantize_int8(fp32, calib)
    ops = [n.op_type for n in q.graph.node]
    n_conv = sum(n.op_type == "Conv" for n in fp32.graph.node)
    assert n_conv >= 3 and ops.count("Conv") == n_conv
    assert "QuantizeLinear" in ops and "DequantizeLinear" in ops
    int8_inits = {i.name for i in q.graph.initializer if i.data_type == 3}  # TensorProto.INT8: the weights
    assert len(int8_inits) >= 3
    x = rng.standard_normal((8, 1, 40)).astype(np.float32)
    a, b = run(fp32, x), run(q, x)
    assert a.shape == b.shape == (8, 10)
    assert np.max(np.abs(a - b)) < 0.1 * np.max(np.abs(a)) + 1e-3
    # the same inputs, the same graph: quantization is deterministic
    assert quantize_int8(fp32, calib).SerializeToString() == q.SerializeToString()


def test_calibration_shapes_are_checked_and_short_batches_padded():
    """(n, C, L) calibration fills the height-1 layout; a short last batch is padded; a wrong shape is named."""
    space = space_1d()
    fp32 = genome_onnx(space, space.from_text(ARCH), batch_size=16)
    quantize_int8(fp32, np.zeros((5, 1, 40), np.float32) + 0.5)  # 5 examples for a batch of 16
    quantize_int8(fp32)  # random calibration, for timing
    with pytest.raises(ValueError, match=r"calibration examples must have shape .* got an array of shape \(4, 2, 40\)"):
        quantize_int8(fp32, np.zeros((4, 2, 40), np.float32))
    with pytest.raises(ValueError, match="calibration has no examples"):
        quantize_int8(fp32, np.zeros((0, 1, 40), np.float32))
    with pytest.raises(ValueError, match="n_random must be a positive integer, got 0"):
        quantize_int8(fp32, n_random=0)
    with pytest.raises(ValueError, match=r"precision must be one of \['fp32', 'int8'\], got 'fp16'"):
        check_precision("fp16")


def test_int8_latency_is_measured_named_and_configured():
    """precision="int8" times the quantized graph under its own metric name; config round-trips; bad names refused."""
    space = space_1d()
    g = space.from_text(ARCH)
    fast = na._core.HarnessOptions(warmup_calls=2, min_repeats=5, max_repeats=20, max_seconds=0.05, overhead_repeats=50)
    ev = LatencyEvaluator(batch_size=4, precision="int8", harness=fast)
    assert ev.metric == "latency_b4_int8_ms" == default_metric(4, "int8") and default_metric(1, "int8") == "latency_int8_ms"
    out = ev.evaluate(g, space)
    assert list(out) == ["latency_b4_int8_ms"] and 0 < out["latency_b4_int8_ms"] < 1e3
    assert ev.records[-1]["precision"] == "int8"
    assert ev.config()["precision"] == "int8" and "precision" not in LatencyEvaluator().config()
    assert evaluator_from_config(ev.config()).config() == ev.config()
    with pytest.raises(ValueError, match="precision must be one of"):
        LatencyEvaluator(precision="int4")
    m = OnnxMeasure(batch_size=4, precision="int8", passes=1, harness=fast)
    assert m.device()["precision"] == "int8" and m(na.latency.latency_description(space, g)) > 0
    with pytest.raises(ValueError, match="precision must be one of"):
        OnnxMeasure(precision="bf16")


def test_predicted_latency_takes_the_precision_of_its_table(tmp_path):
    """A table records the precision it was profiled at; asking another one of it is an error."""
    from nasaccel.latency import describe_with, profile_space, terms_of

    space = space_1d()
    values = {}
    rng = np.random.default_rng(0)

    def measure(d):
        return sum(c * values.setdefault(t, float(rng.uniform(1e-5, 1e-4))) for t, c in terms_of(d).items())

    res = profile_space(space, 40, describe=describe_with(space), measure=measure, seed=1, progress=False,
                        device={"batch_size": 1, "intra_op_threads": 1, "precision": "int8"},
                        space_config={"space": space.config()})
    path = tmp_path / "t.json"
    res.table.save(path)
    ev = LatencyEvaluator("predicted", table=path)
    assert ev.precision == "int8" and ev.metric == "latency_int8_ms"
    with pytest.raises(ValueError, match="precision 'fp32' differs from the latency table's precision 'int8'"):
        LatencyEvaluator("predicted", table=path, precision="fp32")


def test_trainer_reports_the_int8_accuracy_of_the_trained_network():
    """int8_accuracy adds val/test accuracy of the quantized graph, near the float figures; deterministic."""
    space = space_1d()
    data = na.data.mnist1d(seed=0, num_samples=1000)
    tr = TorchTrainer(data, epochs=3, lr=0.01, int8_accuracy=True, int8_calibration=128)
    g = space.from_text(ARCH)
    m = tr.evaluate(g, space, EvalContext(0, 0, ARCH))
    for k in ("val_acc_int8", "test_acc_int8"):
        assert 0.0 <= m[k] <= 1.0
    assert abs(m["val_acc_int8"] - m["val_acc"]) < 0.05 and abs(m["test_acc_int8"] - m["test_acc"]) < 0.05
    assert m["val_loss_int8"] > 0
    again = tr.evaluate(g, space, EvalContext(0, 0, ARCH))
    assert {k: again[k] for k in m if "int8" in k} == {k: m[k] for k in m if "int8" in k}
    assert tr.config()["int8_accuracy"] is True
    assert "val_acc_int8" not in TorchTrainer(data, epochs=1).evaluate(g, space, EvalContext(0, 0, ARCH))
    refit = TorchTrainer(data, epochs=2, lr=0.01, refit=True, int8_accuracy=True, int8_calibration=64)
    r = refit.evaluate(g, space, EvalContext(0, 0, ARCH))
    assert {"val_acc_int8", "test_acc_int8", "test_acc_before_refit"} <= set(r)


def test_trainer_refuses_bad_int8_settings():
    data = na.data.mnist1d(seed=0)
    with pytest.raises(ValueError, match="int8_accuracy must be true or false, got 'yes'"):
        TorchTrainer(data, int8_accuracy="yes")
    with pytest.raises(ValueError, match="int8_calibration"):
        TorchTrainer(data, int8_calibration=0)
    with pytest.raises(ValueError, match=r"not at resolution \[20\]"):
        TorchTrainer(data, int8_accuracy=True, resolution=20)


def test_int8_export_needs_calibration_and_reports_agreement(tmp_path):
    """export_onnx(precision="int8") writes the quantized graph and reports how often it agrees with torch."""
    import onnx

    from nasaccel.final import export_onnx

    space = space_1d()
    g = space.from_text(ARCH)
    state = space.build_module(g).state_dict()
    with pytest.raises(ValueError, match="needs calibration inputs"):
        export_onnx(space, g, state, tmp_path / "a.onnx", precision="int8")
    with pytest.raises(ValueError, match="precision must be one of"):
        export_onnx(space, g, state, tmp_path / "a.onnx", precision="fp8")
    calib = np.random.default_rng(1).standard_normal((32, 1, 40)).astype(np.float32)
    info = export_onnx(space, g, state, tmp_path / "a.onnx", batch_size=4, precision="int8", calibration=calib)
    assert info["precision"] == "int8" and 0.5 <= info["argmax_agreement"] <= 1.0
    assert "QuantizeLinear" in {n.op_type for n in onnx.load(str(tmp_path / "a.onnx")).graph.node}


@pytest.mark.parametrize("space", [na.NB201CellSpace(), na.MacroSpace(init_channels=8, head_channels=32)],
                         ids=["nb201", "macro"])
def test_int8_latency_of_image_spaces(space):
    """NB201 cells and NAS-Bench-Macro networks (2-D graphs) are timed in int8 too."""
    fast = na._core.HarnessOptions(warmup_calls=1, min_repeats=3, max_repeats=5, max_seconds=0.05, overhead_repeats=20)
    ev = LatencyEvaluator(batch_size=2, precision="int8", input_size=[16, 16], harness=fast)
    g = space.sample(na.Rng(0))
    assert ev.evaluate(g, space)["latency_b2_int8_ms"] > 0
