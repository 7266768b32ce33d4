"""The search loop: a strategy proposes, an executor evaluates, storage records every step.

A real search in five lines::

    import nasaccel as na
    space = na.NB201CellSpace()
    bench = na.TabularBenchmark.nb201("nb201.csv")
    study = na.Study(space, na.RegularizedEvolution(), bench, objectives=["test_acc_cifar10"], seed=0)
    study.optimize(n_trials=100); print(study.best_trial)
"""

from __future__ import annotations

import csv
import json
import logging
import math
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ._core import Genome
from .executors import EvalContext, Executor, make_executor
from .progress import ProgressBar
from .storage import Storage, make_storage
from .strategies.base import SearchExhausted, Strategy
from .trial import Constraint, Objective, Trial, TrialPruned, TrialState

if TYPE_CHECKING:
    from .spaces.base import SearchSpace

logger = logging.getLogger("nasaccel.study")

_FINISHED = (TrialState.COMPLETE, TrialState.FAILED, TrialState.PRUNED)


def architecture_document(space: SearchSpace, trial: Trial, study_name: str) -> dict[str, Any]:
    """The JSON document that exports a trial's architecture: identity, space, description, metrics."""
    return {
        "arch": trial.arch,
        "genome": trial.genome,
        "space": space.config(),
        "description": space.decode(Genome.from_text(trial.genome)),
        "metrics": trial.metrics,
        "trial": trial.number,
        "study": study_name,
    }


def best_feasible(trials: Iterable[Trial], objective: Objective, constraints: Sequence[Constraint]) -> Trial:
    """The feasible COMPLETE trial best on ``objective``; ties go to the earliest."""
    cands = [
        t
        for t in trials
        if t.state == TrialState.COMPLETE and objective.name in t.metrics and t.violation(list(constraints)) == 0.0
    ]
    if not cands:
        raise ValueError("no feasible completed trial yet")
    return max(cands, key=lambda t: (objective.sign * t.metrics[objective.name], -t.number))


