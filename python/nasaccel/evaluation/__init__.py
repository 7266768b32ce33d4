"""Performance estimation: tabular benchmarks, torch training, latency."""

from __future__ import annotations

from typing import Any

from .composite import CompositeEvaluator
from .latency import LatencyEvaluator
from .inheritance import CheckpointStore, InheritanceReport, inherit_weights
from .pruners import HyperbandPruner, MedianPruner, PercentilePruner, Pruner, SuccessiveHalvingPruner, pruner_from_config
from .tabular import TabularBenchmark
from .trainer import TorchTrainer


def evaluator_from_config(config: dict[str, Any], base_dir: str | None = None) -> Any:
    """An evaluator from its config; relative paths from ``base_dir``.

    ``{"type": "tabular", "path": ...}``: a :class:`TabularBenchmark`.
    ``{"type": "latency", "mode": "measured" | "predicted", "table": ..., "batch_size": ..., ...}``: a
    :class:`LatencyEvaluator` (every other key is one of its keyword arguments; ``table`` and
    ``log_path`` are relative to ``base_dir``).
    ``{"type": "composite", "evaluators": [...]}``: a :class:`CompositeEvaluator` merging their metrics.
    ``{"type": "train", "data": "mnist1d" | "digits", "data_args": {...}, "epochs": ..., ...}``: a
    :class:`TorchTrainer` (every other key is one of its keyword arguments; ``checkpoint_dir`` is
    relative to ``base_dir``).
    """
    import os

    if not isinstance(config, dict) or "type" not in config:
        raise ValueError(f"evaluator config {config!r} needs a 'type'")
    kind = config["type"]
    args = {k: v for k, v in config.items() if k != "type"}
    if kind == "tabular":
        if "path" not in args:
            raise ValueError("tabular evaluator config needs a 'path' to the table")
        path = args.pop("path")
        if base_dir is not None and not os.path.isabs(path):
            path = os.path.join(base_dir, path)
        return TabularBenchmark.from_file(path, **args)
    if kind == "train":
        data = args.pop("data", "mnist1d")
        if not isinstance(data, str):
            raise ValueError(f"train evaluator config 'data' must be a data set name, got {data!r}")
        ckpt = args.get("checkpoint_dir")
        if ckpt is not None and base_dir is not None and not os.path.isabs(ckpt):
            args["checkpoint_dir"] = os.path.join(base_dir, ckpt)
        try:
            return TorchTrainer(data, **args)
        except TypeError as e:
            raise ValueError(f"train evaluator config {config!r} has a bad key: {e}") from None
    if kind == "latency":
        for key in ("table", "log_path"):
            p = args.get(key)
            if isinstance(p, str) and base_dir is not None and not os.path.isabs(p):
                args[key] = os.path.join(base_dir, p)
        try:
            return LatencyEvaluator(**args)
        except TypeError as e:
            raise ValueError(f"latency evaluator config {config!r} has a bad key: {e}") from None
    if kind == "composite":
        parts = args.get("evaluators")
        if not isinstance(parts, list) or not parts:
            raise ValueError("composite evaluator config needs a non-empty 'evaluators' list")
        return CompositeEvaluator([evaluator_from_config(p, base_dir) for p in parts])
    raise ValueError(f"unknown evaluator type {kind!r}; known: ['composite', 'latency', 'tabular', 'train']")


__all__ = ["CompositeEvaluator", "TabularBenchmark", "evaluator_from_config"]
__all__ += ["LatencyEvaluator"]
__all__ += ["CheckpointStore", "InheritanceReport", "inherit_weights", "TorchTrainer"]
__all__ += ["HyperbandPruner", "MedianPruner", "PercentilePruner", "Pruner", "SuccessiveHalvingPruner", "pruner_from_config"]
