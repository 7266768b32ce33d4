"""Latency tables: terms of a description, the NNLS fit, prediction, files and the profiler driver."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from nasaccel import Rng, _core
from nasaccel.latency import (
    ChainNetwork,
    LatencyTable,
    NB201Network,
    UnmeasuredTermError,
    chain_network,
    monotone_pairs,
    profile_space,
    term_key,
    terms_of,
)
from nasaccel.latency.table import CONSTANT, parse_term_key

ROOT = Path(__file__).resolve().parents[1]


class SmallChainSpace:
    """A small in-test generator of random chain descriptions (stands in for ChainSpace + adapter)."""

    def __init__(self, widths=(8, 16), ops=("conv", "dwsep", "maxpool"), strides=(1, 2), layers=(2, 4), skip_p=0.0):
        self.widths, self.ops, self.strides, self.layers, self.skip_p = widths, ops, strides, layers, skip_p

    def sample(self, rng):
        n = int(rng.between(*self.layers))
        spec = []
        for i in range(n):
            skips = tuple(k for k in range(1, i + 1) if rng.uniform() < self.skip_p)
            spec.append((self.ops[rng.below(len(self.ops))], self.widths[rng.below(len(self.widths))], 3,
                         self.strides[rng.below(len(self.strides))], skips))
        return chain_network((3, 8, 8), 4, spec)


class GenomeSpace:
    """A space whose samples are genomes (lists of choices), decoded by an adapter, like the real spaces."""

    def sample(self, rng):
        return [int(rng.below(2)) for _ in range(3)]


def decode(genome):
    return chain_network((3, 8, 8), 4, [("conv", (8, 16)[g], 3, 1) for g in genome])


def synthetic_truth(seed=0):
    """An exact additive latency model: hidden values per term, so a fit must recover predictions exactly."""
    rng = np.random.default_rng(seed)
    cache = {}

    def value(t):
        if t not in cache:
            cache[t] = float(rng.uniform(1e-5, 1e-4))
        return cache[t]

    def measure(d):
        return sum(c * value(t) for t, c in terms_of(d).items())

    return measure


def test_chain_terms_are_signatures_with_channels():
    """A chain network's terms: op signature with kernel, stride and input size; adapters; additions; head."""
    net = chain_network((3, 16, 16), 10, [("conv", 8, 3, 2), ("dwsep", 16, 5, 1, (1,)), ("maxpool", 0, 3, 2, (1,)),
                                          ("identity", 0, 0, 0, (1,))])
    assert terms_of(net) == Counter({
        CONSTANT: 1,
        ("conv|k3|s2|16x16", 3, 8): 1,
        ("adapter|r2|16x16", 3, 8): 1,
        ("add|8x8", 8, 8): 1,
        ("dwsep|k5|s1|8x8", 8, 16): 1,
        ("adapter|r1|8x8", 8, 16): 1,  # node 1 (8 channels) into the maxpool's 16-channel input
        ("add|8x8", 16, 16): 1,
        ("maxpool|k3|s2|8x8", 16, 16): 1,
        ("adapter|r2|8x8", 16, 16): 1,  # node 2 is 8x8, the identity's input 4x4
        ("add|4x4", 16, 16): 1,
        ("head|4x4|n10", 16, 10): 1,
    })


def test_nb201_terms_count_what_runs():
    """NB201 terms count the ops and additions that run per stage; a cut cell leaves only the constant."""
    net = NB201Network(("nor_conv_3x3", "none", "avg_pool_3x3", "skip_connect", "nor_conv_1x1", "none"),
                       channels=8, cells_per_stage=2, input_shape=(3, 16, 16))
    t = terms_of(net)
    assert t[("nb201.conv3x3|16x16", 8, 8)] == 2 and t[("nb201.conv3x3|4x4", 32, 32)] == 2
    assert t[("nb201.conv1x1|8x8", 16, 16)] == 2
    assert not any(k[0].startswith("nb201.avgpool") for k in t)  # edge 2<-1 feeds node 2, which is unused
    # node 3 = node 0 + conv(node 1): the addition is the conv's summand, in each of 2 cells
    assert t[("nb201.add.fused|16x16", 8, 8)] == 2 and ("nb201.add|16x16", 8, 8) not in t
    # node 0 also feeds a skip: its ReLU stands alone; node 1 feeds only a conv: its ReLU fuses into its conv
    assert t[("nb201.relu|16x16", 8, 8)] == 2 and t[("nb201.relu.fused|16x16", 8, 8)] == 2
    assert t[("nb201.reduction|16x16", 8, 16)] == 1 and t[("nb201.stem|16x16", 3, 8)] == 1
    # node 1 constant: the conv on it is folded away, only the add into node 3 runs
    const1 = NB201Network(("none", "skip_connect", "nor_conv_3x3", "none", "none", "skip_connect"), channels=8,
                          cells_per_stage=1, input_shape=(3, 16, 16))
    t = terms_of(const1)
    assert not any(k[0].startswith("nb201.conv3x3") for k in t) and t[("nb201.add|16x16", 8, 8)] == 1
    assert t[("nb201.lastact.nchw|4x4", 32, 32)] == 1  # a sum with a folded constant ends the network
    cut = NB201Network(("nor_conv_3x3", "none", "none", "none", "none", "none"))
    assert terms_of(cut) == Counter({CONSTANT: 1})


