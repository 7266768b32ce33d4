"""``nasaccel profile``: a latency table for a space on this device, with its held-out error, from the CLI."""

from __future__ import annotations

import json

import pytest

import nasaccel as na
from nasaccel.cli import main
from nasaccel.latency import LatencyTable, latency_description
from nasaccel.latency.command import NAMED_SPACES, named_space, resolve_space

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

TINY = na.ChainSpace((3, 8, 8), 4, ops=("conv", "maxpool"), widths=(4, 8), kernels=(3,), min_layers=1, max_layers=2)
FAST = ["--passes", "1", "--max-seconds", "0.02"]


def test_profile_writes_a_table_with_device_space_and_holdout_error(tmp_path, capsys):
    """A space config file is profiled; the JSON table holds device, space, held-out error; the evaluator prices with it."""
    cfg = tmp_path / "space.json"
    cfg.write_text(json.dumps(TINY.config()))
    out = tmp_path / "table.json"
    rc = main(["profile", str(cfg), "--networks", "8", "--holdout", "4", "--threads", "1", "--batch-size", "2",
               "-o", str(out), *FAST])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert "measured 8 networks" in captured.out and "table written to" in captured.out
    assert "held-out" in captured.out and "profiling [" in captured.err  # progress bar on stderr
    table = LatencyTable.load(out)
    assert table.device["batch_size"] == 2 and table.device["intra_op_threads"] == 1
    assert "cpu" in table.device["machine"] and table.space == {"space": TINY.config(), "input_size": None}
    hold = table.fit_info["holdout"]
    assert hold["n"] + hold["unpredictable"] == 4 and table.fit_info["build_seconds"] > 0
    assert len(table.measurements) == 8
    ev = na.LatencyEvaluator("predicted", table=out)
    assert ev.metric == "latency_b2_ms"
    priced = [g for g in (TINY.sample(na.Rng(i)) for i in range(20)) if table.can_predict(latency_description(TINY, g))]
    assert priced and all(ev.evaluate(g, TINY)["latency_b2_ms"] > 0 for g in priced)


def test_profile_named_nb201_quietly_without_holdout(tmp_path, capsys):
    """A named space at a chosen image size, -q: no progress bar, and the error is reported as not measured."""
    out = tmp_path / "nb.json"
    assert main(["profile", "nb201", "--input-size", "8", "--networks", "3", "--holdout", "0", "-q", "--statistic", "min",
                 "-o", str(out), *FAST]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and "held-out error: not measured" in captured.out
    table = LatencyTable.load(out)
    assert table.space["input_size"] == 8 and table.space["space"]["type"] == "NB201CellSpace"
    assert table.device["statistic"].endswith("corrected min")


def test_named_spaces_and_study_configs_resolve(tmp_path):
    """Every named space builds; a study config's 'space' entry is used; sizes reach the descriptions."""
    for name in NAMED_SPACES:
        space, size = named_space(name, None if name == "mnist1d" else 16)
        latency_description(space, space.sample(na.Rng(0)), input_size=size)
    assert named_space("mobilenet", 64)[0].input_shape == (3, 64, 64)
    study = tmp_path / "study.json"
    study.write_text(json.dumps({"space": {"type": "MacroSpace", "args": {}}, "strategy": {"type": "random"}}))
    space, size = resolve_space(str(study), 16)
    assert isinstance(space, na.MacroSpace) and size == 16


@pytest.mark.parametrize(
    "argv, message",
    [
        (["nope"], "unknown space 'nope'"),
        (["missing.json"], "does not exist"),
        (["nb201", "--networks", "0"], "networks must be a positive integer, got 0"),
        (["nb201", "--holdout", "-1"], "holdout must be an integer >= 0, got -1"),
        (["nb201", "--threads", "0"], "threads must be a positive integer, got 0"),
        (["nb201", "--batch-size", "0"], "batch_size must be a positive integer, got 0"),
        (["nb201", "--max-seconds", "0"], "max_seconds must be positive"),
        (["nb201", "--priors", "0.3"], "priors apply to ChainSpace tables only"),
        (["mobilenet", "--priors", "-1"], "priors must be >= 0"),
        (["nb201", "--input-size", "30"], "multiples of 4"),
        (["mnist1d", "--input-size", "8"], "does not apply to mnist1d"),
        (["nb201", "-o", "no/such/dir/t.json"], "output folder"),
        (["nb201", "--statistic", "mean"], "statistic must be 'median' or 'min'"),
    ],
)
def test_bad_arguments_exit_2_naming_the_problem(tmp_path, capsys, monkeypatch, argv, message):
    """Bad arguments give exit status 2 and a message naming the bad value, before anything is measured."""
    monkeypatch.chdir(tmp_path)
    assert main(["profile", *argv]) == 2
    assert message in capsys.readouterr().err


def test_bad_config_files_are_named(tmp_path, capsys):
    """A malformed file, a non-mapping and an --input-size for a ChainSpace config are refused by name."""
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    assert main(["profile", str(bad)]) == 2 and "is not valid JSON" in capsys.readouterr().err
    bad.write_text("[1, 2]")
    assert main(["profile", str(bad)]) == 2 and "must hold a mapping" in capsys.readouterr().err
    cfg = tmp_path / "space.json"
    cfg.write_text(json.dumps(TINY.config()))
    assert main(["profile", str(cfg), "--input-size", "16"]) == 2
    assert "does not apply to a ChainSpace" in capsys.readouterr().err
