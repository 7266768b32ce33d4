"""Slimmable training with the sandwich rule, unary statistics, evaluation and fine-tuning.

Each step of :func:`train_slimmable` trains, on one mini-batch, the widest configuration on the labels,
then the narrowest and ``num_random`` random configurations on the widest one's soft outputs (in-place
distillation), and takes one optimizer step on the summed gradients (Yu & Huang's sandwich rule). The
cross-entropy of every random configuration (plus ``extra_samples`` forward-only ones) on the step's
labels feeds :class:`UnaryStatistics` once ``stats_from`` of training has passed. With an
:class:`AdaptiveNarrowing` sampler the random widths come from its annealed marginals, refreshed every
epoch from the statistics so far.
"""

from __future__ import annotations

import math
import numbers
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..data import DataSplits, load_data
from ..spaces.width import WidthSpace
from .latency import random_choice
from .unary import UnaryStatistics

__all__ = ["SlimmableRun", "accuracy", "estimate_unary", "evaluate_config", "make_data", "train_network", "train_slimmable"]


def make_data(data: DataSplits | str, data_args: dict[str, Any] | None = None) -> DataSplits:
    """A :class:`DataSplits`, or an embedded data set by name (``"mnist1d"``, ``"digits"``)."""
    if isinstance(data, DataSplits):
        if data_args:
            raise ValueError("data_args applies only when data is a data set name")
        return data
    if isinstance(data, str):
        return load_data(data, **(data_args or {}))
    raise ValueError(f"data must be a DataSplits or a data set name ('mnist1d', 'digits'), got {type(data).__name__}")


def _check_int(name: str, v: Any, minimum: int) -> int:
    if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {v!r}")
    return int(v)


def _check_float(name: str, v: Any, lo: float, hi: float) -> float:
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v) or not lo <= v <= hi:
        raise ValueError(f"{name} must be a number in [{lo:g}, {hi:g}], got {v!r}")
    return float(v)


def _batches(n: int, batch_size: int) -> list[tuple[int, int]]:
    """Mini-batch bounds; a lone last example joins the batch before it (batch norm needs two)."""
    bounds = [(lo, min(lo + batch_size, n)) for lo in range(0, n, batch_size)]
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] == 1:
        bounds[-2] = (bounds[-2][0], n)
        bounds.pop()
    return bounds


class _Threads:
    """torch intra-op threads (and deterministic algorithms) for the duration of a block."""

    def __init__(self, threads: int) -> None:
        self.threads = threads

    def __enter__(self) -> None:
        import torch

        self.old = torch.get_num_threads()
        self.old_det = torch.are_deterministic_algorithms_enabled()
        torch.set_num_threads(self.threads)
        torch.use_deterministic_algorithms(True)

    def __exit__(self, *exc: Any) -> None:
        import torch

        torch.set_num_threads(self.old)
        torch.use_deterministic_algorithms(self.old_det)


@dataclass
class SlimmableRun:
    """What :func:`train_slimmable` returns."""

    network: Any  # SlimmableNetwork
    unary: UnaryStatistics
    history: list[dict[str, float]] = field(default_factory=list)
    narrowing: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    samples: int = 0


