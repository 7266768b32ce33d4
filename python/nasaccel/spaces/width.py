"""``WidthSpace``: per-layer output widths of a fixed ChainSpace backbone (the AOWS search space).

A backbone is a ChainSpace network in its text form (``conv-32-k3-s1|dwsep-64-k3-s2|...``). Every
conv / dwsep layer is a *width node* whose output channels are ``max(1, round(base * m))`` for one
multiplier ``m`` of ``multipliers`` (20 % to 150 % of the base by default); pools and identity layers
keep their input's channels. A skip that adds a node of the same shape (a residual) ties the widths
of the two nodes it joins; skips that need a 1x1 projection are refused.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .._core import Field, Genome, SpaceSpec
from .base import SearchSpace, check_int, check_int_tuple, check_text
from .chain import CHAIN_OPS, ChainSpace

if TYPE_CHECKING:
    import torch

    from ..latency.descriptions import ChainNetwork as ChainDescription

__all__ = ["DEFAULT_MULTIPLIERS", "WidthSpace", "mobilenet_backbone"]

#: Width multipliers of the default space: 20 % .. 150 % of the backbone's widths.
DEFAULT_MULTIPLIERS: tuple[float, ...] = (0.2, 0.35, 0.5, 0.75, 1.0, 1.25, 1.5)

_WIDTH = re.compile(r"^(conv|dwsep)-([0-9]+)-")
_KERNEL = re.compile(r"-k([0-9]+)")
_STRIDE = re.compile(r"-s([0-9]+)")


def mobilenet_backbone(input_shape: Sequence[int], *, residual: bool = False, scale: float = 1.0) -> str:
    """A MobileNetV1-like backbone for small 1-D or 2-D inputs, as ChainSpace text.

    A plain 3-wide stem convolution, then depthwise-separable blocks doubling the channels at each
    stride-2 block (MobileNetV1's pattern, shortened for inputs of a few dozen samples or 8x8 pixels).
    ``residual`` adds a skip around each stride-1 block that keeps its width (tying the two widths);
    ``scale`` multiplies every base width.

    Parameters
    ----------
    input_shape : sequence of int
        ``(C, L)`` or ``(C, H, W)``.
    residual : bool
        Residual skips around the width-keeping stride-1 blocks.
    scale : float
        Factor on the base widths (16, 32, 32, 64, 64, 128 for scale 1).
    """
    shape = tuple(input_shape)
    if len(shape) not in (2, 3):
        raise ValueError(f"input_shape must be (C, L) or (C, H, W), got {list(shape)!r}")
    if not isinstance(scale, numbers.Real) or not math.isfinite(scale) or scale <= 0:
        raise ValueError(f"scale must be a positive number, got {scale!r}")
    spatial = min(shape[1:])
    # (op, base width, stride): two stride-2 reductions for short inputs, three for longer ones.
    blocks = [("conv", 16, 1), ("dwsep", 32, 2), ("dwsep", 32, 1), ("dwsep", 64, 2), ("dwsep", 64, 1)]
    blocks.append(("dwsep", 128, 2 if spatial >= 32 else 1))
    parts = []
    for i, (op, w, s) in enumerate(blocks):
        text = f"{op}-{max(1, round(w * scale))}-k3-s{s}"
        # a skip on layer i adding node i-1 is a residual around layer i-1 (stride 1, same width)
        if residual and i >= 2 and blocks[i - 1][2] == 1 and blocks[i - 1][1] == blocks[i - 2][1]:
            text += "+1"
        parts.append(text)
    return "|".join(parts)


def _check_multipliers(multipliers: Any) -> tuple[float, ...]:
    if isinstance(multipliers, (str, bytes)) or not isinstance(multipliers, Sequence) or len(multipliers) == 0:
        raise ValueError(f"multipliers must be a non-empty sequence of positive numbers, got {multipliers!r}")
    out = []
    for m in multipliers:
        if isinstance(m, bool) or not isinstance(m, numbers.Real) or not math.isfinite(m) or m <= 0:
            raise ValueError(f"width multiplier {m!r} must be a positive finite number")
        out.append(float(m))
    for a, b in zip(out, out[1:]):
        if b <= a:
            raise ValueError(f"multipliers must be strictly ascending, got {out!r} ({b} after {a})")
    return tuple(out)


class WidthSpace(SearchSpace):
    """Per-layer widths of a fixed ChainSpace backbone: one gene (field ``width``) per width node.

    Parameters
    ----------
    input_shape : sequence of int
        ``(C, L)`` or ``(C, H, W)``.
    num_classes : int
        Outputs of the classifier.
    backbone : str, optional
        The base network in ChainSpace text form; default :func:`mobilenet_backbone` ``(input_shape)``.
    multipliers : sequence of float
        Strictly ascending width multipliers; width choice ``k`` of a node with base width ``b`` has
        ``max(1, round(b * multipliers[k]))`` channels.

    Notes
    -----
    **Nodes.** Width node ``n`` is the ``n``-th conv / dwsep layer of the backbone (``layer_of_node``).
    **Ties.** A skip without projection joins two nodes of equal channels; their width nodes form a
    tie group (``ties``) and a genome must give them one choice. **Text form**: the channel counts of
    the width nodes joined by ``-``, e.g. ``12-24-24-48``. Two choices with the same channel count (a
    small base) are one network; the canonical genome takes the lower choice.
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        num_classes: int,
        backbone: str | None = None,
        multipliers: Sequence[float] = DEFAULT_MULTIPLIERS,
    ) -> None:
        shape = check_int_tuple("input_shape", input_shape, ascending=False)
        if len(shape) not in (2, 3):
            raise ValueError(f"input_shape must be (C, L) for 1-D or (C, H, W) for 2-D inputs, got {list(shape)!r}")
        self.input_shape = shape
        self.num_classes = check_int("num_classes", num_classes)
        self.backbone = mobilenet_backbone(shape) if backbone is None else check_text(backbone)
        self.multipliers = _check_multipliers(multipliers)
        self._base_space = self._chain_space_for(self.backbone)
        base = self._base_space.decode(self._base_space.from_text(self.backbone))
        self._layers = base["layers"]
        self.layer_of_node: tuple[int, ...] = tuple(
            i for i, layer in enumerate(self._layers) if layer["op"] in ("conv", "dwsep")
        )
        if not self.layer_of_node:
            raise ValueError(f"backbone {self.backbone!r} has no conv or dwsep layer whose width could be searched")
        self.base_widths: tuple[int, ...] = tuple(self._layers[i]["out_channels"] for i in self.layer_of_node)
        self.choices: tuple[tuple[int, ...], ...] = tuple(
            tuple(max(1, round(b * m)) for m in self.multipliers) for b in self.base_widths
        )
        # node_of_input[i]: the width node whose channels layer i reads (None: the fixed input channels)
        node_of_input: list[int | None] = []
        current: int | None = None
        for i, layer in enumerate(self._layers):
            node_of_input.append(current)
            if layer["op"] in ("conv", "dwsep"):
                current = self.layer_of_node.index(i)
        self.node_of_input: tuple[int | None, ...] = tuple(node_of_input)
        self.node_of_output: tuple[int | None, ...] = tuple(node_of_input[1:]) + (current,)
        parent = list(range(len(self.layer_of_node)))

        def find(a: int) -> int:
            while parent[a] != a:
                parent[a] = parent[parent[a]]
                a = parent[a]
            return a

        for i, layer in enumerate(self._layers):
            for sk in layer["skips"]:
                if sk["projection"]:
                    raise ValueError(
                        f"layer {i} of backbone {self.backbone!r} has a skip from node {sk['source']} that needs a 1x1 "
                        "projection; width search supports residual skips (same channels and size) only"
                    )
                # node j's channels are those layer j reads (j < i, so node_of_input[j] exists)
                a, b = self.node_of_input[sk["source"]], self.node_of_input[i]
                if a is None or b is None:
                    if a != b:
                        raise ValueError(
                            f"layer {i} of backbone {self.backbone!r} adds the fixed-width input to a searched width"
                        )
                    continue
                parent[find(a)] = find(b)
        groups: dict[int, list[int]] = {}
        for n in range(len(parent)):
            groups.setdefault(find(n), []).append(n)
        self.ties: tuple[tuple[int, ...], ...] = tuple(tuple(g) for g in groups.values() if len(g) > 1)
        self._spec = SpaceSpec([Field("width", len(self.multipliers), ordinal=True)], self.num_nodes, self.num_nodes, 0)
        all_widths = sorted({w for ch in self.choices for w in ch} | {layer["out_channels"] for layer in self._layers})
        self._chain_space = self._chain_space_for(self.backbone, all_widths)

    def _chain_space_for(self, text: str, widths: Sequence[int] | None = None) -> ChainSpace:
        """A ChainSpace that parses ``text`` (and, given ``widths``, every width of this space)."""
        check_text(text)
        parts = text.split("|")
        found_w, found_k, found_s, reach = set(), set(), set(), 0
        for part in parts:
            body, _, skips = part.partition("+")
            m = _WIDTH.match(body)
            if m:
                found_w.add(int(m.group(2)))
            found_k.update(int(v) for v in _KERNEL.findall(body))
            found_s.update(int(v) for v in _STRIDE.findall(body))
            if skips:
                reach = max([reach] + [int(v) for v in skips.split(",") if v.isdigit()])
        try:
            return ChainSpace(
                self.input_shape, self.num_classes, CHAIN_OPS,
                tuple(sorted(set(widths or ()) | found_w)) or (1,),
                tuple(sorted(found_k)) or (1,), tuple(sorted(found_s)) or (1,),
                1, len(parts), reach,
            )
        except ValueError as e:
            raise ValueError(f"backbone {text!r} is not a valid ChainSpace network: {e}") from None

    # ------------------------------------------------------------------ structure

    @property
    def num_nodes(self) -> int:
        """Width nodes (conv / dwsep layers of the backbone)."""
        return len(self.layer_of_node)

    @property
    def num_choices(self) -> int:
        """Width choices per node (``len(multipliers)``)."""
        return len(self.multipliers)

    @property
    def layers(self) -> list[dict[str, Any]]:
        """The backbone's layers as :meth:`ChainSpace.decode` gives them (base widths)."""
        return [dict(layer) for layer in self._layers]

    def genome(self, choice: Sequence[int]) -> Genome:
        """The canonical genome of one width choice per node (``ValueError`` naming a bad choice or tie)."""
        if isinstance(choice, (str, bytes)) or not isinstance(choice, Sequence) and not hasattr(choice, "__len__"):
            raise ValueError(f"choice must be a sequence of {self.num_nodes} width indices, got {choice!r}")
        values = list(choice)
        if len(values) != self.num_nodes:
            raise ValueError(f"choice has {len(values)} entries, this space has {self.num_nodes} width nodes")
        genes = []
        for n, v in enumerate(values):
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or not 0 <= int(v) < self.num_choices:
                raise ValueError(f"choice[{n}] = {v!r} is not a width index in [0, {self.num_choices})")
            genes.append([int(v)])
        return self.canonicalize(Genome(genes))

    def choice_of(self, genome: Genome) -> list[int]:
        """The width index of every node."""
        self.validate(genome)
        return [int(genome.at(n, 0)) for n in range(genome.num_genes)]

    def widths_of(self, genome_or_choice: Genome | Sequence[int]) -> list[int]:
        """The channel count of every width node."""
        g = genome_or_choice if isinstance(genome_or_choice, Genome) else self.genome(genome_or_choice)
        return [self.choices[n][k] for n, k in enumerate(self.choice_of(g))]

    def uniform(self, k: int) -> Genome:
        """Every node at width choice ``k`` (uniform width scaling by ``multipliers[k]``)."""
        return self.genome([k] * self.num_nodes)

    def widest(self) -> Genome:
        return self.uniform(self.num_choices - 1)

    def narrowest(self) -> Genome:
        return self.uniform(0)

    # ------------------------------------------------------------------ genome level

    def _check(self, genome: Genome) -> str:
        for t, group in enumerate(self.ties):
            states = [genome.at(n, 0) for n in group]
            widths = [self.choices[n][s] for n, s in zip(group, states)]
            if len(set(widths)) > 1:
                return (
                    f"tie {t} (nodes {list(group)}, joined by a residual) needs one width, got widths {widths}"
                )
        return ""

    def canonicalize(self, genome: Genome) -> Genome:
        """Each node's choice lowered to the first choice with the same channel count."""
        self.validate(genome)
        genes = [[self.choices[n].index(self.choices[n][genome.at(n, 0)])] for n in range(genome.num_genes)]
        return Genome(genes)

    def chain_text(self, genome: Genome) -> str:
        """The network as ChainSpace text (backbone with the genome's widths)."""
        widths = self.widths_of(genome)
        parts = self.backbone.split("|")
        for n, i in enumerate(self.layer_of_node):
            m = _WIDTH.match(parts[i])
            assert m is not None
            parts[i] = f"{m.group(1)}-{widths[n]}-" + parts[i][m.end():]
        return "|".join(parts)

    def decode(self, genome: Genome) -> dict[str, Any]:
        """``text``, ``choice``, ``widths``, ``multipliers`` per node, and ``network``: the ChainSpace decoding."""
        self.validate(genome)
        choice = self.choice_of(genome)
        network = self._chain_space.decode(self._chain_space.from_text(self.chain_text(genome)))
        return {
            "text": self.to_text(genome),
            "choice": choice,
            "widths": self.widths_of(genome),
            "multipliers": [self.multipliers[k] for k in choice],
            "chain_text": network["text"],
            "network": network,
        }

    def description(self, genome: Genome) -> ChainDescription:
        """The latency room's description (:class:`nasaccel.latency.ChainNetwork`) of the network."""
        from ..latency.descriptions import chain_network

        net = self.decode(genome)["network"]
        spec = [
            (layer["op"], layer["out_channels"], layer["kernel"] or 1, layer["stride"],
             tuple(s["offset"] for s in layer["skips"]))
            for layer in net["layers"]
        ]
        return chain_network(self.input_shape, self.num_classes, spec)

    # ------------------------------------------------------------------ text

    def to_text(self, genome: Genome) -> str:
        return "-".join(str(w) for w in self.widths_of(genome))

    def from_text(self, text: str) -> Genome:
        check_text(text)
        parts = text.split("-")
        if len(parts) != self.num_nodes:
            raise ValueError(f"'{text}' names {len(parts)} widths, this space has {self.num_nodes} width nodes")
        genes = []
        for n, p in enumerate(parts):
            if not re.fullmatch(r"[1-9][0-9]*", p):
                raise ValueError(f"width {p!r} of node {n} in '{text}' is not a positive canonical decimal")
            w = int(p)
            if w not in self.choices[n]:
                raise ValueError(f"width {w} of node {n} in '{text}' is not one of {list(self.choices[n])}")
            genes.append([self.choices[n].index(w)])
        g = Genome(genes)
        self.validate(g)
        return g

    # ------------------------------------------------------------------ torch

    def build_module(self, genome: Genome) -> torch.nn.Module:
        """The network as a standalone ChainSpace ``torch.nn.Module`` (see :class:`ChainSpace`)."""
        return self._chain_space.build_module(self._chain_space.from_text(self.chain_text(genome)))

    def _arguments(self) -> dict[str, Any]:
        return {
            "input_shape": list(self.input_shape),
            "num_classes": self.num_classes,
            "backbone": self.backbone,
            "multipliers": list(self.multipliers),
        }
