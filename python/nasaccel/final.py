"""The final stage of a search: retrain the Pareto front at full fidelity, export the winner to ONNX.

A multi-fidelity search ranks architectures by short, pruned, possibly inherited training runs; those
numbers are good for ranking, not for reporting. The final stage takes the members of the search's
Pareto front, trains each from scratch with the full-fidelity evaluator (and times it again), and
records them in a second study of the same storage, named ``<study>-final``: resumable like any study.
:func:`export_onnx` writes a trained network as the ONNX graph the latency evaluator times (the
builders of :mod:`nasaccel.latency`), with its trained weights, and checks it against the torch module.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Mapping, Sequence
from numbers import Real
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .storage import Storage
from .strategies.given import GivenArchitectures
from .trial import Objective, Trial

if TYPE_CHECKING:
    from .study import Study

__all__ = [
    "FINAL_SUFFIX", "export_onnx", "final_study_names", "near_front", "retrain_front", "retrain_order", "spread_front",
    "calibration_inputs", "train_config", "trained_state",
]

logger = logging.getLogger("nasaccel.final")

FINAL_SUFFIX = "-final"


def spread_front(front: Sequence[Trial], objective: Objective, top: int) -> list[Trial]:
    """At most ``top`` members of ``front``, ordered by ``objective`` and spread evenly along it.

    With more members than ``top``, ``top`` evenly spaced targets run from one end of ``front`` to the other
    and each takes the nearest member not yet taken, so both ends are always retrained. Where every
    value is positive (latencies, sizes) the targets are evenly spaced in the logarithm of the value: a
    front whose members crowd one part of the axis still gets picks at every order of magnitude.
    Otherwise they are evenly spaced ranks. Ties in ``objective`` go to the earlier trial.
    """
    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise ValueError(f"top must be a positive integer, got {top!r}")
    ordered = sorted(front, key=lambda t: (-objective.sign * t.metrics[objective.name], t.number))
    if len(ordered) <= top:
        return ordered
    values = np.array([t.metrics[objective.name] for t in ordered], dtype=np.float64)
    where = np.log(values) if np.all(values > 0) else np.arange(len(ordered), dtype=np.float64)
    taken = np.zeros(len(ordered), dtype=bool)
    for target in np.linspace(where[0], where[-1], top):
        gap = np.where(taken, np.inf, np.abs(where - target))
        taken[int(np.argmin(gap))] = True  # first minimum: the lower rank on ties
    return [t for t, keep in zip(ordered, taken) if keep]


def retrain_order(n: int) -> list[int]:
    """The order in which the final stage trains ``n`` picks sorted along the front: both ends, then by bisection.

    Index 0 and ``n - 1`` come first, then the middle of the span, then the middles of its halves,
    breadth first; every prefix is therefore spread along the whole front, so a final stage cut short by
    its timeout still covers it end to end. ``retrain_order(12)`` is ``[0, 11, 5, 2, 8, 1, 3, 6, 9, 4, 7, 10]``.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")
    n = int(n)
    if n <= 2:
        return list(range(n))
    order, spans = [0, n - 1], [(0, n - 1)]
    while spans:
        lo, hi = spans.pop(0)
        mid = (lo + hi) // 2
        if lo < mid < hi:
            order.append(mid)
            spans += [(lo, mid), (mid, hi)]
    return order


def check_tolerance(tolerance: Any) -> None:
    """Refuse a front tolerance that is not a finite number >= 0, naming it."""
    if isinstance(tolerance, bool) or not isinstance(tolerance, Real) or not np.isfinite(tolerance) or tolerance < 0:
        raise ValueError(f"tolerance must be a finite number >= 0, got {tolerance!r}")


def check_timeout(timeout: Any) -> None:
    """Refuse a final-stage timeout that is not ``None`` or a finite number of seconds > 0, naming it."""
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, Real) or not np.isfinite(timeout)
                                or not timeout > 0):
        raise ValueError(f"timeout must be a finite number of seconds > 0, got {timeout!r}")


def near_front(study: Study, tolerance: float) -> list[Trial]:
    """The feasible completed trials of ``study`` within ``tolerance`` of its Pareto front.

    A trial is left out when another is at least ``tolerance`` better on the first objective (in that
    objective's units, e.g. 0.005 of validation accuracy), no worse on the others, and strictly better
    somewhere: additive epsilon-dominance on the first objective. ``tolerance=0`` is the Pareto front.
    Low-fidelity scores near the top of a search differ by less than their noise (on 800 validation
    examples one standard error of an accuracy of 0.99 is 0.0035), so the front alone is a lottery
    among near-ties; the band keeps the near-ties for the full-fidelity stage to tell apart.
    """
    check_tolerance(tolerance)
    tol = float(tolerance)
    cands = [t for t in study.completed_trials(feasible_only=True) if all(o.name in t.metrics for o in study.objectives)]
    if not cands:
        return []
    # minimisation convention; the first objective of every rival is shifted by the tolerance
    objs = np.array([[-o.sign * t.metrics[o.name] for o in study.objectives] for t in cands], dtype=np.float64)
    shifted = objs.copy()
    shifted[:, 0] += tol
    kept = []
    for i, t in enumerate(cands):
        no_worse = np.all(shifted <= objs[i], axis=1)
        better = np.any(shifted < objs[i], axis=1)
        if not np.any(no_worse & better):
            kept.append(t)
    return kept


