"""Latency-constrained width search: AOWS vs greedy pruning vs uniform scaling at equal latency budgets.

For each data set (MNIST-1D generated locally, scikit-learn digits) and the MobileNetV1-like backbone:

1. (unniced) measure the per-layer latency table of every width choice on this CPU with ONNX Runtime
   (batch 1, 1 thread), record its cost, and check it on held-out random networks timed end to end;
2. (``nice -n 5`` worker process) for each seed: train the slimmable network with uniform width sampling
   and, for each budget, choose widths with AOWS (exact MRF solve; the Lagrangian solve is recorded too),
   greedy layer-by-layer pruning (validation loss of the slimmable network per latency saved) and uniform
   scaling, and AOWS again from unary statistics estimated on validation data after training
   (``aows_val``: 160 random configurations scored like greedy's candidates, fewer evaluations than greedy
   makes); train one slimmable network per budget with adaptive narrowing and choose AOWS widths from it; fine-tune every chosen network from the uniformly trained slimmable weights with one recipe and
   measure its test accuracy;
3. (unniced) time every chosen network's exported ONNX model with ONNX Runtime.

Budgets: 0.2, 0.45 and 0.7 of the way from the fastest configuration's table latency to the widest's. The
table is not monotone in the widths (ONNX Runtime runs some channel counts much faster than smaller odd
ones), so the fastest configuration need not be the uniformly narrowest, and uniform scaling may find no
multiplier within a budget (then it has no entry).

    python bench/bench_width.py                 # the full run recorded in bench/RESULTS.md
    python bench/bench_width.py --quick         # a smoke run (1 seed, 1 epoch)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

BUDGET_FRACTIONS = (0.2, 0.45, 0.7)
METHODS = ("uniform", "greedy", "aows", "aows_adaptive", "aows_val")


def setups(quick: bool) -> dict[str, dict]:
    return {
        "mnist1d": {"data": "mnist1d", "data_args": {"num_samples": 3000 if not quick else 600}},
        "digits": {"data": "digits", "data_args": {}},
    }


# ------------------------------------------------------------------ worker (niced): training and choosing


def worker(cfg_path: str) -> None:
    import torch

    torch.set_num_threads(1)
    from nasaccel.data import load_data
    from nasaccel.latency.table import LatencyTable
    from nasaccel.spaces import space_from_config
    from nasaccel.width import AdaptiveNarrowing, WidthLatencyModel, greedy_prune, solve_widths, uniform_scaling
    from nasaccel.width.baselines import slimmable_scorer
    from nasaccel.width.search import export_onnx
    from nasaccel.width.training import _Threads, estimate_unary, train_network, train_slimmable

    cfg = json.loads(Path(cfg_path).read_text())
    d = load_data(cfg["data"], **cfg["data_args"])
    space = space_from_config(cfg["space"])
    model = WidthLatencyModel(space, LatencyTable.load(cfg["table"]))
    budgets = cfg["budgets"]
    tr = cfg["train"]
    results = []
    for seed in cfg["seeds"]:
        t0 = time.perf_counter()
        run = train_slimmable(space, d, epochs=tr["epochs"], batch_size=tr["batch_size"], lr=tr["lr"],
                              num_random=tr["num_random"], extra_samples=tr["extra_samples"],
                              stats_from=tr["stats_from"], seed=seed)
        t_uniform = time.perf_counter() - t0
        costs = run.unary.costs()
        cache: dict[tuple, float] = {}
        raw = slimmable_scorer(run.network, d.x_train[:512], d.x_val, d.y_val)

        def score(c, raw=raw, cache=cache):
            if c not in cache:
                cache[c] = raw(c)
            return cache[c]

        t = time.perf_counter()
        with _Threads(1):
            val_unary = estimate_unary(run.network, d.x_train[:512], d.x_val, d.y_val, samples=tr["val_samples"],
                                       seed=seed)
        t_val = time.perf_counter() - t
        chosen: dict[tuple[int, str], dict] = {}
        t_greedy = 0.0
        for b, budget in enumerate(budgets):
            sol = solve_widths(model, costs, budget, "exact")
            lag = solve_widths(model, costs, budget, "lagrangian")
            chosen[(b, "aows")] = {"choice": sol.choice, "lat": sol.latency_s, "cost": sol.cost,
                                   "lagrangian_choice": lag.choice, "lagrangian_cost": lag.cost,
                                   "lagrangian_latency_s": lag.latency_s}
            t = time.perf_counter()
            with _Threads(1):
                g = greedy_prune(model, budget, score)
            t_greedy += time.perf_counter() - t
            chosen[(b, "greedy")] = {"choice": g.solution.choice, "lat": g.solution.latency_s, "evaluations": len(cache)}
            v = solve_widths(model, val_unary.costs(), budget, "exact")
            chosen[(b, "aows_val")] = {"choice": v.choice, "lat": v.latency_s, "cost": v.cost}
            try:
                u = uniform_scaling(model, budget)
                chosen[(b, "uniform")] = {"choice": u.choice, "lat": u.latency_s}
            except ValueError:  # no uniform multiplier meets the budget
                pass
        t_adaptive = 0.0
        for b, budget in enumerate(budgets):
            t = time.perf_counter()
            ad = train_slimmable(space, d, epochs=tr["epochs"], batch_size=tr["batch_size"], lr=tr["lr"],
                                 num_random=tr["num_random"], extra_samples=tr["extra_samples"],
                                 stats_from=tr["stats_from"], seed=seed,
                                 sampler=AdaptiveNarrowing(model, budget, start=tr["stats_from"]))
            t_adaptive += time.perf_counter() - t
            sol = solve_widths(model, ad.unary.costs(), budget, "exact")
            chosen[(b, "aows_adaptive")] = {"choice": sol.choice, "lat": sol.latency_s, "cost": sol.cost,
                                            "final_entropy": ad.narrowing[-1]["entropy"] if ad.narrowing else None}
        # Fine-tune every distinct chosen network once from the uniformly trained slimmable weights.
        trained: dict[tuple, dict] = {}
        t = time.perf_counter()
        for (b, method), info in chosen.items():
            key = tuple(info["choice"])
            if key not in trained:
                net = run.network.extract(list(key))
                metrics = train_network(net, d, epochs=tr["finetune_epochs"], batch_size=tr["batch_size"],
                                        lr=tr["finetune_lr"], seed=seed)
                path = Path(cfg["out_dir"]) / f"{cfg['name']}_s{seed}_{'-'.join(map(str, key))}.onnx"
                export_onnx(net, space, space.genome(list(key)), path, batch_size=cfg["latency_batch"])
                trained[key] = {**metrics, "onnx": str(path)}
            results.append({"seed": seed, "budget_index": b, "budget_s": budgets[b], "method": method,
                            "widths": space.widths_of(list(key)), **info, **trained[key]})
        t_finetune = time.perf_counter() - t
        results.append({"seed": seed, "timing": {"slimmable_uniform_s": t_uniform, "greedy_s": t_greedy,
                                                 "val_unary_s": t_val, "greedy_evaluations": len(cache),
                                                 "slimmable_adaptive_s": t_adaptive, "finetune_s": t_finetune,
                                                 "distinct_networks": len(trained)}})
        print(f"[{cfg['name']}] seed {seed}: slimmable {t_uniform:.0f} s, greedy {t_greedy:.0f} s, adaptive "
              f"{t_adaptive:.0f} s, fine-tune {t_finetune:.0f} s ({len(trained)} networks)", flush=True)
    Path(cfg["result"]).write_text(json.dumps(results))


# ------------------------------------------------------------------ parent (unniced): latency


def mean_se(v) -> tuple[float, float]:
    v = np.asarray(v, float)
    return float(v.mean()), float(v.std(ddof=1) / np.sqrt(len(v))) if len(v) > 1 else 0.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--finetune-epochs", type=int, default=3)
    ap.add_argument("--only", default=None, help="one data set")
    ap.add_argument("--latency-batch", type=int, default=16, help="batch of every timed ONNX graph")
    ap.add_argument("--out", default=None, help="write all results as JSON")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.worker)
        return

    from nasaccel.latency import OnnxMeasure, machine_description
    from nasaccel.latency.table import error_stats
    from nasaccel.spaces import WidthSpace
    from nasaccel.spaces.width import mobilenet_backbone
    from nasaccel.width import WidthLatencyModel, build_width_table, random_choice
    from nasaccel.width.search import measure_latency

    seeds = [0] if args.quick else list(range(args.seeds))
    epochs = 1 if args.quick else args.epochs
    train = {"epochs": epochs, "batch_size": 128, "lr": 1e-2, "num_random": 2, "extra_samples": 2,
             "stats_from": 0.4, "val_samples": 160, "finetune_epochs": 1 if args.quick else args.finetune_epochs, "finetune_lr": 2e-3}
    t_all = time.perf_counter()
    print("machine:", json.dumps(machine_description()))
    print(f"load average at start: {os.getloadavg()}")
    print(f"training: {json.dumps(train)}, seeds {seeds}; latency: ONNX Runtime, 1 thread, batch {args.latency_batch}")
    out: dict[str, dict] = {}
    tmp = Path(tempfile.mkdtemp(prefix="bench_width_"))
    for name, setup in setups(args.quick).items():
        if args.only and name != args.only:
            continue
        from nasaccel.data import load_data

        d = load_data(setup["data"], **setup["data_args"])
        space = WidthSpace(d.input_shape, d.num_classes, mobilenet_backbone(d.input_shape, scale=0.5))
        print(f"\n=== {name}: {d}, backbone {space.backbone}, multipliers {list(space.multipliers)}")
        t = time.perf_counter()
        built = build_width_table(space, networks=12, seed=0, batch_size=args.latency_batch)
        t_table = time.perf_counter() - t
        model = WidthLatencyModel(space, built.table)
        rng = np.random.default_rng(123)
        held = [space.genome(random_choice(space, rng)) for _ in range(10)]
        meas = OnnxMeasure(threads=1, passes=3, keep_records=False, batch_size=args.latency_batch).measure_many([space.description(g) for g in held])
        hold = error_stats([model.predict(g) for g in held], meas)
        print(f"latency table: {built.isolated_terms} isolated terms + {built.networks} networks in {t_table:.1f} s "
              f"(measuring {built.measure_seconds:.1f} s), fit MAPE {built.fit_mape * 100:.2f} %, held-out MAPE "
              f"{hold['mape'] * 100:.2f} % (max {hold['max_rel_error'] * 100:.1f} %, {hold['n']} networks)")
        print(f"table latency range: {model.min_latency() * 1e6:.1f} .. {model.max_latency() * 1e6:.1f} us")
        lo, top = model.min_latency(), model.max_latency()
        budgets = [lo + f * (top - lo) for f in BUDGET_FRACTIONS]
        print("uniform scaling ladder (us):", {m: round(model.predict(space.uniform(k)) * 1e6, 2)
                                              for k, m in enumerate(space.multipliers)})
        print("budgets (us):", [round(b * 1e6, 2) for b in budgets])
        table_path = tmp / f"{name}_table.json"
        built.table.save(table_path)
        cfg = {"name": name, "data": setup["data"], "data_args": setup["data_args"], "space": space.config(),
               "table": str(table_path), "budgets": budgets, "seeds": seeds, "train": train, "out_dir": str(tmp),
               "result": str(tmp / f"{name}_result.json"), "latency_batch": args.latency_batch}
        cfg_path = tmp / f"{name}_cfg.json"
        cfg_path.write_text(json.dumps(cfg))
        t = time.perf_counter()
        subprocess.run(["nice", "-n", "5", sys.executable, __file__, "--worker", str(cfg_path)], check=True)
        t_train = time.perf_counter() - t
        rows = json.loads(Path(cfg["result"]).read_text())
        timings = [r["timing"] for r in rows if "timing" in r]
        rows = [r for r in rows if "timing" not in r]
        lat_cache: dict[str, float] = {}
        for r in rows:
            if r["onnx"] not in lat_cache:
                lat_cache[r["onnx"]] = measure_latency(r["onnx"], passes=3)
            r["measured_latency_s"] = lat_cache[r["onnx"]]
        print(f"training and choosing (nice 5): {t_train:.0f} s; per seed: {json.dumps(timings)}")
        # ---------------------------------------------------------- table
        print(f"\n| budget (fraction) | budget us | method | test acc % (mean +- s.e., {len(seeds)} seeds) | "
              "table latency us | measured us | widths (seed 0) |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        summary = []
        for b, m in enumerate(BUDGET_FRACTIONS):
            accs = {}
            for method in METHODS:
                sel = [r for r in rows if r["budget_index"] == b and r["method"] == method]
                if not sel:
                    print(f"| {m} | {budgets[b] * 1e6:.2f} | {method} | no configuration within the budget | | | |")
                    accs[method] = []
                    continue
                acc = [100 * r["test_acc"] for r in sel]
                accs[method] = acc
                mu, se = mean_se(acc)
                s0 = next(r for r in sel if r["seed"] == seeds[0])
                print(f"| {m} | {budgets[b] * 1e6:.2f} | {method} | {mu:.2f} +- {se:.2f} | "
                      f"{np.mean([r['lat'] for r in sel]) * 1e6:.2f} | "
                      f"{np.mean([r['measured_latency_s'] for r in sel]) * 1e6:.2f} | {s0['widths']} |")
            rel = {}
            for a, c in (("aows", "greedy"), ("aows", "uniform"), ("aows_adaptive", "aows"), ("aows_adaptive", "greedy"),
                         ("aows_val", "greedy"), ("greedy", "uniform")):
                if len(accs[a]) != len(accs[c]):
                    continue
                diffs = [(x - y) / y * 100 for x, y in zip(accs[a], accs[c])]
                rel[f"{a} vs {c}"] = mean_se(diffs)
            summary.append({"budget": m, "relative": rel})
            print("   relative accuracy difference (per-seed pairs, mean +- s.e. %): " +
                  "; ".join(f"{k}: {v[0]:+.2f} +- {v[1]:.2f}" for k, v in rel.items()))
        lag_gap = [(r["lagrangian_cost"] - r["cost"]) for r in rows if r["method"] == "aows"]
        lag_same = np.mean([r["lagrangian_choice"] == r["choice"] for r in rows if r["method"] == "aows"])
        print(f"Lagrangian vs exact on the learned unary costs: same widths in {lag_same * 100:.0f} % of solves, "
              f"mean cost gap {np.mean(lag_gap):.4f} (max {np.max(lag_gap):.4f})")
        out[name] = {"rows": rows, "summary": summary, "table": {**built.summary(), "holdout": hold, "seconds": t_table},
                     "budgets_s": budgets, "train_seconds": t_train, "timings": timings}
    print(f"\nload average at end: {os.getloadavg()}; total {time.perf_counter() - t_all:.0f} s")
    if args.out:
        Path(args.out).write_text(json.dumps(out, indent=1, default=str))


if __name__ == "__main__":
    main()
