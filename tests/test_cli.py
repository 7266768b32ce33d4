"""The command line: search (tabular and real training), report, export, and clear errors."""

from __future__ import annotations

import json

import pytest

from nasaccel.cli import main


def write(path, obj):
    path.write_text(json.dumps(obj))
    return path


def test_search_report_export_on_nb201(tmp_path, benchmarks_dir, capsys):
    """search runs and resumes a stored study, report writes plots and HTML, export writes the best architecture."""
    cfg = write(
        tmp_path / "c.json",
        {
            "space": {"type": "NB201CellSpace"},
            "strategy": {"name": "regularized_evolution", "params": {"population_size": 10, "sample_size": 3}},
            "evaluator": {"type": "tabular", "path": str(benchmarks_dir / "nb201.csv")},
            "objectives": ["test_acc_cifar10", "latency_ms_gold_6226:minimize"],
            "constraints": ["latency_ms_gold_6226 <= 12"],
            "budget": {"trials": 30},
            "storage": "s.db",
            "report": "rep",
            "export": "best.json",
        },
    )
    assert main(["search", str(cfg), "-q"]) == 0
    out = capsys.readouterr().out
    assert "best trial #" in out and "Pareto front" in out
    best = json.loads((tmp_path / "best.json").read_text())
    assert best["metrics"]["latency_ms_gold_6226"] <= 12
    for f in ("index.html", "history.png", "pareto.png", "trials.csv"):
        assert (tmp_path / "rep" / f).stat().st_size > 0
    html = (tmp_path / "rep" / "index.html").read_text()
    assert best["arch"] in html
    # resuming with a larger budget keeps the 30 trials and adds 10
    cfg2 = json.loads(cfg.read_text()) | {"budget": {"trials": 40}}
    write(cfg, cfg2)
    assert main(["search", str(cfg), "-q"]) == 0
    assert main(["report", str(tmp_path / "s.db"), "-o", str(tmp_path / "rep2")]) == 0
    assert len((tmp_path / "rep2" / "trials.csv").read_text().splitlines()) == 41
    assert main(["export", str(tmp_path / "s.db"), "-o", str(tmp_path / "t3.json"), "--trial", "3"]) == 0
    assert json.loads((tmp_path / "t3.json").read_text())["trial"] == 3


def test_two_trial_training_search(tmp_path, capsys):
    """A two-trial search with real torch training on digits runs end to end through the CLI."""
    cfg = write(
        tmp_path / "t.json",
        {
            "space": {"type": "ChainSpace", "args": {"input_shape": [1, 8, 8], "num_classes": 10,
                                                     "widths": [4, 8], "kernels": [3], "strides": [1],
                                                     "min_layers": 1, "max_layers": 2}},
            "strategy": "random",
            "evaluator": {"type": "train", "data": "digits", "epochs": 1, "batch_size": 128},
            "objectives": ["val_acc", "params:minimize"],
            "budget": {"trials": 2},
            "storage": "t.db",
        },
    )
    assert main(["search", str(cfg), "-q"]) == 0
    assert "best trial #" in capsys.readouterr().out
    import sqlite3

    with sqlite3.connect(tmp_path / "t.db") as c:
        states = [r[0] for r in c.execute("SELECT state FROM trials")]
    assert states == ["COMPLETE", "COMPLETE"]