def test_nb201_terms_match_the_graph_onnx_runtime_runs():
    """Standalone/fused ReLUs, additions and pools counted per NB201 network match the optimised ONNX Runtime graph (>= 30 of 40 exactly)."""
    ort = pytest.importorskip("onnxruntime")
    onnx = pytest.importorskip("onnx")
    from nasaccel.latency import NB201_OPS, build_onnx

    rng = np.random.default_rng(4)
    checked = 0
    for _ in range(40):
        net = NB201Network(tuple(NB201_OPS[i] for i in rng.integers(0, 5, 6)), channels=16, cells_per_stage=2)
        t = terms_of(net)
        if len(t) == 1:
            continue
        so = ort.SessionOptions()
        so.log_severity_level = 3
        so.optimized_model_filepath = str(ROOT / ".pytest_nb201_opt.onnx")
        try:
            ort.InferenceSession(build_onnx(net).SerializeToString(), so, providers=["CPUExecutionProvider"])
            graph = onnx.load(so.optimized_model_filepath).graph
        finally:
            Path(so.optimized_model_filepath).unlink(missing_ok=True)
        if not any(n.domain.endswith("nchwc") for n in graph.node):
            pytest.skip("ONNX Runtime does not use the NCHWc layout on this CPU")
        got = Counter()
        for n in graph.node:
            attrs = {a.name: a for a in n.attribute}
            if n.op_type in ("Relu", "Add"):
                got[n.op_type] += 1
            elif n.op_type == "Conv":
                got["sum"] += len(n.input) == 4 and bool(n.input[3])
                got["act"] += "activation" in attrs
            elif n.op_type == "AveragePool" and list(attrs["kernel_shape"].ints) == [3, 3]:
                got["pool"] += 1
        kinds = Counter()
        for (sig, _, _), v in t.items():
            kinds[sig.split("|")[0]] += v
        lastact = kinds["nb201.lastact.nchw"]
        # Outside the cells: the two reduction ReLUs, their fused shortcut sums, conv_a activations, the final BN-ReLU.
        want = {"Relu": kinds["nb201.relu"] + 2 + lastact, "Add": kinds["nb201.add"], "sum": kinds["nb201.add.fused"] + 2,
                "act": kinds["nb201.relu.fused"] + 3 - lastact, "pool": kinds["nb201.avgpool3x3"]}
        mismatches = {k: (got[k], v) for k, v in want.items() if got[k] != v}
        assert len(mismatches) <= 1 and all(abs(a - b) <= 6 for a, b in mismatches.values()), (net.arch_string, mismatches)
        checked += not mismatches
    assert checked >= 30


def test_term_keys_round_trip():
    """term_key and parse_term_key are inverse; malformed keys are ValueErrors."""
    t = ("conv|k3|s1|32x32", 16, 32)
    assert term_key(t) == "conv|k3|s1|32x32|16->32" and parse_term_key(term_key(t)) == t
    with pytest.raises(ValueError, match="nonsense"):
        parse_term_key("nonsense")
    with pytest.raises(ValueError, match="expected ChainNetwork"):
        terms_of(3.0)


