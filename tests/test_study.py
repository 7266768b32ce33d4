"""The study loop: trials, failures, duplicates, constraints, resume, crash safety and export."""

from __future__ import annotations

import json
import math
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest

import nasaccel as na
from nasaccel.trial import TrialState


@pytest.fixture(scope="module")
def nb201(benchmarks_dir):
    return na.TabularBenchmark.from_file(benchmarks_dir / "nb201.csv")


class Counting:
    """Wraps an evaluator and counts the architectures it was asked about."""

    def __init__(self, inner):
        self.inner, self.calls = inner, []

    def evaluate(self, genome, space, context):
        self.calls.append(space.to_text(genome))
        return self.inner.evaluate(genome, space, context)


def test_five_line_search_finds_good_cell(nb201):
    """A five-line local search on NB201 returns a feasible best trial equal to the max over its trials."""
    study = na.Study(na.NB201CellSpace(), na.LocalSearch(), nb201, objectives=["test_acc_cifar10"], seed=0)
    study.optimize(n_trials=60)
    assert len(study.trials) == 60
    best = study.best_trial
    assert best.metrics["test_acc_cifar10"] == max(t.metrics["test_acc_cifar10"] for t in study.trials)
    assert best.metrics["test_acc_cifar10"] > 93.0


def test_architectures_are_never_evaluated_twice(nb201):
    """On a tiny space, asking for more trials than architectures evaluates each once and stops."""
    space = na.ChainSpace((1, 8), 2, ops=("conv", "identity"), widths=(4,), kernels=(3,), strides=(1,), min_layers=1, max_layers=2)
    ev = Counting(_Constant())
    study = na.Study(space, na.RandomSearch(), ev, objectives=["acc"], seed=1, max_duplicates=200)
    study.optimize(n_trials=50)
    assert len(ev.calls) == len(set(ev.calls)) == len(study.trials)
    assert len(study.trials) == 6  # conv, identity, and their 4 two-layer chains


class _Constant:
    def evaluate(self, genome, space, context):
        return {"acc": float(len(genome))}


class _Flaky:
    """Fails on some architectures, returns NaN on others."""

    def evaluate(self, genome, space, context):
        h = genome.hash() % 3
        if h == 0:
            raise RuntimeError(f"boom on {space.to_text(genome)}")
        return {"acc": math.nan if h == 1 else 1.0}


def test_failures_are_recorded_and_the_study_goes_on():
    """Evaluator exceptions and non-finite metrics mark trials FAILED with their error; the study continues."""
    study = na.Study(na.NB201CellSpace(), na.RandomSearch(), _Flaky(), objectives=["acc"], seed=0)
    study.optimize(n_trials=30)
    states = [t.state for t in study.trials]
    assert len(states) == 30
    assert TrialState.FAILED in states and TrialState.COMPLETE in states
    failed = [t for t in study.trials if t.state == TrialState.FAILED]
    assert all(("boom on" in t.error) or ("not finite" in t.error) for t in failed)
    assert study.best_trial.state == TrialState.COMPLETE


def test_missing_objective_fails_trial():
    """A result without the objective metric fails the trial naming the metric."""
    study = na.Study(na.NB201CellSpace(), na.RandomSearch(), _Constant(), objectives=["missing"], seed=0)
    study.optimize(n_trials=2)
    assert all(t.state == TrialState.FAILED and "'missing'" in t.error for t in study.trials)
    with pytest.raises(ValueError, match="no feasible"):
        study.best_trial


def test_constraints_keep_best_and_front_feasible(nb201):
    """With a latency budget, the best trial and the Pareto front never exceed it."""
    study = na.Study(
        na.NB201CellSpace(),
        na.RandomSearch(),
        nb201,
        objectives=["test_acc_cifar10", "latency_ms_gold_6226:minimize"],
        constraints=["latency_ms_gold_6226 <= 9"],
        seed=3,
    )
    study.optimize(n_trials=80)
    assert any(t.metrics["latency_ms_gold_6226"] > 9 for t in study.trials)
    assert study.best_trial.metrics["latency_ms_gold_6226"] <= 9
    front = study.pareto_front()
    assert front and all(t.metrics["latency_ms_gold_6226"] <= 9 for t in front)
    feas = study.completed_trials(feasible_only=True)
    for t in front:  # brute-force non-domination check
        assert not any(
            o.metrics["test_acc_cifar10"] >= t.metrics["test_acc_cifar10"]
            and o.metrics["latency_ms_gold_6226"] <= t.metrics["latency_ms_gold_6226"]
            and (o.metrics["test_acc_cifar10"], o.metrics["latency_ms_gold_6226"])
            != (t.metrics["test_acc_cifar10"], t.metrics["latency_ms_gold_6226"])
            for o in feas
        )