@pytest.mark.parametrize(
    "config, message",
    [
        ({"strategy": "random"}, "needs a 'space'"),
        ({"space": {"type": "NB201CellSpace"}, "strategy": "warp", "evaluator": {"type": "tabular", "path": "x.csv"},
          "objectives": ["a"]}, "unknown strategy 'warp'"),
        ({"space": {"type": "NB201CellSpace"}, "strategy": "random", "evaluator": {"type": "oracle"},
          "objectives": ["a"]}, "unknown evaluator type 'oracle'"),
        ({"space": {"type": "NB201CellSpace"}, "bogus": 1}, "unknown config key"),
        ({"space": {"type": "NB201CellSpace"}, "strategy": "random", "evaluator": {"type": "tabular", "path": "x.csv"},
          "objectives": ["a"], "final": {"evaluator": {}, "tolerance": -0.01}},
         "final tolerance must be a finite number >= 0, got -0.01"),
        ({"space": {"type": "NB201CellSpace"}, "strategy": "random", "evaluator": {"type": "tabular", "path": "x.csv"},
          "objectives": ["a"], "final": {"evaluator": {}, "timeout": 0}},
         "final timeout must be a finite number of seconds > 0, got 0"),
        ({"space": {"type": "NB201CellSpace"}, "strategy": "random", "evaluator": {"type": "tabular", "path": "x.csv"},
          "objectives": ["a"], "final": {"evaluator": {}, "timeout": "300"}},
         "final timeout must be a finite number of seconds > 0, got '300'"),
        ({"space": {"type": "NB201CellSpace"}, "strategy": "random", "evaluator": {"type": "tabular", "path": "x.csv"},
          "objectives": ["a"], "final": {"evaluator": {}, "top": 0}}, "top must be a positive integer, got 0"),
        ({"space": {"type": "NB201CellSpace"}, "strategy": "random", "evaluator": {"type": "tabular", "path": "x.csv"},
          "objectives": ["a"], "final": {"evaluator": {}, "tops": 3}}, "unknown final key(s) ['tops']"),
        ({"space": {"type": "NB201CellSpace"}, "strategy": "random", "evaluator": {"type": "tabular", "path": "x.csv"},
          "objectives": ["a"], "final": {"evaluator": {"type": "oracle"}}}, "unknown evaluator type 'oracle'"),
    ],
)
def test_bad_configs_exit_2_naming_the_problem(tmp_path, capsys, config, message):
    """A bad config exits with status 2 and a message naming the bad value."""
    cfg = write(tmp_path / "bad.json", config)
    assert main(["search", str(cfg)]) == 2
    assert message in capsys.readouterr().err


def test_missing_and_malformed_files(tmp_path, capsys):
    """A missing config or a non-JSON file exits 2 naming the file."""
    assert main(["search", str(tmp_path / "nope.json")]) == 2
    assert "nope.json" in capsys.readouterr().err
    bad = tmp_path / "b.json"
    bad.write_text("{not json")
    assert main(["search", str(bad)]) == 2
    assert "not valid JSON" in capsys.readouterr().err


TINY_TRAIN = {"type": "train", "data": "mnist1d", "data_args": {"num_samples": 400}, "epochs": 1, "batch_size": 64}


def tiny_latency_search(latency: dict, objectives: list, storage: str, final_train: dict, **extra) -> dict:
    """A two-trial search config of a tiny MNIST-1D chain space: ``latency`` then the one-epoch ``TINY_TRAIN`` in
    the search, both again in a two-network final stage whose training adds ``final_train``; ``extra`` keys added."""
    return {
        "space": {"type": "ChainSpace", "args": {"input_shape": [1, 40], "num_classes": 10, "ops": ["conv", "maxpool"],
                                                 "widths": [4, 8], "kernels": [3], "strides": [2],
                                                 "min_layers": 1, "max_layers": 2}},
        "strategy": {"name": "nsga2", "params": {"population_size": 2}},
        "evaluator": {"type": "composite", "evaluators": [latency, TINY_TRAIN | {"checkpoint_dir": "ck/search"}]},
        "objectives": objectives,
        "budget": {"trials": 2},
        "storage": storage,
        "final": {"top": 2, "evaluator": {"type": "composite", "evaluators": [
            latency, TINY_TRAIN | {"epochs": 2, "checkpoint_dir": "ck/final"} | final_train]}},
        **extra,
    }


