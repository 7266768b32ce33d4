"""The main job against hand designs: the default search's front vs the MNIST-1D paper's CNN and a hand-made CNN.

Usage:
    python bench/bench_mainjob.py [--config mnist1d_latency] [--workdir bench_mainjob_out] [--skip-search]
                                  [--seeds 0 1] [--rounds 5]

1. Runs the default search (``nasaccel search`` with no config, i.e. ``nasaccel/configs/mnist1d_latency.json``)
   in ``--workdir`` under ``nice -n 5``, and reports its wall time and the load average seen meanwhile
   (``--skip-search`` reuses the study already there).
2. Trains the two hand designs with our trainer (``TorchTrainer``) on the budget of the search's final
   stage (same epochs, batch, learning rate and schedule), for every seed of ``--seeds``; the paper's CNN
   is also trained with its own recipe (Adam 1e-2 constant, 6,000 steps of 100).
   - paper CNN (Greydanus 2020): Conv1d(1, 25, 5, stride 2, pad 1) - ReLU - Conv1d(25, 25, 3, 2, 1) - ReLU -
     Conv1d(25, 25, 3, 2, 1) - ReLU - flatten - Linear(125, 10);
   - hand-made CNN: five 64-channel convolutions with batch norm, kernel 3, strides 1, 2, 2, 2, 1, then
     global average pooling and a linear layer (the ChainSpace network
     ``conv-64-k3-s1|conv-64-k3-s2|conv-64-k3-s2|conv-64-k3-s2|conv-64-k3-s1``).
3. Times every network the same way, in this one process: ONNX Runtime, 1 intra-op thread, batch 1 and 256,
   the C++ harness (overhead subtracted), ``--rounds`` interleaved rounds, the minimum of the round medians.
   With ``--config mnist1d_latency_int8`` (the main job for int8 deployment) every network, the hand
   designs included, is also timed and scored as its static int8 quantization (calibrated on the first
   training examples, as the trainer's ``int8_accuracy`` does), and the comparison is made in both precisions.
   The front's networks are the graphs ``nasaccel export`` writes (batch norm folded, trained weights);
   the paper CNN is ``torch.onnx.export`` of its module, both as exported from ``Conv1d`` and in the height-1
   2-D layout nasaccel's graphs use; its reference time at each batch size is the faster of the two. Latencies are also given as ratios to the paper
   CNN measured in the same rounds: the machine is shared, so absolute times are pessimistic.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

import nasaccel as na
import nasaccel.latency
import nasaccel.strategies.given
from nasaccel._core import Field, SpaceSpec
from nasaccel.executors import EvalContext
from nasaccel.spaces.base import SearchSpace

HAND_CNN = "conv-64-k3-s1|conv-64-k3-s2|conv-64-k3-s2|conv-64-k3-s2|conv-64-k3-s1"
PAPER_TARGET_ACC, PAPER_LAT_US = 0.94, 513.0  # issue targets: above 94% at no more latency than the paper CNN
HAND_TARGET_ACC, HAND_TARGET_US = 0.993, 1500.0  # and at least 99.3% at no more than 1,500 us per 256


def paper_cnn():
    import torch
    from torch import nn

    class PaperCNN(nn.Module):
        """The MNIST-1D paper's CNN: three stride-2 convolutions of 25 channels, flatten, linear."""

        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv1d(1, 25, 5, stride=2, padding=1)
            self.conv2 = nn.Conv1d(25, 25, 3, stride=2, padding=1)
            self.conv3 = nn.Conv1d(25, 25, 3, stride=2, padding=1)
            self.linear = nn.Linear(125, 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = torch.relu(self.conv1(x))
            x = torch.relu(self.conv2(x))
            x = torch.relu(self.conv3(x))
            return self.linear(x.flatten(1))

    return PaperCNN()


def paper_cnn_height1():
    """The paper's CNN computed as height-1 2-D convolutions (the layout nasaccel's 1-D graphs use)."""
    import torch
    from torch import nn

    ref = paper_cnn()

    class PaperCNNHeight1(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.convs = nn.ModuleList(
                nn.Conv2d(c.in_channels, c.out_channels, (1, c.kernel_size[0]), stride=(1, c.stride[0]),
                          padding=(0, c.padding[0])) for c in (ref.conv1, ref.conv2, ref.conv3))
            self.linear = nn.Linear(125, 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = x.unsqueeze(2)
            for conv in self.convs:
                x = torch.relu(conv(x))
            return self.linear(x.flatten(1))

    return PaperCNNHeight1()


class OneNetworkSpace(SearchSpace):
    """A space of one fixed network, so that our trainer trains a module no ChainSpace genome describes."""

    def __init__(self, name: str = "paper_cnn", input_shape=(1, 40), num_classes: int = 10) -> None:
        self.name, self.input_shape, self.num_classes = name, tuple(input_shape), num_classes
        self._spec = SpaceSpec([Field("net", 1)], 1, 1, 0)

    def decode(self, genome):
        return {"network": self.name}

    def to_text(self, genome):
        self.validate(genome)
        return self.name

    def from_text(self, text):
        if text != self.name:
            raise ValueError(f"this space holds only {self.name!r}, not {text!r}")
        return na.Genome([[0]], [0])

    def build_module(self, genome):
        return paper_cnn()

    def onnx_graph(self, genome, state, batch_size=1):
        """The float graph the trainer's ``int8_accuracy`` quantizes: ``torch.onnx.export`` of the trained module."""
        import onnx
        import torch

        module = paper_cnn()
        module.load_state_dict(dict(state))
        f = io.BytesIO()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(module.eval(), torch.zeros(batch_size, 1, 40), f, dynamo=False, input_names=["input"],
                              output_names=["logits"])
        return onnx.load_from_string(f.getvalue())

    def _arguments(self):
        return {"name": self.name, "input_shape": list(self.input_shape), "num_classes": self.num_classes}


class LoadSampler:
    """Samples the 1-minute load average every ``period`` seconds in a thread."""

    def __init__(self, period: float = 15.0) -> None:
        self.period, self.samples, self._stop = period, [os.getloadavg()[0]], threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            self.samples.append(os.getloadavg()[0])

    def __enter__(self) -> LoadSampler:
        self._t.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._t.join()

    def summary(self) -> str:
        s = np.asarray(self.samples)
        return f"1-min load average over the run: mean {s.mean():.1f}, min {s.min():.1f}, max {s.max():.1f} ({len(s)} samples)"


def config_file(name: str) -> Path:
    return Path(na.__file__).parent / "configs" / f"{name}.json"


def run_search(workdir: Path, config: str) -> float:
    workdir.mkdir(parents=True, exist_ok=True)
    cmd = ["nice", "-n", "5", sys.executable, "-m", "nasaccel", "search"] + ([] if config == "mnist1d_latency" else [config])
    print("running:", " ".join(cmd), "in", workdir, flush=True)
    start = time.monotonic()
    with LoadSampler() as load:
        subprocess.run(cmd, cwd=workdir, check=True)
    wall = time.monotonic() - start
    print(f"default search wall time: {wall:.0f} s; {load.summary()}", flush=True)
    return wall


def front_of_final(workdir: Path, config_name: str) -> tuple[Any, list[Any], dict[str, Any]]:
    """The final study, all its completed (retrained) trials and its stored config."""
    from nasaccel.final import final_study_names
    from nasaccel.storage import SQLiteStorage
    from nasaccel.trial import TrialState

    config = json.loads(config_file(config_name).read_text())
    storage = SQLiteStorage(workdir / config["storage"])
    names = storage.study_names()
    name = final_study_names(names, config["study_name"])[-1]
    sid, _ = storage.open_study(name, {})
    stored = storage.study_config(sid)
    space = na.space_from_config(stored["space"])
    study = na.Study(space, na.strategies.given.GivenArchitectures(stored["strategy"]["params"]["archs"]),
                     _Stored(), objectives=[":".join(o) for o in stored["objectives"]], storage=storage,
                     seed=stored["seed"], name=name)
    with sqlite3.connect(workdir / config["storage"]) as c:
        for study_name in (config["study_name"], name):
            created, first, last, n = c.execute(
                "SELECT s.created, MIN(t.datetime_start), MAX(t.datetime_complete), COUNT(*) FROM studies s "
                "JOIN trials t USING (study_id) WHERE s.name=?", (study_name,)).fetchone()
            print(f"stage {study_name!r}: {n} trials, {last - created:.0f} s from its creation to its last trial's end")
    return study, [t for t in study.trials if t.state == TrialState.COMPLETE], stored


class _Stored:
    """Placeholder evaluator to reopen a finished study read-only (never called)."""

    def evaluate(self, genome, space, context=None):
        raise RuntimeError("the stored study is only read")


def train_hand_designs(
    final_train: dict[str, Any], seeds: list[int], cache: Path, train: bool = True
) -> dict[str, list[dict[str, float]]]:
    """Train each hand design for each seed; every finished run is saved to ``cache`` at once and reused."""
    from nasaccel.evaluation import TorchTrainer

    common = {k: v for k, v in final_train.items() if k not in ("type", "data", "checkpoint_dir", "inherit")}
    budget = TorchTrainer(final_train.get("data", "mnist1d"), **common)
    n_train = len(budget.data.y_train)
    paper_recipe = budget.with_fidelity(epochs=max(1, round(6000 * 100 / n_train)), batch_size=100, lr=1e-2,
                                        schedule="constant")
    chain = na.ChainSpace((1, 40), 10, widths=(64,), kernels=(3,), strides=(1, 2), max_layers=5)
    paper = OneNetworkSpace()
    runs = {
        "paper CNN, final-stage budget": (budget, paper, "paper_cnn"),
        "hand CNN 5x64, final-stage budget": (budget, chain, HAND_CNN),
        f"paper CNN, paper recipe ({paper_recipe.epochs} epochs of batch 100, Adam 1e-2 constant)": (
            paper_recipe, paper, "paper_cnn"),
    }
    out: dict[str, list[dict[str, float]]] = json.loads(cache.read_text()) if cache.is_file() else {}
    for label, (trainer, space, arch) in runs.items():
        for seed in seeds:
            done = [m for m in out.get(label, []) if m["seed"] == seed
                    and (not trainer.int8_accuracy or "test_acc_int8" in m)]
            if done:
                m = done[0]
            elif not train:
                print(f"  {label} seed {seed}: not trained (--no-train)")
                continue
            else:
                m = trainer.evaluate(space.from_text(arch), space, EvalContext(0, seed, arch))
                m["seed"] = seed
                out[label] = [r for r in out.get(label, []) if r["seed"] != seed] + [m]
                cache.write_text(json.dumps(out, indent=1))
            int8 = f" (int8 {m['test_acc_int8']:.4f})" if "test_acc_int8" in m else ""
            print(f"  {label} seed {seed}: test acc {m['test_acc']:.4f}{int8}, val acc {m['val_acc']:.4f}, "
                  f"train {m['train_time_s']:.0f} s", flush=True)
    return out


def onnx_models(front_space, front, stored, batch: int, calibration: np.ndarray | None = None) -> dict[str, bytes]:
    """Every network's graph at ``batch``; with ``calibration`` inputs, each statically quantized to int8."""
    import onnx
    import torch

    from nasaccel.final import trained_state
    from nasaccel.latency.adapters import genome_onnx
    from nasaccel.latency.quantize import quantize_int8

    models = {}
    # The paper CNN in both layouts; at each batch size the faster one is the reference the front must beat.
    for key, module in (("paper CNN", paper_cnn_height1()), ("paper CNN (N, C, L) layout", paper_cnn())):
        f = io.BytesIO()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(module.eval(), torch.zeros(batch, 1, 40), f, dynamo=False, input_names=["input"],
                              output_names=["logits"])
        models[key] = f.getvalue()
    chain = na.ChainSpace((1, 40), 10, widths=(64,), kernels=(3,), strides=(1, 2), max_layers=5)
    models["hand CNN 5x64"] = genome_onnx(chain, chain.from_text(HAND_CNN), batch_size=batch).SerializeToString()
    for t in front:
        state = trained_state(stored["evaluator"], t.arch)
        models[t.arch] = genome_onnx(front_space, front_space.from_text(t.arch), state, batch_size=batch).SerializeToString()
    if calibration is not None:
        models = {k: quantize_int8(onnx.load_from_string(m), calibration).SerializeToString() for k, m in models.items()}
    return models


def time_all(models: dict[str, bytes], rounds: int) -> tuple[dict[str, float], dict[str, float]]:
    """Per-call time of every model in microseconds: (wall clock, thread CPU time), each the minimum over
    ``rounds`` interleaved rounds.

    Wall clock: the C++ harness median (overhead subtracted). Thread CPU time: the median of
    ``time.thread_time`` around single calls (ONNX Runtime with one intra-op thread computes on the
    calling thread), which a shared machine's preemption does not inflate.
    """
    from nasaccel.latency import OrtRunner, default_harness_options

    runners = {k: OrtRunner(m, intra_op_threads=1, inter_op_threads=1) for k, m in models.items()}
    wall = {k: float("inf") for k in models}
    cpu = {k: float("inf") for k in models}
    for _ in range(rounds):
        for k, r in runners.items():
            wall[k] = min(wall[k], r.measure(default_harness_options())["latency_s"] * 1e6)
            times, spent = [], 0.0
            while len(times) < 15 or (spent < 0.1 and len(times) < 2000):
                t0 = time.thread_time()
                r.call()
                dt = time.thread_time() - t0
                times.append(dt)
                spent += dt
            cpu[k] = min(cpu[k], float(np.median(times)) * 1e6)
    return wall, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="mnist1d_latency",
                    help="shipped config of the main job: mnist1d_latency (default) or mnist1d_latency_int8")
    ap.add_argument("--workdir", default="bench_mainjob_out")
    ap.add_argument("--skip-search", action="store_true", help="reuse the study in --workdir")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--clock", choices=["cpu", "wall"], default="cpu",
                    help="which per-call time the comparison uses (both are printed); default thread CPU time")
    ap.add_argument("--no-train", action="store_true", help="use only the hand-design runs already saved")
    ap.add_argument("--only-hand", action="store_true",
                    help="only train the hand designs (results kept in WORKDIR/hand_designs.json for the full run)")
    args = ap.parse_args()
    workdir = Path(args.workdir).resolve()
    print("machine:", json.dumps(na.latency.machine_description()), flush=True)
    if not args.skip_search and not args.only_hand:
        run_search(workdir, args.config)
    if args.only_hand:
        config = json.loads(config_file(args.config).read_text())
        final_train = next(e for e in config["final"]["evaluator"]["evaluators"] if e["type"] == "train")
        workdir.mkdir(parents=True, exist_ok=True)
    else:
        study, front, stored = front_of_final(workdir, args.config)
        final_train = next(e for e in stored["evaluator"]["evaluators"] if e["type"] == "train")
        print(f"\nfinal study {study.name!r}: {len(front)} front members of the search retrained")

    import torch

    torch.set_num_threads(1)
    hand_json = workdir / "hand_designs.json"
    print("\nhand designs trained by TorchTrainer (seeds", args.seeds, "; finished runs are read from", hand_json, "):",
          flush=True)
    with LoadSampler() as load:
        hand = train_hand_designs(final_train, args.seeds, hand_json, train=not args.no_train)
    print(" ", load.summary())
    if args.only_hand:
        return

    int8 = bool(final_train.get("int8_accuracy"))
    precisions = ("fp32", "int8") if int8 else ("fp32",)
    from nasaccel.final import calibration_inputs

    calibration = calibration_inputs(final_train) if int8 else None
    print(f"\ntiming (ONNX Runtime {na.latency.machine_description()['onnxruntime']}, 1 thread, "
          f"{args.rounds} rounds), load average before: {os.getloadavg()}", flush=True)
    timings = {}
    for prec in precisions:
        lat, cpu = {}, {}
        for b in (1, 256):
            models = onnx_models(study.space, front, stored, b, calibration if prec == "int8" else None)
            lat[b], cpu[b] = time_all(models, args.rounds)
        timings[prec] = (lat, cpu)
    print("load average after:", os.getloadavg())
    fp32_paper256 = None
    for prec in precisions:
        fp32_paper256 = compare(prec, *timings[prec], hand, front, stored, args.clock, fp32_paper256)


def compare(prec, lat, cpu, hand, front, stored, clock, fp32_paper256):
    """The table and the targets in one precision; returns the paper CNN's batch-256 time (its fp32 time scales
    the issue's absolute 1,500 us target to this machine in both precisions)."""
    acc_key = "test_acc" if prec == "fp32" else "test_acc_int8"
    print(f"\n## {prec} deployment: every network timed and scored as {'its float graph' if prec == 'fp32' else 'its int8 graph'}")
    if clock == "cpu":
        lat, wall = cpu, lat
    else:
        wall = lat
    print(f"latency below: {'thread CPU time' if clock == 'cpu' else 'wall clock'} per call; both clocks:")
    for k in lat[256]:
        print(f"  {k}: wall {wall[1][k]:.1f} / {wall[256][k]:.0f} us, thread CPU {cpu[1][k]:.1f} / {cpu[256][k]:.0f} us "
              "(batch 1 / 256)")
    lat = {b: dict(d) for b, d in lat.items()}
    # The paper CNN's reference time is the faster of its two layouts at each batch size.
    for d in (lat[1], lat[256]):
        d["paper CNN"] = min(d["paper CNN"], d.pop("paper CNN (N, C, L) layout"))
    p1, p256 = lat[1]["paper CNN"], lat[256]["paper CNN"]
    fp32_paper256 = p256 if fp32_paper256 is None else fp32_paper256

    rows = []
    for label, ms in hand.items():
        key = "paper CNN" if label.startswith("paper") else "hand CNN 5x64"
        accs = [m[acc_key] for m in ms]
        rows.append((label, "seeds " + ",".join(str(m["seed"]) for m in ms), accs, lat[1][key], lat[256][key]))
    from nasaccel._core import non_dominated_sort

    objs = np.array([[-t.metrics[acc_key], lat[256][t.arch]] for t in front])
    on_front = {t.arch for t, r in zip(front, np.asarray(non_dominated_sort(objs))) if r == 0}
    print(f"retrained networks on the front of {acc_key} against batch-256 latency (timed here): {len(on_front)} of {len(front)}")
    for t in sorted(front, key=lambda t: lat[256][t.arch]):
        rows.append((t.arch, f"seed {stored['seed']}", [t.metrics[acc_key]], lat[1][t.arch], lat[256][t.arch]))
    print(f"\n| network | seeds | test acc ({prec}) | val acc | us / batch 1 | us / batch 256 | batch-256 ratio to paper CNN |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    val = {t.arch: t.metrics["val_acc"] for t in front}
    for name, seeds, accs, l1, l256 in rows:
        acc = " / ".join(f"{a:.3f}" for a in accs)
        mark = " (front)" if name in on_front else ""
        vals = " / ".join(f"{m['val_acc']:.3f}" for m in hand[name]) if name in hand else f"{val[name]:.3f}"
        print(f"| `{name}`{mark} | {seeds} | {acc} | {vals} | {l1:.1f} | {l256:.0f} | {l256 / p256:.2f} |")

    paper_best = max(max(m[acc_key] for m in ms) for label, ms in hand.items() if label.startswith("paper"))
    hand_best = max((m[acc_key] for m in hand.get("hand CNN 5x64, final-stage budget", [])), default=HAND_TARGET_ACC)
    fast = [t for t in front if lat[256][t.arch] <= p256 and t.metrics[acc_key] > max(PAPER_TARGET_ACC, paper_best)]
    acc_budget = HAND_TARGET_US / PAPER_LAT_US * fp32_paper256  # the 1,500 us target, scaled to this run's paper-CNN time
    strong = [t for t in front if t.metrics[acc_key] >= max(HAND_TARGET_ACC, hand_best) and lat[256][t.arch] <= acc_budget]
    absolute = [t for t in front if t.metrics[acc_key] >= max(HAND_TARGET_ACC, hand_best) and lat[256][t.arch] <= HAND_TARGET_US]
    print(f"\ntarget 1 ({prec}): a front network above {PAPER_TARGET_ACC:.0%} (and above the paper CNN's best {paper_best:.3f}) at "
          f"no more latency than the paper CNN ({p256:.0f} us / 256, {p1:.1f} us / 1): {[t.arch for t in fast] or 'none'}")
    print(f"target 2 ({prec}): a front network with at least {max(HAND_TARGET_ACC, hand_best):.3f} test acc at no more than "
          f"{HAND_TARGET_US:.0f}/{PAPER_LAT_US:.0f} of the fp32 paper CNN's time ({acc_budget:.0f} us / 256 here): "
          f"{[t.arch for t in strong] or 'none'}; at no more than {HAND_TARGET_US:.0f} us: {[t.arch for t in absolute] or 'none'}")
    dominated = {
        label: [t.arch for t in front
                if lat[256][t.arch] <= lat[256]["paper CNN" if label.startswith("paper") else "hand CNN 5x64"]
                and lat[1][t.arch] <= lat[1]["paper CNN" if label.startswith("paper") else "hand CNN 5x64"]
                and t.metrics[acc_key] >= max(m[acc_key] for m in ms)]
        for label, ms in hand.items()
    }
    for label, archs in dominated.items():
        print(f"dominating {label} ({prec}; test acc >= its best seed, latency <= at batch 1 and 256): {archs or 'none'}")
    return fp32_paper256


if __name__ == "__main__":
    main()
