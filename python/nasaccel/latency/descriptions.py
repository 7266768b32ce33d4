"""Plain descriptions of the networks the latency room builds, times and tabulates.

Three families, all frozen (hashable) dataclasses that need numpy alone:

* :class:`ChainNetwork` -- the ChainSpace network of ``CHAIN_NETWORK.md``: a chain of
  :class:`ChainLayer` (op, channels, kernel, stride, input spatial size and skip inputs with
  their channels, stride ratio and spatial size), then global average pooling and a linear head.
  :func:`chain_network` builds one from per-layer ``(op, width, kernel, stride, skip offsets)``,
  the form a genome decodes to.
* :class:`NB201Network` -- the NAS-Bench-201 macro network around one cell given by its six
  edge operations in NAS-Bench-201 order ``1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2``.
* :class:`MacroNetwork` -- a NAS-Bench-Macro network: one block (identity, MB3_K3, MB6_K5) per
  searchable layer of its fixed backbone.

Spatial sizes follow "same" padding: a length ``L`` becomes ``ceil(L / s)`` after stride ``s``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

CHAIN_OPS = ("conv", "dwsep", "maxpool", "avgpool", "identity")
NB201_OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
NB201_EDGES = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))  # (to, from), NAS-Bench-201 order


def _positive_int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int,)) and not hasattr(value, "__index__"):
        raise ValueError(f"{what} must be a positive integer, got {value!r}")
    v = int(value)
    if v < 1:
        raise ValueError(f"{what} must be a positive integer, got {value!r}")
    return v


def _size(value: Any, what: str) -> tuple[int, ...]:
    try:
        t = tuple(value)
    except TypeError:
        raise ValueError(f"{what} must be a tuple of 1 or 2 positive integers, got {value!r}") from None
    if len(t) not in (1, 2):
        raise ValueError(f"{what} must have 1 (L) or 2 (H, W) entries, got {value!r}")
    return tuple(_positive_int(v, what) for v in t)


def strided_size(size: Sequence[int], stride: int) -> tuple[int, ...]:
    """Spatial size after a "same"-padded stride: ``ceil(L / stride)`` per dimension."""
    return tuple(-(-int(v) // int(stride)) for v in size)


def size_text(size: Sequence[int]) -> str:
    """``"32x32"`` for (32, 32), ``"100"`` for (100,): the size part of a term signature."""
    return "x".join(str(v) for v in size)


@dataclass(frozen=True)
class SkipInput:
    """An extra input of a chain layer: node ``source`` with its channels, spatial size and stride ratio.

    ``stride`` is the product of the strides of layers ``source .. i-1`` (the stride of the
    1x1 adapter convolution when one is needed).
    """

    source: int
    channels: int
    stride: int
    size: tuple[int, ...]

    def __post_init__(self) -> None:
        if isinstance(self.source, bool) or int(self.source) < 0:
            raise ValueError(f"skip source must be a node index >= 0, got {self.source!r}")
        object.__setattr__(self, "source", int(self.source))
        object.__setattr__(self, "channels", _positive_int(self.channels, "skip channels"))
        object.__setattr__(self, "stride", _positive_int(self.stride, "skip stride ratio"))
        object.__setattr__(self, "size", _size(self.size, "skip size"))

    def needs_adapter(self, channels: int, size: Sequence[int]) -> bool:
        """True unless the source already has the layer input's channels and spatial size."""
        return self.channels != channels or tuple(self.size) != tuple(size)


