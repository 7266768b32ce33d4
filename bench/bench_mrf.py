"""Benchmark of the chain MRF solvers used by latency-constrained width search (AOWS).

Times ``ChainMRF.solve_lagrangian``, ``solve_exact`` and ``marginals`` on random but realistic chains
(latency growing with input and output widths, accuracy cost falling with width), compares the exact
solver against SciPy's MILP solver (HiGHS) on the same instances, and measures the accuracy-cost gap
between the Lagrangian and the exact solutions over many instances and budgets.

Run: ``python bench/bench_mrf.py [--milp-large]`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from machine import machine_line
from nasaccel._core import ChainMRF


def machine() -> str:
    """One line naming the CPU, cores, versions and the load average."""
    return machine_line()

def residual_ties(layers: int, stages: int = 5) -> list[list[int]]:
    """Per stage, the output widths of its residual blocks (every other node) tied together."""
    per = layers // stages
    return [list(range(s * per + 1, (s + 1) * per, 2)) for s in range(stages)]


def random_chain(layers: int, widths: int, rng: np.random.Generator, tied: bool = False) -> dict:
    """A width-search chain: convolution-like latency and an accuracy cost falling with width.

    Node l picks the output width of layer l among ``widths`` multipliers in [0.25, 1] of a base channel
    count; layer l's latency depends on its input width (node l-1) and output width (node l) like a conv's
    multiply-adds plus a per-channel memory term, with +-10 % noise; its cost is a layer importance times
    the log of the width reduction, with small noise.
    """
    mult = np.linspace(0.25, 1.0, widths)
    base = np.sort(rng.choice([32, 64, 128, 256, 512], size=layers))
    spatial = np.sort(rng.choice([7, 14, 28, 56, 112], size=layers))[::-1] ** 2
    ch = [b * mult for b in base]
    flop = 1e-9  # ms per multiply-add at about 1 TMAC/s
    importance = rng.uniform(0.2, 1.0, size=layers)
    unary_cost = [imp * np.log(1.0 / mult) * rng.uniform(0.9, 1.1, size=widths) for imp in importance]
    unary_lat = [flop * 9 * 3 * ch[0] * spatial[0] * rng.uniform(0.9, 1.1, size=widths)]
    unary_lat += [1e-6 * c * spatial[i] * rng.uniform(0.9, 1.1, size=widths) for i, c in enumerate(ch)][1:]
    pairwise = [
        flop * 9 * np.outer(ch[l - 1], ch[l]) * spatial[l] * rng.uniform(0.9, 1.1, size=(widths, widths))
        for l in range(1, layers)
    ]
    return dict(unary_costs=unary_cost, pairwise_latency=pairwise, unary_latency=unary_lat, latency_constant=0.05,
                ties=residual_ties(layers) if tied else None)


def budgets(mrf: ChainMRF, fractions: list[float]) -> list[float]:
    """Budgets at the given fractions between the fastest and the unconstrained-best latency."""
    lo = mrf.min_latency()
    hi = mrf.solve_lagrangian(1e300)[2]
    return [lo + f * (hi - lo) for f in fractions]


def best_time(fn, repeats: int) -> float:
    """Fastest of ``repeats`` calls after one warm-up, in seconds (the machine is shared: other processes
    only ever add time, so the minimum is the figure least disturbed by them)."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def milp_solve(p: dict, budget: float) -> float:
    """Optimal cost by SciPy's MILP (HiGHS): one binary per node state and per transition (flow form)."""
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import coo_matrix

    U, P, V = p["unary_costs"], p["pairwise_latency"], p["unary_latency"]
    L = len(U)
    K = [len(u) for u in U]
    zoff = np.concatenate([[0], np.cumsum(K)])
    yoff = [zoff[-1]]
    for l in range(1, L):
        yoff.append(yoff[-1] + K[l - 1] * K[l])
    n = yoff[-1]
    r, c, v, lo, hi = [], [], [], [], []
    row = 0
    for l in range(L):
        r += [row] * K[l]; c += list(range(zoff[l], zoff[l + 1])); v += [1.0] * K[l]
        lo.append(1); hi.append(1); row += 1
    for l in range(1, L):
        idx = (yoff[l - 1] + np.arange(K[l - 1] * K[l])).reshape(K[l - 1], K[l])
        for a in range(K[l - 1]):  # flow out of state a of node l-1
            r += [row] * (K[l] + 1); c += list(idx[a]) + [zoff[l - 1] + a]; v += [1.0] * K[l] + [-1.0]
            lo.append(0); hi.append(0); row += 1
        for b in range(K[l]):  # flow into state b of node l
            r += [row] * (K[l - 1] + 1); c += list(idx[:, b]) + [zoff[l] + b]; v += [1.0] * K[l - 1] + [-1.0]
            lo.append(0); hi.append(0); row += 1
    lat_cols = list(range(zoff[-1])) + list(range(zoff[-1], n))
    lat_vals = list(np.concatenate(V)) + list(np.concatenate([m.ravel() for m in P]))
    r += [row] * len(lat_cols); c += lat_cols; v += lat_vals
    lo.append(-np.inf); hi.append(budget - p["latency_constant"]); row += 1
    A = coo_matrix((v, (r, c)), shape=(row, n)).tocsr()
    cost = np.zeros(n)
    cost[: zoff[-1]] = np.concatenate(U)
    res = milp(cost, constraints=LinearConstraint(A, lo, hi), integrality=np.ones(n), bounds=Bounds(0, 1),
               options=dict(mip_rel_gap=1e-9))
    if res.status != 0:
        raise RuntimeError(f"MILP failed: {res.message}")
    return float(res.fun)