def test_resume_equals_uninterrupted(nb201, tmp_path):
    """Stopping at 25 trials and re-opening the database to finish 60 gives the uninterrupted run's trials."""
    def run(storage, n):
        s = na.Study(na.NB201CellSpace(), na.LocalSearch(n_init=5), nb201, objectives=["test_acc_cifar10"],
                     storage=storage, seed=7)
        s.optimize(max_trials=n)
        return s

    full = [t.arch for t in run(None, 60).trials]
    db = tmp_path / "r.db"
    run(db, 25)
    resumed = run(db, 60)
    assert [t.arch for t in resumed.trials] == full


def test_reopening_with_other_settings_is_refused(nb201, tmp_path):
    """A stored study re-opened with another seed or strategy names what differs."""
    db = tmp_path / "x.db"
    na.Study(na.NB201CellSpace(), na.RandomSearch(), nb201, objectives=["test_acc_cifar10"], storage=db, seed=1)
    with pytest.raises(ValueError, match="different seed"):
        na.Study(na.NB201CellSpace(), na.RandomSearch(), nb201, objectives=["test_acc_cifar10"], storage=db, seed=2)
    with pytest.raises(ValueError, match="different strategy"):
        na.Study(na.NB201CellSpace(), na.LocalSearch(), nb201, objectives=["test_acc_cifar10"], storage=db, seed=1)


CRASH_SCRIPT = textwrap.dedent(
    """
    import sys, time
    import nasaccel as na

    class Slow:
        def __init__(self, inner):
            self.inner = inner
        def evaluate(self, genome, space, context):
            time.sleep(0.02)
            return self.inner.evaluate(genome, space, context)

    bench = Slow(na.TabularBenchmark.from_file(sys.argv[2]))
    study = na.Study(na.NB201CellSpace(), na.LocalSearch(n_init=5), bench, objectives=["test_acc_cifar10"],
                     storage=sys.argv[1], seed=11)
    study.optimize(max_trials=int(sys.argv[3]))
    """
)


def test_kill_9_loses_nothing_and_resumes_exactly(nb201, benchmarks_dir, tmp_path):
    """A study killed with SIGKILL mid-run keeps every completed trial and resumes to the uninterrupted result."""
    n = 120
    db = tmp_path / "crash.db"
    script = tmp_path / "run.py"
    script.write_text(CRASH_SCRIPT)
    proc = subprocess.Popen([sys.executable, str(script), str(db), str(benchmarks_dir / "nb201.csv"), str(n)])
    deadline = time.monotonic() + 60
    completed = 0
    while time.monotonic() < deadline:
        time.sleep(0.05)
        if db.exists():
            try:
                with sqlite3.connect(db, timeout=5) as c:
                    completed = c.execute("SELECT COUNT(*) FROM trials WHERE state='COMPLETE'").fetchone()[0]
            except sqlite3.OperationalError:
                continue
        if completed >= 30:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 30 <= completed < n, "the run must be killed mid-study"
    with sqlite3.connect(db) as c:
        rows = c.execute("SELECT number, arch, state, metrics FROM trials ORDER BY number").fetchall()
    kept = {r[0]: (r[1], json.loads(r[3])) for r in rows if r[2] == "COMPLETE"}
    assert len(kept) >= completed

    resumed = na.Study(na.NB201CellSpace(), na.LocalSearch(n_init=5), nb201, objectives=["test_acc_cifar10"],
                       storage=db, seed=11)
    resumed.optimize(max_trials=n)
    after = resumed.trials
    for number, (arch, metrics) in kept.items():  # nothing completed was lost or changed
        assert after[number].arch == arch and after[number].metrics == metrics
    reference = na.Study(na.NB201CellSpace(), na.LocalSearch(n_init=5), nb201, objectives=["test_acc_cifar10"], seed=11)
    reference.optimize(max_trials=n)
    assert [t.arch for t in after] == [t.arch for t in reference.trials]
    assert all(t.state == TrialState.COMPLETE for t in after)


def test_process_executor_runs_trials_in_parallel(nb201):
    """Two worker processes evaluate trials and every result lands in the study."""
    study = na.Study(na.NB201CellSpace(), na.RandomSearch(), nb201, objectives=["test_acc_cifar10"], seed=5)
    study.optimize(n_trials=12, executor="process", n_workers=2)
    assert len(study.trials) == 12
    assert all(t.state == TrialState.COMPLETE for t in study.trials)
    assert len({t.arch for t in study.trials}) == 12


