"""GP kernels and Bayesian optimisation: Gram-matrix speed against a pure-Python reference, and one BO step.

1. Gram matrix of the edit-distance kernel exp(-d/l) over N random genomes of 20 layers (N = 100, 400, 1,000,
   4,000), ours (distances computed in C++, in parallel, then transformed) against a pure-Python weighted
   Levenshtein over layers in the style of early AutoKeras (lists of layer tuples, a full DP table per pair),
   written below. The Python reference is timed on a random subset of pairs and extrapolated to the N(N-1)/2
   pairs of each Gram matrix (said so in the output); the sampled distances must agree exactly with ours.
2. One BO step with 1,000 observations: add the newest observation to the GP (distances of one new row, a
   warm-started hyper-parameter refit), the 10,000-candidate pool (C++ batch mutation of the incumbents plus
   random genomes) with its distances kept between steps, against recomputing them, then predict and maximise
   expected improvement. Timed per kernel.

    python bench/bench_gp.py
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import random
import sys
import time

import numpy as np

from nasaccel._core import Field, Population, SpaceSpec, default_threads
from nasaccel.gp import CandidatePool, EditDistanceKernel, GaussianProcess, HistogramKernel, WLKernel
from nasaccel.strategies.bayesopt import pruned_expected_improvement

GENES = 20
SPEC = SpaceSpec(
    [Field("op", 5), Field("width", 8, True), Field("kernel", 3, True), Field("stride", 2, True)], GENES - 2,
    GENES + 2, 3
)


def machine() -> str:
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs, "
            f"{default_threads()} threads, Python {sys.version.split()[0]}, load average "
            f"{' '.join(f'{v:.1f}' for v in os.getloadavg())}")


# ---------------------------------------------------------------- the pure-Python reference


def to_layers(genome) -> list[tuple]:
    """A genome as AutoKeras-style layer tuples (op, width, kernel, stride, skip offsets), plain Python values."""
    return [tuple(int(v) for v in genome.gene(i)) + (frozenset(genome.skip_offsets(i)),) for i in range(len(genome))]


def plain_fields(spec) -> list[tuple[float, int, bool]]:
    """(cost, size - 1, ordinal) per field as plain Python values, so the reference pays no binding overhead."""
    return [(f.cost, f.size - 1, f.ordinal) for f in spec.fields]


def layer_distance(a: tuple, b: tuple, fields, skip_cost: float) -> float:
    """Substitution cost of one layer by another: field costs (ordinal ones scaled) plus the skip changes."""
    c = 0.0
    for (x, y, (cost, span, ordinal)) in zip(a, b, fields):
        if x != y:
            c += cost * (abs(x - y) / span if ordinal else 1.0)
    return c + skip_cost * len(a[-1] ^ b[-1])


def python_edit_distance(a: list, b: list, fields, skip_cost: float, indel: float) -> float:
    """Weighted Levenshtein over layers with a full DP table, as early AutoKeras's edit distance did."""
    n, m = len(a), len(b)
    table = [[0.0] * (m + 1) for _ in range(n + 1)]
    for i in range(1, n + 1):
        table[i][0] = i * indel
    for j in range(1, m + 1):
        table[0][j] = j * indel
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            table[i][j] = min(table[i - 1][j - 1] + layer_distance(a[i - 1], b[j - 1], fields, skip_cost),
                              table[i - 1][j] + indel, table[i][j - 1] + indel)
    return table[n][m]


def python_gram(layers_a, layers_b, pairs, fields, skip_cost, indel, length_scale):
    return [math.exp(-python_edit_distance(layers_a[i], layers_b[j], fields, skip_cost, indel) / length_scale)
            for i, j in pairs]


# ---------------------------------------------------------------- 1. Gram matrices


def gram_bench(sizes: list[int], pairs_timed: int, repeats: int) -> None:
    print("## Gram matrix of EditDistanceKernel(length_scale=2) (distances + transform)")
    print(f"genomes: random, {GENES - 2}-{GENES + 2} layers, 4 fields, skips up to offset 3\n")
    print("| N | pairs | ours (median of runs) | pure Python (extrapolated) | ratio |")
    print("| --- | --- | --- | --- | --- |")
    fields = plain_fields(SPEC)
    rng = random.Random(0)
    per_pair = None
    for n in sizes:
        pop = Population.random(SPEC, n, seed=n)
        k = EditDistanceKernel(2.0)
        times = []
        for _ in range(repeats if n < 4000 else 1):
            t0 = time.perf_counter()
            K = k(pop)
            times.append(time.perf_counter() - t0)
        ours = float(np.median(times))
        layers = [to_layers(g) for g in pop]
        pairs = [(rng.randrange(n), rng.randrange(n)) for _ in range(pairs_timed)]
        t0 = time.perf_counter()
        ref = python_gram(layers, layers, pairs, fields, SPEC.skip_cost, SPEC.indel_cost, 2.0)
        per_pair = (time.perf_counter() - t0) / pairs_timed
        for (i, j), v in zip(pairs, ref):
            assert abs(K[i, j] - v) <= 1e-12, f"reference disagrees at ({i}, {j}): {K[i, j]} vs {v}"
        npairs = n * (n - 1) // 2
        py_total = per_pair * npairs
        print(f"| {n:,} | {npairs:,} | {ours:.3f} s | {py_total:,.1f} s ({per_pair * 1e6:.0f} us/pair on "
              f"{pairs_timed} pairs) | {py_total / ours:,.0f}x |", flush=True)
    print()