def train_slimmable(
    space: WidthSpace,
    data: DataSplits | str,
    *,
    epochs: int = 10,
    batch_size: int = 128,
    lr: float = 3e-3,
    weight_decay: float = 0.0,
    num_random: int = 2,
    extra_samples: int = 2,
    stats_from: float = 0.5,
    distill: bool = True,
    sampler: Any = None,
    seed: int = 0,
    threads: int = 1,
    data_args: dict[str, Any] | None = None,
    progress: Callable[[int, int, float], None] | None = None,
) -> SlimmableRun:
    """Train a :class:`SlimmableNetwork` of ``space`` by the sandwich rule and collect unary statistics.

    Parameters
    ----------
    space : WidthSpace
        The backbone and width choices.
    data : DataSplits or str
        Training data (the ``train`` split is used).
    epochs, batch_size, lr, weight_decay
        Adam with a cosine learning-rate schedule over all steps.
    num_random : int
        Random configurations trained per step besides the widest and the narrowest.
    extra_samples : int
        Random configurations per step only evaluated (no gradient) for the unary statistics.
    stats_from : float
        Fraction of training after which sampled losses feed the statistics (early losses mostly
        measure how far training has come, not what a width costs).
    distill : bool
        Train the narrower configurations on the widest one's soft outputs (else on the labels).
    sampler : AdaptiveNarrowing, optional
        Adaptive narrowing of the random widths (uniform when None).
    seed : int
        Seeds the initial weights, the batch order and the sampled widths.
    threads : int
        torch intra-op threads.
    progress : callable, optional
        ``progress(epoch, epochs, mean widest loss)`` after each epoch.
    """
    import torch
    import torch.nn.functional as F

    from .slimmable import SlimmableNetwork

    epochs = _check_int("epochs", epochs, 1)
    batch_size = _check_int("batch_size", batch_size, 2)
    num_random = _check_int("num_random", num_random, 0)
    extra_samples = _check_int("extra_samples", extra_samples, 0)
    if num_random + extra_samples < 2:
        raise ValueError(
            f"num_random + extra_samples must be >= 2 to estimate unary statistics, got {num_random} + {extra_samples}"
        )
    lr = _check_float("lr", lr, 0.0, math.inf)
    stats_from = _check_float("stats_from", stats_from, 0.0, 1.0)
    threads = _check_int("threads", threads, 1)
    d = make_data(data, data_args)
    if tuple(d.input_shape) != tuple(space.input_shape) or d.num_classes != space.num_classes:
        raise ValueError(
            f"space expects inputs {list(space.input_shape)} and {space.num_classes} classes, data {d.name!r} has "
            f"{list(d.input_shape)} and {d.num_classes}"
        )
    rng = np.random.default_rng(seed)
    unary = UnaryStatistics(space.num_nodes, space.num_choices)
    history: list[dict[str, float]] = []
    widest = [space.num_choices - 1] * space.num_nodes
    narrowest = [0] * space.num_nodes
    t0 = time.perf_counter()
    samples = 0
    with _Threads(threads), torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = SlimmableNetwork(space)
        xt, yt = torch.from_numpy(d.x_train), torch.from_numpy(d.y_train)
        bounds = _batches(len(yt), batch_size)
        total = epochs * len(bounds)
        opt = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=weight_decay)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total)
        step = 0
        for epoch in range(epochs):
            net.train()
            probs = None
            if sampler is not None and (unary.counts.sum(axis=1) > 0).all():
                probs = sampler.update(unary.costs(), epoch / epochs)
            perm = torch.from_numpy(rng.permutation(len(yt)))
            widest_loss = 0.0
            for lo, hi in bounds:
                idx = perm[lo:hi]
                xb, yb = xt[idx], yt[idx]
                opt.zero_grad(set_to_none=True)
                logits = net(xb, widest)
                loss = F.cross_entropy(logits, yb)
                loss.backward()
                widest_loss += float(loss.detach()) * (hi - lo)
                soft = F.softmax(logits.detach(), dim=1)
                configs = [narrowest] + [random_choice(space, rng, probs) for _ in range(num_random)]
                sampled, losses = [], []
                for j, cfg in enumerate(configs):
                    out = net(xb, cfg)
                    ce = F.cross_entropy(out, yb)
                    target = -(soft * F.log_softmax(out, dim=1)).sum(dim=1).mean() if distill else ce
                    target.backward()
                    if j > 0:
                        sampled.append(cfg)
                        losses.append(float(ce.detach()))
                if extra_samples:
                    with torch.no_grad():
                        for _ in range(extra_samples):
                            cfg = random_choice(space, rng, probs)
                            sampled.append(cfg)
                            losses.append(float(F.cross_entropy(net(xb, cfg), yb)))
                opt.step()
                sched.step()
                step += 1
                if step > stats_from * total and len(losses) >= 2:
                    unary.update_step(sampled, losses)
                    samples += len(losses)
            mean_loss = widest_loss / len(yt)
            if not math.isfinite(mean_loss):
                raise RuntimeError(f"slimmable training diverged: widest loss {mean_loss} in epoch {epoch + 1}")
            history.append({"epoch": epoch + 1, "widest_train_loss": mean_loss})
            if progress is not None:
                progress(epoch + 1, epochs, mean_loss)
    net.clear_stats()
    return SlimmableRun(net, unary, history, list(getattr(sampler, "history", [])), time.perf_counter() - t0, samples)


