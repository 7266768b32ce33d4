"""Latency tables: network latency = constant + sum over its layers of T(signature, c_in, c_out).

A *term* is ``(signature, c_in, c_out)``: the signature holds the layer type and every shape
except the channels (op, kernel, stride, input spatial size; skip adapters by stride ratio and
source size; the head by spatial size and classes). A table is fitted from measured networks:
one design-matrix row per network counts the terms it uses, and the term values are the
non-negative least-squares solution (the C++ Lawson-Hanson NNLS, optionally with monotone
constraints: a term does not get cheaper when its channels grow). This is the AOWS /
"sizing networks to hardware" latency model, with measured-in-context terms.

Term keys in files and messages read ``"conv|k3|s1|32x32|16->32"``.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .. import _core
from .descriptions import (
    NB201_EDGES,
    ChainLayer,
    ChainNetwork,
    MacroNetwork,
    NB201Network,
    nb201_cell_liveness,
    size_text,
)

Term = tuple[str, int, int]
CONSTANT: Term = ("const", 0, 0)
TABLE_FORMAT = "nasaccel-latency-table"
# Version 2: 1-D layers are timed as height-1 2-D convolutions (see onnx_builders), so a version-1
# table priced graphs that are no longer built.
TABLE_VERSION = 2


class UnmeasuredTermError(ValueError):
    """A network needs a term that no measured network used, so the table cannot price it."""


def term_key(term: Term) -> str:
    """``"sig|c_in->c_out"``, the text form of a term."""
    return f"{term[0]}|{term[1]}->{term[2]}"


def parse_term_key(key: str) -> Term:
    """Inverse of :func:`term_key`."""
    sig, sep, ch = key.rpartition("|")
    a, arrow, b = ch.partition("->")
    if not sep or not arrow or not a.isdigit() or not b.isdigit():
        raise ValueError(f"term key must read 'signature|c_in->c_out', got {key!r}")
    return (sig, int(a), int(b))


# ----------------------------------------------------------------------------- terms of a description


def chain_layer_terms(layer: ChainLayer) -> Counter[Term]:
    """Terms of one chain layer: its skip adapters and additions, then its op."""
    t: Counter[Term] = Counter()
    size = size_text(layer.in_size)
    for s in layer.skips:
        if s.needs_adapter(layer.c_in, layer.in_size):
            t[(f"adapter|r{s.stride}|{size_text(s.size)}", s.channels, layer.c_in)] += 1
        t[(f"add|{size}", layer.c_in, layer.c_in)] += 1
    if layer.op in ("conv", "dwsep"):
        t[(f"{layer.op}|k{layer.kernel}|s{layer.stride}|{size}", layer.c_in, layer.c_out)] += 1
    elif layer.op in ("maxpool", "avgpool"):
        t[(f"{layer.op}|k{layer.kernel}|s{layer.stride}|{size}", layer.c_in, layer.c_in)] += 1
    return t


def chain_terms(network: ChainNetwork) -> Counter[Term]:
    """Terms of a whole ChainSpace network, with the constant and the head."""
    t: Counter[Term] = Counter({CONSTANT: 1})
    for layer in network.layers:
        t.update(chain_layer_terms(layer))
    t[(f"head|{size_text(network.out_size)}|n{network.num_classes}", network.out_channels, network.num_classes)] += 1
    return t


_NB201_TERM = {"nor_conv_1x1": "conv1x1", "nor_conv_3x3": "conv3x3", "avg_pool_3x3": "avgpool3x3"}
_NB201_CONV = ("nor_conv_1x1", "nor_conv_3x3")


def nb201_cell_events(ops: Sequence[str], input_from_conv: bool, output_to_relu_only: bool) -> Counter[str]:
    """What one NB201 cell runs once ONNX Runtime has fused what it can, by kind.

    Kinds: ``conv1x1``, ``conv3x3``, ``avgpool3x3``; ``relu`` / ``relu.fused`` (a ReLU standing
    alone, or one a convolution can apply as its activation); ``add`` / ``add.fused`` (an
    addition standing alone, or one a convolution can take as its summand).

    ONNX Runtime's CPU graph optimiser (the NCHWc transformer on x86) fuses an addition into a
    convolution whose output feeds only that addition, and a ReLU into a convolution whose
    output feeds only ReLUs; identical ReLUs and pools of one tensor and repeated partial sums
    are merged (common subexpressions); an addition with a folded constant stays in the plain
    layout and stops the fusions after it.
    Whether these fusions apply depends on the cell's wiring, not only on its ops, so the
    latency table prices fused and standalone ReLUs and additions as separate terms (on a
    device that does not fuse, the fit gives both kinds similar values).

    Parameters
    ----------
    ops
        The six edge ops.
    input_from_conv
        Whether the cell input is produced by a convolution that can still take an activation
        (the stem, a reduction block, or a previous cell ending in a convolution).
    output_to_relu_only
        Whether the cell output feeds only ReLUs (the next cell reads it through conv edges only);
        the last cell of a stage feeds a reduction block (ReLU and pooling) or the final BN.
    """
    return _nb201_cell(ops, "conv" if input_from_conv else "plain", output_to_relu_only)[0]


def _nb201_cell(ops: Sequence[str], input_state: str, output_to_relu_only: bool) -> tuple[Counter[str], str]:
    """:func:`nb201_cell_events` from the cell input's layout state; also returns the cell output's state."""
    depends, needed = nb201_cell_liveness(ops)
    ev: Counter[str] = Counter()
    # alias[i]: the node whose tensor node i is (skip_connect as a node's only input passes it on).
    alias = [0, 1, 2, 3]
    # state[i] of node i's tensor: "conv" (a convolution's output, free to take a summand and an
    # activation), "conv+sum" (took a summand), "plain" (a pool or a standalone addition),
    # "nchw" (an addition with a folded constant: ONNX Runtime leaves it out of the blocked layout).
    state = [input_state, "plain", "plain", "plain"]
    live_edges = [(to, frm, op) for (to, frm), op in zip(NB201_EDGES, ops) if op != "none" and needed[to] and depends[frm]]
    seen: dict[Any, str] = {}
    for to in (1, 2, 3):
        if not (needed[to] and depends[to]):
            continue
        into = [(frm, op) for (t, frm), op in zip(NB201_EDGES, ops) if t == to and op != "none"]
        if len(into) == 1 and into[0][1] == "skip_connect":
            alias[to] = alias[into[0][0]]
            state[to] = state[alias[to]]
            continue
        # Each input as (kind, expression): identical expressions are computed once (ONNX Runtime
        # merges common subexpressions: a pool of one tensor on two edges, a repeated partial sum).
        parts: list[tuple[str, Any]] = []
        for (t, frm), op in zip(NB201_EDGES, ops):
            if t != to or op == "none":
                continue
            if not depends[frm]:
                parts.append(("const", ("const", to, frm)))  # folded to a constant by ONNX Runtime
            elif op in _NB201_CONV:
                ev[_NB201_TERM[op]] += 1
                parts.append(("conv", ("conv", to, frm)))
            elif op == "avg_pool_3x3":
                key = ("pool", alias[frm])
                if key not in seen:
                    ev["avgpool3x3"] += 1
                    seen[key] = "plain"
                parts.append(("plain", key))
            else:
                src = alias[frm]
                readers = sum(1 for (_, f, _) in live_edges if alias[f] == src)
                # A convolution whose output feeds only this addition can take the other side as its summand.
                kind = "conv" if state[src] == "conv" and readers == 1 else ("nchw" if state[src] == "nchw" else "plain")
                parts.append((kind, ("tensor", src)))
        # Sum in edge order; a binary addition fuses into a fresh convolution on either side unless a
        # folded constant (or a sum with one) takes part.
        acc, acc_key = parts[0]
        for y, y_key in parts[1:]:
            key = ("add", acc_key, y_key)
            if key in seen:
                acc, acc_key = seen[key], key
                continue
            if "const" in (acc, y) or "nchw" in (acc, y):
                ev["add"] += 1
                acc = "nchw"
            elif acc == "conv" or y == "conv":
                ev["add.fused"] += 1
                acc = "conv+sum"
            else:
                ev["add"] += 1
                acc = "plain"
            seen[key] = acc
            acc_key = key
        state[to] = acc
    ends_conv = [x in ("conv", "conv+sum") for x in state]
    # ReLUs: one per distinct tensor read by a conv edge (merged), fused when the tensor ends in a
    # convolution and feeds nothing but ReLUs.
    readers: dict[int, set[str]] = {}
    for (to, frm), op in zip(NB201_EDGES, ops):
        if op == "none" or not needed[to] or not depends[frm]:
            continue
        if op == "skip_connect" and alias[to] == alias[frm]:
            continue  # the pass-through itself reads nothing
        readers.setdefault(alias[frm], set()).add("relu" if op in _NB201_CONV else "other")
    out = alias[3]
    readers.setdefault(out, set()).add("relu-only-out" if output_to_relu_only else "other")
    for tensor, kinds in readers.items():
        if "relu" not in kinds:
            continue
        exclusive = kinds <= {"relu", "relu-only-out"}
        ev["relu.fused" if exclusive and ends_conv[tensor] else "relu"] += 1
    return ev, state[out]


def _nb201_reads_input_by_relu_only(ops: Sequence[str]) -> bool:
    """Whether a cell reads its input through conv edges only (and does not pass it on as its output)."""
    depends, needed = nb201_cell_liveness(ops)
    kinds = {("relu" if op in _NB201_CONV else "other") for (to, frm), op in zip(NB201_EDGES, ops)
             if frm == 0 and op != "none" and needed[to]}
    return kinds == {"relu"}


def nb201_terms(network: NB201Network) -> Counter[Term]:
    """Terms of an NAS-Bench-201 network: per stage, what its cells run after fusion (:func:`nb201_cell_events`).

    Ops on constant nodes (fed only by ``none`` edges) are folded away by ONNX Runtime and
    edges into nodes that never reach the cell output are not built, so neither counts. A
    cell that cuts its input from its output makes the whole network constant: only the
    constant term is left.
    """
    relu_only = _nb201_reads_input_by_relu_only(network.ops)
    cell_input = "conv"

    def stage_terms(t: Counter[Term], c: int, size: str) -> None:
        nonlocal cell_input
        cell_input = "conv"  # the stem and the reduction blocks end in a convolution (the reduction's sum is fused)
        for k in range(network.cells_per_stage):
            last = k == network.cells_per_stage - 1
            ev, cell_input = _nb201_cell(network.ops, cell_input, relu_only and not last)
            for kind, n in ev.items():
                t[(f"nb201.{kind}|{size}", c, c)] += n

    def final_terms(t: Counter[Term], size: str) -> None:
        if cell_input == "nchw":
            # The final BN-ReLU reads a plain-layout tensor: it stays a BN and a ReLU instead of a fused conv.
            t[(f"nb201.lastact.nchw|{size}", 4 * network.channels, 4 * network.channels)] += 1

    return _nb201_network_terms(network, stage_terms, final_terms)


def _nb201_network_terms(
    network: NB201Network,
    stage_terms: Callable[[Counter[Term], int, str], None],
    final_terms: Callable[[Counter[Term], str], None] | None = None,
) -> Counter[Term]:
    """The frame both NB201 models share, in this order: the constant, the stem, per stage its reduction block (from
    the second stage on) then ``stage_terms(t, channels, size)``, then ``final_terms(t, last size)`` and the head.

    A cell that cuts its input from its output makes the whole network constant: only the constant term is left.
    (The order is the order of a table's columns, so it is kept fixed.)
    """
    t: Counter[Term] = Counter({CONSTANT: 1})
    depends, _ = nb201_cell_liveness(network.ops)
    if not depends[3]:
        return t
    h, w = network.input_shape[1:]
    t[(f"nb201.stem|{h}x{w}", network.input_shape[0], network.channels)] += 1
    for stage, (c, hw) in enumerate(network.stage_shapes()):
        if stage > 0:
            t[(f"nb201.reduction|{size_text((hw[0] * 2, hw[1] * 2))}", c // 2, c)] += 1
        stage_terms(t, c, size_text(hw))
    size = size_text(network.stage_shapes()[-1][1])
    if final_terms is not None:
        final_terms(t, size)
    t[(f"nb201.head|{size}|n{network.num_classes}", 4 * network.channels, network.num_classes)] += 1
    return t


def nb201_op_terms(network: NB201Network) -> Counter[Term]:
    """The first NB201 model, per op without fusion: cell ops, one ReLU per source node, one addition per extra input.

    Kept to compare against :func:`nb201_terms` on the same measurements (``bench/bench_latency.py``).
    """
    depends, needed = nb201_cell_liveness(network.ops)

    def stage_terms(t: Counter[Term], c: int, size: str) -> None:
        relu_sources = {
            frm
            for (to, frm), op in zip(NB201_EDGES, network.ops)
            if needed[to] and depends[frm] and op in _NB201_CONV
        }
        if relu_sources:
            t[(f"nb201.relu|{size}", c, c)] += len(relu_sources) * network.cells_per_stage
        for to in (1, 2, 3):
            if not (needed[to] and depends[to]):
                continue
            inputs = 0
            for (tt, frm), op in zip(NB201_EDGES, network.ops):
                if tt != to or op == "none":
                    continue
                inputs += 1
                if depends[frm] and op in _NB201_TERM:
                    t[(f"nb201.{_NB201_TERM[op]}|{size}", c, c)] += network.cells_per_stage
            if inputs > 1:
                t[(f"nb201.add|{size}", c, c)] += (inputs - 1) * network.cells_per_stage

    return _nb201_network_terms(network, stage_terms)


def macro_terms(network: MacroNetwork) -> Counter[Term]:
    """Terms of a NAS-Bench-Macro network: stem, each block that runs (by type, stride and input size), head.

    An identity that keeps the shape runs nothing and has no term.
    """
    t: Counter[Term] = Counter({CONSTANT: 1})
    h, w = network.input_shape[1:]
    t[(f"macro.stem|{h}x{w}", network.input_shape[0], network.stem_channels)] += 1
    for x in network.layers():
        if x["block"] == "identity" and x["stride"] == 1 and x["c_in"] == x["c_out"]:
            continue
        t[(f"macro.{x['block']}|s{x['stride']}|{size_text(x['in_size'])}", x["c_in"], x["c_out"])] += 1
    sig = f"macro.head|{size_text(network.out_size)}|h{network.head_channels}|n{network.num_classes}"
    t[(sig, network.out_channels, network.num_classes)] += 1
    return t


ISOLATED_CALL: Term = ("isolated_call", 0, 0)


def chain_term_examples(network: ChainNetwork) -> dict[Term, Any]:
    """For each term of a chain network, a description that runs that term alone.

    Op terms map to the layer without its skips, adapter terms to an identity layer fed by
    that skip (adapter plus addition), addition terms to an identity layer with a same-shape
    skip, the head to a network without layers. Their isolated timings serve as priors in
    :meth:`LatencyTable.fit` (one extra unknown, :data:`ISOLATED_CALL`, absorbs the per-call cost).
    """
    from .descriptions import SkipInput

    out: dict[Term, Any] = {}
    for layer in network.layers:
        for t in chain_layer_terms(ChainLayer(layer.op, layer.c_in, layer.c_out, layer.kernel, layer.stride, layer.in_size)):
            out.setdefault(t, ChainLayer(layer.op, layer.c_in, layer.c_out, layer.kernel, layer.stride, layer.in_size))
        for s in layer.skips:
            src = SkipInput(0, s.channels, s.stride, s.size)
            if s.needs_adapter(layer.c_in, layer.in_size):
                key = (f"adapter|r{s.stride}|{size_text(s.size)}", s.channels, layer.c_in)
                out.setdefault(key, ChainLayer("identity", layer.c_in, layer.c_in, 1, 1, layer.in_size, (src,)))
            key = (f"add|{size_text(layer.in_size)}", layer.c_in, layer.c_in)
            same = SkipInput(0, layer.c_in, 1, layer.in_size)
            out.setdefault(key, ChainLayer("identity", layer.c_in, layer.c_in, 1, 1, layer.in_size, (same,)))
    head = (f"head|{size_text(network.out_size)}|n{network.num_classes}", network.out_channels, network.num_classes)
    out.setdefault(head, ChainNetwork((network.out_channels,) + tuple(network.out_size), network.num_classes, ()))
    return out


def isolated_terms(example: Any) -> Counter[Term]:
    """Terms of an isolated-term example: its own terms (no constant) plus one :data:`ISOLATED_CALL`."""
    t = terms_of(example)
    t.pop(CONSTANT, None)
    t[ISOLATED_CALL] = 1
    return t


def terms_of(description: Any) -> Counter[Term]:
    """Term counts of a ChainNetwork, ChainLayer (no constant, no head) or NB201Network."""
    if isinstance(description, ChainNetwork):
        return chain_terms(description)
    if isinstance(description, NB201Network):
        return nb201_terms(description)
    if isinstance(description, ChainLayer):
        return chain_layer_terms(description)
    if isinstance(description, MacroNetwork):
        return macro_terms(description)
    if isinstance(description, Mapping):
        return Counter({(tuple(k) if not isinstance(k, str) else parse_term_key(k)): v for k, v in description.items()})
    raise ValueError(
        f"cannot list latency terms of {type(description).__name__}: expected ChainNetwork, NB201Network, MacroNetwork, "
        "ChainLayer or a mapping of terms to counts"
    )


def monotone_pairs(terms: Sequence[Term]) -> list[tuple[int, int]]:
    """Index pairs ``(lo, hi)`` asking ``value[hi] >= value[lo]``: same signature, more channels.

    Within a signature, terms with the same c_in are chained by increasing c_out and terms
    with the same c_out by increasing c_in; where every term of a signature has
    c_in == c_out (pools, additions, NB201 ops), they are chained by channels. Only
    neighbours are paired; transitivity gives the rest.
    """
    by_sig: dict[str, list[int]] = {}
    for i, t in enumerate(terms):
        if t != CONSTANT:
            by_sig.setdefault(t[0], []).append(i)
    pairs: list[tuple[int, int]] = []

    def chain(indices: list[int], key: Any) -> None:
        indices = sorted(indices, key=key)
        for a, b in zip(indices, indices[1:]):
            if key(a) != key(b):
                pairs.append((a, b))

    for idx in by_sig.values():
        if all(terms[i][1] == terms[i][2] for i in idx):
            chain(idx, lambda i: terms[i][1])
            continue
        groups_in: dict[int, list[int]] = {}
        groups_out: dict[int, list[int]] = {}
        for i in idx:
            groups_in.setdefault(terms[i][1], []).append(i)
            groups_out.setdefault(terms[i][2], []).append(i)
        for g in groups_in.values():
            chain(g, lambda i: terms[i][2])
        for g in groups_out.values():
            chain(g, lambda i: terms[i][1])
    return pairs


# ----------------------------------------------------------------------------- the table


class LatencyTable:
    """Fitted term values (seconds) with their coverage, the device and the space they describe.

    Build one with :meth:`fit` (or :func:`nasaccel.latency.profile_space`), price a network
    with :meth:`predict`, keep it with :meth:`save` / :meth:`load`.
    """

    def __init__(
        self,
        terms: Sequence[Term],
        values: Sequence[float],
        coverage: Sequence[int],
        *,
        device: Mapping[str, Any] | None = None,
        space: Mapping[str, Any] | None = None,
        fit_info: Mapping[str, Any] | None = None,
        measurements: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        terms = [(str(t[0]), int(t[1]), int(t[2])) for t in terms]
        if len(set(terms)) != len(terms):
            raise ValueError("terms repeat")
        values = np.asarray(values, dtype=float)
        coverage = np.asarray(coverage, dtype=int)
        if values.shape != (len(terms),) or coverage.shape != (len(terms),):
            raise ValueError(
                f"values ({values.shape}) and coverage ({coverage.shape}) must have one entry per term ({len(terms)})"
            )
        if not np.all(np.isfinite(values)):
            raise ValueError(f"values must be finite, got {values[~np.isfinite(values)][:3]}")
        self.terms = terms
        self.values = values
        self.coverage_counts = coverage
        self.index = {t: i for i, t in enumerate(terms)}
        self.device = dict(device or {})
        self.space = dict(space or {})
        self.fit_info = dict(fit_info or {})
        self.measurements = [dict(m) for m in (measurements or [])]

    # -- fitting

    @classmethod
    def fit(
        cls,
        term_counts: Sequence[Mapping[Term, float]],
        latencies: Sequence[float],
        *,
        monotone: bool = False,
        relative: bool = True,
        ridge: float = 1e-12,
        device: Mapping[str, Any] | None = None,
        space: Mapping[str, Any] | None = None,
        descriptions: Sequence[Any] | None = None,
        prior_counts: Sequence[Mapping[Term, float]] | None = None,
        prior_latencies: Sequence[float] | None = None,
        prior_weight: float = 0.3,
    ) -> LatencyTable:
        """Fit term values to measured networks.

        Parameters
        ----------
        term_counts
            Per measured network, its term counts (:func:`terms_of`).
        latencies
            Measured latency of each network, seconds, positive.
        monotone
            Add the :func:`monotone_pairs` constraints (solved exactly, see ``_core.monotone_nnls``).
        relative
            Weight each row by 1 / latency, so the fit minimises relative errors (what MAPE measures).
        ridge
            Tiny ridge of the monotone solve (keeps it well posed when terms are confounded).
        prior_counts, prior_latencies, prior_weight
            Optional extra rows, e.g. isolated-term timings (:func:`isolated_terms`), weighted by
            ``prior_weight`` against the network rows: they pin terms the networks leave
            undetermined while the in-context network rows dominate where they decide.
        """
        lat = np.asarray(latencies, dtype=float)
        if len(term_counts) != lat.shape[0] or lat.ndim != 1:
            raise ValueError(f"{len(term_counts)} term rows but latencies has shape {lat.shape}")
        if lat.shape[0] == 0:
            raise ValueError("no measurements to fit")
        bad = np.flatnonzero(~(np.isfinite(lat) & (lat > 0)))
        if bad.size:
            raise ValueError(f"latency {lat[bad[0]]!r} of measurement {bad[0]} is not a positive finite number")
        terms: list[Term] = []
        index: dict[Term, int] = {}
        rows = []
        for counts in term_counts:
            row = []
            for t, c in counts.items():
                if c == 0:
                    continue
                if t not in index:
                    index[t] = len(terms)
                    terms.append(t)
                row.append((index[t], float(c)))
            rows.append(row)
        n_net = len(rows)
        plat = np.asarray(prior_latencies if prior_latencies is not None else [], dtype=float)
        prior_counts = list(prior_counts or [])
        if len(prior_counts) != plat.shape[0]:
            raise ValueError(f"{len(prior_counts)} prior rows but {plat.shape[0]} prior latencies")
        if plat.size and not np.all(np.isfinite(plat) & (plat > 0)):
            raise ValueError("prior latencies must be positive and finite")
        if not (prior_weight >= 0):
            raise ValueError(f"prior_weight must be >= 0, got {prior_weight!r}")
        for counts in prior_counts:
            row = []
            for t, c in counts.items():
                if c == 0:
                    continue
                if t not in index:
                    index[t] = len(terms)
                    terms.append(t)
                row.append((index[t], float(c)))
            rows.append(row)
        A_all = _core.design_matrix(rows, len(terms))
        A = A_all[:n_net]
        coverage = _core.term_coverage(rows[:n_net], len(terms)).astype(int)
        b_all = np.concatenate([lat, plat])
        w = 1.0 / b_all if relative else np.ones_like(b_all)
        w[n_net:] *= prior_weight
        Aw, bw = A_all * w[:, None], b_all * w
        if monotone:
            pairs = monotone_pairs(terms)
            res = _core.monotone_nnls(Aw, bw, pairs, ridge=ridge)
        else:
            pairs = []
            res = _core.nnls(Aw, bw)
        pred = A @ res.x
        rel = np.abs(pred - lat) / lat
        fit_info = {
            "method": "monotone_nnls" if monotone else "nnls",
            "relative": relative,
            "monotone_pairs": len(pairs),
            "n_measurements": int(lat.shape[0]),
            "n_terms": len(terms),
            "n_prior_rows": int(plat.size),
            "prior_weight": float(prior_weight) if plat.size else 0.0,
            "rank": int(np.linalg.matrix_rank(A)) if A.size else 0,
            "converged": bool(res.converged),
            "train_mape": float(np.mean(rel)),
            "train_within_10": float(np.mean(rel <= 0.10)),
        }
        meas = [
            {"terms": {term_key(t): float(c) for t, c in counts.items() if c}, "latency_s": float(v)}
            for counts, v in zip(term_counts, lat)
        ]
        if descriptions is not None:
            for m, d in zip(meas, descriptions):
                if hasattr(d, "to_dict"):
                    m["description"] = d.to_dict()
        return cls(terms, res.x, coverage, device=device, space=space, fit_info=fit_info, measurements=meas)

    # -- prediction

    def predict_terms(self, counts: Mapping[Term, float]) -> float:
        """Latency (seconds) of a network given its term counts."""
        total = 0.0
        for t, c in counts.items():
            if c == 0:
                continue
            i = self.index.get(t)
            if i is None or self.coverage_counts[i] == 0:
                raise UnmeasuredTermError(
                    f"the network needs term {term_key(t)!r}, which no measured network used; "
                    "profile networks that use it (or widen the profiled space)"
                )
            total += c * self.values[i]
        return float(total)

    def predict(self, description: Any) -> float:
        """Predicted latency (seconds) of a ChainNetwork / NB201Network (or a term-count mapping).

        Raises
        ------
        UnmeasuredTermError
            (a ValueError) naming the first term the table never measured.
        """
        return self.predict_terms(terms_of(description))

    def predict_many(self, descriptions: Iterable[Any]) -> np.ndarray:
        return np.array([self.predict(d) for d in descriptions])

    def can_predict(self, description: Any) -> bool:
        try:
            self.predict(description)
        except UnmeasuredTermError:
            return False
        return True

    def value(self, term: Term | str) -> float:
        t = parse_term_key(term) if isinstance(term, str) else tuple(term)
        if t not in self.index:
            raise UnmeasuredTermError(f"term {term_key(t)!r} is not in the table")  # type: ignore[arg-type]
        return float(self.values[self.index[t]])  # type: ignore[index]

    # -- coverage

    def coverage(self) -> dict[str, int]:
        """Number of measured networks using each term, by term key."""
        return {term_key(t): int(c) for t, c in zip(self.terms, self.coverage_counts)}

    def coverage_summary(self) -> dict[str, Any]:
        """Terms, measurements, and how thinly the least-covered terms are measured."""
        cov = self.coverage_counts[[i for i, t in enumerate(self.terms) if t != CONSTANT]]
        if cov.size == 0:
            return {"terms": 0, "measurements": len(self.measurements)}
        return {
            "terms": int(cov.size),
            "measurements": len(self.measurements),
            "min": int(cov.min()),
            "median": float(np.median(cov)),
            "max": int(cov.max()),
            "share_at_least_3": float(np.mean(cov >= 3)),
            "least_covered": [term_key(self.terms[i]) for i in np.argsort(self.coverage_counts)[:5] if self.terms[i] != CONSTANT],
        }

    # -- files

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": TABLE_FORMAT,
            "version": TABLE_VERSION,
            "unit": "seconds",
            "device": self.device,
            "space": self.space,
            "fit": self.fit_info,
            "terms": [
                {"key": term_key(t), "signature": t[0], "c_in": t[1], "c_out": t[2], "value_s": float(v), "coverage": int(c)}
                for t, v, c in zip(self.terms, self.values, self.coverage_counts)
            ],
            "measurements": self.measurements,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LatencyTable:
        if d.get("format") != TABLE_FORMAT:
            raise ValueError(f"not a latency table: format is {d.get('format')!r}, expected {TABLE_FORMAT!r}")
        if d.get("version") == 1:
            raise ValueError(
                "latency table version 1 was measured on ONNX graphs that ran 1-D layers as (N, C, L) convolutions; "
                f"this version of nasaccel builds them as height-1 2-D convolutions: profile the space again (version {TABLE_VERSION})"
            )
        if d.get("version") != TABLE_VERSION:
            raise ValueError(f"latency table version {d.get('version')!r} is not supported (expected {TABLE_VERSION})")
        terms = [(e["signature"], e["c_in"], e["c_out"]) for e in d["terms"]]
        return cls(
            terms,
            [e["value_s"] for e in d["terms"]],
            [e["coverage"] for e in d["terms"]],
            device=d.get("device"),
            space=d.get("space"),
            fit_info=d.get("fit"),
            measurements=d.get("measurements"),
        )

    def save(self, path: str | Path) -> None:
        """Write the table as JSON (terms, values, coverage, device, space, fit, measurements)."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=1, allow_nan=False), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> LatencyTable:
        try:
            d = json.loads(Path(path).read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise ValueError(f"{str(path)!r} is not JSON: {e}") from None
        return cls.from_dict(d)

    def __repr__(self) -> str:
        return f"LatencyTable({len(self.terms)} terms, {len(self.measurements)} measurements, fit={self.fit_info.get('method')})"


def error_stats(predicted: Sequence[float], measured: Sequence[float]) -> dict[str, float]:
    """MAPE, share within +-10 % and +-5 %, and the worst relative error."""
    p = np.asarray(predicted, float)
    m = np.asarray(measured, float)
    if p.shape != m.shape or p.size == 0:
        raise ValueError(f"predicted {p.shape} and measured {m.shape} must be non-empty and alike")
    rel = np.abs(p - m) / m
    return {
        "n": int(p.size),
        "mape": float(np.mean(rel)),
        "within_10": float(np.mean(rel <= 0.10)),
        "within_5": float(np.mean(rel <= 0.05)),
        "max_rel_error": float(rel.max()),
        "median_rel_error": float(np.median(rel)),
        "mean_signed_rel_error": float(np.mean((p - m) / m)),
    }


__all__ = [
    "CONSTANT",
    "LatencyTable",
    "Term",
    "UnmeasuredTermError",
    "chain_layer_terms",
    "chain_terms",
    "error_stats",
    "macro_terms",
    "monotone_pairs",
    "nb201_cell_events",
    "nb201_op_terms",
    "nb201_terms",
    "parse_term_key",
    "term_key",
    "terms_of",
]