def test_fit_recovers_an_exact_additive_model():
    """With exactly additive latencies, the table prices every unseen network its measured rows determine."""
    space, measure = SmallChainSpace(skip_p=0.3), synthetic_truth()
    res = profile_space(space, 150, measure=measure, holdout=40, seed=1, progress=False)
    assert res.holdout["n"] + res.holdout["unpredictable"] == 40
    assert res.table.fit_info["train_mape"] < 1e-8
    table = res.table
    A = np.array([[row["terms"].get(term_key(t), 0.0) for t in table.terms] for row in table.measurements])
    hr = Rng.for_stream(1, 1)
    held = [space.sample(hr) for _ in range(40)]
    determined = 0
    for d in held:
        if not table.can_predict(d):
            continue
        v = np.array([terms_of(d).get(t, 0.0) for t in table.terms])
        coef = np.linalg.lstsq(A.T, v, rcond=None)[0]  # v in the row space of A: priced exactly
        if np.allclose(A.T @ coef, v, atol=1e-8):
            determined += 1
            assert table.predict(d) == pytest.approx(measure(d), rel=1e-7)
    assert determined >= 10


def test_unmeasured_term_is_named():
    """Predicting a network that needs a never-measured term raises UnmeasuredTermError naming it."""
    nets = [chain_network((3, 8, 8), 4, [("conv", 8, 3, 1)]), chain_network((3, 8, 8), 4, [("conv", 16, 3, 1)])]
    table = LatencyTable.fit([terms_of(n) for n in nets], [1e-4, 2e-4])
    table.predict(nets[0])
    with pytest.raises(UnmeasuredTermError, match=r"dwsep\|k3\|s1\|8x8\|3->8"):
        table.predict(chain_network((3, 8, 8), 4, [("dwsep", 8, 3, 1)]))
    assert issubclass(UnmeasuredTermError, ValueError)


def test_save_load_round_trip(tmp_path):
    """JSON save/load keeps terms, values, coverage, device and space, and predicts the same."""
    space, measure = SmallChainSpace(), synthetic_truth(3)
    res = profile_space(space, 40, measure=measure, seed=2, progress=False,
                        space_config={"name": "small"}, device={"cpu": "synthetic"})
    path = tmp_path / "table.json"
    res.table.save(path)
    loaded = LatencyTable.load(path)
    assert loaded.device == {"cpu": "synthetic"} and loaded.space == {"name": "small"}
    assert loaded.coverage() == res.table.coverage()
    for d in res.descriptions[:10]:
        assert loaded.predict(d) == res.table.predict(d)
    assert len(loaded.measurements) == 40 and "description" in loaded.measurements[0]
    bad = json.loads(path.read_text())
    bad["format"] = "other"
    path.write_text(json.dumps(bad))
    with pytest.raises(ValueError, match="format"):
        LatencyTable.load(path)


def test_version_1_tables_are_refused_with_a_reason(tmp_path):
    """A table of version 1 (1-D layers timed in the (N, C, L) layout) asks to be profiled again."""
    space, measure = SmallChainSpace(), synthetic_truth(3)
    res = profile_space(space, 20, measure=measure, seed=2, progress=False)
    d = res.table.to_dict()
    d["version"] = 1
    path = tmp_path / "old.json"
    path.write_text(json.dumps(d))
    with pytest.raises(ValueError, match="version 1 .*height-1.*profile the space again"):
        LatencyTable.load(path)
    d["version"] = 99
    path.write_text(json.dumps(d))
    with pytest.raises(ValueError, match="version 99 is not supported"):
        LatencyTable.load(path)


def test_monotone_fit_respects_channel_order():
    """A monotone fit never prices more channels below fewer, even when the data say otherwise."""
    nets = [chain_network((3, 8, 8), 4, [("conv", w, 3, 1), ("conv", 8, 3, 1)]) for w in (8, 16)]
    nets += [chain_network((3, 8, 8), 4, [("conv", 8, 3, 1)]), chain_network((3, 8, 8), 4, [("conv", 16, 3, 1)])]
    lat = [3e-4, 2e-4, 1e-4, 1.5e-4]  # the 16-wide layers are cheaper than the 8-wide ones here
    free = LatencyTable.fit([terms_of(n) for n in nets], lat)
    mono = LatencyTable.fit([terms_of(n) for n in nets], lat, monotone=True)
    pairs = monotone_pairs(mono.terms)
    assert pairs and mono.fit_info["monotone_pairs"] == len(pairs)
    assert any(free.values[hi] < free.values[lo] - 1e-9 for lo, hi in pairs)
    assert all(mono.values[hi] >= mono.values[lo] - 1e-12 for lo, hi in pairs)


def test_monotone_pairs_chain_neighbours_within_a_signature():
    """Pairs join neighbours in c_out at fixed c_in and in c_in at fixed c_out, per signature."""
    terms = [("conv|a", 8, 8), ("conv|a", 8, 16), ("conv|a", 16, 16), ("conv|b", 8, 16), ("pool|a", 8, 8),
             ("pool|a", 32, 32), ("pool|a", 16, 16), CONSTANT]
    assert sorted(monotone_pairs(terms)) == sorted([(0, 1), (1, 2), (4, 6), (6, 5)])


