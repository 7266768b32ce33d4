"""Regret of Bayesian optimisation on the NAS benchmark tables, beside the other strategies, measured in one run.

Reuses bench_strategies.py's harness (``tables``, ``regret_table``): regret = table optimum - test accuracy of the
incumbent after 50, 100 and 150 queries (a query is a new architecture), mean and standard error over seeds, and
the median number of queries to the table's optimum (misses counted as beyond the budget).

    nice -n 5 python bench/bench_bo.py --seeds 25
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_strategies import STRATEGIES, machine_line, regret_table, tables  # noqa: E402

BO_PARAMS = {"n_init": 5, "n_restarts": 0, "refit_every": 3, "xi": 0.05}
# One row each: a label and the BayesOpt parameters besides BO_PARAMS.
BO_VARIANTS = {
    "edit": ("edit kernel", {"kernel": "edit"}),
    "wl": ("WL kernel", {"kernel": "wl"}),
    "wl_rbf": ("WL-RBF kernel", {"kernel": "wl_rbf"}),
    "edit+histogram_tr": ("edit + histogram kernels, trust region", {"kernel": "edit+histogram", "trust_region": True}),
}
PEERS = ["random", "local_search", "regularized_evolution"]


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=25)
    p.add_argument("--budgets", type=int, nargs="+", default=[50, 100, 150])
    p.add_argument("--tables", nargs="+", default=["nb201-c10", "nb201-c100", "macro"])
    p.add_argument("--peers", nargs="*", default=PEERS)
    p.add_argument("--variants", "--kernels", nargs="*", default=list(BO_VARIANTS), choices=list(BO_VARIANTS),
                   help="BayesOpt variants to run (one row each)")
    args = p.parse_args(argv)
    print(machine_line())
    print(f"seeds 0..{args.seeds - 1}; regret in accuracy points (mean ± standard error)\n")
    bo = {f"bayesopt ({BO_VARIANTS[v][0]})": {"name": "bayesopt", "params": {**BO_PARAMS, **BO_VARIANTS[v][1]}}
          for v in args.variants}
    print(f"BayesOpt parameters of every variant: {BO_PARAMS}")
    configs = {**{n: STRATEGIES[n] for n in args.peers}, **bo}
    all_tables = tables()
    for tname in args.tables:
        regret_table(tname, configs, args.seeds, args.budgets, all_tables)


if __name__ == "__main__":
    main()