# ---------------------------------------------------------------- 2. one BO step


def bo_step_bench(n_obs: int, pool: int, kernels: dict, repeats: int) -> None:
    print(f"## One BO step with {n_obs:,} observations and a {pool:,}-candidate pool")
    print("(add the newest observation: one new row of distances and a Cholesky factorisation; the candidate pool "
          "(`CandidatePool`: a block of mutants around each of the 10 incumbents + 20% random genomes) with its cross "
          "Gram matrix, either kept between steps (one new column of distances per new observation) or recomputed "
          "from scratch (the peer, same pool, same matrix: asserted); posterior; exact EI argmax. A warm-started "
          "L-BFGS refit of the hyper-parameters (at most 15 iterations) is timed apart, since the strategy refits "
          "every `refit_every` results.)\n")
    print("| kernel | add + Cholesky | pool + cross Gram, kept | pool + cross Gram, recomputed | posterior + EI | "
          "step, kept pool | L-BFGS refit | step with L-BFGS | recomputed / kept |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    obs = Population.random(SPEC, n_obs + repeats, seed=1)
    # A smooth synthetic objective of the architecture: widths and kernels help, depth a little.
    y_all = np.array([sum(g.at(i, 1) + 0.5 * g.at(i, 2) for i in range(len(g))) / len(g) + 0.02 * len(g)
                      for g in obs])
    for name, make in kernels.items():
        rows = []
        gp = GaussianProcess(make(), n_restarts=0, max_iter=15, seed=0)
        gp.fit(obs.subset(np.arange(n_obs - 1)), y_all[: n_obs - 1])
        kept = CandidatePool(gp.kernel, SPEC, pool, 10, 0.2, seed=0, cached=True)
        fresh = CandidatePool(gp.kernel, SPEC, pool, 10, 0.2, seed=0, cached=False)

        def incumbents():
            return [obs[int(i)] for i in np.argsort(-gp._y_raw, kind="stable")[:10]]

        # The loop's earlier steps built the pool's blocks: bring the kept pool to that state, untimed.
        kept.candidates(incumbents(), gp.cache.x, 0)
        for r in range(repeats):
            n = n_obs - 1 + r
            t0 = time.perf_counter()
            gp.add(obs.subset([n]), y_all[n : n + 1], optimize=False)
            t1 = time.perf_counter()
            cands, ks, excluded = kept.candidates(incumbents(), gp.cache.x, r + 1)
            t2 = time.perf_counter()
            # As the strategy does: exact EI argmax, solving only for candidates whose bound can still win.
            score = pruned_expected_improvement(gp, ks, float(gp._y_raw.max()), 0.0, excluded)
            j = int(np.argmax(score))
            t3 = time.perf_counter()
            cands_f, ks_f, excluded_f = fresh.candidates(incumbents(), gp.cache.x, r + 1)
            t4 = time.perf_counter()
            assert cands.texts() == cands_f.texts() and np.array_equal(ks, ks_f) and np.array_equal(excluded, excluded_f)
            assert 0 <= j < len(cands) and not excluded[j]
            t5 = time.perf_counter()
            gp._refit(True)
            t6 = time.perf_counter()
            step = (t1 - t0) + (t2 - t1) + (t3 - t2)
            rows.append([t1 - t0, t2 - t1, t4 - t3, t3 - t2, step, t6 - t5, step + t6 - t5, (t4 - t3) / (t2 - t1)])
        med = np.median(np.array(rows), axis=0)
        print(f"| {name} | " + " | ".join(f"{v:.3f} s" for v in med[:-1]) + f" | {med[-1]:.1f}x |", flush=True)
    print()


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[100, 400, 1000, 4000])
    p.add_argument("--pairs", type=int, default=300, help="pairs the pure-Python reference is timed on")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--observations", type=int, default=1000)
    p.add_argument("--pool", type=int, default=10_000)
    p.add_argument("--skip-gram", action="store_true")
    p.add_argument("--skip-step", action="store_true")
    args = p.parse_args(argv)
    print(f"machine: {machine()}\n")
    if not args.skip_gram:
        gram_bench(args.sizes, args.pairs, args.repeats)
    if not args.skip_step:
        kernels = {
            "WLKernel(2), scaled": lambda: 1.0 * WLKernel(2),
            "EditDistanceKernel, scaled": lambda: 1.0 * EditDistanceKernel(2.0, length_scale_bounds=(1e-2, 1e3)),
            "EditDistanceKernel + HistogramKernel, scaled": lambda: (
                1.0 * EditDistanceKernel(2.0, length_scale_bounds=(1e-2, 1e3)) + 1.0 * HistogramKernel()),
        }
        bo_step_bench(args.observations, args.pool, kernels, args.repeats)
    print(f"load average at the end: {' '.join(f'{v:.1f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
