"""width_search and ``nasaccel width``: end to end, ONNX export equal to torch, errors, determinism."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from nasaccel.cli import main
from nasaccel.data import load_data
from nasaccel.spaces import WidthSpace
from nasaccel.width import build_width_table
from nasaccel.width.search import export_onnx, width_search
from test_width_latency import fake_measure

torch.set_num_threads(1)

BACKBONE = "conv-8-k3-s2|dwsep-16-k3-s2|dwsep-16-k3-s1|conv-16-k1-s1+1"
MULT = (0.25, 0.5, 1.0)
DATA = load_data("digits")
SPACE = WidthSpace((1, 8, 8), 10, BACKBONE, MULT)
TABLE = build_width_table(SPACE, networks=3, measure=fake_measure).table
FAST = dict(backbone=BACKBONE, multipliers=MULT, epochs=1, finetune_epochs=1, batch_size=128, measure=False)


def test_cli_end_to_end_builds_table_and_writes_onnx(tmp_path, capsys):
    """`nasaccel width` measures a table, trains, chooses widths within the budget, fine-tunes and writes ONNX and JSON."""
    import onnx

    out, onnx_path, table = tmp_path / "r.json", tmp_path / "w.onnx", tmp_path / "t.json"
    rc = main(["width", "--data", "digits", "--backbone", BACKBONE, "--multipliers", "0.25,0.5,1.0",
               "--budget-fraction", "0.4", "--epochs", "1", "--finetune-epochs", "1", "--onnx", str(onnx_path),
               "--out", str(out), "--save-table", str(table), "-q"])
    assert rc == 0
    printed = capsys.readouterr().out
    r = json.loads(out.read_text())
    assert f"widths {r['widths']}" in printed and "measured" in printed
    assert r["predicted_latency_s"] <= r["budget_s"] * (1 + 1e-12)
    assert r["measured_latency_s"] > 0 and 0.0 <= r["metrics"]["test_acc"] <= 1.0
    onnx.checker.check_model(onnx.load(str(onnx_path)))
    assert json.loads(table.read_text())["format"] == "nasaccel-latency-table"
    # the saved table is reused as given
    rc = main(["width", "--data", "digits", "--backbone", BACKBONE, "--multipliers", "0.25,0.5,1.0", "--table", str(table),
               "--budget-fraction", "1", "--method", "uniform", "--epochs", "1", "--finetune-epochs", "0",
               "--onnx", str(tmp_path / "u.onnx"), "-q"])
    assert rc == 0 and "method uniform" in capsys.readouterr().out


def test_cli_budget_below_minimum_names_budget_and_minimum(capsys, tmp_path):
    """A budget below the narrowest network's latency exits with code 2 and a message naming both."""
    TABLE.save(tmp_path / "t.json")
    rc = main(["width", "--data", "digits", "--backbone", BACKBONE, "--multipliers", "0.25,0.5,1.0",
               "--table", str(tmp_path / "t.json"), "--budget-ms", "1e-6", "--onnx", str(tmp_path / "x.onnx")])
    assert rc == 2
    err = capsys.readouterr().err
    assert "latency budget 1e-06 ms is below the narrowest network's latency" in err
    assert main(["width", "--data", "digits", "--budget-ms", "1", "--table", str(tmp_path / "missing.json")]) == 2
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.parametrize("method", ["aows", "greedy"])
def test_same_seed_same_result(method):
    """With a given table, one seed gives the same widths and metrics twice."""
    a = width_search(DATA, table=TABLE, budget_fraction=0.5, method=method, seed=5, **FAST)
    b = width_search(DATA, table=TABLE, budget_fraction=0.5, method=method, seed=5, **FAST)
    assert a.widths == b.widths and a.metrics == b.metrics
    assert a.solution.latency_s <= a.budget_s * (1 + 1e-12)


def test_exported_onnx_computes_the_torch_network():
    """The exported ONNX model (BN folded) gives the torch network's logits under ONNX Runtime."""
    import onnxruntime as ort

    res = width_search(DATA, table=TABLE, budget_fraction=0.7, adaptive=True, seed=0, **(FAST | dict(epochs=3)))
    model = export_onnx(res.model, SPACE, res.solution.genome, batch_size=4)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    x = DATA.x_test[:4]
    res.model.eval()
    with torch.no_grad():
        want = res.model(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(sess.run(None, {"input": x})[0], want, rtol=1e-4, atol=1e-4)
    assert res.extra["narrowing"]


@pytest.mark.parametrize(
    ("kw", "msg"),
    [
        (dict(method="random"), "method must be one of"),
        (dict(solver="bisect"), "solver must be 'exact' or 'lagrangian'"),
        (dict(method="greedy", adaptive=True), "adaptive narrowing applies to method 'aows' only"),
        (dict(budget_fraction=None), "give exactly one of budget_s"),
        (dict(budget_fraction=1.5), r"budget_fraction must be in \[0, 1\]"),
        (dict(batch_size_latency=8), "measured at batch size 1, not batch_size_latency=8"),
    ],
)
def test_bad_arguments_raise_value_error(kw, msg):
    """Unknown methods and solvers, misplaced adaptive narrowing and bad budgets raise ValueError by name."""
    args = dict(table=TABLE, budget_fraction=0.5, **FAST) | kw
    with pytest.raises(ValueError, match=msg):
        width_search(DATA, **args)