def test_rows_csv_json_and_export(nb201, tmp_path):
    """Trials export as rows, CSV and JSON; the best architecture exports with its description."""
    study = na.Study(na.NB201CellSpace(), na.RandomSearch(), nb201, objectives=["test_acc_cifar10"], seed=0)
    study.optimize(n_trials=10)
    rows = study.rows()
    assert len(rows) == 10 and {"number", "arch", "state", "test_acc_cifar10"} <= set(rows[0])
    text = study.to_csv(tmp_path / "t.csv").read_text().splitlines()
    assert len(text) == 11 and text[0].startswith("number,state,arch")
    doc = json.loads(study.to_json(tmp_path / "t.json").read_text())
    assert len(doc["trials"]) == 10
    exported = study.export_architecture(path=tmp_path / "best.json")
    assert exported["arch"] == study.best_trial.arch
    assert json.loads((tmp_path / "best.json").read_text())["space"] == na.NB201CellSpace().config()
    space = na.space_from_config(exported["space"])
    assert space.to_text(space.from_text(exported["arch"])) == exported["arch"]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"objectives": []}, "at least one objective"),
        ({"objectives": ["a", "a"]}, "repeat"),
        ({"seed": -1}, "seed"),
        ({"constraints": ["lat =< 3"]}, "lat =< 3"),
        ({"objectives": ["acc:upwards"]}, "upwards"),
    ],
)
def test_bad_study_arguments(kwargs, match):
    """Bad study arguments raise ValueError naming the bad value."""
    args = {"objectives": ["acc"]} | kwargs
    with pytest.raises(ValueError, match=match):
        na.Study(na.NB201CellSpace(), na.RandomSearch(), _Constant(), **args)


def test_optimize_needs_a_budget():
    """An unbounded strategy with no budget is refused; bad budgets name the value."""
    study = na.Study(na.NB201CellSpace(), na.RandomSearch(), _Constant(), objectives=["acc"])
    with pytest.raises(ValueError, match="n_trials, timeout or max_trials"):
        study.optimize()
    with pytest.raises(ValueError, match="-3"):
        study.optimize(n_trials=-3)


class _Sleepy:
    """Scores every architecture 1.0 after ``pause`` seconds."""

    def __init__(self, pause):
        self.pause = pause

    def evaluate(self, genome, space, context):
        time.sleep(self.pause)
        return {"acc": 1.0}


def test_timeout_stops_the_search():
    """A timeout stops new trials from starting."""
    study = na.Study(na.NB201CellSpace(), na.RandomSearch(), _Sleepy(0.05), objectives=["acc"])
    t = time.monotonic()
    study.optimize(timeout=0.3)
    assert time.monotonic() - t < 2.0
    assert 2 <= len(study.trials) <= 10


def test_min_trials_start_whatever_the_timeout():
    """Trials up to min_trials in all (earlier runs counted) start after the timeout; none beyond; bad values named."""
    study = na.Study(na.NB201CellSpace(), na.RandomSearch(), _Sleepy(0.2), objectives=["acc"])
    study.optimize(timeout=0.01, min_trials=3)
    assert len(study.trials) == 3
    study.optimize(timeout=0.01, min_trials=4)  # one more to reach four in all
    assert len(study.trials) == 4
    study.optimize(timeout=0.1, min_trials=2)  # already held: the timeout decides (one trial starts before it)
    assert len(study.trials) == 5
    with pytest.raises(ValueError, match=r"min_trials must be a non-negative integer, got -1"):
        study.optimize(timeout=1.0, min_trials=-1)


class _Curves:
    """Reports a learning curve whose level depends on the architecture."""

    def evaluate(self, genome, space, context):
        level = (genome.hash() % 100) / 100
        for epoch in range(4):
            context.report(epoch, level * (epoch + 1) / 4)
        return {"acc": level, "seen_history": float(len(context.history))}


class _BelowHalf:
    """Prunes curves whose latest value is under half the best value seen at that step in history."""

    def should_prune(self, step, value, curve, history):
        best = max((v for c in history.values() for s, v in c if s == step), default=None)
        return best is not None and value < 0.5 * best


def test_pruner_stops_curves_and_curves_are_stored(tmp_path):
    """Reported curves are stored with the trial, pruners see finished curves, pruned trials are PRUNED."""
    study = na.Study(na.NB201CellSpace(), na.RandomSearch(), _Curves(), objectives=["acc"], seed=2,
                     pruner=_BelowHalf(), storage=tmp_path / "p.db")
    study.optimize(n_trials=40)
    trials = study.trials
    pruned = [t for t in trials if t.state == TrialState.PRUNED]
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    assert pruned and done
    assert all(len(t.user_attrs["curve"]) == 4 for t in done)
    assert all(len(t.user_attrs["curve"]) < 4 and "pruned at step" in t.error for t in pruned)
    assert done[-1].metrics["seen_history"] > 0
    with pytest.raises(ValueError, match="should_prune"):
        na.Study(na.NB201CellSpace(), na.RandomSearch(), _Curves(), objectives=["acc"], pruner=object())
