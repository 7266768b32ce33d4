"""Regret of Bayesian optimisation on the NAS benchmark tables, beside the other strategies, measured in one run.

Reuses bench_strategies.py's harness (``tables``, ``run_one``): regret = table optimum - test accuracy of the
incumbent after 50, 100 and 150 queries (a query is a new architecture), mean and standard error over seeds, and
the median number of queries to the table's optimum (misses counted as beyond the budget).

    nice -n 5 python bench/bench_bo.py --seeds 25
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_strategies import REFERENCE_100, STRATEGIES, run_one, tables  # noqa: E402

BO = {
    "bayesopt (edit kernel)": {"name": "bayesopt", "params": {"kernel": "edit", "n_restarts": 0, "refit_every": 3}},
}
PEERS = ["random", "local_search", "regularized_evolution"]


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=25)
    p.add_argument("--budgets", type=int, nargs="+", default=[50, 100, 150])
    p.add_argument("--tables", nargs="+", default=["nb201-c10", "nb201-c100", "macro"])
    p.add_argument("--peers", nargs="*", default=PEERS)
    args = p.parse_args(argv)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
          f"{sys.version.split()[0]}, load average {' '.join(f'{v:.1f}' for v in os.getloadavg())}")
    print(f"seeds 0..{args.seeds - 1}; regret in accuracy points (mean ± standard error)\n")
    configs = {**{n: STRATEGIES[n] for n in args.peers}, **BO}
    top = max(args.budgets)
    all_tables = tables()
    for tname in args.tables:
        space, bench, metric = all_tables[tname]
        optimum = max(r[metric] for r in bench.rows.values() if metric in r)
        print(f"### {tname} (metric {metric}, optimum {optimum:.4f})")
        print("| strategy | " + " | ".join(f"regret@{b}" for b in args.budgets)
              + " | median queries to optimum (hits) | reference regret@100 | time/run |")
        print("|" + " --- |" * (len(args.budgets) + 4))
        for sname, config in configs.items():
            t0 = time.perf_counter()
            curves = np.stack([run_one(space, bench, metric, config, s, top) for s in range(args.seeds)])
            per_run = (time.perf_counter() - t0) / args.seeds
            regret = optimum - curves
            cells = [f"{regret[:, b - 1].mean():.3f} ± {regret[:, b - 1].std(ddof=1) / math.sqrt(args.seeds):.3f}"
                     for b in args.budgets]
            hits = [int(np.argmax(c >= optimum)) + 1 for c in curves if c[-1] >= optimum]
            med = statistics.median(sorted(hits) + [math.inf] * (args.seeds - len(hits)))
            med_s = f"{med:g}" if math.isfinite(med) else f">{top}"
            ref = REFERENCE_100.get((tname, sname))
            print(f"| {sname} | " + " | ".join(cells) + f" | {med_s} ({len(hits)}/{args.seeds}) | "
                  f"{'-' if ref is None else f'{ref:.3f}'} | {per_run:.2f} s |", flush=True)
        print(f"(load average {' '.join(f'{v:.1f}' for v in os.getloadavg())})\n", flush=True)


if __name__ == "__main__":
    main()
