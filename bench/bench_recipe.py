"""Training recipes for the final stage on MNIST-1D: test accuracy of single networks trained by ``TorchTrainer``.

Usage:
    python bench/bench_recipe.py --recipe base60 shift60 --arch hand --seeds 0 1 [--out recipes.json] [--latency]

Each (recipe, network, seed) is trained once with one torch thread on ``nasaccel.data.mnist1d(seed=0)``
(3,200 train / 800 validation / 1,000 test signals; recipes with ``train_on_validation`` train on the
4,000 signals of train and validation together, the test split untouched) and printed with its test
accuracy, validation accuracy (meaningless with ``train_on_validation``), training seconds, MACs and parameters,
and the 1-minute load average at its end. Finished runs are kept in ``--out`` and not trained again.
``--arch`` takes ChainSpace texts or the names in ``NETWORKS``. ``--latency`` first times every network as the
main job's final stage does (ONNX Runtime, one thread, one call on a batch of 1 and of 256, 5 passes, random
weights: the time does not depend on them); run it on a quiet machine.
Recipes ending in ``refit`` train twice (``TorchTrainer(refit=True)``): val acc from the training split alone,
test acc from the second training on train + validation (so they equal the ``tv`` recipe's test acc).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import nasaccel as na
from nasaccel import data
from nasaccel.evaluation import TorchTrainer
from nasaccel.executors import EvalContext

NETWORKS = {
    "hand": "conv-64-k3-s1|conv-64-k3-s2|conv-64-k3-s2|conv-64-k3-s2|conv-64-k3-s1",
    "hand48": "conv-48-k3-s1|conv-48-k3-s2|conv-48-k3-s2|conv-48-k3-s2|conv-48-k3-s1",
    "hand32": "conv-32-k3-s1|conv-32-k3-s2|conv-32-k3-s2|conv-32-k3-s2|conv-32-k3-s1",
    "early64": "conv-32-k5-s2|conv-64-k3-s2|conv-64-k3-s2|conv-64-k3-s1",
    "early32": "conv-32-k5-s2|conv-32-k3-s2|conv-64-k3-s2|conv-64-k3-s1",
    # the previous default search's front (bench/RESULTS.md, Main job)
    "front_a": "conv-24-k7-s1|maxpool-k7-s4|maxpool-k9-s4|maxpool-k5-s4|conv-48-k3-s1",
    "front_b": "conv-24-k7-s1|maxpool-k5-s4|maxpool-k3-s2|conv-48-k3-s1",
    "front_c": "conv-24-k7-s1|maxpool-k7-s4|maxpool-k5-s2|conv-48-k3-s1+1",
}

BASE = {"epochs": 60, "batch_size": 64, "optimizer": "adam", "lr": 0.01, "schedule": "cosine"}
SHIFT = {"shift": 20, "padding": "circular"}

RECIPES: dict[str, dict[str, Any]] = {
    "base60": dict(BASE),
    "shift60": dict(BASE, augment=SHIFT),
    "shiftzero60": dict(BASE, augment={"shift": 10, "padding": "zeros"}),
    "shiftall60": dict(BASE, augment=dict(SHIFT, stretch=0.1, scale=0.2, noise=0.05)),
    "shiftstretch60": dict(BASE, augment=dict(SHIFT, stretch=0.1)),
    "trainval60": dict(BASE, train_on_validation=True),
    "shift60tv": dict(BASE, augment=SHIFT, train_on_validation=True),
    "shiftall60tv": dict(BASE, augment=dict(SHIFT, stretch=0.1, scale=0.2, noise=0.05), train_on_validation=True),
    "adamw60": dict(BASE, optimizer="adamw", weight_decay=0.05),
    "shiftadamw60": dict(BASE, augment=SHIFT, optimizer="adamw", weight_decay=0.05),
    "shiftls60": dict(BASE, augment=SHIFT, label_smoothing=0.1),
    "shift100": dict(BASE, epochs=100, augment=SHIFT),
    "shift40": dict(BASE, epochs=40, augment=SHIFT),
    "shift60b128": dict(BASE, batch_size=128, augment=SHIFT),
    "shift60b32": dict(BASE, batch_size=32, augment=SHIFT),
    "shift60lr3": dict(BASE, lr=0.003, augment=SHIFT),
    "shiftadamw60tv": dict(BASE, augment=SHIFT, optimizer="adamw", weight_decay=0.05, train_on_validation=True),
    "shiftls60tv": dict(BASE, augment=SHIFT, label_smoothing=0.1, train_on_validation=True),
    "shift100tv": dict(BASE, epochs=100, augment=SHIFT, train_on_validation=True),
    "shift40tv": dict(BASE, epochs=40, augment=SHIFT, train_on_validation=True),
    "adamw60tv": dict(BASE, optimizer="adamw", weight_decay=0.05, train_on_validation=True),
    "ls60": dict(BASE, label_smoothing=0.1),
    "ls60tv": dict(BASE, label_smoothing=0.1, train_on_validation=True),
    "ls60refit": dict(BASE, label_smoothing=0.1, refit=True),
    "ls2_60refit": dict(BASE, label_smoothing=0.2, refit=True),
    "ls100tv": dict(BASE, epochs=100, label_smoothing=0.1, train_on_validation=True),
    "lsw60tv": dict(BASE, optimizer="adamw", weight_decay=0.05, label_smoothing=0.1, train_on_validation=True),
    "ls2_60tv": dict(BASE, label_smoothing=0.2, train_on_validation=True),
    "ls3_60tv": dict(BASE, label_smoothing=0.3, train_on_validation=True),
    "sgd2_60tv": dict(BASE, optimizer="sgd", lr=0.1, momentum=0.9, weight_decay=5e-4, label_smoothing=0.2,
                      train_on_validation=True),
    "sgd2_60tv_lr05": dict(BASE, optimizer="sgd", lr=0.05, momentum=0.9, weight_decay=5e-4, label_smoothing=0.2,
                           train_on_validation=True),
    "ls2wd_60tv": dict(BASE, optimizer="adamw", weight_decay=0.01, label_smoothing=0.2, train_on_validation=True),
    "lsb32_60tv": dict(BASE, batch_size=32, label_smoothing=0.1, train_on_validation=True),
    "b32tv": dict(BASE, batch_size=32, train_on_validation=True),
    "trainval40": dict(BASE, epochs=40, train_on_validation=True),
    # the search's fidelity (8 epochs), without and with augmentation
    "base8": dict(BASE, epochs=8),
    "shift8": dict(BASE, epochs=8, augment=SHIFT),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recipe", nargs="+", required=True, choices=sorted(RECIPES))
    ap.add_argument("--arch", nargs="+", default=["hand"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--out", default="recipes.json")
    ap.add_argument("--latency", action="store_true", help="time each network with ONNX Runtime first")
    args = ap.parse_args()
    out = Path(args.out)
    done: list[dict[str, Any]] = json.loads(out.read_text()) if out.is_file() else []
    space = na.ChainSpace((1, 40), 10, widths=tuple(range(4, 257, 4)), kernels=(1, 3, 5, 7, 9, 11, 13, 15),
                          strides=(1, 2, 3, 4), ops=("conv", "dwsep", "maxpool", "avgpool"), max_layers=10,
                          max_skip_offset=2)
    splits = data.mnist1d(seed=0)
    print(f"load average at the start: {os.getloadavg()}", flush=True)
    if args.latency:
        from nasaccel.evaluation import evaluator_from_config

        timer = evaluator_from_config({"type": "composite", "evaluators": [
            {"type": "latency", "mode": "measured", "batch_size": b, "threads": 1, "passes": 5} for b in (1, 256)]})
        for name in args.arch:
            arch = NETWORKS.get(name, name)
            m = timer.evaluate(space.from_text(arch), space, EvalContext(0, 0, arch))
            print(f"latency {1e3 * m['latency_ms']:6.1f} us / batch 1  {1e3 * m['latency_b256_ms']:7.0f} us / batch 256  "
                  f"{arch}", flush=True)
    for recipe in args.recipe:
        trainer = TorchTrainer(splits, threads=1, **RECIPES[recipe])
        for name in args.arch:
            arch = NETWORKS.get(name, name)
            for seed in args.seeds:
                if any(r["recipe"] == recipe and r["arch"] == arch and r["seed"] == seed for r in done):
                    r = next(r for r in done if r["recipe"] == recipe and r["arch"] == arch and r["seed"] == seed)
                else:
                    start = time.time()
                    m = trainer.evaluate(space.from_text(arch), space, EvalContext(0, seed, arch))
                    r = {"recipe": recipe, "arch": arch, "seed": seed, **m, "load": os.getloadavg()[0],
                         "wall_s": time.time() - start, "when": time.strftime("%H:%M", time.gmtime())}
                    done.append(r)
                    out.write_text(json.dumps(done, indent=1))
                before = f" (before refit {r['test_acc_before_refit']:.3f})" if "test_acc_before_refit" in r else ""
                print(f"{recipe:14s} seed {seed} test {r['test_acc']:.3f}{before} val {r['val_acc']:.3f} "
                      f"train {r['train_time_s']:5.1f} s  MACs {r['macs'] / 1e3:6.1f}k params {r['params'] / 1e3:5.1f}k "
                      f"load {r['load']:.2f}  {arch}", flush=True)


if __name__ == "__main__":
    main()