def test_coverage_biased_sampling_covers_more_terms():
    """Coverage-biased choice sees more distinct terms than uniform sampling for the same budget."""
    space = SmallChainSpace(widths=(8, 16, 32, 64), layers=(2, 6), skip_p=0.2)
    measure = synthetic_truth(5)
    biased = profile_space(space, 60, measure=measure, seed=4, candidates=16, uniform_share=0.0, progress=False)
    uniform = profile_space(space, 60, measure=measure, seed=4, candidates=1, progress=False)
    assert len(biased.table.terms) > len(uniform.table.terms)
    assert biased.table.coverage_summary()["measurements"] == 60


def test_profile_space_with_genome_adapter_and_progress():
    """profile_space takes any space with sample(rng) plus a describe adapter, and reports progress."""
    seen = []
    res = profile_space(GenomeSpace(), 5, describe=decode, measure=synthetic_truth(1), holdout=2, seed=0,
                        progress=lambda done, total, phase: seen.append((done, total)))
    assert len(res.descriptions) == 5 and all(isinstance(d, ChainNetwork) for d in res.descriptions)
    assert seen[-1] == (7, 7) and seen[0] == (1, 7)
    with pytest.raises(ValueError, match="n_networks"):
        profile_space(GenomeSpace(), 0, describe=decode)
    with pytest.raises(ValueError, match="describe must return"):
        profile_space(GenomeSpace(), 2, measure=synthetic_truth(1), progress=False)


def test_profile_space_with_onnx_runtime():
    """End to end on ONNX Runtime: a table of real timings with the device description stored."""
    fast = _core.HarnessOptions(warmup_calls=2, min_repeats=5, max_repeats=50, max_seconds=0.05, overhead_repeats=100)
    res = profile_space(SmallChainSpace(widths=(4,), layers=(1, 2)), 6, holdout=2, seed=0, harness=fast, progress=False)
    assert np.all(res.latencies > 0)
    assert res.table.device["machine"]["onnxruntime"] and res.table.device["batch_size"] == 1
    assert res.holdout["n"] + res.holdout["unpredictable"] == 2


def test_isolated_priors_pin_terms_the_networks_leave_open():
    """Isolated-term rows enter the fit with their own per-call unknown and pin otherwise free terms."""
    from nasaccel.latency.table import ISOLATED_CALL, chain_term_examples, isolated_terms

    net = chain_network((3, 8, 8), 4, [("conv", 8, 3, 1), ("dwsep", 16, 3, 2, (1,))])
    examples = chain_term_examples(net)
    assert set(examples) == set(terms_of(net)) - {CONSTANT}
    for t, ex in examples.items():
        assert isolated_terms(ex)[t] == 1 and isolated_terms(ex)[ISOLATED_CALL] == 1
    truth = synthetic_truth(9)
    call = 7e-6
    # Networks with 5, 2 and 1 terms plus the constant: with the priors, every term and the
    # per-call unknown are determined; the networks alone could not separate them.
    nets = [net, chain_network((3, 8, 8), 4, [("conv", 8, 3, 1)]), chain_network((3, 8, 8), 4, [])]
    examples = {}
    for n in nets:
        for t, ex in chain_term_examples(n).items():
            examples.setdefault(t, ex)
    prior_counts = [isolated_terms(ex) for ex in examples.values()]
    prior_lat = [truth({t: c for t, c in pc.items() if t != ISOLATED_CALL}) + call for pc in prior_counts]
    table = LatencyTable.fit([terms_of(n) for n in nets], [truth(n) for n in nets], prior_counts=prior_counts,
                             prior_latencies=prior_lat, prior_weight=0.5)
    for t in examples:
        assert table.value(t) == pytest.approx(truth({t: 1}), rel=1e-6)
    assert table.value(ISOLATED_CALL) == pytest.approx(call, rel=1e-6)
    assert table.coverage()[term_key(ISOLATED_CALL)] == 0  # coverage counts network rows only
    res = profile_space(SmallChainSpace(skip_p=0.3), 10, measure=synthetic_truth(2), seed=3, isolated_priors=0.3,
                        progress=False)
    assert res.table.fit_info["n_prior_rows"] == len(res.extra["prior_descriptions"]) > 0