def test_two_trial_latency_search_with_final_stage_and_onnx(tmp_path, capsys):
    """A two-trial search of accuracy against measured ONNX Runtime latency retrains its front and exports ONNX."""
    pytest.importorskip("onnxruntime")
    latency = {"type": "latency", "batch_size": 4, "threads": 1}
    cfg = write(tmp_path / "m.json", tiny_latency_search(latency, ["val_acc", "latency_b4_ms:minimize"], "m.db", {},
                                                         report="rep", export_onnx="best.onnx"))
    assert main(["search", str(cfg), "-q"]) == 0
    assert "best trial #" in capsys.readouterr().out
    import sqlite3

    with sqlite3.connect(tmp_path / "m.db") as c:
        rows = c.execute("SELECT s.name, t.state, t.metrics FROM trials t JOIN studies s USING (study_id)").fetchall()
    search = [r for r in rows if r[0] == "nasaccel"]
    final = [r for r in rows if r[0] == "nasaccel-final"]
    assert [r[1] for r in search] == ["COMPLETE", "COMPLETE"]
    assert 1 <= len(final) <= 2 and all(r[1] == "COMPLETE" for r in final)
    for r in final:
        m = json.loads(r[2])
        assert m["epochs"] == 2 and m["latency_b4_ms"] > 0
    doc = json.loads((tmp_path / "best.json").read_text())
    assert doc["study"] == "nasaccel-final" and doc["onnx"]["max_abs_diff"] < 1e-4
    assert (tmp_path / "best.onnx").stat().st_size > 0
    for f in ("index.html", "pareto.png", "final/index.html", "final/pareto.png"):
        assert (tmp_path / "rep" / f).stat().st_size > 0
    assert "href='final/index.html'" in (tmp_path / "rep" / "index.html").read_text()
    # export picks the final stage by default and writes ONNX with a chosen batch size
    out = tmp_path / "again.onnx"
    assert main(["export", str(tmp_path / "m.db"), "--onnx", str(out), "--batch-size", "3"]) == 0
    import onnx

    assert onnx.load(str(out)).graph.input[0].type.tensor_type.shape.dim[0].dim_value == 3


class _Started(Exception):
    """Raised by the stand-in for run_search once it has seen what the CLI would run."""


def _capture_run(monkeypatch, tmp_path) -> dict:
    """Make `nasaccel search` record its config and base folder instead of searching; run from tmp_path."""
    import nasaccel.cli as cli

    seen = {}

    def fake_run(config, base_dir, show_progress=True):
        seen.update(config=config, base_dir=base_dir)
        raise _Started

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli, "run_search", fake_run)
    return seen


def test_search_without_config_runs_the_packaged_main_job(tmp_path, monkeypatch, capsys):
    """`nasaccel search` with no config runs the packaged MNIST-1D latency search from the working directory."""
    import nasaccel.cli as cli

    seen = _capture_run(monkeypatch, tmp_path)
    with pytest.raises(_Started):
        main(["search", "-q"])
    assert seen["base_dir"] == tmp_path
    assert seen["config"] == cli.load_config(cli.DEFAULT_CONFIG)
    assert "latency_b32_ms:minimize" in seen["config"]["objectives"]


def test_packaged_main_job_config_builds(tmp_path):
    """Every part of the packaged main-job config builds: space, strategy, evaluators, pruner, final stage."""
    pytest.importorskip("mnist1d")
    from nasaccel.cli import DEFAULT_CONFIG, _final_evaluator, load_config
    from nasaccel.evaluation import evaluator_from_config
    from nasaccel.evaluation.pruners import pruner_from_config
    from nasaccel.spaces import space_from_config
    from nasaccel.strategies import strategy_from_config

    config = load_config(DEFAULT_CONFIG)
    space = space_from_config(config["space"])
    strategy_from_config(config["strategy"])
    pruner_from_config(config["pruner"])
    search = evaluator_from_config(config["evaluator"], base_dir=str(tmp_path))
    final = evaluator_from_config(config["final"]["evaluator"], base_dir=str(tmp_path))
    _final_evaluator(config["final"], tmp_path)  # top, tolerance, timeout as the CLI checks them
    assert [type(e).__name__ for e in search.evaluators] == ["LatencyEvaluator", "TorchTrainer"]
    assert [type(e).__name__ for e in final.evaluators] == ["LatencyEvaluator", "LatencyEvaluator", "TorchTrainer"]
    # the search ranks by batch-32 calls; the final stage measures that and batch 256, all on one thread
    assert [(e.batch_size, e.threads) for e in final.evaluators[:2]] == [(32, 1), (256, 1)]
    assert (search.evaluators[0].batch_size, search.evaluators[0].threads) == (32, 1)
    assert search.evaluators[0].metric + ":minimize" in config["objectives"]
    # every candidate trains from scratch: inherited weights would rank lineages by their accumulated training
    assert not search.evaluators[-1].inherit and not final.evaluators[-1].inherit
    for ev in (search, final):
        ev.evaluators[-1].check_space(space)


