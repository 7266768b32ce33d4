"""``SlimmableNetwork``: one set of weights for every width configuration of a :class:`WidthSpace`.

Each conv / dwsep layer holds the weights of its widest choice; a configuration runs the leading
``c_out x c_in`` slice of every convolution (the leading ``c_in`` filters of a depthwise one) and of
the classifier's input columns, as in slimmable networks (Yu et al., 2019).

Batch norm. The affine parameters are sliced like the weights, but the statistics are not shared:
a layer's activation statistics depend on the widths of every layer before it, so one set of running
statistics cannot serve all configurations. Training normalises with batch statistics; before a
configuration is evaluated, :meth:`SlimmableNetwork.calibrate` computes its own population statistics
over calibration data (BN recalibration, as universally slimmable networks do) and keeps them, keyed
by the configuration, for eval-mode forwards and for :meth:`SlimmableNetwork.extract`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._core import Genome
from ..spaces.width import WidthSpace

__all__ = ["SlimmableNetwork"]

_EPS = 1e-5


class _SlicedBN(nn.Module):
    """Affine parameters of a batch norm of up to ``channels`` channels (statistics live outside)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))


class _Stats:
    """Per-channel sums of one BN input over calibration batches (population mean and unbiased variance)."""

    def __init__(self) -> None:
        self.n = 0
        self.s1: torch.Tensor | None = None
        self.s2: torch.Tensor | None = None

    def add(self, x: torch.Tensor) -> None:
        dims = [0] + list(range(2, x.dim()))
        xd = x.detach().double()
        s1, s2 = xd.sum(dims), (xd * xd).sum(dims)
        self.n += x.numel() // x.shape[1]
        self.s1 = s1 if self.s1 is None else self.s1 + s1
        self.s2 = s2 if self.s2 is None else self.s2 + s2

    def result(self) -> tuple[torch.Tensor, torch.Tensor]:
        assert self.s1 is not None and self.s2 is not None
        mean = self.s1 / self.n
        var = (self.s2 / self.n - mean * mean).clamp_min(0.0) * (self.n / max(self.n - 1, 1))
        return mean.float(), var.float()