def final_study_names(names: Sequence[str], base: str) -> list[str]:
    """The final-stage studies of study ``base`` among ``names``, oldest first."""
    pattern = re.compile(re.escape(base + FINAL_SUFFIX) + r"(-[0-9]+)?")
    return [n for n in names if pattern.fullmatch(n)]


def _final_name(storage: Storage, base: str, archs: list[str]) -> str:
    """``<base>-final``, or ``-final-2``, ... when an earlier final stage retrained a different front."""
    names = set(storage.study_names())
    k = 1
    while True:
        name = base + FINAL_SUFFIX + ("" if k == 1 else f"-{k}")
        if name not in names:
            return name
        sid, _ = storage.open_study(name, {})
        stored = storage.study_config(sid).get("strategy", {}).get("params", {}).get("archs")
        if stored == archs:
            return name
        k += 1


def retrain_front(
    study: Study,
    evaluator: Any,
    *,
    top: int = 6,
    tolerance: float = 0.0,
    timeout: float | None = None,
    executor: Any = None,
    n_workers: int | None = None,
    show_progress: bool = False,
) -> Study:
    """Train the members of ``study``'s Pareto front again with ``evaluator``; returns the final study.

    Parameters
    ----------
    study
        A finished (or stopped) search with at least one completed feasible trial.
    evaluator
        The full-fidelity evaluator (e.g. a composite of latency and a :class:`TorchTrainer` with
        more epochs and the whole training split, no pruning, no inheritance).
    top
        At most this many front members are retrained (:func:`spread_front` along the last objective).
    tolerance
        Widen the front to the trials within this much of it on the first objective
        (:func:`near_front`) before picking ``top`` of them; 0 retrains the Pareto front itself.
    timeout
        Seconds from the start of the stage after which no further member starts training (those
        running finish). Members train in :func:`retrain_order`, so the ones trained span the front;
        the two ends always train, whatever the timeout. ``None``: no limit.
    executor, n_workers, show_progress
        As for :meth:`Study.optimize`.

    Returns
    -------
    Study
        Named ``<study.name>-final`` in the same storage, with the same objectives, constraints and
        seed; re-running resumes it. When the front changed since an earlier final stage (the search
        was resumed and went on), the new front is retrained under ``-final-2``, ``-final-3``, ...
    """
    from .executors import make_executor
    from .study import Study

    check_timeout(timeout)
    start = time.monotonic()
    front = near_front(study, tolerance) if tolerance else study.pareto_front()
    if not front:
        raise ValueError(f"study {study.name!r} has no completed feasible trial to retrain")
    members = spread_front(front, study.objectives[-1], top)
    archs = [members[i].arch for i in retrain_order(len(members))]
    name = _final_name(study.storage, study.name, archs)
    final = Study(
        study.space,
        GivenArchitectures(archs),
        evaluator,
        objectives=study.objectives,
        constraints=study.constraints,
        storage=study.storage,
        seed=study.seed,
        name=name,
    )
    logger.info("final stage %r: retraining %d of %d trial(s) within %g of the front", name, len(archs), len(front),
                tolerance)
    ex = make_executor(executor, n_workers)
    try:
        if timeout is None:
            final.optimize(executor=ex, show_progress=show_progress)
        else:
            # the two ends start whatever the clock says; the other workers go on with the rest meanwhile
            left = max(timeout - (time.monotonic() - start), 1e-9)
            final.optimize(timeout=left, min_trials=min(2, len(archs)), executor=ex, show_progress=show_progress)
            done = len(final.trials)
            if done < len(archs):
                logger.warning("final stage %r: timeout of %g s reached after %d of %d networks", name, timeout, done,
                               len(archs))
    finally:
        if ex is not executor:
            ex.shutdown()
    return final


def train_config(evaluator_config: Any) -> dict[str, Any] | None:
    """The ``train`` part of a stored evaluator config (itself, or inside a composite)."""
    if not isinstance(evaluator_config, Mapping):
        return None
    if evaluator_config.get("type") == "train":
        return dict(evaluator_config)
    if evaluator_config.get("type") == "composite":
        for part in evaluator_config.get("evaluators", []):
            found = train_config(part)
            if found is not None:
                return found
    return None