def test_two_trial_int8_search_exports_the_int8_graph(tmp_path, capsys):
    """With int8 latency and int8_accuracy the final stage reports int8 figures and the export writes the int8 graph."""
    pytest.importorskip("onnxruntime.quantization")
    latency = {"type": "latency", "batch_size": 4, "threads": 1, "precision": "int8"}
    cfg = write(tmp_path / "q.json", tiny_latency_search(latency, ["val_loss:minimize", "latency_b4_int8_ms:minimize"],
                                                         "q.db", {"int8_accuracy": True, "int8_calibration": 64},
                                                         export_onnx="best.onnx"))
    assert main(["search", str(cfg), "-q"]) == 0
    import sqlite3

    with sqlite3.connect(tmp_path / "q.db") as c:
        rows = c.execute("SELECT s.name, t.metrics FROM trials t JOIN studies s USING (study_id) "
                         "WHERE t.state = 'COMPLETE'").fetchall()
    final = [json.loads(m) for name, m in rows if name == "nasaccel-final"]
    assert final and all(m["latency_b4_int8_ms"] > 0 and 0 <= m["test_acc_int8"] <= 1 for m in final)
    doc = json.loads((tmp_path / "best.json").read_text())
    assert doc["onnx"]["precision"] == "fp32" and doc["onnx_int8"]["precision"] == "int8"
    import onnx

    ops = {n.op_type for n in onnx.load(str(tmp_path / "best_int8.onnx")).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear", "Conv"} <= ops


def test_search_runs_a_shipped_config_by_name(tmp_path, monkeypatch, capsys):
    """`nasaccel search mnist1d_latency_int8` runs the shipped config from the working directory; unknown names are named."""
    seen = _capture_run(monkeypatch, tmp_path)
    with pytest.raises(_Started):
        main(["search", "mnist1d_latency_int8", "-q"])
    assert seen["base_dir"] == tmp_path and "latency_b32_int8_ms:minimize" in seen["config"]["objectives"]
    assert main(["search", "mnist1d_latency_fp16", "-q"]) == 2
    err = capsys.readouterr().err
    assert "'mnist1d_latency_fp16' is neither a file nor a shipped config" in err and "mnist1d_latency_int8" in err


def test_packaged_int8_config_builds(tmp_path):
    """The int8 variant of the main job builds and measures int8 latency and int8 accuracy in its final stage."""
    pytest.importorskip("mnist1d")
    from nasaccel.cli import CONFIGS, _final_evaluator, load_config
    from nasaccel.evaluation import evaluator_from_config

    config = load_config(CONFIGS / "mnist1d_latency_int8.json")
    search = evaluator_from_config(config["evaluator"], base_dir=str(tmp_path))
    final = evaluator_from_config(config["final"]["evaluator"], base_dir=str(tmp_path))
    _final_evaluator(config["final"], tmp_path)
    assert search.evaluators[0].metric + ":minimize" in config["objectives"] and search.evaluators[0].precision == "int8"
    assert [e.metric for e in final.evaluators[:3]] == ["latency_b32_int8_ms", "latency_b256_int8_ms", "latency_b256_ms"]
    assert final.evaluators[-1].int8_accuracy and not search.evaluators[-1].int8_accuracy
    assert not search.evaluators[-1].inherit
