"""Genome operators benchmark: nasaccel batch operators and distance matrix against their peers.

(a) children per second: DEAP's own idiom (toolbox.clone + tools.mutUniformInt with indpb = 1/20, and
    toolbox.clone + tools.cxTwoPoint) against Population.mutate / Population.crossover("two_point").
(b) the full pairwise edit-distance matrix of 1,000 random 20-gene genomes: Population.distance_matrix
    against a pure-Python Levenshtein over layers in the style of early AutoKeras (per-pair numpy table,
    Python loops), timed on a sample of pairs and extrapolated to the matrix's 499,500 pairs.

Our children are made in batches of 10,000 (a large NAS population; 4.8 MB of genes) and stay in C++
memory, dropped before the next batch as in a generation loop.

Run: python bench/bench_genome.py  (add --quick for a short smoke run)
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time

import numpy as np

from machine import machine_line
from nasaccel._core import Field, MutationWeights, Population, SpaceSpec, default_threads

GENES = 20
POP = 1000
# A ChainSpace-like spec: op categorical, width/kernel/stride ordinal, skips up to offset 3, exactly 20 genes.
SPEC = SpaceSpec(
    [Field("op", 5), Field("width", 8, True), Field("kernel", 3, True), Field("stride", 2, True)], GENES, GENES, 3
)


def machine() -> str:
    return f"{machine_line()}\nnasaccel threads (0 = all): {default_threads()}"

def timed(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


# ---------------------------------------------------------------- (a) DEAP versus batch operators


def deap_rates(children: int, repeats: int) -> tuple[float, float, str]:
    import deap
    from deap import base, creator, tools

    if not hasattr(creator, "FitnessMax"):
        creator.create("FitnessMax", base.Fitness, weights=(1.0,))
        creator.create("Individual", list, fitness=creator.FitnessMax)
    # One int per layer: the index of its (op, width, kernel, stride) tuple, 5*8*3*2 = 240 values.
    values = 5 * 8 * 3 * 2
    toolbox = base.Toolbox()
    toolbox.register("gene", random.randrange, values)
    toolbox.register("individual", tools.initRepeat, creator.Individual, toolbox.gene, GENES)
    toolbox.register("mutate", tools.mutUniformInt, low=0, up=values - 1, indpb=1.0 / GENES)
    toolbox.register("mate", tools.cxTwoPoint)
    random.seed(0)
    pop = [toolbox.individual() for _ in range(POP)]
    for ind in pop:
        ind.fitness.values = (0.0,)

    def mutate_all():
        # varAnd's idiom: clone, mutate, invalidate the fitness.
        for k in range(children):
            child = toolbox.clone(pop[k % POP])
            (child,) = toolbox.mutate(child)
            del child.fitness.values

    def mate_all():
        for k in range(0, children, 2):
            c1, c2 = toolbox.clone(pop[k % POP]), toolbox.clone(pop[(k * 7 + 1) % POP])
            toolbox.mate(c1, c2)
            del c1.fitness.values
            del c2.fitness.values

    mut = statistics.median(timed(mutate_all, repeats))
    cx = statistics.median(timed(mate_all, repeats))
    return children / mut, children / cx, deap.__version__


def ours_rates(batch: int, batches: int, repeats: int, threads: int) -> tuple[float, float, float]:
    """Children per second of batch mutate (point only, default weights) and two-point crossover."""
    pop = Population.random(SPEC, POP, seed=0)
    rng = np.random.default_rng(0)
    parents = rng.integers(0, POP, batch)
    mates = rng.integers(0, POP, batch)
    point_only = MutationWeights(point=1.0, insert=0.0, delete=0.0, add_skip=0.0, remove_skip=0.0, move_skip=0.0)
    default = MutationWeights()

    def run(make):
        # Each batch's children are dropped before the next one, as a generation loop does.
        for seed in range(batches):
            make(seed)

    t_point = statistics.median(timed(lambda: run(lambda s: pop.mutate(parents, s, point_only, threads)), repeats))
    t_mixed = statistics.median(timed(lambda: run(lambda s: pop.mutate(parents, s, default, threads)), repeats))
    t_cx = statistics.median(
        timed(lambda: run(lambda s: pop.crossover(parents, mates, "two_point", s, threads)), repeats))
    n = batch * batches
    return n / t_point, n / t_mixed, n / t_cx


# ---------------------------------------------------------------- (b) distance matrix versus pure Python


class Layer:
    """A layer object as early AutoKeras kept them: attributes read one by one in the distance."""

    __slots__ = ("op", "width", "kernel", "stride", "skips")

    def __init__(self, op, width, kernel, stride, skips):
        self.op, self.width, self.kernel, self.stride, self.skips = op, width, kernel, stride, skips


def layer_distance(a: Layer, b: Layer) -> float:
    """Same costs as the spec: op 1 if different, ordinal fields scaled by their range, 1 per differing skip."""
    d = 0.0 if a.op == b.op else 1.0
    d += abs(a.width - b.width) / 7.0
    d += abs(a.kernel - b.kernel) / 2.0
    d += abs(a.stride - b.stride) / 1.0
    d += len(a.skips ^ b.skips)
    return d


def layers_distance(list_a: list, list_b: list, indel: float = 4.0) -> float:
    """Levenshtein over layers with a numpy table filled by Python loops (early AutoKeras style)."""
    len_a, len_b = len(list_a), len(list_b)
    f = np.zeros((len_a + 1, len_b + 1))
    for i in range(len_a + 1):
        f[i][0] = i * indel
    for j in range(len_b + 1):
        f[0][j] = j * indel
    for i in range(1, len_a + 1):
        for j in range(1, len_b + 1):
            f[i][j] = min(
                f[i][j - 1] + indel,
                f[i - 1][j] + indel,
                f[i - 1][j - 1] + layer_distance(list_a[i - 1], list_b[j - 1]),
            )
    return float(f[len_a][len_b])


def to_layers(genome) -> list[Layer]:
    genes = genome.genes.tolist()
    return [Layer(*g, set(genome.skip_offsets(i))) for i, g in enumerate(genes)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    args = parser.parse_args()
    deap_children = 2_000 if args.quick else 40_000
    batch, batches = 10_000, (2 if args.quick else 20)
    sample_pairs = 20 if args.quick else 400
    repeats = 2 if args.quick else 5

    print("== nasaccel genome operators benchmark ==")
    print(machine())
    print(f"command: {' '.join([os.path.basename(sys.executable)] + sys.argv)}")
    print()

    print(f"(a) children per second, 20-gene genomes, median of {repeats} rounds")
    # DEAP and ours alternate round by round, so that a change of load on a shared machine hits both; the
    # ratios are medians of the per-round ratios.
    rounds = []
    for _ in range(repeats):
        deap_mut, deap_cx, deap_version = deap_rates(deap_children, 1)
        one = ours_rates(batch, batches, 1, threads=1)
        every = ours_rates(batch, batches, 1, threads=0)
        rounds.append((deap_mut, deap_cx, one, every))
    med = statistics.median
    deap_mut, deap_cx = med(r[0] for r in rounds), med(r[1] for r in rounds)
    one = tuple(med(r[2][k] for r in rounds) for k in range(3))
    every = tuple(med(r[3][k] for r in rounds) for k in range(3))

    def ratio(k: int, which: int) -> float:
        return med(r[which][k] / (r[0] if k < 2 else r[1]) for r in rounds)

    print(f"  DEAP {deap_version}: individual = list of 20 ints (layer tuple index), {deap_children} children per run")
    print(f"  ours: Population of {POP} genomes (20 genes x 4 fields + skip masks), {batches} batches of {batch} "
          f"children per run, children kept in C++")
    print(f"  clone+mutate  DEAP mutUniformInt(indpb=1/20):       {deap_mut:14,.0f} children/s")
    for label, rates, which in ((f"threads=0 ({default_threads()})", every, 3), ("threads=1", one, 2)):
        print(f"                ours mutate point only, {label:13}: {rates[0]:14,.0f} children/s  "
              f"ratio {ratio(0, which):7.1f}x")
        print(f"                ours mutate default w., {label:13}: {rates[1]:14,.0f} children/s  "
              f"ratio {ratio(1, which):7.1f}x")
    print(f"  clone+mate    DEAP cxTwoPoint:                      {deap_cx:14,.0f} children/s")
    for label, rates, which in ((f"threads=0 ({default_threads()})", every, 3), ("threads=1", one, 2)):
        print(f"                ours two_point,         {label:13}: {rates[2]:14,.0f} children/s  "
              f"ratio {ratio(2, which):7.1f}x")
    print(f"  load average after (a): {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print()

    print(f"(b) full pairwise edit-distance matrix, {POP} random {GENES}-gene genomes ({POP * (POP - 1) // 2} pairs)")
    pop = Population.random(SPEC, POP, seed=1)
    t_one = timed(lambda: pop.distance_matrix(threads=1), repeats)
    t_all = timed(lambda: pop.distance_matrix(threads=0), repeats)
    d = pop.distance_matrix()
    print(f"  ours distance_matrix(threads=1): median {statistics.median(t_one):.4f} s, best {min(t_one):.4f} s")
    print(f"  ours distance_matrix(threads=0 -> {default_threads()}): median {statistics.median(t_all):.4f} s, "
          f"best {min(t_all):.4f} s  (target <= 0.3 s on 2 cores)")
    layers = [to_layers(pop[i]) for i in range(POP)]
    prng = random.Random(0)
    pairs = [tuple(prng.sample(range(POP), 2)) for _ in range(sample_pairs)]
    start = time.perf_counter()
    py = [layers_distance(layers[i], layers[j]) for i, j in pairs]
    per_pair = (time.perf_counter() - start) / sample_pairs
    worst = max(abs(p - d[i, j]) for p, (i, j) in zip(py, pairs))
    full = per_pair * (POP * (POP - 1) // 2)
    print(f"  pure-Python Levenshtein over layers: {per_pair * 1e6:.1f} us per pair, timed on {sample_pairs} sampled "
          f"pairs and EXTRAPOLATED to the {POP * (POP - 1) // 2} pairs: {full:.1f} s")
    print(f"  (largest difference from our matrix on the sampled pairs: {worst:.2e})")
    print(f"  ratio pure Python / ours (threads=0, median): {full / statistics.median(t_all):,.0f}x")
    print(f"load average at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
