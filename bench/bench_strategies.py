"""Regret of every search strategy on real NAS benchmark tables (NAS-Bench-201 CIFAR-10/100, NAS-Bench-Macro).

Regret = best test accuracy in the table - test accuracy of the incumbent (the best trial so far, chosen by
test accuracy, as the reference runs were), after 50, 100, 150 and 300 queries. A query is a new architecture:
duplicates proposed by a strategy are answered from the study's storage and do not count. Mean and standard
error over seeds, and the number of queries needed to reach the table's optimum (median over seeds; runs that
miss it within the largest budget are counted as misses).

    python bench/bench_strategies.py --seeds 25
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

import nasaccel as na
from nasaccel.strategies import strategy_from_config

ROOT = Path(__file__).resolve().parents[1]
BENCH = Path(os.environ.get("NASACCEL_BENCHMARKS", ROOT.parent / "shared" / "benchmarks"))

# Mean regret at 100 queries of reference implementations run on the same tables (100 seeds).
REFERENCE_100 = {
    ("nb201-c10", "random"): 0.517,
    ("nb201-c10", "regularized_evolution"): 0.120,
    ("nb201-c10", "local_search"): 0.034,
    ("nb201-c100", "random"): 1.907,
    ("nb201-c100", "regularized_evolution"): 0.439,
    ("nb201-c100", "local_search"): 0.059,
    ("macro", "random"): 0.267,
    ("macro", "regularized_evolution"): 0.038,
    ("macro", "local_search"): 0.024,
}
REFERENCE_LS_MEDIAN_TO_OPT = {"nb201-c10": 46, "nb201-c100": 49}

STRATEGIES = {
    "random": {"name": "random"},
    "exhaustive": {"name": "exhaustive", "params": {"shuffle": True}},
    "local_search": {"name": "local_search"},
    "local_search (best_unexplored restarts)": {"name": "local_search", "params": {"restart": "best_unexplored"}},
    "local_search (random neighbour order)": {"name": "local_search", "params": {"order": "random"}},
    "regularized_evolution": {"name": "regularized_evolution", "params": {"population_size": 30, "sample_size": 10}},
    "nsga2": {"name": "nsga2"},
    "coevolution": {"name": "coevolution"},
    "rl": {"name": "rl"},
}


def tables():
    nb201 = na.TabularBenchmark.from_file(BENCH / "nb201.csv")
    macro = na.TabularBenchmark.from_file(BENCH / "nas_bench_macro_cifar10.json")
    return {
        "nb201-c10": (na.NB201CellSpace(), nb201, "test_acc_cifar10"),
        "nb201-c100": (na.NB201CellSpace(), nb201, "test_acc_cifar100"),
        "macro": (na.MacroSpace(), macro, "mean_acc"),
    }


def run_one(space, bench, metric, config, seed, budget):
    """Incumbent accuracy after each query, for one seeded run."""
    study = na.Study(space, strategy_from_config(config), bench, objectives=[metric], seed=seed,
                     max_duplicates=5000)
    study.optimize(max_trials=budget)
    best, curve = -math.inf, []
    for t in study.trials:
        if t.state == na.TrialState.COMPLETE:
            best = max(best, t.metrics[metric])
        curve.append(best)
    curve += [best] * (budget - len(curve))  # a strategy that stopped early keeps its incumbent
    return np.array(curve)


def constrained_nb201(seeds: int, budget: int = 100, device: str = "gold_6226") -> None:
    """Maximise CIFAR-10 accuracy subject to latency <= the table's median latency on ``device``."""
    space, bench, metric = tables()["nb201-c10"]
    lat = f"latency_ms_{device}"
    bound = float(np.median([r[lat] for r in bench.rows.values()]))
    _, best_feasible = bench.best(metric, feasible=lambda r: r[lat] <= bound)
    print(f"## latency-constrained NB201: max {metric} s.t. {lat} <= {bound:.4f} (table median)")
    print(f"best feasible cell in the table: {best_feasible:.4f}\n")
    print("| strategy | regret vs best feasible @" + str(budget) + " | returned over budget | infeasible trials |")
    print("| --- | --- | --- | --- |")
    for sname in ("random", "local_search", "regularized_evolution", "nsga2"):
        regrets, over, infeasible = [], 0, 0
        for seed in range(seeds):
            study = na.Study(space, strategy_from_config(STRATEGIES[sname]), bench, objectives=[metric, f"{lat}:minimize"],
                             constraints=[f"{lat} <= {bound}"], seed=seed)
            study.optimize(max_trials=budget)
            best = study.best_trial
            over += best.metrics[lat] > bound
            infeasible += sum(t.metrics[lat] > bound for t in study.trials)
            regrets.append(best_feasible - best.metrics[metric])
        r = np.array(regrets)
        print(f"| {sname} | {r.mean():.3f} ± {r.std(ddof=1) / math.sqrt(len(r)):.3f} | {over}/{seeds} | "
              f"{infeasible / seeds:.1f} of {budget} |")
    print()


