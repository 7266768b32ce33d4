"""``TorchTrainer``: an evaluator that trains each candidate network with torch and measures it.

Fidelities (what a multi-fidelity search turns down to make evaluations cheap): ``epochs``,
``data_fraction`` (of the training split) and ``resolution`` (of the inputs). The trainer reports the
validation accuracy after every epoch through ``context.report`` so that a pruner can stop poor
learning curves, and, given a checkpoint directory, starts a mutated child from its parent's weights.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import math
import numbers
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..data import DataSplits, load_data, stratified_subset
from .augment import Augmentation
from .flops import count_macs
from .inheritance import CheckpointStore, inherit_weights

if TYPE_CHECKING:
    import torch

    from .._core import Genome
    from ..executors import EvalContext
    from ..spaces.base import SearchSpace

__all__ = ["TorchTrainer", "trial_seed"]

logger = logging.getLogger("nasaccel.trainer")

_OPTIMIZERS = ("adam", "adamw", "sgd")
_SCHEDULES = ("cosine", "constant")


def trial_seed(seed: int, arch: str) -> int:
    """The torch seed of one evaluation: a stable 63-bit hash of the study seed and the architecture text.

    Stable across processes and Python versions (unlike ``hash(str)``), so that the same
    ``(seed, arch)`` gives the same initial weights and batch order wherever it runs.
    """
    digest = hashlib.blake2b(f"{int(seed)}\x00{arch}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & ((1 << 63) - 1)


def _check_positive_int(name: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_real(name: str, value: Any, low: float, high: float, *, low_open: bool = False, high_open: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    v = float(value)
    if (v < low or (low_open and v == low)) or (v > high or (high_open and v == high)):
        lo = "(" if low_open else "["
        hi = ")" if high_open else "]"
        raise ValueError(f"{name} must be in {lo}{low:g}, {high:g}{hi}, got {value!r}")
    return v


def _joined(x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray, y_val: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The training and validation examples as one training set."""
    return np.ascontiguousarray(np.concatenate([x_train, x_val])), np.concatenate([y_train, y_val])


