"""Latency of width configurations: a per-layer latency table and the chain MRF terms it gives.

A :class:`WidthSpace` network's latency is, by the latency table's model, a constant plus one term
``T(signature, c_in, c_out)`` per layer (op, residual addition, head). Every term of layer ``i`` depends
on the widths of at most two successive width nodes (its input's and its output's), which is what makes
the width search a chain MRF: the op term of a conv / dwsep layer is a pairwise term between the
previous node and its own node, additions, pools and the head are unary terms, and a first layer
reading the fixed input channels is unary on its node.

:func:`build_width_table` measures every such term for every width choice alone with ONNX Runtime
(one single-layer graph per term) plus a few whole networks, and solves for the term values by
non-negative least squares (:meth:`LatencyTable.fit`, the isolated timings as prior rows with one
extra unknown absorbing the per-call cost of a lone layer, the whole networks pinning the constant
and the in-context values).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import _core
from .._core import ChainMRF, Genome
from ..latency.descriptions import ChainLayer, ChainNetwork, SkipInput, size_text
from ..latency.table import CONSTANT, LatencyTable, Term, UnmeasuredTermError, isolated_terms, term_key, terms_of
from ..spaces.width import WidthSpace

__all__ = ["WidthLatencyModel", "WidthTableResult", "build_width_table", "quick_harness_options", "width_term_examples"]


def quick_harness_options() -> _core.HarnessOptions:
    """Harness settings for the many tiny single-layer graphs of a width table (at most 20 ms each)."""
    return _core.HarnessOptions(
        warmup_calls=3, warmup_seconds=0.001, min_repeats=20, max_repeats=2000, round_size=10,
        max_seconds=0.02, rel_tolerance=0.03, confidence=0.95, outlier_k=5.0,
        subtract_overhead=True, overhead_repeats=200,
    )


@dataclass(frozen=True)
class _LayerTerm:
    """Where one term of one layer lands in the MRF: (input node, output node) of the layer, or None."""

    kind: str  # "pair", "unary_in", "unary_out", "const"
    node_in: int | None
    node_out: int | None


def _layer_shapes(space: WidthSpace) -> list[tuple[int, ...]]:
    return [tuple(layer["input_shape"][1:]) for layer in space.layers]


def _term_sites(space: WidthSpace, choice_in: int | None, choice_out: int | None, i: int) -> list[tuple[Term, Any]]:
    """Terms (with an isolated example each) of layer ``i`` for one width choice of its input and output node."""
    layer = space.layers[i]
    n_in, n_out = space.node_of_input[i], space.node_of_output[i]
    c_in = space.input_shape[0] if n_in is None else space.choices[n_in][choice_in]  # type: ignore[index]
    c_out = c_in if n_out is None or layer["op"] not in ("conv", "dwsep") else space.choices[n_out][choice_out]  # type: ignore[index]
    size = tuple(layer["input_shape"][1:])
    out: list[tuple[Term, Any]] = []
    for _ in layer["skips"]:
        ex = ChainLayer("identity", c_in, c_in, 1, 1, size, (SkipInput(0, c_in, 1, size),))
        out.append(((f"add|{size_text(size)}", c_in, c_in), ex))
    if layer["op"] in ("conv", "dwsep", "maxpool", "avgpool"):
        ex = ChainLayer(layer["op"], c_in, c_out, layer["kernel"], layer["stride"], size)
        for t in terms_of(ex):
            out.append((t, ex))
    return out


def _head(space: WidthSpace, choice: int | None) -> tuple[Term, Any]:
    n = space.node_of_output[-1]
    c = space.input_shape[0] if n is None else space.choices[n][choice]  # type: ignore[index]
    out_size = tuple(space.layers[-1]["output_shape"][1:])
    ex = ChainNetwork((c,) + out_size, space.num_classes, ())
    return (f"head|{size_text(out_size)}|n{space.num_classes}", c, space.num_classes), ex


def _tied(space: WidthSpace, a: int | None, b: int | None) -> bool:
    return a is not None and b is not None and any(a in g and b in g for g in space.ties)


def width_term_examples(space: WidthSpace) -> dict[Term, Any]:
    """Every latency term any width configuration of ``space`` uses, with a description running it alone.

    Pairs of choices that break a tie (the two sides of a residual at different widths) are left out.
    """
    out: dict[Term, Any] = {}
    K = space.num_choices
    for i, layer in enumerate(space.layers):
        n_in, n_out = space.node_of_input[i], space.node_of_output[i]
        ins = [None] if n_in is None else range(K)
        changes_width = layer["op"] in ("conv", "dwsep")
        for a in ins:
            outs = range(K) if changes_width else [None]
            for b in outs:
                if changes_width and _tied(space, n_in, n_out) and a is not None and \
                        space.choices[n_in][a] != space.choices[n_out][b]:  # type: ignore[index]
                    continue
                for t, ex in _term_sites(space, a, b, i):
                    out.setdefault(t, ex)
    last = space.node_of_output[-1]
    for a in ([None] if last is None else range(K)):
        t, ex = _head(space, a)
        out.setdefault(t, ex)
    return out


@dataclass
class WidthTableResult:
    """What :func:`build_width_table` returns: the table and what building it cost."""

    table: LatencyTable
    isolated_terms: int
    networks: int
    seconds: float
    measure_seconds: float
    fit_mape: float
    extra: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {
            "isolated_terms": self.isolated_terms, "networks": self.networks, "seconds": self.seconds,
            "measure_seconds": self.measure_seconds, "fit_mape": self.fit_mape, **self.extra,
        }


def random_choice(space: WidthSpace, rng: np.random.Generator, probs: Sequence[np.ndarray] | None = None) -> list[int]:
    """One width index per node, tied nodes sharing one draw (uniform, or per-node probabilities)."""
    K = space.num_choices
    choice = [-1] * space.num_nodes
    for n in range(space.num_nodes):
        if choice[n] >= 0:
            continue
        k = int(rng.choice(K, p=None if probs is None else probs[n]))
        group = next((g for g in space.ties if n in g), (n,))
        for m in group:
            choice[m] = k
    return choice


def build_width_table(
    space: WidthSpace,
    *,
    networks: int = 12,
    seed: int = 0,
    threads: int = 1,
    batch_size: int = 1,
    harness: _core.HarnessOptions | None = None,
    network_harness: _core.HarnessOptions | None = None,
    passes: int = 2,
    prior_weight: float = 0.3,
    measure: Callable[[list[Any]], list[float]] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> WidthTableResult:
    """Measure every per-layer latency term of ``space`` on this machine and fit a latency table.

    Parameters
    ----------
    space : WidthSpace
        The backbone and its width choices.
    networks : int
        Whole networks measured besides the isolated terms (the widest, the narrowest and random ones).
    seed : int
        Seed of the random networks.
    threads, batch_size
        ONNX Runtime intra-op threads and the batch of every graph (recorded in the table).
    harness, network_harness
        Timing settings of the isolated terms (default :func:`quick_harness_options`) and of the
        whole networks (default :func:`nasaccel.latency.default_harness_options`).
    passes : int
        Round-robin timing passes per graph; the fastest pass counts.
    prior_weight : float
        Weight of the isolated rows against the network rows in the fit.
    measure : callable, optional
        ``measure(descriptions) -> seconds`` replacing ONNX Runtime (for tests of the bookkeeping).
    progress : callable, optional
        ``progress(done, total)``.

    Returns
    -------
    WidthTableResult
        The table (every term has coverage >= 1: isolated measurements count) and its cost.
    """
    from ..latency.profiler import OnnxMeasure, default_harness_options

    if not isinstance(space, WidthSpace):
        raise ValueError(f"space must be a WidthSpace, got {type(space).__name__}")
    if isinstance(networks, bool) or not isinstance(networks, int) or networks < 2:
        raise ValueError(f"networks must be an integer >= 2 (the widest and the narrowest at least), got {networks!r}")
    if not prior_weight > 0:
        raise ValueError(f"prior_weight must be positive, got {prior_weight!r}")
    t0 = time.perf_counter()
    examples = width_term_examples(space)
    iso = list(dict.fromkeys(examples.values()))
    rng = np.random.default_rng(seed)
    configs = [space.widest(), space.narrowest()]
    seen = {space.to_text(g) for g in configs}
    draws = 0
    while len(configs) < networks and draws < 50 * networks:
        draws += 1
        g = space.genome(random_choice(space, rng))
        if space.to_text(g) not in seen:
            seen.add(space.to_text(g))
            configs.append(g)
    nets = [space.description(g) for g in configs]
    device: dict[str, Any]
    if measure is None:
        iso_measure = OnnxMeasure(threads=threads, batch_size=batch_size, harness=harness or quick_harness_options(),
                                  passes=passes, keep_records=False)
        net_measure = OnnxMeasure(threads=threads, batch_size=batch_size,
                                  harness=network_harness or default_harness_options(), passes=passes, keep_records=False)
        done = 0
        total = len(iso) + len(nets)

        def run(m: OnnxMeasure, items: list[Any]) -> list[float]:
            nonlocal done
            out: list[float] = []
            for lo in range(0, len(items), m.chunk):
                out += m.measure_many(items[lo : lo + m.chunk])
                done += len(items[lo : lo + m.chunk])
                if progress is not None:
                    progress(done, total)
            return out

        tm = time.perf_counter()
        iso_lat = run(iso_measure, iso)
        net_lat = run(net_measure, nets)
        measure_seconds = time.perf_counter() - tm
        device = net_measure.device()
        device["isolated_harness"] = iso_measure.harness.to_dict()
    else:
        tm = time.perf_counter()
        iso_lat = [float(v) for v in measure(iso)]
        net_lat = [float(v) for v in measure(nets)]
        measure_seconds = time.perf_counter() - tm
        device = {"measure": getattr(measure, "__name__", "custom"), "batch_size": batch_size}
    fitted = LatencyTable.fit(
        [terms_of(d) for d in nets], net_lat, relative=True, device=device, space=space.config(),
        descriptions=nets, prior_counts=[isolated_terms(d) for d in iso], prior_latencies=iso_lat,
        prior_weight=prior_weight,
    )
    # Every term was timed alone at least once, so every width configuration is priced.
    coverage = fitted.coverage_counts.copy()
    for d in iso:
        for t in isolated_terms(d):
            coverage[fitted.index[t]] += 1
    fit_info = dict(fitted.fit_info, coverage_counts_isolated=True, isolated_measurements=len(iso))
    table = LatencyTable(fitted.terms, fitted.values, coverage, device=fitted.device, space=fitted.space,
                         fit_info=fit_info, measurements=fitted.measurements)
    return WidthTableResult(
        table=table, isolated_terms=len(iso), networks=len(nets), seconds=time.perf_counter() - t0,
        measure_seconds=measure_seconds, fit_mape=float(fitted.fit_info["train_mape"]),
        extra={"network_latencies_s": net_lat, "networks_text": [space.to_text(g) for g in configs]},
    )


class WidthLatencyModel:
    """The chain MRF latency terms of a :class:`WidthSpace` priced by a latency table.

    Attributes
    ----------
    unary_latency : list of numpy.ndarray
        Per node, the latency of the terms that depend on its width alone (seconds).
    pairwise_latency : list of numpy.ndarray
        ``pairwise_latency[n-1][a, b]``: the op term of node ``n``'s layer reading node ``n-1`` at
        choice ``a`` and writing choice ``b``; entries that break a tie are 0 and never used.
    constant : float
        The table's constant plus the terms no width changes.

    Raises
    ------
    UnmeasuredTermError
        (a ValueError) naming a term some width configuration needs and the table lacks.
    """

    def __init__(self, space: WidthSpace, table: LatencyTable) -> None:
        if not isinstance(space, WidthSpace):
            raise ValueError(f"space must be a WidthSpace, got {type(space).__name__}")
        if not isinstance(table, LatencyTable):
            raise ValueError(f"table must be a LatencyTable, got {type(table).__name__}")
        self.space, self.table = space, table
        N, K = space.num_nodes, space.num_choices
        self.unary_latency = [np.zeros(K) for _ in range(N)]
        self.pairwise_latency = [np.zeros((K, K)) for _ in range(N - 1)]

        def value(t: Term) -> float:
            i = table.index.get(t)
            if i is None or table.coverage_counts[i] == 0:
                raise UnmeasuredTermError(
                    f"the latency table has no term {term_key(t)!r}, which width configurations of this space need; "
                    "build the table for this space (build_width_table)"
                )
            return float(table.values[i])

        self.constant = value(CONSTANT)
        for i, layer in enumerate(space.layers):
            n_in, n_out = space.node_of_input[i], space.node_of_output[i]
            changes = layer["op"] in ("conv", "dwsep")
            for a in ([None] if n_in is None else range(K)):
                # additions and pools depend on the input width alone
                for t, _ in _term_sites(space, a, 0 if changes else None, i):
                    if changes and t[0].startswith(layer["op"] + "|"):
                        continue
                    if n_in is None:
                        self.constant += value(t)
                    else:
                        self.unary_latency[n_in][a] += value(t)
                if not changes:
                    continue
                for b in range(K):
                    if _tied(space, n_in, n_out) and space.choices[n_in][a] != space.choices[n_out][b]:  # type: ignore[index]
                        continue
                    op_terms = [t for t, _ in _term_sites(space, a, b, i) if t[0].startswith(layer["op"] + "|")]
                    v = sum(value(t) for t in op_terms)
                    if n_in is None:
                        self.unary_latency[n_out][b] += v  # type: ignore[index]
                    else:
                        assert n_out == n_in + 1
                        self.pairwise_latency[n_in][a, b] += v
        last = space.node_of_output[-1]
        if last is None:
            self.constant += value(_head(space, None)[0])
        else:
            for a in range(K):
                self.unary_latency[last][a] += value(_head(space, a)[0])

    def mrf(self, unary_costs: Sequence[Sequence[float]]) -> ChainMRF:
        """The chain MRF of ``unary_costs`` (one cost vector per node) under these latency terms and the ties."""
        return ChainMRF(
            [np.asarray(u, float) for u in unary_costs], self.pairwise_latency, self.unary_latency, self.constant,
            [list(g) for g in self.space.ties] or None,
        )

    def predict(self, config: Genome | Sequence[int]) -> float:
        """Latency (seconds) of a configuration by the MRF terms (equal to the table's whole-network prediction)."""
        g = config if isinstance(config, Genome) else self.space.genome(config)
        x = self.space.choice_of(g)
        total = self.constant + sum(float(self.unary_latency[n][k]) for n, k in enumerate(x))
        total += sum(float(self.pairwise_latency[n - 1][x[n - 1], x[n]]) for n in range(1, len(x)))
        return total

    def min_latency(self) -> float:
        """The fastest configuration's latency (seconds)."""
        return self.mrf([np.zeros(self.space.num_choices)] * self.space.num_nodes).min_latency()

    def max_latency(self) -> float:
        """The widest configuration's latency (seconds)."""
        return self.predict(self.space.widest())