FRACTIONS = [0.1, 0.3, 0.5, 0.7, 0.9]


def timing(layers: int, widths: int, instances: int, repeats: int, milp_instances: int, tied: bool = False) -> None:
    """Per-call times of the three solvers over budgets spanning the range, and the MILP peer on a few."""
    rng = np.random.default_rng(1000 * layers + widths + tied)
    lag, exact, marg, peer = [], [], [], []
    for i in range(instances):
        p = random_chain(layers, widths, rng, tied)
        mrf = ChainMRF(**p)
        for b in budgets(mrf, FRACTIONS):
            lag.append(best_time(lambda: mrf.solve_lagrangian(b), repeats))
            exact.append(best_time(lambda: mrf.solve_exact(b), repeats))
            if i < milp_instances:
                t0 = time.perf_counter()
                opt = milp_solve(p, b)
                peer.append(time.perf_counter() - t0)
                got = mrf.solve_exact(b)[1]
                assert abs(got - opt) <= 1e-6 * max(1.0, abs(opt)), (got, opt)
        marg.append(best_time(lambda: mrf.marginals(1.0, 0.5), repeats))

    def ms(ts):
        return f"median {1e3 * statistics.median(ts):8.3f} ms, max {1e3 * max(ts):8.3f} ms"

    what = f"{layers} layers x {widths} widths"
    if tied:
        what += f", {len(residual_ties(layers))} residual tie groups ({mrf.augmented_edges} transitions per DP pass)"
    print(f"\n{what} ({instances} instances x {len(FRACTIONS)} budgets; per case the fastest of {repeats} calls,"
          " then median and max over cases)")
    print(f"  solve_lagrangian: {ms(lag)}")
    print(f"  solve_exact:      {ms(exact)}")
    print(f"  marginals:        {ms(marg)}")
    if peer:
        ratio = statistics.median(peer) / statistics.median(exact[: len(peer)])
        print(f"  scipy milp (HiGHS) exact peer: {ms(peer)} on {len(peer)} solves, same optimum; "
              f"solve_exact is {ratio:.0f}x faster (median)")


def gap_study(layers: int, widths: int, instances: int, fractions: list[float]) -> None:
    """Relative accuracy-cost gap (lagrangian - exact) / |exact| over random instances and budgets."""
    rng = np.random.default_rng(7 + layers)
    for f in fractions:
        gaps, spans = [], []
        for _ in range(instances):
            mrf = ChainMRF(**random_chain(layers, widths, rng))
            (b,) = budgets(mrf, [f])
            exact = mrf.solve_exact(b)[1]
            lag = mrf.solve_lagrangian(b)[1]
            gaps.append((lag - exact) / abs(exact))
            # The same gap as a share of the cost the budget is trading: fastest config's cost - unconstrained.
            span = mrf.solve_lagrangian(mrf.min_latency())[1] - mrf.solve_lagrangian(1e300)[1]
            spans.append((lag - exact) / span)
        g, h = np.array(gaps), np.array(spans)
        print(f"  budget at {f:.1f}: relative gap mean {100 * g.mean():.3f} %, max {100 * g.max():.3f} %, "
              f"equal in {100 * np.mean(g <= 1e-12):.0f} % of {instances}; "
              f"as share of the cost span mean {100 * h.mean():.3f} %, max {100 * h.max():.3f} %")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="few instances, for a smoke run")
    ap.add_argument("--milp-large", action="store_true",
                    help="also run the MILP peer on one 50 x 64 instance (about 2 minutes per solve)")
    args = ap.parse_args()
    print("machine:", machine())
    q = args.quick
    timing(20, 14, instances=3 if q else 10, repeats=5 if q else 20, milp_instances=1 if q else 3)
    timing(50, 64, instances=2 if q else 5, repeats=3 if q else 10, milp_instances=1 if args.milp_large else 0)
    timing(50, 64, instances=2 if q else 5, repeats=3 if q else 10, milp_instances=0, tied=True)
    for layers, widths in [(20, 14), (50, 64)]:
        n = 10 if q else (200 if widths <= 14 else 100)
        print(f"\nLagrangian vs exact accuracy-cost gap, {layers} layers x {widths} widths, {n} instances per budget "
              "(budget at a fraction of [min latency, unconstrained-optimum latency])")
        gap_study(layers, widths, n, FRACTIONS)
    print("\nmachine at the end:", machine())


if __name__ == "__main__":
    main()
