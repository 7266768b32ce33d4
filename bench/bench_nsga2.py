"""NSGA-II environmental selection: nasaccel._core.select_nsga2 against DEAP's tools.selNSGA2.

Usage: python bench/bench_nsga2.py [--n 10000] [--k 5000] [--standard-n 2000] [--repeats 5]

Both sides select from the same random population (objectives uniform in [0, 1), minimised) and
must return the same individuals in the same order; the script checks that before timing. Ours
is timed from the (n, m) numpy array, DEAP's from its list of individuals (building the list is
not timed). DEAP's nd='standard' is O(m n^2) in pure Python, so it runs on --standard-n points.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np

from machine import machine_line
from nasaccel import _core


def machine() -> str:
    import deap

    return machine_line(deap=deap.__version__)

def timings(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """(best, median) wall seconds per call; the best is the least disturbed by other load."""
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times), statistics.median(times)


def deap_population(objectives: np.ndarray) -> list:
    from deap import base

    m = objectives.shape[1]
    fitness_class = type(f"FitnessMin{m}", (base.Fitness,), {"weights": (-1.0,) * m})

    class Individual:
        def __init__(self, index: int, values: tuple[float, ...]) -> None:
            self.index = index
            self.fitness = fitness_class(values)

    return [Individual(i, tuple(map(float, row))) for i, row in enumerate(objectives)]


def compare(n: int, m: int, k: int, nd: str, repeats: int, seed: int) -> None:
    from deap import tools

    order = "lexicographic" if nd == "log" else "deb"
    objectives = np.random.default_rng(seed).random((n, m))
    population = deap_population(objectives)
    ours = _core.select_nsga2(objectives, k, order=order)
    theirs = [ind.index for ind in tools.selNSGA2(population, k, nd=nd)]
    if ours.tolist() != theirs:
        raise SystemExit(f"MISMATCH for n={n} m={m} k={k} nd={nd}: selections differ")
    ours_best, ours_median = timings(lambda: _core.select_nsga2(objectives, k, order=order), max(20, 4 * repeats))
    deap_best, deap_median = timings(lambda: tools.selNSGA2(population, k, nd=nd), repeats)
    print(
        f"n={n:5d} m={m} k={k:4d} | DEAP nd={nd!r:10} best {deap_best * 1e3:8.2f} ms median {deap_median * 1e3:8.2f} ms"
        f" | ours order={order!r:15} best {ours_best * 1e3:6.3f} ms median {ours_median * 1e3:6.3f} ms"
        f" | ratio best {deap_best / ours_best:7.1f}x median {deap_median / ours_median:7.1f}x | identical output"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10000, help="population size for nd='log'")
    parser.add_argument("--k", type=int, default=5000, help="survivors for nd='log'")
    parser.add_argument("--standard-n", type=int, default=2000, help="population size for nd='standard'")
    parser.add_argument("--repeats", type=int, default=5, help="timed DEAP calls per case (median)")
    args = parser.parse_args()

    print("machine:", machine())
    print(f"wall time per call over {args.repeats} DEAP calls / max(20, 4 x {args.repeats}) nasaccel calls\n")
    compare(args.n, 2, args.k, "log", args.repeats, seed=0)
    compare(args.n, 3, args.k, "log", args.repeats, seed=1)
    compare(args.standard_n, 2, args.standard_n // 2, "standard", max(1, args.repeats // 2), seed=2)
    compare(args.standard_n, 3, args.standard_n // 2, "standard", max(1, args.repeats // 2), seed=3)


if __name__ == "__main__":
    main()