def machine_line() -> str:
    """The CPU, core count, Python version and load average, for the top of a benchmark's output."""
    load = " ".join(f"{v:.1f}" for v in os.getloadavg())
    return (f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"Python {sys.version.split()[0]}, load average {load}")


def regret_table(tname: str, configs: dict, seeds: int, budgets: list[int], all_tables: dict | None = None) -> None:
    """Print the regret table of each named strategy config on one table: regret at each budget (mean ±
    standard error over seeds 0..seeds-1), median queries to the optimum with its hits, reference, time per run."""
    space, bench, metric = (all_tables or tables())[tname]
    optimum = max(r[metric] for r in bench.rows.values() if metric in r)
    top = max(budgets)
    print(f"### {tname} (metric {metric}, optimum {optimum:.4f})")
    head = "| strategy | " + " | ".join(f"regret@{b}" for b in budgets)
    print(head + " | median queries to optimum (hits) | reference regret@100 | time/run |")
    print("|" + " --- |" * (len(budgets) + 4))
    for sname, config in configs.items():
        t0 = time.perf_counter()
        curves = np.stack([run_one(space, bench, metric, config, s, top) for s in range(seeds)])
        per_run = (time.perf_counter() - t0) / seeds
        regret = optimum - curves
        cells = []
        for b in budgets:
            r = regret[:, b - 1]
            cells.append(f"{r.mean():.3f} ± {r.std(ddof=1) / math.sqrt(len(r)):.3f}")
        hits = [int(np.argmax(c >= optimum)) + 1 for c in curves if c[-1] >= optimum]
        misses = seeds - len(hits)
        # median counting misses as beyond the budget
        ordered = sorted(hits) + [math.inf] * misses
        med = statistics.median(ordered)
        med_s = f"{med:g}" if math.isfinite(med) else f">{top}"
        ref = REFERENCE_100.get((tname, sname))
        ref_s = f"{ref:.3f}" if ref is not None else "-"
        if sname == "local_search" and tname in REFERENCE_LS_MEDIAN_TO_OPT:
            ref_s += f" (median {REFERENCE_LS_MEDIAN_TO_OPT[tname]} to optimum)"
        print(f"| {sname} | " + " | ".join(cells) + f" | {med_s} ({len(hits)}/{seeds}) | {ref_s} | {per_run:.2f} s |",
              flush=True)
    print(f"(load average {' '.join(f'{v:.1f}' for v in os.getloadavg())})\n", flush=True)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=25)
    p.add_argument("--budgets", type=int, nargs="+", default=[50, 100, 150, 300])
    p.add_argument("--strategies", nargs="+", default=list(STRATEGIES))
    p.add_argument("--tables", nargs="+", default=["nb201-c10", "nb201-c100", "macro"])
    p.add_argument("--constrained", action="store_true", help="also run the latency-constrained NB201 search")
    args = p.parse_args(argv)
    print(machine_line())
    print(f"seeds 0..{args.seeds - 1}; regret in accuracy points (mean ± standard error)\n")
    all_tables = tables()
    for tname in args.tables:
        regret_table(tname, {n: STRATEGIES[n] for n in args.strategies}, args.seeds, args.budgets, all_tables)
    if args.constrained:
        constrained_nb201(args.seeds)


if __name__ == "__main__":
    main()