@dataclass(frozen=True)
class ChainLayer:
    """One ChainSpace layer with everything its shape depends on.

    Ignored fields are normalised as the ChainSpace contract says: pools keep the channels
    (``c_out = c_in``), identity also has kernel 1 and stride 1.
    """

    op: str
    c_in: int
    c_out: int
    kernel: int
    stride: int
    in_size: tuple[int, ...]
    skips: tuple[SkipInput, ...] = ()

    def __post_init__(self) -> None:
        if self.op not in CHAIN_OPS:
            raise ValueError(f"layer op must be one of {CHAIN_OPS}, got {self.op!r}")
        c_in = _positive_int(self.c_in, "c_in")
        object.__setattr__(self, "c_in", c_in)
        object.__setattr__(self, "in_size", _size(self.in_size, "in_size"))
        if self.op in ("maxpool", "avgpool", "identity"):
            object.__setattr__(self, "c_out", c_in)
        else:
            object.__setattr__(self, "c_out", _positive_int(self.c_out, "c_out"))
        if self.op == "identity":
            object.__setattr__(self, "kernel", 1)
            object.__setattr__(self, "stride", 1)
        else:
            k = _positive_int(self.kernel, "kernel")
            if k % 2 == 0:
                raise ValueError(f"kernel must be odd ('same' padding k // 2), got {self.kernel!r}")
            object.__setattr__(self, "kernel", k)
            object.__setattr__(self, "stride", _positive_int(self.stride, "stride"))
        skips = tuple(s if isinstance(s, SkipInput) else SkipInput(**dict(s)) for s in self.skips)
        for s in skips:
            if len(s.size) != len(self.in_size):
                raise ValueError(f"skip from node {s.source} has size {s.size}, the layer input has {self.in_size}")
            if strided_size(s.size, s.stride) != self.in_size:
                raise ValueError(
                    f"skip from node {s.source}: size {s.size} with stride ratio {s.stride} gives "
                    f"{strided_size(s.size, s.stride)}, not the layer input size {self.in_size}"
                )
        if len({s.source for s in skips}) != len(skips):
            raise ValueError(f"skip sources repeat: {[s.source for s in skips]}")
        object.__setattr__(self, "skips", tuple(sorted(skips, key=lambda s: s.source)))

    @property
    def out_size(self) -> tuple[int, ...]:
        return strided_size(self.in_size, self.stride)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["in_size"] = list(self.in_size)
        d["skips"] = [dict(dataclasses.asdict(s), size=list(s.size)) for s in self.skips]
        return d


@dataclass(frozen=True)
class ChainNetwork:
    """A whole ChainSpace network: input shape ``(C, L)`` or ``(C, H, W)``, layers, classes."""

    input_shape: tuple[int, ...]
    num_classes: int
    layers: tuple[ChainLayer, ...]

    def __post_init__(self) -> None:
        shape = tuple(self.input_shape)
        if len(shape) not in (2, 3):
            raise ValueError(f"input_shape must be (C, L) or (C, H, W), got {self.input_shape!r}")
        shape = (_positive_int(shape[0], "input channels"),) + _size(shape[1:], "input size")
        object.__setattr__(self, "input_shape", shape)
        object.__setattr__(self, "num_classes", _positive_int(self.num_classes, "num_classes"))
        layers = tuple(x if isinstance(x, ChainLayer) else ChainLayer(**dict(x)) for x in self.layers)
        object.__setattr__(self, "layers", layers)
        channels = [shape[0]]
        sizes = [shape[1:]]
        strides: list[int] = []
        for i, layer in enumerate(layers):
            if layer.c_in != channels[i] or layer.in_size != sizes[i]:
                raise ValueError(
                    f"layer {i} expects {layer.c_in} channels of size {layer.in_size}, "
                    f"node {i} has {channels[i]} channels of size {sizes[i]}"
                )
            for s in layer.skips:
                if s.source >= i:
                    raise ValueError(f"layer {i} has a skip from node {s.source}; sources must be < {i}")
                ratio = math.prod(strides[s.source : i])
                if s.channels != channels[s.source] or s.size != sizes[s.source] or s.stride != ratio:
                    raise ValueError(
                        f"layer {i} skip from node {s.source} says ({s.channels} channels, size {s.size}, "
                        f"ratio {s.stride}); node {s.source} has ({channels[s.source]}, {sizes[s.source]}, "
                        f"ratio {ratio})"
                    )
            channels.append(layer.c_out)
            sizes.append(layer.out_size)
            strides.append(layer.stride)

    @property
    def out_channels(self) -> int:
        return self.layers[-1].c_out if self.layers else self.input_shape[0]

    @property
    def out_size(self) -> tuple[int, ...]:
        return self.layers[-1].out_size if self.layers else tuple(self.input_shape[1:])

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "chain",
            "input_shape": list(self.input_shape),
            "num_classes": self.num_classes,
            "layers": [x.to_dict() for x in self.layers],
        }


