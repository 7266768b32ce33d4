"""``width_search``: backbone + data + latency table + budget -> widths, fine-tuned network, latency, ONNX.

The whole AOWS pipeline in one call: build (or load) the per-layer latency table of the backbone's
width choices on this CPU, train the slimmable network (optionally with adaptive narrowing towards
the budget), choose the widths (AOWS' chain MRF, or the greedy / uniform baselines), fine-tune the
chosen network, export it to ONNX with the ``onnx`` package and time it with ONNX Runtime.
"""

from __future__ import annotations

import math
import numbers
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..data import DataSplits
from ..latency.table import LatencyTable
from ..spaces.width import DEFAULT_MULTIPLIERS, WidthSpace, mobilenet_backbone
from .aows import AdaptiveNarrowing, WidthSolution, check_budget, solve_widths
from .baselines import greedy_prune, slimmable_scorer, uniform_scaling
from .latency import WidthLatencyModel, build_width_table
from .training import _Threads, make_data, train_network, train_slimmable

__all__ = ["METHODS", "WidthSearchResult", "export_onnx", "measure_latency", "onnx_weights", "resolve_budget", "width_search"]

METHODS = ("aows", "greedy", "uniform")


def onnx_weights(model: Any, space: WidthSpace) -> dict[str, np.ndarray]:
    """The unfolded weights of a standalone width-space network, named as the ONNX builders expect."""
    sd = {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()}
    out: dict[str, np.ndarray] = {}
    bn = ("weight", "bias", "running_mean", "running_var")
    for i, layer in enumerate(space.layers):
        p = f"layers.{i}.op"
        if layer["op"] == "conv":
            out[f"layers.{i}.conv.weight"] = sd[f"{p}.0.weight"]
            out.update({f"layers.{i}.bn.{s}": sd[f"{p}.1.{s}"] for s in bn})
        elif layer["op"] == "dwsep":
            out[f"layers.{i}.dw.weight"] = sd[f"{p}.0.weight"]
            out.update({f"layers.{i}.dw_bn.{s}": sd[f"{p}.1.{s}"] for s in bn})
            out[f"layers.{i}.pw.weight"] = sd[f"{p}.3.weight"]
            out.update({f"layers.{i}.pw_bn.{s}": sd[f"{p}.4.{s}"] for s in bn})
    out["head.weight"] = sd["classifier.weight"]
    out["head.bias"] = sd["classifier.bias"]
    return out


def export_onnx(model: Any, space: WidthSpace, genome: Any, path: str | Path | None = None, *, batch_size: int = 1) -> Any:
    """The network as an ONNX model (batch norm folded, built with the ``onnx`` package); written to ``path`` if given."""
    from ..latency.onnx_builders import build_chain_onnx

    onnx_model = build_chain_onnx(space.description(genome), onnx_weights(model, space), batch_size=batch_size)
    if path is not None:
        Path(path).write_bytes(onnx_model.SerializeToString())
    return onnx_model


def measure_latency(onnx_model: Any, *, threads: int = 1, passes: int = 3, harness: Any = None) -> float:
    """ONNX Runtime latency (seconds) of a model on this CPU: the fastest of ``passes`` harness medians."""
    from ..latency.profiler import default_harness_options
    from ..latency.runner import OrtRunner

    runner = OrtRunner(onnx_model, intra_op_threads=threads)
    opts = harness if harness is not None else default_harness_options()
    return min(float(runner.measure(opts)["latency_s"]) for _ in range(passes))


def resolve_budget(model: WidthLatencyModel, budget_s: float | None, budget_fraction: float | None) -> float:
    """A budget in seconds from exactly one of ``budget_s`` and ``budget_fraction`` (0: the narrowest
    network's latency, 1: the widest's)."""
    if (budget_s is None) == (budget_fraction is None):
        raise ValueError("give exactly one of budget_s (seconds) and budget_fraction (0 = narrowest, 1 = widest)")
    if budget_fraction is not None:
        f = budget_fraction
        if isinstance(f, bool) or not isinstance(f, numbers.Real) or not math.isfinite(f) or not 0.0 <= f <= 1.0:
            raise ValueError(f"budget_fraction must be in [0, 1], got {budget_fraction!r}")
        lo, hi = model.min_latency(), model.max_latency()
        return lo + float(f) * (hi - lo)
    return check_budget(model, budget_s)  # type: ignore[arg-type]