def evaluate_config(
    network: Any,
    config: Sequence[int],
    x_calib: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    *,
    batch_size: int = 1024,
) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) of one configuration of a slimmable network, BN calibrated on ``x_calib``."""
    import torch
    import torch.nn.functional as F

    network.calibrate(x_calib, config)
    network.eval()
    loss, correct = 0.0, 0
    with torch.no_grad():
        for lo in range(0, len(y), batch_size):
            out = network(torch.from_numpy(x[lo : lo + batch_size]), config)
            yb = torch.from_numpy(y[lo : lo + batch_size])
            loss += float(F.cross_entropy(out, yb, reduction="sum"))
            correct += int((out.argmax(1) == yb).sum())
    network.train()
    return loss / len(y), correct / len(y)


def estimate_unary(
    network: Any,
    x_calib: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    *,
    samples: int = 100,
    group: int = 4,
    seed: int = 0,
    probs: Sequence[np.ndarray] | None = None,
) -> UnaryStatistics:
    """Unary statistics of a trained slimmable network from held-out data instead of training losses.

    Draws ``samples`` random configurations (uniform, or from per-node ``probs``) in groups of ``group``,
    scores each by its loss on ``(x, y)`` after batch-norm calibration on ``x_calib`` (as greedy pruning
    scores its candidates) and attributes the losses centred on each group's mean. Same seed, same draws.
    """
    samples = _check_int("samples", samples, 2)
    group = _check_int("group", group, 2)
    space = network.space
    rng = np.random.default_rng(seed)
    unary = UnaryStatistics(space.num_nodes, space.num_choices)
    done = 0
    while done < samples:
        n = min(group, samples - done)
        if n < 2:
            break
        configs = [random_choice(space, rng, probs) for _ in range(n)]
        losses = []
        for c in configs:
            losses.append(evaluate_config(network, c, x_calib, x, y)[0])
            network.stats.pop(network.key(c), None)
        unary.update_step(configs, losses)
        done += n
    return unary


def accuracy(model: Any, x: np.ndarray, y: np.ndarray, batch_size: int = 1024) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) of a torch classifier in eval mode."""
    import torch
    import torch.nn.functional as F

    model.eval()
    loss, correct = 0.0, 0
    with torch.no_grad():
        for lo in range(0, len(y), batch_size):
            out = model(torch.from_numpy(x[lo : lo + batch_size]))
            yb = torch.from_numpy(y[lo : lo + batch_size])
            loss += float(F.cross_entropy(out, yb, reduction="sum"))
            correct += int((out.argmax(1) == yb).sum())
    return loss / len(y), correct / len(y)


def train_network(
    model: Any,
    data: DataSplits,
    *,
    epochs: int = 5,
    batch_size: int = 128,
    lr: float = 1e-3,
    seed: int = 0,
    threads: int = 1,
) -> dict[str, float]:
    """Train (or fine-tune) a standalone network with Adam and a cosine schedule; val/test metrics after.

    Returns ``val_acc``, ``val_loss``, ``test_acc``, ``test_loss``, ``train_loss`` (last epoch) and
    ``seconds``. Seeds the batch order from ``seed``; the weights are whatever ``model`` holds.
    """
    import torch
    import torch.nn.functional as F

    epochs = _check_int("epochs", epochs, 0)
    batch_size = _check_int("batch_size", batch_size, 2)
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    train_loss = math.nan
    with _Threads(threads):
        xt, yt = torch.from_numpy(data.x_train), torch.from_numpy(data.y_train)
        bounds = _batches(len(yt), batch_size)
        if epochs:
            opt = torch.optim.Adam(model.parameters(), lr=lr)
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * len(bounds))
        for epoch in range(epochs):
            model.train()
            perm = torch.from_numpy(rng.permutation(len(yt)))
            total = 0.0
            for lo, hi in bounds:
                idx = perm[lo:hi]
                opt.zero_grad(set_to_none=True)
                loss = F.cross_entropy(model(xt[idx]), yt[idx])
                loss.backward()
                opt.step()
                sched.step()
                total += float(loss.detach()) * (hi - lo)
            train_loss = total / len(yt)
            if not math.isfinite(train_loss):
                raise RuntimeError(f"training diverged: mean loss {train_loss} in epoch {epoch + 1}")
        # Running averages over a few short epochs lag far behind the final weights: recompute the
        # batch-norm statistics of the trained network over the training data (precise BN).
        if any(hasattr(m, "reset_running_stats") for m in model.modules()):
            model.train()
            bns = [m for m in model.modules() if hasattr(m, "reset_running_stats")]
            momenta = [m.momentum for m in bns]
            with torch.no_grad():
                for m in bns:
                    m.reset_running_stats()
                    m.momentum = None  # cumulative average: every batch counts equally
                for lo, hi in bounds:
                    model(xt[lo:hi])
            for m, mom in zip(bns, momenta):
                m.momentum = mom
        val_loss, val_acc = accuracy(model, data.x_val, data.y_val)
        test_loss, test_acc = accuracy(model, data.x_test, data.y_test)
    return {"val_acc": val_acc, "val_loss": val_loss, "test_acc": test_acc, "test_loss": test_loss,
            "train_loss": train_loss, "seconds": time.perf_counter() - t0}