def chain_network(
    input_shape: Sequence[int],
    num_classes: int,
    layers: Iterable[Mapping[str, Any] | Sequence[Any]],
) -> ChainNetwork:
    """Build a :class:`ChainNetwork` from per-layer choices, as a ChainSpace genome decodes to.

    Parameters
    ----------
    input_shape
        ``(C, L)`` or ``(C, H, W)``.
    num_classes
        Outputs of the linear head.
    layers
        One entry per layer: a mapping with keys ``op``, ``width``, ``kernel``, ``stride`` and
        optional ``skips`` (skip offsets: offset ``k`` of layer ``i`` adds node ``i - k``), or a
        sequence ``(op, width, kernel, stride[, skips])``. Fields a layer ignores may hold anything.

    Returns
    -------
    ChainNetwork
        With channels, spatial sizes and skip stride ratios filled in.
    """
    shape = tuple(input_shape)
    if len(shape) not in (2, 3):
        raise ValueError(f"input_shape must be (C, L) or (C, H, W), got {input_shape!r}")
    channels = [_positive_int(shape[0], "input channels")]
    sizes = [_size(shape[1:], "input size")]
    strides: list[int] = []
    built = []
    for i, spec in enumerate(layers):
        if isinstance(spec, Mapping):
            unknown = set(spec) - {"op", "width", "kernel", "stride", "skips"}
            if unknown:
                raise ValueError(f"layer {i} has unknown keys {sorted(unknown)}")
            op, width, kernel, stride = spec.get("op"), spec.get("width"), spec.get("kernel", 1), spec.get("stride", 1)
            offsets = spec.get("skips", ())
        else:
            spec = tuple(spec)
            if len(spec) not in (4, 5):
                raise ValueError(f"layer {i} must be (op, width, kernel, stride[, skips]), got {spec!r}")
            op, width, kernel, stride = spec[:4]
            offsets = spec[4] if len(spec) == 5 else ()
        if op in ("maxpool", "avgpool", "identity"):
            width = channels[i]
        skips = []
        for k in offsets:
            if isinstance(k, bool) or not isinstance(k, int) or k < 1 or k > i:
                raise ValueError(f"layer {i} skip offset must be an integer in [1, {i}], got {k!r}")
            j = i - k
            skips.append(SkipInput(j, channels[j], math.prod(strides[j:i]), sizes[j]))
        layer = ChainLayer(op, channels[i], width, kernel, stride, sizes[i], tuple(skips))
        built.append(layer)
        channels.append(layer.c_out)
        sizes.append(layer.out_size)
        strides.append(layer.stride)
    return ChainNetwork(shape, num_classes, tuple(built))


def chain_network_from_dict(d: Mapping[str, Any]) -> ChainNetwork:
    """Inverse of :meth:`ChainNetwork.to_dict`."""
    layers = []
    for x in d["layers"]:
        x = dict(x)
        x["in_size"] = tuple(x["in_size"])
        x["skips"] = tuple(SkipInput(s["source"], s["channels"], s["stride"], tuple(s["size"])) for s in x["skips"])
        layers.append(ChainLayer(**x))
    return ChainNetwork(tuple(d["input_shape"]), d["num_classes"], tuple(layers))