def calibration_inputs(train: Mapping[str, Any]) -> np.ndarray:
    """The inputs a train evaluator config's ``int8_accuracy`` calibrates on: its data's first training examples."""
    from .data import load_data

    data = load_data(train.get("data", "mnist1d"), **(train.get("data_args") or {}))
    return data.x_train[: int(train.get("int8_calibration", 512))]


def trained_state(evaluator_config: Mapping[str, Any], arch: str) -> dict[str, Any]:
    """The trained ``state_dict`` of ``arch`` saved by the study's trainer (its ``checkpoint_dir``).

    Raises
    ------
    ValueError
        When the evaluator has no trainer with a checkpoint directory, or holds no checkpoint of ``arch``.
    """
    from .evaluation.inheritance import CheckpointStore

    cfg = train_config(evaluator_config)
    if cfg is None or not cfg.get("checkpoint_dir"):
        raise ValueError("the study's evaluator keeps no trained weights: give its train evaluator a checkpoint_dir")
    state = CheckpointStore(cfg["checkpoint_dir"]).load(arch)
    if state is None:
        raise ValueError(f"no trained weights of {arch!r} in {cfg['checkpoint_dir']!r}")
    return state


def export_onnx(
    space: Any,
    genome: Any,
    state: Mapping[str, Any],
    path: str | Path,
    *,
    batch_size: int = 1,
    check_examples: int = 64,
    seed: int = 0,
    precision: str = "fp32",
    calibration: Any = None,
) -> dict[str, Any]:
    """Write ``genome``'s network with trained weights ``state`` as ONNX and check it against torch.

    ``precision="int8"`` writes the graph statically quantized
    (:func:`~nasaccel.latency.quantize.quantize_int8`, activation ranges from ``calibration``, example
    inputs of the data the network was trained on); the check then runs on the calibration examples
    and the logits differ from torch's by the quantization error, which is reported, not refused.

    The graph is the one the latency evaluator times (batch norm folded into the convolutions),
    with a fixed batch of ``batch_size``. Before writing, ``check_examples`` random inputs (seeded)
    run through ONNX Runtime and through ``space.build_module(genome)`` loaded with ``state`` in eval
    mode.

    Returns
    -------
    dict
        ``path``, ``batch_size``, ``max_abs_diff`` (largest absolute difference of the logits) and
        ``argmax_agreement`` (fraction of inputs with the same predicted class).

    Raises
    ------
    ValueError
        When ``state`` does not fit the network, or ONNX Runtime and torch disagree by more than
        ``1e-3`` relative to the largest logit.
    """
    import onnxruntime as ort
    import torch

    from .latency.adapters import genome_onnx
    from .latency.quantize import check_precision, quantize_int8

    check_precision(precision)
    if precision == "int8" and calibration is None:
        raise ValueError("an int8 export needs calibration inputs (examples of the training data)")
    if isinstance(check_examples, bool) or not isinstance(check_examples, int) or check_examples < 1:
        raise ValueError(f"check_examples must be a positive integer, got {check_examples!r}")
    model = genome_onnx(space, genome, state, batch_size=batch_size)
    if precision == "int8":
        model = quantize_int8(model, calibration)
    module = space.build_module(genome)
    try:
        module.load_state_dict(dict(state))
    except RuntimeError as e:
        raise ValueError(f"the weights do not fit {space.to_text(genome)!r}: {e}") from None
    module.eval()
    so = ort.SessionOptions()
    so.log_severity_level = 3
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    in_name = sess.get_inputs()[0].name
    shape = tuple(int(v) for v in sess.get_inputs()[0].shape)
    rng = np.random.default_rng(seed)
    n_calls = -(-check_examples // batch_size)
    if precision == "int8":
        # in-distribution inputs: the quantized ranges hold for data like the calibration's, not for noise
        cal = np.asarray(calibration, dtype=np.float32)
        x = cal[np.arange(n_calls * batch_size) % len(cal)].reshape(n_calls * batch_size, *shape[1:])
    else:
        x = rng.standard_normal((n_calls * batch_size, *shape[1:])).astype(np.float32)
    got = np.concatenate([sess.run(None, {in_name: x[i * batch_size : (i + 1) * batch_size]})[0] for i in range(n_calls)])
    with torch.no_grad():
        want = module(torch.from_numpy(x)).numpy()
    diff = float(np.max(np.abs(got - want)))
    scale = max(1.0, float(np.max(np.abs(want))))
    if precision == "fp32" and diff > 1e-3 * scale:
        raise ValueError(f"the ONNX graph of {space.to_text(genome)!r} differs from the torch module by {diff:.3g}")
    path = Path(path)
    path.write_bytes(model.SerializeToString())
    return {
        "path": str(path),
        "batch_size": batch_size,
        "precision": precision,
        "max_abs_diff": diff,
        "argmax_agreement": float(np.mean(got.argmax(1) == want.argmax(1))),
    }

