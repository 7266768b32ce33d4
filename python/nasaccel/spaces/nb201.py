"""``NB201CellSpace``: the NAS-Bench-201 cell space (Dong & Yang, ICLR 2020), 5^6 = 15,625 cells."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from .._core import Field, Genome, SpaceSpec
from .base import SearchSpace, check_int, check_text

if TYPE_CHECKING:
    import torch

__all__ = ["NB201_EDGES", "NB201_OPS", "NB201CellSpace"]

#: The five candidate ops, in NAS-Bench-201's order (the values 0..4 of the ``op`` field).
NB201_OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
#: The six edges ``(to, from)`` of the 4-node cell, in the order of the genes and of the cell string.
NB201_EDGES: tuple[tuple[int, int], ...] = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))

_EDGE_TOKEN = re.compile(r"([A-Za-z0-9_]+)~([0-9]+)")


class NB201CellSpace(SearchSpace):
    """The NAS-Bench-201 cell space and its macro network.

    A genome has 6 genes, the edges of the 4-node cell in NAS-Bench-201 order ``1<-0, 2<-0, 2<-1,
    3<-0, 3<-1, 3<-2``, with one categorical field ``op`` over ``none, skip_connect, nor_conv_1x1,
    nor_conv_3x3, avg_pool_3x3``; there are no skips. The text form is exactly NAS-Bench-201's cell
    string, e.g. ``|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|``.
    Every one of the 15,625 cells is a distinct genome (as in the benchmark, isomorphic cells are
    not merged), so ``canonicalize`` is the identity.

    Parameters
    ----------
    num_cells : int
        ``N``: cells per stage (5 in the benchmark).
    channels : int
        ``C``: channels of the first stage (16 in the benchmark); stages have C, 2C, 4C.
    num_classes : int
        Outputs of the classifier.
    input_channels : int
        Channels of the input images.

    Notes
    -----
    The network (``build_module``) follows the NAS-Bench-201 paper's macro skeleton: stem
    (3x3 conv ``input_channels -> C``, no bias, + BN); three stages of ``N`` cells with ``C``, ``2C``
    and ``4C`` channels, separated by the residual reduction block (``ReLU-Conv3x3/s2-BN ->
    ReLU-Conv3x3-BN`` plus a shortcut ``AvgPool2x2/s2 -> Conv1x1``); BN -> ReLU; global average
    pooling; linear. In a cell, node ``i`` is the sum of its incoming edges' ops applied to the
    earlier nodes, and node 3 is the output; ``nor_conv_kxk`` is ReLU -> Conv(k, pad k//2, no bias)
    -> BN, ``avg_pool_3x3`` is 3x3 average pooling (stride 1, pad 1, padding not counted),
    ``skip_connect`` the identity and ``none`` the zero tensor.
    """

    def __init__(self, num_cells: int = 5, channels: int = 16, num_classes: int = 10, input_channels: int = 3) -> None:
        self.num_cells = check_int("num_cells", num_cells)
        self.channels = check_int("channels", channels)
        self.num_classes = check_int("num_classes", num_classes)
        self.input_channels = check_int("input_channels", input_channels)
        # Graph kernels read a genome as the cell itself (operations on edges, "none" as no edge).
        self._spec = SpaceSpec([Field("op", len(NB201_OPS))], len(NB201_EDGES), len(NB201_EDGES)).with_cell_graph(
            4, [(frm, to) for to, frm in NB201_EDGES], zero=("op", NB201_OPS.index("none")))

    def _gene_label(self, i: int) -> str:
        to, frm = NB201_EDGES[i]
        return f"edge{to}<-{frm}"

    def decode(self, genome: Genome) -> dict[str, Any]:
        """``{"text", "edges": [{"to", "from", "op"}, ...] (6 edges), "num_cells", "channels",
        "num_classes", "input_channels"}``."""
        self.validate(genome)
        edges = [{"to": to, "from": frm, "op": NB201_OPS[genome.at(i, 0)]} for i, (to, frm) in enumerate(NB201_EDGES)]
        return {
            "text": self.to_text(genome),
            "edges": edges,
            "num_cells": self.num_cells,
            "channels": self.channels,
            "num_classes": self.num_classes,
            "input_channels": self.input_channels,
        }

    def to_text(self, genome: Genome) -> str:
        """The NAS-Bench-201 cell string ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``."""
        self.validate(genome)
        nodes = []
        for to in (1, 2, 3):
            tokens = [f"{NB201_OPS[genome.at(i, 0)]}~{frm}" for i, (t, frm) in enumerate(NB201_EDGES) if t == to]
            nodes.append("|" + "|".join(tokens) + "|")
        return "+".join(nodes)

    def from_text(self, text: str) -> Genome:
        """Parse a NAS-Bench-201 cell string; ``ValueError`` naming the bad node, edge or op."""
        check_text(text)
        groups = text.split("+")
        if len(groups) != 3:
            raise ValueError(f"NAS-Bench-201 string '{text}' has {len(groups)} nodes separated by '+', expected 3")
        ops: list[list[int]] = []
        for to, group in enumerate(groups, start=1):
            if len(group) < 2 or group[0] != "|" or group[-1] != "|":
                raise ValueError(f"node {to} '{group}' of '{text}' must start and end with '|'")
            tokens = group[1:-1].split("|")
            if len(tokens) != to:
                raise ValueError(f"node {to} '{group}' of '{text}' has {len(tokens)} edges, expected {to}")
            for frm, token in enumerate(tokens):
                m = _EDGE_TOKEN.fullmatch(token)
                if m is None:
                    raise ValueError(f"edge '{token}' of node {to} in '{text}' is malformed: expected 'op~{frm}'")
                name, src = m.groups()
                if name not in NB201_OPS:
                    raise ValueError(f"unknown op '{name}' on edge {to}<-{frm} in '{text}'; known: {list(NB201_OPS)}")
                if src != str(frm):
                    raise ValueError(f"edge '{token}' of node {to} in '{text}' has source {src}, expected {frm}")
                ops.append([NB201_OPS.index(name)])
        return Genome(ops)

    def build_module(self, genome: Genome) -> torch.nn.Module:
        """The NAS-Bench-201 network for ``genome`` (see Notes); input ``(B, input_channels, H, W)``."""
        self.validate(genome)
        from ._nb201_torch import NB201Network

        ops = [NB201_OPS[genome.at(i, 0)] for i in range(len(NB201_EDGES))]
        return NB201Network(ops, self.num_cells, self.channels, self.num_classes, self.input_channels)

    def _arguments(self) -> dict[str, Any]:
        return {
            "num_cells": self.num_cells,
            "channels": self.channels,
            "num_classes": self.num_classes,
            "input_channels": self.input_channels,
        }