def test_onnx_measure_takes_the_minimum_over_passes():
    """OnnxMeasure times each network in several passes and reports the smallest pass median."""
    fast = _core.HarnessOptions(warmup_calls=1, min_repeats=5, max_repeats=5, overhead_repeats=50)
    from nasaccel.latency import OnnxMeasure

    m = OnnxMeasure(harness=fast, passes=3, chunk=2)
    nets = [chain_network((3, 8, 8), 4, [("conv", w, 3, 1)]) for w in (4, 8, 12)]
    lats = m.measure_many(nets)
    assert len(lats) == 3 and len(m.records) == 3
    for lat, rec in zip(lats, m.records):
        assert len(rec["pass_latencies_s"]) == 3 and lat == min(rec["pass_latencies_s"])
    with pytest.raises(ValueError, match="passes"):
        OnnxMeasure(passes=0)
    fastest = OnnxMeasure(harness=fast, passes=2, statistic="min")
    lat = fastest(nets[1])
    assert lat == min(fastest.records[0]["pass_min_s"]) and "min" in fastest.device()["statistic"]
    with pytest.raises(ValueError, match="statistic must be 'median' or 'min', got 'mean'"):
        OnnxMeasure(statistic="mean")


def test_fit_rejects_bad_latencies():
    """Non-positive latencies and length mismatches are ValueErrors naming the value."""
    t = [terms_of(chain_network((3, 8, 8), 4, []))]
    with pytest.raises(ValueError, match="-1.0"):
        LatencyTable.fit(t, [-1.0])
    with pytest.raises(ValueError, match="1 term rows"):
        LatencyTable.fit(t, [1.0, 2.0])


VENV_SCRIPT = textwrap.dedent(
    """
    import sys
    from nasaccel import _core
    from nasaccel.latency import chain_network, profile_space, NB201Network, OnnxMeasure
    assert "torch" not in sys.modules and "scipy" not in sys.modules
    class Space:
        def sample(self, rng):
            return chain_network((3, 8, 8), 4, [(("conv", "dwsep")[rng.below(2)], (4, 8)[rng.below(2)], 3, 1)])
    fast = _core.HarnessOptions(warmup_calls=2, min_repeats=5, max_repeats=50, max_seconds=0.05, overhead_repeats=100)
    res = profile_space(Space(), 6, holdout=2, harness=fast, progress=False)
    m = OnnxMeasure(harness=fast)(NB201Network(("nor_conv_3x3",) * 6, channels=4, cells_per_stage=1))
    import importlib.util
    assert importlib.util.find_spec("torch") is None and importlib.util.find_spec("scipy") is None
    print("OK", len(res.table.terms), res.holdout["n"] + res.holdout["unpredictable"], m > 0)
    """
)


@pytest.mark.slow
def test_profiles_in_a_fresh_venv_without_torch(tmp_path):
    """The latency package and ``nasaccel profile`` work with only numpy + onnx + onnxruntime installed."""
    wheel_dir = tmp_path / "wheel"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(wheel_dir),
                    str(ROOT)], check=True, capture_output=True)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    subprocess.run([str(py), "-m", "pip", "install", "-q", "numpy", "onnx", "onnxruntime"], check=True, env=env)
    wheel = next(wheel_dir.glob("nasaccel-*.whl"))
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", str(wheel)], check=True, env=env)
    out = subprocess.run([str(py), "-c", VENV_SCRIPT], check=True, capture_output=True, text=True, env=env,
                         cwd=tmp_path)
    assert out.stdout.startswith("OK")
    fast = ["--networks", "5", "--holdout", "3", "--passes", "1", "--max-seconds", "0.02"]
    for space, extra in (("nb201", ["--input-size", "8"]), ("mnist1d", [])):
        table = tmp_path / f"{space}.json"
        out = subprocess.run([str(py), "-m", "nasaccel", "profile", space, *extra, *fast, "-o", str(table)],
                             capture_output=True, text=True, env=env, cwd=tmp_path)
        assert out.returncode == 0, out.stderr
        assert "table written to" in out.stdout and "profiling [" in out.stderr
        check = (f"import sys, nasaccel as na, nasaccel.latency as nl; t = nl.LatencyTable.load({str(table)!r}); "
                 "ev = na.LatencyEvaluator('predicted', table=t); assert 'torch' not in sys.modules; "
                 "print('OK', ev.metric, t.fit_info['holdout']['n'] + t.fit_info['holdout']['unpredictable'])")
        out = subprocess.run([str(py), "-c", check], capture_output=True, text=True, env=env, cwd=tmp_path)
        assert out.stdout.split() == ["OK", "latency_ms", "3"], out.stderr
