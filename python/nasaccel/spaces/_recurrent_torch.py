"""torch modules of ``RecurrentCellSpace`` networks (imported lazily by ``RecurrentCellSpace.build_module``)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

_ACTIVATIONS = {"tanh": torch.tanh, "relu": F.relu, "sigmoid": torch.sigmoid, "identity": lambda t: t}


class RecurrentCell(nn.Module):
    """One step of the searched cell: ``(x_t, h_{t-1}) -> h_t`` (equations in ``RecurrentCellSpace``).

    Parameters
    ----------
    description : dict
        ``RecurrentCellSpace.decode(genome)``.
    input_size : int
        Values per step, ``C * window``.

    Attributes
    ----------
    x_proj, h_proj : nn.Linear
        Node 0's projections to ``2H`` (gate and candidate); only ``x_proj`` has a bias.
    node_proj : nn.ModuleList
        For node ``k`` (entry ``k-1``), ``Linear(H, 2H, bias=False)``: its gate and candidate.
    """

    def __init__(self, description: dict[str, Any], input_size: int) -> None:
        super().__init__()
        h = description["hidden_size"]
        self.hidden_size = h
        self.x_proj = nn.Linear(input_size, 2 * h)
        self.h_proj = nn.Linear(h, 2 * h, bias=False)
        self.node_proj = nn.ModuleList(nn.Linear(h, 2 * h, bias=False) for _ in description["nodes"])
        self.inputs = [n["input"] for n in description["nodes"]]
        self.activations = [n["activation"] for n in description["nodes"]]
        self.loose_ends = list(description["loose_ends"])

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """``h_t`` of shape ``(B, H)`` from ``x_t`` ``(B, input_size)`` and ``h_{t-1}`` ``(B, H)``."""
        gate, cand = (self.x_proj(x) + self.h_proj(h)).chunk(2, dim=1)
        c = torch.sigmoid(gate)
        nodes = [c * torch.tanh(cand) + (1 - c) * h]
        for proj, src, act in zip(self.node_proj, self.inputs, self.activations, strict=True):
            prev = nodes[src]
            gate, cand = proj(prev).chunk(2, dim=1)
            c = torch.sigmoid(gate)
            nodes.append(c * _ACTIVATIONS[act](cand) + (1 - c) * prev)
        return torch.stack([nodes[k] for k in self.loose_ends]).mean(dim=0)


class RecurrentCellNetwork(nn.Module):
    """A ``RecurrentCellSpace`` network: ``cell`` run over the windows of the input, then ``classifier``.

    Parameters
    ----------
    description : dict
        ``RecurrentCellSpace.decode(genome)``.
    """

    def __init__(self, description: dict[str, Any]) -> None:
        super().__init__()
        channels, length = description["input_shape"]
        self.input_shape = (channels, length)
        self.window = description["window"]
        self.num_steps = description["num_steps"]
        self.cell = RecurrentCell(description, channels * self.window)
        self.classifier = nn.Linear(description["hidden_size"], description["num_classes"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, num_classes)`` for a batch ``(B, C, L)`` of any length ``L`` (cut into windows)."""
        if x.dim() != 3:
            raise ValueError(f"expected a batch of shape (B, C, L), got {tuple(x.shape)}")
        b, c, length = x.shape
        steps = -(-length // self.window)
        pad = steps * self.window - length
        if pad:
            x = F.pad(x, (0, pad))
        # (B, C, S, w) -> (B, S, C * w): step s holds samples s*w .. s*w + w - 1 of every channel
        seq = x.reshape(b, c, steps, self.window).permute(0, 2, 1, 3).reshape(b, steps, c * self.window)
        h = x.new_zeros(b, self.cell.hidden_size)
        for s in range(steps):
            h = self.cell(seq[:, s], h)
        return self.classifier(h)