class Study:
    """A search of ``space`` by ``strategy``, scored by ``evaluator``, recorded in ``storage``.

    Parameters
    ----------
    space
        The search space.
    strategy
        A :class:`~nasaccel.strategies.base.Strategy`.
    evaluator
        Object with ``evaluate(genome, space, context) -> dict[str, float]``; raise
        :class:`~nasaccel.trial.TrialPruned` to stop a trial early.
    objectives
        Metric names (maximised), ``"name:minimize"`` strings or :class:`Objective` s. The first is the
        primary objective of ``best_trial``.
    constraints
        e.g. ``["latency_ms <= 5"]``: infeasible trials never become ``best_trial`` or enter the Pareto front.
    storage
        None (memory), a database path, ``"sqlite:///path"`` or a :class:`Storage`. A study re-opened under
        the same name continues where it stopped.
    seed
        Seeds the strategy and is passed to the evaluator; same seed, same search.
    name
        The study's name in the storage.
    max_duplicates
        Consecutive proposals of already-evaluated architectures after which the search is considered
        exhausted (duplicates are answered from storage, never evaluated again).
    pruner
        Stops trials whose learning curves (reported through ``context.report``) are clearly worse:
        e.g. :class:`~nasaccel.evaluation.pruners.SuccessiveHalvingPruner`. Pruned trials are PRUNED.
    """

    def __init__(
        self,
        space: SearchSpace,
        strategy: Strategy,
        evaluator: Any,
        objectives: Sequence[Any] = ("accuracy",),
        constraints: Sequence[Any] = (),
        storage: Storage | str | Path | None = None,
        seed: int = 0,
        name: str = "nasaccel",
        max_duplicates: int = 1000,
        pruner: Any = None,
    ) -> None:
        if not isinstance(strategy, Strategy):
            raise ValueError(f"strategy must be a nasaccel Strategy, got {type(strategy).__name__}")
        if not callable(getattr(evaluator, "evaluate", None)):
            raise ValueError(f"evaluator {evaluator!r} has no evaluate(genome, space, context) method")
        if isinstance(objectives, (str, Objective)):
            objectives = [objectives]
        self.objectives = [Objective.parse(o) for o in objectives]
        if not self.objectives:
            raise ValueError("a study needs at least one objective")
        names = [o.name for o in self.objectives]
        if len(set(names)) != len(names):
            raise ValueError(f"objective names repeat: {names}")
        if isinstance(constraints, (str, Constraint)):
            constraints = [constraints]
        self.constraints = [Constraint.parse(c) for c in constraints]
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        if max_duplicates < 1:
            raise ValueError(f"max_duplicates must be >= 1, got {max_duplicates}")
        self.space, self.strategy, self.evaluator = space, strategy, evaluator
        if pruner is not None and not callable(getattr(pruner, "should_prune", None)):
            raise ValueError(f"pruner {pruner!r} has no should_prune(step, value, curve, history) method")
        self.seed, self.name, self.max_duplicates, self.pruner = int(seed), name, max_duplicates, pruner
        self.storage = make_storage(storage)

        config = self._config()
        self._id, existed = self.storage.open_study(name, config)
        if existed:
            self._check_same_config(self.storage.study_config(self._id), config)
        self.strategy.setup(space, self.objectives, self.constraints, self.seed)
        state = self.storage.strategy_state(self._id)
        if state is not None:
            self.strategy.load_state_dict(state)
        requeued = self.storage.requeue_running(self._id)
        if requeued:
            logger.warning("re-queued %d trial(s) left RUNNING by a previous process", len(requeued))
        self._duplicates_in_row = 0

    # -- configuration

    def _config(self) -> dict[str, Any]:
        evaluator_config = getattr(self.evaluator, "config", None)
        return {
            "space": self.space.config(),
            "strategy": self.strategy.config(),
            "evaluator": evaluator_config() if callable(evaluator_config) else type(self.evaluator).__name__,
            "objectives": [[o.name, o.direction] for o in self.objectives],
            "constraints": [[c.metric, c.op, c.bound] for c in self.constraints],
            "seed": self.seed,
        }

    def _check_same_config(self, stored: dict[str, Any], now: dict[str, Any]) -> None:
        for key in ("space", "strategy", "objectives", "constraints", "seed"):
            if json.loads(json.dumps(now[key])) != stored.get(key):
                raise ValueError(
                    f"study {self.name!r} in the storage was created with a different {key}: "
                    f"stored {stored.get(key)!r}, given {now[key]!r}; use another name or the same settings"
                )

    # -- the loop

    @property
    def trials(self) -> list[Trial]:
        """All trials, in order of creation."""
        return self.storage.trials(self._id)

    def optimize(
        self,
        n_trials: int | None = None,
        timeout: float | None = None,
        max_trials: int | None = None,
        min_trials: int = 0,
        executor: Executor | str | None = None,
        n_workers: int | None = None,
        show_progress: bool = False,
        callbacks: Iterable[Callable[[Study, Trial], None]] = (),
    ) -> None:
        """Run the search until a budget is spent or the strategy is exhausted.

        Parameters
        ----------
        n_trials
            New trials to finish in this call.
        timeout
            Seconds after which no new trial starts.
        max_trials
            Stop once the study holds this many trials in all (counting earlier runs): what a resumed
            run uses to end where an uninterrupted one would.
        min_trials
            The timeout stops no new trial from starting while the study holds fewer than this many
            trials in all (counting earlier runs): what makes the first few trials run whatever the
            clock says, without keeping the other workers idle until they end.
        executor, n_workers
            "inline" (default), "process", "ray" or an :class:`Executor`; with several workers, trials run
            concurrently and are told to the strategy as they finish.
        show_progress
            Draw a progress bar on stderr.
        callbacks
            Called with ``(study, trial)`` after each finished trial.
        """
        for arg, v in (("n_trials", n_trials), ("max_trials", max_trials), ("min_trials", min_trials)):
            if v is not None and (not isinstance(v, (int, np.integer)) or v < 0):
                raise ValueError(f"{arg} must be a non-negative integer, got {v!r}")
        if timeout is not None and not (timeout > 0):
            raise ValueError(f"timeout must be positive seconds, got {timeout!r}")
        if n_trials is None and timeout is None and max_trials is None and not self._bounded_strategy():
            raise ValueError("give n_trials, timeout or max_trials: this strategy never runs out of proposals")
        own_executor = not isinstance(executor, Executor)
        ex = make_executor(executor, n_workers)
        start = time.monotonic()
        existing = self.storage.trials(self._id)
        known = {t.arch: t for t in existing if t.state in _FINISHED}
        curves = {t.arch: t.user_attrs["curve"] for t in known.values() if t.user_attrs.get("curve")}
        queue = [t for t in existing if t.state == TrialState.PENDING]
        n_created = len(existing)
        total_target = None
        if n_trials is not None:
            total_target = n_created + n_trials
        if max_trials is not None:
            total_target = max_trials if total_target is None else min(total_target, max_trials)
        bar = ProgressBar(total_target, timeout) if show_progress else None
        in_flight: dict[Future, tuple[Trial, Genome]] = {}
        waiting: dict[str, list[Genome]] = {}  # duplicates of in-flight architectures
        stop = False
        try:
            while True:
                while not stop and len(in_flight) < ex.n_workers:
                    if queue:
                        trial = queue.pop(0)
                        genome = Genome.from_text(trial.user_attrs.get("asked", trial.genome))
                    else:
                        if total_target is not None and n_created >= total_target:
                            break
                        if timeout is not None and time.monotonic() - start >= timeout and n_created >= min_trials:
                            break
                        proposal = self._propose(known, in_flight, waiting)
                        if proposal is None:
                            stop = True
                            break
                        if proposal == "again":
                            continue
                        trial, genome = proposal
                        n_created += 1
                    trial = self.storage.set_running(self._id, trial.number)
                    ctx = EvalContext(
                        trial.number,
                        self.seed,
                        trial.arch,
                        parent_arch=trial.user_attrs.get("parent"),
                        pruner=self.pruner,
                        history=dict(curves) if self.pruner is not None else {},
                    )
                    in_flight[ex.submit(self.space, self.evaluator, trial.genome, ctx)] = (trial, genome)
                if not in_flight:
                    break
                done, _ = wait(list(in_flight), return_when=FIRST_COMPLETED)
                for fut in sorted(done, key=lambda f: in_flight[f][0].number):
                    trial, genome = in_flight.pop(fut)
                    finished = self._finish(trial, genome, fut)
                    known[finished.arch] = finished
                    if finished.user_attrs.get("curve"):
                        curves[finished.arch] = finished.user_attrs["curve"]
                    for dup in waiting.pop(finished.arch, []):
                        self.strategy.tell(finished, dup)
                    for cb in callbacks:
                        cb(self, finished)
                    if bar is not None:
                        bar.update(len(known), self._best_text())
        finally:
            if bar is not None:
                bar.close()
            if own_executor:
                ex.shutdown()

    def _bounded_strategy(self) -> bool:
        return bool(getattr(self.strategy, "bounded", False))

    def _propose(
        self, known: dict[str, Trial], in_flight: dict[Future, tuple[Trial, Genome]], waiting: dict[str, list[Genome]]
    ) -> tuple[Trial, Genome] | str | None:
        """Ask the strategy once: a new PENDING trial, "again" after a duplicate, or None when exhausted."""
        if self.strategy.finished:
            logger.info("strategy %s has nothing left to propose", self.strategy.name)
            return None
        try:
            asked = self.strategy.ask()
        except SearchExhausted as e:
            logger.info("strategy %s is exhausted: %s", self.strategy.name, e)
            return None
        # The strategy is told about the genome it asked for; the canonical one is evaluated and stored.
        genome = self.space.canonicalize(asked)
        self.space.validate(genome)
        arch = self.space.to_text(genome)
        if arch in known:
            self._duplicates_in_row += 1
            self.strategy.tell(known[arch], asked)
            if self._duplicates_in_row >= self.max_duplicates:
                logger.warning(
                    "%d proposals in a row were already evaluated: stopping (is the space exhausted?)",
                    self._duplicates_in_row,
                )
                return None
            return "again"
        if any(t.arch == arch for t, _ in in_flight.values()):
            waiting.setdefault(arch, []).append(asked)
            self._duplicates_in_row += 1
            return None if self._duplicates_in_row >= self.max_duplicates else "again"
        self._duplicates_in_row = 0
        attrs: dict[str, Any] = {} if asked == genome else {"asked": asked.to_text()}
        parent = self.strategy.parent_of(asked)
        if parent is not None:
            attrs["parent"] = self.space.to_text(self.space.canonicalize(parent))
        trial = self.storage.create_trial(self._id, arch, genome.to_text(), attrs, self.strategy.state_dict())
        return trial, asked

    def _finish(self, trial: Trial, genome: Genome, fut: Future) -> Trial:
        state, metrics, error, curve = TrialState.COMPLETE, {}, None, []
        try:
            outcome = fut.result()
            metrics, curve = {str(k): float(v) for k, v in outcome.metrics.items()}, outcome.curve
            missing = [o.name for o in self.objectives if o.name not in metrics]
            bad = [k for k, v in metrics.items() if not math.isfinite(v)]
            if missing:
                state, error = TrialState.FAILED, f"evaluator returned no metric {missing[0]!r} (got {sorted(metrics)})"
            elif bad:
                state, error = TrialState.FAILED, f"metric {bad[0]!r} is not finite: {metrics[bad[0]]}"
        except TrialPruned as e:
            state, metrics, error = TrialState.PRUNED, dict(e.metrics), str(e)
            curve = getattr(e, "curve", [])
        except Exception as e:  # noqa: BLE001 - an evaluator's failure fails the trial, not the study
            state, error = TrialState.FAILED, f"{type(e).__name__}: {e}"
            curve = getattr(e, "curve", [])
            logger.warning("trial %d (%s) failed: %s", trial.number, trial.arch, error)
            logger.debug("".join(traceback.format_exception(e)))
        attrs = {"curve": curve} if curve else {}
        told = Trial(trial.number, trial.arch, trial.genome, state, dict(metrics), {**trial.user_attrs, **attrs}, error)
        told.metrics = {k: v for k, v in told.metrics.items() if math.isfinite(v)}
        self.strategy.tell(told, genome)
        return self.storage.finish_trial(
            self._id, trial.number, state, metrics, error, self.strategy.state_dict(), attrs
        )

    # -- results

    def _best_text(self) -> str:
        try:
            t = self.best_trial
        except ValueError:
            return "-"
        o = self.objectives[0]
        return f"{o.name}={t.metrics[o.name]:.4g}"

    def completed_trials(self, feasible_only: bool = False) -> list[Trial]:
        out = [t for t in self.storage.trials(self._id, (TrialState.COMPLETE,))]
        if feasible_only:
            out = [t for t in out if t.violation(self.constraints) == 0.0]
        return out

    @property
    def best_trial(self) -> Trial:
        """The feasible COMPLETE trial best on the primary (first) objective; ties go to the earliest."""
        try:
            return best_feasible(self.storage.trials(self._id), self.objectives[0], self.constraints)
        except ValueError as e:
            raise ValueError(f"study {self.name!r} has {e}") from None

    def pareto_front(self) -> list[Trial]:
        """Feasible COMPLETE trials that no other feasible trial dominates on all objectives."""
        from ._core import non_dominated_sort

        cands = [t for t in self.completed_trials(feasible_only=True) if all(o.name in t.metrics for o in self.objectives)]
        if not cands:
            return []
        # minimisation convention of the C++ sort
        objs = np.array([[-o.sign * t.metrics[o.name] for o in self.objectives] for t in cands], dtype=np.float64)
        ranks = np.asarray(non_dominated_sort(objs))
        return [t for t, r in zip(cands, ranks) if r == 0]

    def rows(self) -> list[dict[str, Any]]:
        """One flat dict per trial (metrics as columns), ready for CSV, JSON or a DataFrame."""
        rows = []
        metric_names = sorted({k for t in self.trials for k in t.metrics})
        for t in self.trials:
            row = {
                "number": t.number,
                "state": t.state.value,
                "arch": t.arch,
                "genome": t.genome,
                "duration_s": t.duration,
                "error": t.error,
                "feasible": t.state == TrialState.COMPLETE and t.violation(self.constraints) == 0.0,
            }
            for m in metric_names:
                row[m] = t.metrics.get(m)
            rows.append(row)
        return rows

    def to_csv(self, path: str | Path) -> Path:
        path = Path(path)
        rows = self.rows()
        fields = list(rows[0]) if rows else ["number", "state", "arch", "genome"]
        with path.open("w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=fields)
            w.writeheader()
            w.writerows(rows)
        return path

    def to_json(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(json.dumps({"study": self.name, "config": self._config(), "trials": self.rows()}, indent=1))
        return path

    def export_architecture(self, trial: Trial | int | None = None, path: str | Path | None = None) -> dict[str, Any]:
        """A trial's architecture (default: the best trial) as a JSON document; written to ``path`` if given."""
        if trial is None:
            trial = self.best_trial
        elif isinstance(trial, (int, np.integer)):
            trials = self.trials
            if not 0 <= int(trial) < len(trials):
                raise ValueError(f"trial number {trial} out of range [0, {len(trials)})")
            trial = trials[int(trial)]
        doc = architecture_document(self.space, trial, self.name)
        if path is not None:
            Path(path).write_text(json.dumps(doc, indent=1))
        return doc