@dataclass
class WidthSearchResult:
    """What :func:`width_search` returns (``to_dict`` is JSON-ready)."""

    space: WidthSpace
    solution: WidthSolution
    budget_s: float
    method: str
    metrics: dict[str, float]
    measured_latency_s: float | None
    onnx_path: str | None
    table_summary: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    model: Any = None

    @property
    def widths(self) -> list[int]:
        return self.solution.widths

    def to_dict(self) -> dict[str, Any]:
        g = self.solution.genome
        return {
            "method": self.method,
            "space": self.space.config(),
            "arch": self.space.to_text(g),
            "chain_text": self.space.chain_text(g),
            "widths": self.solution.widths,
            "choice": self.solution.choice,
            "multipliers": [self.space.multipliers[k] for k in self.solution.choice],
            "budget_s": self.budget_s,
            "predicted_latency_s": self.solution.latency_s,
            "measured_latency_s": self.measured_latency_s,
            "solution": self.solution.to_dict(),
            "metrics": self.metrics,
            "onnx_path": self.onnx_path,
            "latency_table": self.table_summary,
            "timings": self.timings,
            **self.extra,
        }


def width_search(
    data: DataSplits | str = "mnist1d",
    *,
    budget_s: float | None = None,
    budget_fraction: float | None = None,
    backbone: str | None = None,
    residual: bool = False,
    scale: float = 0.5,
    multipliers: Sequence[float] = DEFAULT_MULTIPLIERS,
    table: LatencyTable | str | Path | None = None,
    table_networks: int = 12,
    method: str = "aows",
    solver: str = "exact",
    adaptive: bool = False,
    epochs: int = 8,
    finetune_epochs: int = 4,
    batch_size: int = 128,
    lr: float = 3e-3,
    finetune_lr: float = 1e-3,
    num_random: int = 2,
    extra_samples: int = 2,
    stats_from: float = 0.4,
    from_scratch: bool = False,
    seed: int = 0,
    threads: int = 1,
    batch_size_latency: int = 1,
    onnx_path: str | Path | None = None,
    measure: bool = True,
    data_args: Mapping[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
) -> WidthSearchResult:
    """Latency-constrained width search (AOWS) end to end.

    Parameters
    ----------
    data : DataSplits or str
        ``"mnist1d"`` (generated locally), ``"digits"`` (scikit-learn) or your own splits.
    budget_s, budget_fraction : float
        The latency budget: seconds, or a fraction of the way from the narrowest to the widest
        network's table latency. Exactly one.
    backbone : str, optional
        ChainSpace text of the base network; default :func:`mobilenet_backbone` of the data's shape
        with ``residual`` and ``scale``.
    multipliers : sequence of float
        Width multipliers of every node (20 % .. 150 % by default).
    table : LatencyTable or path, optional
        The per-layer latency table of this space; built on this CPU when None
        (:func:`build_width_table` with ``table_networks`` whole networks).
    method : {"aows", "greedy", "uniform"}
        AOWS' chain MRF, greedy layer-by-layer pruning on the slimmable network, or uniform scaling.
    solver : {"exact", "lagrangian"}
        MRF solver for ``method="aows"``.
    adaptive : bool
        Adaptive narrowing of the width sampling towards the budget (``method="aows"`` only).
    epochs, batch_size, lr, num_random, extra_samples, stats_from
        Slimmable training (:func:`train_slimmable`).
    finetune_epochs, finetune_lr, from_scratch
        Training of the chosen network: fine-tuned from the slimmable weights, or from scratch.
    seed, threads
        Seed of everything random; torch and ONNX Runtime threads.
    batch_size_latency : int
        Batch of the latency table's and the exported ONNX graphs.
    onnx_path : path, optional
        Where to write the ONNX model (not written when None).
    measure : bool
        Time the chosen network with ONNX Runtime.
    progress : callable, optional
        ``progress(message)`` at each phase.

    Raises
    ------
    ValueError
        For a bad method, solver or budget (a budget below the narrowest network's latency names both).
    """
    import torch

    if method not in METHODS:
        raise ValueError(f"method must be one of {list(METHODS)}, got {method!r}")
    if solver not in ("exact", "lagrangian"):
        raise ValueError(f"solver must be 'exact' or 'lagrangian', got {solver!r}")
    if adaptive and method != "aows":
        raise ValueError(f"adaptive narrowing applies to method 'aows' only, got method {method!r}")
    say = progress or (lambda msg: None)
    timings: dict[str, float] = {}
    d = make_data(data, dict(data_args) if data_args else None)
    space = WidthSpace(d.input_shape, d.num_classes,
                       backbone if backbone is not None else mobilenet_backbone(d.input_shape, residual=residual, scale=scale),
                       multipliers)
    t = time.perf_counter()
    if table is None:
        say(f"measuring the latency table of {space.num_nodes} width nodes x {space.num_choices} choices")
        built = build_width_table(space, networks=table_networks, seed=seed, threads=threads, batch_size=batch_size_latency)
        lat_table, table_summary = built.table, built.summary()
        table_summary.pop("networks_text", None)
        table_summary.pop("network_latencies_s", None)
        table_summary["built"] = True
    else:
        lat_table = table if isinstance(table, LatencyTable) else LatencyTable.load(table)
        table_batch = lat_table.device.get("batch_size")
        if table_batch is not None and table_batch != batch_size_latency:
            raise ValueError(
                f"the latency table was measured at batch size {table_batch}, not batch_size_latency={batch_size_latency} "
                "(the CLI's --latency-batch)"
            )
        table_summary = {"built": False, "terms": len(lat_table.terms)}
    timings["latency_table_s"] = time.perf_counter() - t
    model = WidthLatencyModel(space, lat_table)
    budget = resolve_budget(model, budget_s, budget_fraction)
    extra: dict[str, Any] = {"min_latency_s": model.min_latency(), "max_latency_s": model.max_latency()}

    run = None
    if method != "uniform" or not from_scratch:
        sampler = AdaptiveNarrowing(model, budget, start=stats_from) if adaptive else None
        say(f"training the slimmable network ({epochs} epochs, adaptive narrowing {'on' if adaptive else 'off'})")
        run = train_slimmable(space, d, epochs=epochs, batch_size=batch_size, lr=lr, num_random=num_random,
                              extra_samples=extra_samples, stats_from=stats_from, sampler=sampler, seed=seed,
                              threads=threads)
        timings["slimmable_training_s"] = run.seconds
        extra["unary_samples"] = run.samples
        if run.narrowing:
            extra["narrowing"] = run.narrowing
    t = time.perf_counter()
    if method == "aows":
        assert run is not None
        solution = solve_widths(model, run.unary.costs(), budget, solver)
    elif method == "greedy":
        assert run is not None
        n_cal = min(512, len(d.y_train))
        with _Threads(threads):
            g = greedy_prune(model, budget, slimmable_scorer(run.network, d.x_train[:n_cal], d.x_val, d.y_val))
        solution = g.solution
        extra["greedy_evaluations"] = g.evaluations
        extra["greedy_steps"] = len(g.path)
    else:
        solution = uniform_scaling(model, budget)
    timings["choose_s"] = time.perf_counter() - t
    say(f"chosen widths {solution.widths} (table latency {solution.latency_s * 1e3:.4g} ms, budget {budget * 1e3:.4g} ms)")

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed + 1)
        if from_scratch or run is None:
            net = space.build_module(solution.genome)
        else:
            net = run.network.extract(solution.genome)
    metrics = train_network(net, d, epochs=finetune_epochs, batch_size=batch_size, lr=finetune_lr, seed=seed, threads=threads)
    timings["final_training_s"] = metrics.pop("seconds")
    onnx_model = export_onnx(net, space, solution.genome, onnx_path, batch_size=batch_size_latency)
    measured = None
    if measure:
        t = time.perf_counter()
        measured = measure_latency(onnx_model, threads=threads)
        timings["latency_measurement_s"] = time.perf_counter() - t
    return WidthSearchResult(space, solution, budget, method, metrics, measured,
                             None if onnx_path is None else str(onnx_path), table_summary, timings, extra, net)