class TorchTrainer:
    """Evaluator that trains ``space.build_module(genome)`` on a data set and reports its accuracy.

    Parameters
    ----------
    data : DataSplits or str
        The data: a :class:`~nasaccel.data.DataSplits` or the name of an embedded set (``"mnist1d"``,
        ``"digits"``) loaded with ``data_args``.
    data_args : dict, optional
        Keyword arguments of the embedded loader (e.g. ``{"seed": 0, "num_samples": 2000}``).
    epochs : int
        Passes over the (possibly reduced) training split. Fidelity.
    batch_size : int
        Training mini-batch size. Batches are drawn without replacement in a seeded random order;
        a last batch of a single example joins the batch before it (BatchNorm needs two).
    optimizer : {"adam", "adamw", "sgd"}
        ``sgd`` uses Nesterov momentum ``momentum``.
    lr : float, optional
        Peak learning rate; default 1e-3 for adam/adamw, 0.05 for sgd.
    momentum : float
        SGD momentum.
    weight_decay : float
        L2 penalty (decoupled for adamw).
    schedule : {"cosine", "constant"}
        ``cosine`` anneals the learning rate from ``lr`` to 0 over all training steps, per step.
    label_smoothing : float
        Of the cross-entropy loss, in [0, 1).
    data_fraction : float
        Fraction of the training split used, in (0, 1]: a class-stratified subset drawn from the
        study seed, so every architecture of a study sees the same examples. Fidelity.
    augment : dict or Augmentation, optional
        Random transformations of the training batches (not of the validation and test inputs):
        the settings of :class:`~nasaccel.evaluation.augment.Augmentation` (``shift``, ``padding``,
        ``stretch``, ``scale``, ``noise``), e.g. ``{"shift": 20, "padding": "circular"}``. Applied at
        the trained ``resolution`` and drawn from a generator seeded like the batch order but
        separate from it, so turning augmentation on leaves the batch order unchanged. ``None``
        (default): the training inputs as they are.
    train_on_validation : bool
        Train on the training and the validation split together (the test split is never
        trained on). For a final retraining whose architectures were already chosen on the
        validation split: ``val_acc`` and ``val_loss`` are then measured on examples the network
        was trained on and estimate nothing. Not with ``data_fraction < 1``.
    refit : bool
        Train twice from the same initial weights: first on the training split, which gives
        ``val_acc`` and ``val_loss`` (the validation split held out, as without ``refit``) and the
        learning curve a pruner sees; then on the training and validation splits together, which
        gives ``test_acc``, ``train_loss`` and the saved weights. As scikit-learn's search refits the
        chosen model on all the data: the validation accuracy still ranks architectures honestly,
        and the network kept has seen 25 % more examples (with the default 80/20 split). Twice the
        training time. Not with ``train_on_validation`` or ``data_fraction < 1``.
    resolution : int or (int, int), optional
        Input size the networks are trained and evaluated at. For 1-D data ``L``: the signals are
        resampled by linear interpolation to length ``L``; for 2-D data ``S`` or ``(H, W)``: the
        images are resized bilinearly (``align_corners=False``, antialiased when shrinking).
        Validation and test inputs are resampled too. A space whose arguments include
        ``input_shape`` (``ChainSpace``) is rebuilt at the new size (its networks end in global
        pooling, so the parameters are those of the native size); other spaces' networks must
        accept any input size (NB201 and NAS-Bench-Macro end in global pooling). ``None``: the data's
        own size. Fidelity.
    threads : int
        torch intra-op threads during an evaluation (set with ``torch.set_num_threads`` and restored
        afterwards), so that parallel executor workers do not oversubscribe the cores.
    eval_batch_size : int
        Batch size of the validation and test passes.
    checkpoint_dir : str or Path, optional
        Directory of trained weights (:class:`~nasaccel.evaluation.inheritance.CheckpointStore`):
        every evaluation saves its final weights there (also when pruned), and, when ``inherit`` is
        true and ``context.parent_arch`` has a checkpoint, starts from the parent's matching weights.
    inherit : bool
        Use parents' checkpoints (needs ``checkpoint_dir``).
    device : str
        torch device, ``"cpu"`` by default.
    deterministic : bool
        Turn on ``torch.use_deterministic_algorithms`` during the evaluation (restored afterwards).
    int8_accuracy : bool
        Also measure the network as an int8 deployment runs it: its ONNX graph with the trained
        weights (batch norm folded, :func:`~nasaccel.latency.genome_onnx`), statically quantized
        (:func:`~nasaccel.latency.quantize.quantize_int8`) with activation ranges calibrated on up
        to ``int8_calibration`` training examples, run on ONNX Runtime. Adds ``val_acc_int8``,
        ``val_loss_int8`` and ``test_acc_int8``. Needs onnx and onnxruntime, a space with ONNX
        graphs (chain, NB201, macro, or any space with a method ``onnx_graph(genome, state, batch_size=B)``
        returning the float graph) and the data's own resolution.
    int8_calibration : int
        Training examples (the first ones of the training split) that calibrate the int8 ranges.

    Notes
    -----
    **Metrics** returned by :meth:`evaluate` (all floats):

    - ``val_acc``, ``test_acc``: accuracies as fractions in [0, 1] (not percent) on the validation
      and test splits after the last epoch, BatchNorm in eval mode;
    - ``val_loss``, ``train_loss``: mean cross-entropy on the validation split / over the last epoch;
    - ``params``: trainable parameters;
    - ``macs``: multiply-accumulates of one forward pass of one example at the trained resolution
      (Conv, Linear and BatchNorm, see :mod:`nasaccel.evaluation.flops`); ``flops = 2 * macs``;
    - ``train_time_s``: wall-clock seconds of the epoch loop (training steps and the per-epoch
      validation), excluding construction, FLOP counting and the test pass;
    - ``epochs``: epochs trained;
    - ``inherited_params``, ``inherited_tensors``: parameter entries and tensors copied from the
      parent (0 without inheritance);
    - with ``refit`` also ``test_acc_before_refit`` (the first network's test accuracy) and
      ``refit_time_s`` (the second training's seconds, included in ``train_time_s``);
    - with ``int8_accuracy`` also ``val_acc_int8``, ``val_loss_int8`` (of the first network when
      refitting, like ``val_acc``) and ``test_acc_int8`` (of the network kept).

    A pruned trial raises :class:`~nasaccel.trial.TrialPruned` whose metrics also carry ``params``,
    ``macs``, ``flops``, ``epochs`` and ``train_time_s``.

    **Determinism.** The torch seed is :func:`trial_seed` ``(context.seed, arch text)``; initial
    weights come from it under ``torch.random.fork_rng`` (the caller's global RNG is untouched), and
    the batch order from a numpy generator seeded with it. On the CPU, the same ``(seed, arch)`` and the
    same ``threads`` give bit-identical metrics (apart from ``train_time_s``).

    **Learning curve.** After epoch ``e`` (1-based) the trainer calls ``context.report(e, val_acc)``.
    """

    def __init__(
        self,
        data: DataSplits | str = "mnist1d",
        *,
        data_args: dict[str, Any] | None = None,
        epochs: int = 10,
        batch_size: int = 64,
        optimizer: str = "adam",
        lr: float | None = None,
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        schedule: str = "cosine",
        label_smoothing: float = 0.0,
        augment: dict[str, Any] | Augmentation | None = None,
        data_fraction: float = 1.0,
        train_on_validation: bool = False,
        refit: bool = False,
        resolution: int | Sequence[int] | None = None,
        threads: int = 1,
        eval_batch_size: int = 1024,
        checkpoint_dir: str | Path | None = None,
        inherit: bool = True,
        device: str = "cpu",
        deterministic: bool = True,
        int8_accuracy: bool = False,
        int8_calibration: int = 512,
    ) -> None:
        if isinstance(data, str):
            if data_args is not None and not isinstance(data_args, dict):
                raise ValueError(f"data_args must be a dict of loader arguments, got {data_args!r}")
            data = load_data(data, **(data_args or {}))
        elif not isinstance(data, DataSplits):
            raise ValueError(f"data must be a DataSplits or a data set name, got {type(data).__name__}")
        elif data_args is not None:
            raise ValueError("data_args applies only when data is a data set name")
        self.data = data
        self.epochs = _check_positive_int("epochs", epochs)
        self.batch_size = _check_positive_int("batch_size", batch_size)
        if optimizer not in _OPTIMIZERS:
            raise ValueError(f"unknown optimizer {optimizer!r}; choose from {list(_OPTIMIZERS)}")
        self.optimizer = optimizer
        if lr is None:
            lr = 0.05 if optimizer == "sgd" else 1e-3
        self.lr = _check_real("lr", lr, 0.0, math.inf, low_open=True)
        self.momentum = _check_real("momentum", momentum, 0.0, 1.0, high_open=True)
        self.weight_decay = _check_real("weight_decay", weight_decay, 0.0, math.inf)
        if schedule not in _SCHEDULES:
            raise ValueError(f"unknown schedule {schedule!r}; choose from {list(_SCHEDULES)}")
        self.schedule = schedule
        self.label_smoothing = _check_real("label_smoothing", label_smoothing, 0.0, 1.0, high_open=True)
        self.data_fraction = _check_real("data_fraction", data_fraction, 0.0, 1.0, low_open=True)
        if not isinstance(train_on_validation, bool):
            raise ValueError(f"train_on_validation must be true or false, got {train_on_validation!r}")
        if train_on_validation and self.data_fraction < 1.0:
            raise ValueError(
                f"train_on_validation trains on whole splits; it does not combine with data_fraction {self.data_fraction:g}"
            )
        self.train_on_validation = train_on_validation
        if not isinstance(refit, bool):
            raise ValueError(f"refit must be true or false, got {refit!r}")
        if not isinstance(int8_accuracy, bool):
            raise ValueError(f"int8_accuracy must be true or false, got {int8_accuracy!r}")
        self.int8_accuracy = int8_accuracy
        self.int8_calibration = _check_positive_int("int8_calibration", int8_calibration)
        if refit and (train_on_validation or self.data_fraction < 1.0):
            raise ValueError(
                "refit trains first on the whole training split, then on training and validation: it does not combine "
                f"with train_on_validation or data_fraction {self.data_fraction:g}"
            )
        self.refit = refit
        self.resolution = self._check_resolution(resolution)
        if self.int8_accuracy and self.resolution is not None and tuple(self.resolution) != tuple(self.data.input_shape[1:]):
            raise ValueError(
                f"int8_accuracy measures the ONNX graph at the data's own size {list(self.data.input_shape[1:])}, "
                f"not at resolution {list(self.resolution)}"
            )
        self.augment = None if augment is None else Augmentation.from_config(augment)
        if self.augment is not None:
            self.augment.check_shape(self.input_shape)
        self.threads = _check_positive_int("threads", threads)
        self.eval_batch_size = _check_positive_int("eval_batch_size", eval_batch_size)
        self.checkpoint_dir = None if checkpoint_dir is None else str(checkpoint_dir)
        if self.checkpoint_dir is not None:
            CheckpointStore(self.checkpoint_dir)  # create it and fail early on a bad path
        self.inherit = bool(inherit)
        if not isinstance(device, str) or not device:
            raise ValueError(f"device must be a torch device string such as 'cpu', got {device!r}")
        self.device = device
        self.deterministic = bool(deterministic)

    def _check_resolution(self, resolution: Any) -> tuple[int, ...] | None:
        if resolution is None:
            return None
        spatial = len(self.data.input_shape) - 1
        if isinstance(resolution, numbers.Integral) and not isinstance(resolution, bool):
            res: tuple[int, ...] = (int(resolution),) * spatial
        elif isinstance(resolution, Sequence) and not isinstance(resolution, str):
            res = tuple(resolution)
            if len(res) != spatial or not all(isinstance(r, numbers.Integral) and not isinstance(r, bool) for r in res):
                raise ValueError(
                    f"resolution {list(resolution)!r} must be {spatial} integer(s) for data of shape {self.data.input_shape}"
                )
            res = tuple(int(r) for r in res)
        else:
            raise ValueError(f"resolution must be an integer or a sequence of integers, got {resolution!r}")
        if any(r < 1 for r in res):
            raise ValueError(f"resolution {list(res)!r} must be positive")
        return res

    # ------------------------------------------------------------------ configuration

    def config(self) -> dict[str, Any]:
        """JSON-serialisable settings; ``evaluator_from_config`` rebuilds the trainer from an embedded data set's."""
        return {
            "type": "train",
            "data": self.data.name,
            "data_args": dict(self.data.args),
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "optimizer": self.optimizer,
            "lr": self.lr,
            "momentum": self.momentum,
            "weight_decay": self.weight_decay,
            "schedule": self.schedule,
            "label_smoothing": self.label_smoothing,
            "augment": None if self.augment is None else self.augment.config(),
            "data_fraction": self.data_fraction,
            "train_on_validation": self.train_on_validation,
            "refit": self.refit,
            "resolution": None if self.resolution is None else list(self.resolution),
            "threads": self.threads,
            "eval_batch_size": self.eval_batch_size,
            "checkpoint_dir": self.checkpoint_dir,
            "inherit": self.inherit,
            "device": self.device,
            "deterministic": self.deterministic,
            "int8_accuracy": self.int8_accuracy,
            "int8_calibration": self.int8_calibration,
        }

    def with_fidelity(self, **changes: Any) -> TorchTrainer:
        """A copy with some settings changed (e.g. ``epochs=3, data_fraction=0.25``), sharing the data."""
        unknown = set(changes) - set(self.config()) - {"data"}
        if unknown or "data" in changes or "data_args" in changes:
            raise ValueError(f"with_fidelity cannot change {sorted(unknown | ({'data', 'data_args'} & set(changes)))}")
        args = {k: v for k, v in self.config().items() if k not in ("type", "data", "data_args")}
        args.update(changes)
        return TorchTrainer(self.data, **args)

    # ------------------------------------------------------------------ building

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one example as the networks see it (after ``resolution``)."""
        if self.resolution is None:
            return tuple(self.data.input_shape)
        return (self.data.input_shape[0], *self.resolution)

    def check_space(self, space: SearchSpace) -> None:
        """Raise ``ValueError`` naming both shapes when ``space``'s networks do not fit the data."""
        data_shape, data_classes = tuple(self.data.input_shape), self.data.num_classes
        shape = getattr(space, "input_shape", None)
        if shape is not None and tuple(shape) != data_shape:
            raise ValueError(
                f"space {type(space).__name__} has input_shape {list(shape)} but data {self.data.name!r} "
                f"has input shape {list(data_shape)}"
            )
        channels = getattr(space, "input_channels", None)
        if shape is None and channels is not None:
            if len(data_shape) != 3:
                raise ValueError(
                    f"space {type(space).__name__} takes images (C={channels}, H, W) but data {self.data.name!r} "
                    f"has input shape {list(data_shape)}"
                )
            if channels != data_shape[0]:
                raise ValueError(
                    f"space {type(space).__name__} has input_channels {channels} but data {self.data.name!r} "
                    f"has {data_shape[0]} channels (input shape {list(data_shape)})"
                )
        classes = getattr(space, "num_classes", None)
        if classes is not None and classes != data_classes:
            raise ValueError(
                f"space {type(space).__name__} has num_classes {classes} but data {self.data.name!r} has {data_classes} classes"
            )

    def build(self, genome: Genome, space: SearchSpace) -> torch.nn.Module:
        """The network of ``genome`` for inputs of :attr:`input_shape` (freshly initialised from torch's global RNG)."""
        self.check_space(space)
        if self.resolution is not None:
            config = space.config()
            if "input_shape" in config.get("args", {}):
                from ..spaces import space_from_config

                config = copy.deepcopy(config)
                config["args"]["input_shape"] = list(self.input_shape)
                space = space_from_config(config)
        return space.build_module(genome)

    # ------------------------------------------------------------------ data

    def _prepared(self, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Training examples (``data_fraction`` from ``seed``, or train and validation) and the three splits at ``resolution``."""
        d = self.data
        x_train, y_train = d.x_train, d.y_train
        if self.data_fraction < 1.0:
            keep = stratified_subset(y_train, self.data_fraction, seed)
            x_train, y_train = x_train[keep], y_train[keep]
        xs = [x_train, d.x_val, d.x_test]
        if self.resolution is not None and tuple(self.resolution) != tuple(d.input_shape[1:]):
            xs = [self._resample(x) for x in xs]  # per example, so before or after joining the splits is the same
        if self.train_on_validation:
            return (*_joined(xs[0], y_train, xs[1], d.y_val), xs[1], d.y_val, xs[2], d.y_test)
        return xs[0], y_train, xs[1], d.y_val, xs[2], d.y_test

    def _resample(self, x: np.ndarray) -> np.ndarray:
        import torch
        import torch.nn.functional as F

        t = torch.from_numpy(np.ascontiguousarray(x))
        size = tuple(self.resolution or ())
        if len(size) == 1:
            out = F.interpolate(t, size=size, mode="linear", align_corners=False)
        else:
            shrink = any(r < s for r, s in zip(size, x.shape[2:]))
            out = F.interpolate(t, size=size, mode="bilinear", align_corners=False, antialias=shrink)
        return out.numpy().astype(np.float32)

    # ------------------------------------------------------------------ evaluation

    def evaluate(self, genome: Genome, space: SearchSpace, context: EvalContext | None = None) -> dict[str, float]:
        """Train ``genome``'s network and measure it; see the class Notes for the metrics.

        Raises
        ------
        ValueError
            When the space's networks do not fit the data (input shape, channels or classes).
        TrialPruned
            When ``context``'s pruner stops the learning curve.
        RuntimeError
            When the training loss becomes non-finite.
        """
        import torch

        arch = space.to_text(genome)
        seed = 0 if context is None else int(context.seed)
        self.check_space(space)
        old_threads = torch.get_num_threads()
        old_det = torch.are_deterministic_algorithms_enabled()
        old_det_warn = torch.is_deterministic_algorithms_warn_only_enabled()
        torch.set_num_threads(self.threads)
        if self.deterministic:
            if self.device.startswith("cuda"):
                # cuBLAS is deterministic only with a fixed workspace; without it torch raises.
                os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
            torch.use_deterministic_algorithms(True)
        try:
            with torch.random.fork_rng(devices=[]):
                return self._evaluate(genome, space, context, arch, seed)
        finally:
            torch.set_num_threads(old_threads)
            torch.use_deterministic_algorithms(old_det, warn_only=old_det_warn)

    def _evaluate(
        self, genome: Genome, space: SearchSpace, context: EvalContext | None, arch: str, seed: int
    ) -> dict[str, float]:
        import torch

        from ..trial import TrialPruned

        tseed = trial_seed(seed, arch)
        torch.manual_seed(tseed)
        model = self.build(genome, space)
        device = torch.device(self.device)
        store = CheckpointStore(self.checkpoint_dir) if self.checkpoint_dir is not None else None
        inherited_tensors = inherited_params = 0
        parent_arch = None if context is None else context.parent_arch
        if store is not None and self.inherit and parent_arch and parent_arch != arch:
            parent_state = store.load(parent_arch)
            try:
                parent_genome = space.from_text(parent_arch) if parent_state is not None else None
            except ValueError as e:  # a parent from another space: train from scratch rather than fail
                logger.warning("cannot inherit from parent %r of %r: %s", parent_arch, arch, e)
                parent_genome = None
            if parent_state is not None and parent_genome is not None:
                report = inherit_weights(model, parent_state, space, genome, parent_genome)
                inherited_tensors, inherited_params = report.tensors, report.params
        macs = count_macs(model, self.input_shape)
        params = sum(p.numel() for p in model.parameters() if p.requires_grad)
        model.to(device)

        x_train, y_train, x_val, y_val, x_test, y_test = self._prepared(seed)
        augment = self.augment if self.augment is not None and self.augment.active else None
        static = {"params": float(params), "macs": float(macs), "flops": float(2 * macs),
                  "inherited_params": float(inherited_params), "inherited_tensors": float(inherited_tensors)}
        initial = copy.deepcopy(model.state_dict()) if self.refit else None

        start = time.perf_counter()
        train_loss = math.nan
        epoch = 0
        try:
            for epoch, train_loss in self._epochs(model, x_train, y_train, arch, device, augment, tseed):
                val_acc, val_loss = self._accuracy(model, x_val, y_val, device)
                if context is not None:
                    context.report(epoch, val_acc)
        except TrialPruned as e:
            elapsed = time.perf_counter() - start
            if store is not None:
                store.save(arch, model.state_dict())
            e.metrics.update(static, epochs=float(epoch), train_time_s=elapsed)
            raise
        test_acc, _ = self._accuracy(model, x_test, y_test, device)
        extra: dict[str, float] = {}
        if self.int8_accuracy:
            # with refit the test split is scored on the refitted network below, not on this one
            splits = [(x_val, y_val)] + ([] if initial is not None else [(x_test, y_test)])
            int8 = self._int8_metrics(model, genome, space, x_train, *splits)
            extra.update(val_acc_int8=int8[0][0], val_loss_int8=int8[0][1])
            if initial is None:
                extra["test_acc_int8"] = int8[1][0]
        if initial is not None:
            refit_start = time.perf_counter()
            model.load_state_dict(initial)
            # the same seed as the first training: the second is then exactly a train_on_validation run
            for _, train_loss in self._epochs(model, *_joined(x_train, y_train, x_val, y_val), arch, device, augment, tseed):
                pass
            extra.update(test_acc_before_refit=test_acc, refit_time_s=time.perf_counter() - refit_start)
            test_acc, _ = self._accuracy(model, x_test, y_test, device)
            if self.int8_accuracy:
                x_all = np.concatenate([x_train, x_val])
                extra["test_acc_int8"] = self._int8_metrics(model, genome, space, x_all, (x_test, y_test))[0][0]
        elapsed = time.perf_counter() - start
        if store is not None:
            store.save(arch, model.state_dict())
        return {
            "val_acc": val_acc,
            "test_acc": test_acc,
            "val_loss": val_loss,
            "train_loss": train_loss,
            **static,
            "train_time_s": elapsed,
            "epochs": float(self.epochs),
            **extra,
        }

    def _epochs(
        self, model: torch.nn.Module, x: np.ndarray, y: np.ndarray, arch: str, device: Any,
        augment: Augmentation | None, tseed: int,
    ) -> Iterator[tuple[int, float]]:
        """Train ``model`` on ``(x, y)`` with a fresh optimizer and schedule; yields ``(epoch, mean loss)`` after each epoch.

        The batch order comes from ``tseed``, the augmentation from a stream of its own, so that turning
        augmentation on changes the inputs but not the batch order.
        """
        import torch
        from torch import nn

        xt = torch.from_numpy(x).to(device)
        yt = torch.from_numpy(y).to(device)
        n = len(y)
        batches = self._batches(n)
        opt = self._optimizer(model)
        sched = None
        if self.schedule == "cosine":
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(self.epochs * len(batches), 1))
        loss_fn = nn.CrossEntropyLoss(label_smoothing=self.label_smoothing)
        order_rng = np.random.default_rng(tseed)
        augment_rng = np.random.default_rng([tseed, 1])
        for epoch in range(1, self.epochs + 1):
            model.train()
            perm = torch.from_numpy(order_rng.permutation(n)).to(device)
            loss_sum = 0.0
            for lo, hi in batches:
                idx = perm[lo:hi]
                xb = xt[idx] if augment is None else augment(xt[idx], augment_rng)
                opt.zero_grad(set_to_none=True)
                loss = loss_fn(model(xb), yt[idx])
                loss.backward()
                opt.step()
                if sched is not None:
                    sched.step()
                loss_sum += float(loss.detach()) * (hi - lo)
            train_loss = loss_sum / n
            if not math.isfinite(train_loss):
                raise RuntimeError(f"training of {arch!r} diverged: mean loss {train_loss} in epoch {epoch}")
            yield epoch, train_loss

    def _batches(self, n: int) -> list[tuple[int, int]]:
        """(start, stop) of each mini-batch in an epoch of ``n`` examples (a lone last example joins the one before)."""
        bounds = [(lo, min(lo + self.batch_size, n)) for lo in range(0, n, self.batch_size)]
        if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] == 1:
            bounds[-2] = (bounds[-2][0], n)
            bounds.pop()
        return bounds

    def _optimizer(self, model: torch.nn.Module) -> torch.optim.Optimizer:
        import torch

        if self.optimizer == "adam":
            return torch.optim.Adam(model.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        if self.optimizer == "adamw":
            return torch.optim.AdamW(model.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        return torch.optim.SGD(
            model.parameters(), lr=self.lr, momentum=self.momentum, nesterov=self.momentum > 0,
            weight_decay=self.weight_decay,
        )

    def _int8_metrics(
        self, model: torch.nn.Module, genome: Genome, space: SearchSpace, x_calibration: np.ndarray,
        *splits: tuple[np.ndarray, np.ndarray],
    ) -> list[tuple[float, float]]:
        """(accuracy, mean cross-entropy) on each ``(x, y)`` of ``model``'s int8 ONNX graph on ONNX Runtime."""
        import onnxruntime as ort

        from ..latency import genome_onnx
        from ..latency.quantize import quantize_int8

        state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        batch = min(self.eval_batch_size, max(len(y) for _, y in splits))
        own = getattr(space, "onnx_graph", None)  # a space without latency descriptions may export its own graphs
        fp32 = own(genome, state, batch_size=batch) if callable(own) else genome_onnx(space, genome, state, batch_size=batch)
        graph = quantize_int8(fp32, x_calibration[: self.int8_calibration])
        so = ort.SessionOptions()
        so.intra_op_num_threads = self.threads
        so.inter_op_num_threads = 1
        so.log_severity_level = 3
        sess = ort.InferenceSession(graph.SerializeToString(), so, providers=["CPUExecutionProvider"])
        inp = sess.get_inputs()[0]
        example = tuple(int(d) for d in inp.shape[1:])
        out = []
        for x, y in splits:
            logits = []
            for lo in range(0, len(y), batch):
                xb = np.ascontiguousarray(x[lo : lo + batch], dtype=np.float32).reshape(-1, *example)
                n = len(xb)
                if n < batch:  # the graph's batch is fixed: pad with copies, keep the first n rows
                    xb = np.concatenate([xb, np.repeat(xb[-1:], batch - n, axis=0)])
                logits.append(sess.run(None, {inp.name: xb})[0][:n])
            z = np.concatenate(logits).astype(np.float64)
            z -= z.max(axis=1, keepdims=True)
            logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
            out.append((float(np.mean(z.argmax(axis=1) == y)), float(-np.mean(logp[np.arange(len(y)), y]))))
        return out

    def _accuracy(self, model: torch.nn.Module, x: np.ndarray, y: np.ndarray, device: Any) -> tuple[float, float]:
        """(accuracy in [0, 1], mean cross-entropy) of ``model`` in eval mode."""
        import torch
        import torch.nn.functional as F

        model.eval()
        correct, loss_sum = 0, 0.0
        with torch.no_grad():
            for lo in range(0, len(y), self.eval_batch_size):
                xb = torch.from_numpy(x[lo : lo + self.eval_batch_size]).to(device)
                yb = torch.from_numpy(y[lo : lo + self.eval_batch_size]).to(device)
                logits = model(xb)
                correct += int((logits.argmax(dim=1) == yb).sum())
                loss_sum += float(F.cross_entropy(logits, yb, reduction="sum"))
        return correct / len(y), loss_sum / len(y)

    def __repr__(self) -> str:
        return (
            f"TorchTrainer(data={self.data!r}, epochs={self.epochs}, batch_size={self.batch_size}, "
            f"optimizer={self.optimizer!r}, lr={self.lr:g}, data_fraction={self.data_fraction:g}, "
            f"resolution={self.resolution})"
        )