class SlimmableNetwork(nn.Module):
    """The widest network of ``space``, run at any width configuration by slicing.

    Parameters
    ----------
    space : WidthSpace
        The backbone and its width choices.

    Notes
    -----
    ``forward(x, genome)`` (or a choice list) runs one configuration. In training mode batch norm
    uses the batch's statistics; in eval mode it uses the statistics :meth:`calibrate` stored for that
    configuration and raises ``ValueError`` naming the configuration when there are none.
    """

    def __init__(self, space: WidthSpace) -> None:
        super().__init__()
        if not isinstance(space, WidthSpace):
            raise ValueError(f"space must be a WidthSpace, got {type(space).__name__}")
        self.space = space
        dims = len(space.input_shape) - 1
        self._conv = F.conv1d if dims == 1 else F.conv2d
        self._maxpool = F.max_pool1d if dims == 1 else F.max_pool2d
        self._avgpool = F.avg_pool1d if dims == 1 else F.avg_pool2d
        widest = [max(ch) for ch in space.choices]
        self._max_in = [space.input_shape[0] if n is None else widest[n] for n in space.node_of_input]
        self.convs = nn.ParameterDict()
        self.bns = nn.ModuleDict()
        for i, layer in enumerate(space.layers):
            k = (layer["kernel"] or 1,) * dims
            c_in = self._max_in[i]
            if layer["op"] == "conv":
                c_out = widest[space.node_of_output[i]]  # type: ignore[index]
                self.convs[f"{i}_conv"] = self._init(torch.empty((c_out, c_in) + k))
                self.bns[f"{i}_bn"] = _SlicedBN(c_out)
            elif layer["op"] == "dwsep":
                c_out = widest[space.node_of_output[i]]  # type: ignore[index]
                self.convs[f"{i}_dw"] = self._init(torch.empty((c_in, 1) + k))
                self.bns[f"{i}_dw_bn"] = _SlicedBN(c_in)
                self.convs[f"{i}_pw"] = self._init(torch.empty((c_out, c_in) + (1,) * dims))
                self.bns[f"{i}_pw_bn"] = _SlicedBN(c_out)
        last = space.node_of_output[-1]
        self.classifier = nn.Linear(widest[last] if last is not None else space.input_shape[0], space.num_classes)
        self.stats: dict[tuple[int, ...], dict[str, tuple[torch.Tensor, torch.Tensor]]] = {}
        self._collect: dict[str, _Stats] | None = None
        self._use: dict[str, tuple[torch.Tensor, torch.Tensor]] | None = None

    @staticmethod
    def _init(t: torch.Tensor) -> nn.Parameter:
        # torch's own Conv default (Kaiming uniform with a = sqrt(5)) on the widest tensor
        nn.init.kaiming_uniform_(t, a=5**0.5)
        return nn.Parameter(t)

    # ------------------------------------------------------------------ configurations

    def key(self, config: Genome | Sequence[int]) -> tuple[int, ...]:
        """The canonical choice tuple of a genome or choice list (validated)."""
        g = config if isinstance(config, Genome) else self.space.genome(config)
        return tuple(self.space.choice_of(self.space.canonicalize(g)))

    def _channels(self, key: tuple[int, ...]) -> list[int]:
        """Channels of every node 0..layers (node 0: the input)."""
        widths = [self.space.choices[n][k] for n, k in enumerate(key)]
        out = [self.space.input_shape[0]]
        for i in range(len(self.space.layers)):
            n = self.space.node_of_output[i]
            out.append(self.space.input_shape[0] if n is None else widths[n])
        return out

    def _bn(self, x: torch.Tensor, name: str) -> torch.Tensor:
        bn = self.bns[name]
        c = x.shape[1]
        w, b = bn.weight[:c], bn.bias[:c]
        if self._use is not None:
            mean, var = self._use[name]
            return F.batch_norm(x, mean, var, w, b, training=False, eps=_EPS)
        if self._collect is not None:
            self._collect.setdefault(name, _Stats()).add(x)
        return F.batch_norm(x, None, None, w, b, training=True, eps=_EPS)

    def forward(self, x: torch.Tensor, config: Genome | Sequence[int]) -> torch.Tensor:
        """Logits of the configuration ``config`` (a genome of the space or one width index per node)."""
        key = self.key(config)
        if self.training or self._collect is not None:
            self._use = None
        else:
            if key not in self.stats:
                raise ValueError(
                    f"configuration {self.space.to_text(self.space.genome(key))} has no calibrated batch-norm "
                    "statistics; call calibrate(x, config) first or use training mode"
                )
            self._use = self.stats[key]
        try:
            return self._forward(x, key)
        finally:
            self._use = None

    def _forward(self, x: torch.Tensor, key: tuple[int, ...]) -> torch.Tensor:
        ch = self._channels(key)
        nodes = [x]
        for i, layer in enumerate(self.space.layers):
            u = nodes[i]
            for sk in layer["skips"]:
                u = u + nodes[i - sk["offset"]]
            c_in, c_out, op = ch[i], ch[i + 1], layer["op"]
            k, s = layer["kernel"] or 1, layer["stride"]
            if op == "conv":
                y = self._conv(u, self.convs[f"{i}_conv"][:c_out, :c_in], stride=s, padding=k // 2)
                y = F.relu(self._bn(y, f"{i}_bn"))
            elif op == "dwsep":
                y = self._conv(u, self.convs[f"{i}_dw"][:c_in], stride=s, padding=k // 2, groups=c_in)
                y = F.relu(self._bn(y, f"{i}_dw_bn"))
                y = self._conv(y, self.convs[f"{i}_pw"][:c_out, :c_in])
                y = F.relu(self._bn(y, f"{i}_pw_bn"))
            elif op == "maxpool":
                y = self._maxpool(u, k, stride=s, padding=k // 2)
            elif op == "avgpool":
                y = self._avgpool(u, k, stride=s, padding=k // 2, count_include_pad=False)
            else:
                y = u
            nodes.append(y)
        feat = nodes[-1].flatten(2).mean(dim=2)
        return F.linear(feat, self.classifier.weight[:, : feat.shape[1]], self.classifier.bias)

    # ------------------------------------------------------------------ batch-norm calibration

    @torch.no_grad()
    def calibrate(self, x: torch.Tensor | np.ndarray, config: Genome | Sequence[int], batch_size: int = 512) -> None:
        """Compute and keep the population batch-norm statistics of ``config`` over the inputs ``x``.

        Every sample counts once (mean and unbiased variance over all of ``x``, normalising each
        batch of ``batch_size`` with its own statistics as training does).
        """
        key = self.key(config)
        xt = torch.as_tensor(x)
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 2:
            raise ValueError(f"batch_size must be an integer >= 2, got {batch_size!r}")
        if len(xt) < 2:
            raise ValueError(f"calibration needs at least 2 inputs, got {len(xt)}")
        self._collect = {}
        try:
            bounds = [(lo, min(lo + batch_size, len(xt))) for lo in range(0, len(xt), batch_size)]
            if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] == 1:  # a lone sample cannot be batch-normalised
                bounds[-2:] = [(bounds[-2][0], len(xt))]
            for lo, hi in bounds:
                self._forward(xt[lo:hi], key)
            self.stats[key] = {name: st.result() for name, st in self._collect.items()}
        finally:
            self._collect = None

    def clear_stats(self) -> None:
        """Forget every calibration (after the weights change)."""
        self.stats.clear()

    # ------------------------------------------------------------------ standalone networks

    @torch.no_grad()
    def extract(self, config: Genome | Sequence[int]) -> nn.Module:
        """The configuration as a standalone ChainSpace network (``space.build_module``) with copied weights.

        Batch-norm running statistics are the calibrated ones when :meth:`calibrate` ran for it
        (the standalone network in eval mode then computes what this one does), else torch's defaults.
        """
        key = self.key(config)
        genome = self.space.genome(key)
        model = self.space.build_module(genome)
        ch = self._channels(key)
        stats = self.stats.get(key)

        def copy_bn(dst: Any, name: str, c: int) -> None:
            dst.weight.copy_(self.bns[name].weight[:c])
            dst.bias.copy_(self.bns[name].bias[:c])
            if stats is not None:
                dst.running_mean.copy_(stats[name][0])
                dst.running_var.copy_(stats[name][1])

        for i, layer in enumerate(self.space.layers):
            seq = model.layers[i].op
            c_in, c_out = ch[i], ch[i + 1]
            if layer["op"] == "conv":
                seq[0].weight.copy_(self.convs[f"{i}_conv"][:c_out, :c_in])
                copy_bn(seq[1], f"{i}_bn", c_out)
            elif layer["op"] == "dwsep":
                seq[0].weight.copy_(self.convs[f"{i}_dw"][:c_in])
                copy_bn(seq[1], f"{i}_dw_bn", c_in)
                seq[3].weight.copy_(self.convs[f"{i}_pw"][:c_out, :c_in])
                copy_bn(seq[4], f"{i}_pw_bn", c_out)
        model.classifier.weight.copy_(self.classifier.weight[:, : ch[-1]])
        model.classifier.bias.copy_(self.classifier.bias)
        return model