@dataclass(frozen=True)
class NB201Network:
    """The NAS-Bench-201 macro network around one cell.

    Stem 3x3 conv (C channels) + BN; three stages of ``cells_per_stage`` cells with C, 2C, 4C
    channels separated by residual reduction blocks; BN-ReLU; global average pool; linear.
    ``ops`` are the cell's six edge operations in NAS-Bench-201 order
    ``1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2``.
    """

    ops: tuple[str, ...]
    channels: int = 16
    cells_per_stage: int = 5
    input_shape: tuple[int, int, int] = (3, 32, 32)
    num_classes: int = 10

    def __post_init__(self) -> None:
        ops = tuple(self.ops)
        if len(ops) != 6:
            raise ValueError(f"an NB201 cell has 6 edge ops, got {len(ops)}: {ops!r}")
        for op in ops:
            if op not in NB201_OPS:
                raise ValueError(f"NB201 op must be one of {NB201_OPS}, got {op!r}")
        object.__setattr__(self, "ops", ops)
        object.__setattr__(self, "channels", _positive_int(self.channels, "channels"))
        object.__setattr__(self, "cells_per_stage", _positive_int(self.cells_per_stage, "cells_per_stage"))
        object.__setattr__(self, "num_classes", _positive_int(self.num_classes, "num_classes"))
        shape = tuple(self.input_shape)
        if len(shape) != 3:
            raise ValueError(f"NB201 input_shape must be (C, H, W), got {self.input_shape!r}")
        shape = (_positive_int(shape[0], "input channels"),) + _size(shape[1:], "input size")
        if any(v % 4 for v in shape[1:]):
            raise ValueError(f"NB201 input size must be divisible by 4 (two 2x reductions), got {shape[1:]}")
        object.__setattr__(self, "input_shape", shape)

    @property
    def arch_string(self) -> str:
        """The NAS-Bench-201 text form, e.g. ``|nor_conv_3x3~0|+|none~0|skip_connect~1|+|...|``."""
        o = self.ops
        return f"|{o[0]}~0|+|{o[1]}~0|{o[2]}~1|+|{o[3]}~0|{o[4]}~1|{o[5]}~2|"

    def stage_shapes(self) -> list[tuple[int, tuple[int, int]]]:
        """(channels, (H, W)) of the three stages."""
        h, w = self.input_shape[1:]
        c = self.channels
        return [(c, (h, w)), (2 * c, (h // 2, w // 2)), (4 * c, (h // 4, w // 4))]

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "nb201",
            "ops": list(self.ops),
            "channels": self.channels,
            "cells_per_stage": self.cells_per_stage,
            "input_shape": list(self.input_shape),
            "num_classes": self.num_classes,
        }


def nb201_from_string(arch: str, **kwargs: Any) -> NB201Network:
    """Parse a NAS-Bench-201 architecture string into an :class:`NB201Network` (kwargs: macro settings)."""
    parts = [p for p in arch.strip().split("+")]
    expected = [[0], [0, 1], [0, 1, 2]]
    ops: list[str] = []
    if len(parts) != 3:
        raise ValueError(f"NB201 arch string must have 3 '+'-separated nodes, got {arch!r}")
    for node, (part, sources) in enumerate(zip(parts, expected), start=1):
        items = [x for x in part.strip("|").split("|") if x]
        if len(items) != len(sources):
            raise ValueError(f"node {node} of {arch!r} must have {len(sources)} inputs, got {items!r}")
        for item, src in zip(items, sources):
            op, _, s = item.partition("~")
            if s != str(src):
                raise ValueError(f"node {node} of {arch!r}: expected input ~{src}, got {item!r}")
            ops.append(op)
    return NB201Network(tuple(ops), **kwargs)


def nb201_cell_liveness(ops: Sequence[str]) -> tuple[list[bool], list[bool]]:
    """(depends, needed) per node 0..3 of a cell.

    ``depends[i]``: node i varies with the cell input (a node whose incoming edges are all
    ``none`` is the constant zero). ``needed[i]``: node i feeds the cell output through edges
    that are not ``none``. Edges into unneeded nodes are never built.
    """
    depends = [True, False, False, False]
    for (to, frm), op in zip(NB201_EDGES, ops):
        if op != "none" and depends[frm]:
            depends[to] = True
    needed = [False, False, False, True]
    for (to, frm), op in reversed(list(zip(NB201_EDGES, ops))):
        if op != "none" and needed[to]:
            needed[frm] = True
    return depends, needed


def description_from_dict(d: Mapping[str, Any]) -> Any:
    """Rebuild a description saved with ``to_dict``."""
    kind = d.get("kind")
    if kind == "chain":
        return chain_network_from_dict(d)
    if kind == "nb201":
        return NB201Network(
            tuple(d["ops"]), d["channels"], d["cells_per_stage"], tuple(d["input_shape"]), d["num_classes"]
        )
    if kind == "macro":
        return MacroNetwork(
            tuple(d["blocks"]), tuple(d["stages"]), d["stem_channels"], d["head_channels"], tuple(d["input_shape"]),
            d["num_classes"],
        )
    raise ValueError(f"description kind must be 'chain', 'nb201' or 'macro', got {kind!r}")


MACRO_BLOCKS = ("identity", "mb3_k3", "mb6_k5")
_MACRO_EXPANSION_KERNEL = {"mb3_k3": (3, 3), "mb6_k5": (6, 5)}


@dataclass(frozen=True)
class MacroNetwork:
    """A NAS-Bench-Macro network (the backbone of ``MacroSpace``) with one block per searchable layer.

    Stem 3x3 conv (``stem_channels``) + BN + ReLU; the searchable layers, stage ``j`` starting with
    a stride-2 layer that doubles the channels; 1x1 conv to ``head_channels`` + BN + ReLU; global
    average pool; linear. ``identity`` passes its input on, or is a 1x1 conv (with the layer's
    stride) + BN where the shape changes; ``mb3_k3`` / ``mb6_k5`` are inverted residual blocks
    (1x1 expand x3 / x6 + BN + ReLU, 3x3 / 5x5 depthwise + BN + ReLU, 1x1 linear projection +
    BN, plus the input when the shape is kept).
    """

    blocks: tuple[str, ...]
    stages: tuple[int, ...] = (2, 3, 3)
    stem_channels: int = 32
    head_channels: int = 1280
    input_shape: tuple[int, int, int] = (3, 32, 32)
    num_classes: int = 10

    def __post_init__(self) -> None:
        stages = tuple(_positive_int(v, "stage length") for v in self.stages)
        object.__setattr__(self, "stages", stages)
        blocks = tuple(self.blocks)
        if len(blocks) != sum(stages):
            raise ValueError(f"a network with stages {list(stages)} has {sum(stages)} blocks, got {len(blocks)}: {blocks!r}")
        for b in blocks:
            if b not in MACRO_BLOCKS:
                raise ValueError(f"macro block must be one of {MACRO_BLOCKS}, got {b!r}")
        object.__setattr__(self, "blocks", blocks)
        object.__setattr__(self, "stem_channels", _positive_int(self.stem_channels, "stem_channels"))
        object.__setattr__(self, "head_channels", _positive_int(self.head_channels, "head_channels"))
        object.__setattr__(self, "num_classes", _positive_int(self.num_classes, "num_classes"))
        shape = tuple(self.input_shape)
        if len(shape) != 3:
            raise ValueError(f"macro input_shape must be (C, H, W), got {self.input_shape!r}")
        object.__setattr__(self, "input_shape", (_positive_int(shape[0], "input channels"),) + _size(shape[1:], "input size"))

    def layers(self) -> list[dict[str, Any]]:
        """Per block: ``block``, ``c_in``, ``c_out``, ``stride``, ``in_size``, ``expansion``, ``kernel``, ``residual``."""
        out = []
        c = self.stem_channels
        size = tuple(self.input_shape[1:])
        i = 0
        for count in self.stages:
            for j in range(count):
                c_out, stride = (2 * c, 2) if j == 0 else (c, 1)
                b = self.blocks[i]
                t, k = _MACRO_EXPANSION_KERNEL.get(b, (0, 1))
                out.append({"block": b, "c_in": c, "c_out": c_out, "stride": stride, "in_size": size,
                            "expansion": t, "kernel": k, "residual": b != "identity" and stride == 1 and c == c_out})
                c, size = c_out, strided_size(size, stride)
                i += 1
        return out

    @property
    def out_channels(self) -> int:
        return self.stem_channels * 2 ** len(self.stages)

    @property
    def out_size(self) -> tuple[int, ...]:
        size = tuple(self.input_shape[1:])
        for _ in self.stages:
            size = strided_size(size, 2)
        return size

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "macro",
            "blocks": list(self.blocks),
            "stages": list(self.stages),
            "stem_channels": self.stem_channels,
            "head_channels": self.head_channels,
            "input_shape": list(self.input_shape),
            "num_classes": self.num_classes,
        }
