"""From a search space's genome to the latency room's descriptions, and from its torch weights to ONNX.

:func:`latency_description` is the one adapter the profiler, the latency tables, the latency
evaluator and ``nasaccel profile`` use to turn a genome of a space into what
:func:`~nasaccel.latency.build_onnx` builds and :class:`~nasaccel.latency.LatencyTable` prices:

============================  =====================================================================
``ChainSpace``                :class:`ChainNetwork` (1-D or 2-D input, skips and their adapters)
``NB201CellSpace``            :class:`NB201Network` (the space has no image size: ``input_size``,
                              default 32x32)
``MacroSpace``                :class:`MacroNetwork` (its backbone with one block per searchable
                              layer; ``input_size`` as for NB201, default 32x32)
============================  =====================================================================

:func:`onnx_weights` renames a torch module's ``state_dict`` (from ``space.build_module``) to the
builders' weight names, so that ``build_onnx(description, onnx_weights(space, module))`` computes
what the module computes in eval mode (batch norm folded). Neither function needs torch: the
state dict may be any mapping of names to arrays.

The batch size is not part of a description: it is an argument of ``build_onnx``, of
:class:`~nasaccel.latency.OnnxMeasure` and of the profiler, recorded with every measurement and table.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .descriptions import ChainNetwork, MacroNetwork, NB201Network, chain_network

if TYPE_CHECKING:
    import onnx

    from .._core import Genome


def _space_kind(space: Any) -> str:
    from ..spaces import ChainSpace, MacroSpace, NB201CellSpace

    if isinstance(space, ChainSpace):
        return "chain"
    if isinstance(space, NB201CellSpace):
        return "nb201"
    if isinstance(space, MacroSpace):
        return "macro"
    raise ValueError(
        f"no latency description for {type(space).__name__}: supported spaces are ChainSpace, NB201CellSpace and MacroSpace"
    )


def _image_size(kind: str, input_size: Any) -> tuple[int, int]:
    if input_size is None:
        return (32, 32)
    if isinstance(input_size, (int, np.integer)) and not isinstance(input_size, bool):
        size: tuple[Any, ...] = (int(input_size), int(input_size))
    else:
        try:
            size = tuple(input_size)
        except TypeError:
            raise ValueError(f"input_size must be an integer or (H, W), got {input_size!r}") from None
    if len(size) != 2 or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1 for v in size):
        raise ValueError(f"input_size must be an integer or (H, W) of positive integers, got {input_size!r}")
    if kind == "nb201" and any(v % 4 for v in size):
        raise ValueError(f"NB201 input_size must be multiples of 4 (two 2x reductions), got {input_size!r}")
    return (int(size[0]), int(size[1]))


def latency_description(space: Any, genome: Genome, *, input_size: Any = None) -> ChainNetwork | NB201Network | MacroNetwork:
    """The latency description of ``genome``'s network in ``space``.

    Parameters
    ----------
    space
        A :class:`~nasaccel.spaces.ChainSpace`, :class:`~nasaccel.spaces.NB201CellSpace` or
        :class:`~nasaccel.spaces.MacroSpace`.
    genome
        A valid genome of ``space`` (validated here).
    input_size
        NB201 and MacroSpace: image size ``S`` or ``(H, W)`` (default 32x32; NB201 needs multiples of 4;
        the channels are the space's ``input_channels``). A ChainSpace fixes its own ``input_shape``, so
        this must be None.

    Returns
    -------
    ChainNetwork, NB201Network or MacroNetwork
        The network the space's ``build_module`` builds, as the ONNX builders and latency tables take it.

    Raises
    ------
    ValueError
        For any other space (named), an invalid genome, or a bad ``input_size``.
    """
    kind = _space_kind(space)
    if kind == "chain":
        if input_size is not None:
            raise ValueError(
                f"input_size applies to NB201 networks only; a ChainSpace has input_shape {list(space.input_shape)}"
            )
        d = space.decode(genome)
        layers = [
            (x["op"], x["out_channels"], x["kernel"] or 1, x["stride"], tuple(s["offset"] for s in x["skips"]))
            for x in d["layers"]
        ]
        return chain_network(space.input_shape, space.num_classes, layers)
    d = space.decode(genome)
    h, w = _image_size(kind, input_size)
    if kind == "macro":
        return MacroNetwork(
            tuple(x["block"] for x in d["layers"]), space.stages, space.init_channels, space.head_channels,
            (space.input_channels, h, w), space.num_classes,
        )
    return NB201Network(
        tuple(e["op"] for e in d["edges"]), space.channels, space.num_cells, (space.input_channels, h, w), space.num_classes
    )


# ----------------------------------------------------------------------------- torch weight names


def _to_numpy(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=np.float32)


def _chain_torch_names(desc: ChainNetwork) -> dict[str, str]:
    """Builder parameter prefix -> torch prefix (see ``spaces/_chain_torch.py``)."""
    names: dict[str, str] = {}
    for i, layer in enumerate(desc.layers):
        p = f"layers.{i}"
        for s in layer.skips:
            # torch keys projections by skip offset, the builders by source node.
            names[f"{p}.skips.{s.source}.conv"] = f"{p}.projections.{i - s.source}.0"
            names[f"{p}.skips.{s.source}.bn"] = f"{p}.projections.{i - s.source}.1"
        if layer.op == "conv":  # Sequential(Conv, BN, ReLU)
            names[f"{p}.conv"], names[f"{p}.bn"] = f"{p}.op.0", f"{p}.op.1"
        elif layer.op == "dwsep":  # Sequential(dw, BN, ReLU, pw, BN, ReLU)
            names.update({f"{p}.dw": f"{p}.op.0", f"{p}.dw_bn": f"{p}.op.1", f"{p}.pw": f"{p}.op.3", f"{p}.pw_bn": f"{p}.op.4"})
    names["head"] = "classifier"
    return names


def _nb201_torch_name(prefix: str) -> str:
    """Builder parameter prefix -> torch prefix (see ``spaces/_nb201_torch.py``)."""
    rules = (
        (r"stem\.conv", "stem.0"),
        (r"stem\.bn", "stem.1"),
        (r"(cells\.\d+\.(?:edges\.\d<-\d|conv_[ab]))\.conv", r"\1.1"),  # Sequential(ReLU, Conv, BN)
        (r"(cells\.\d+\.(?:edges\.\d<-\d|conv_[ab]))\.bn", r"\1.2"),
        (r"(cells\.\d+)\.downsample", r"\1.shortcut.1"),  # Sequential(AvgPool, Conv)
        (r"lastact\.bn", "last_act.0"),
    )
    for pattern, repl in rules:
        if re.fullmatch(pattern, prefix):
            return re.sub(pattern, repl, prefix)
    return prefix


def onnx_weights(space: Any, genome: Genome, state: Any) -> dict[str, np.ndarray]:
    """The builders' weights of ``genome``'s network from the space's torch module or its ``state_dict``.

    Parameters
    ----------
    space, genome
        As in :func:`latency_description` (NB201 and macro weights do not depend on the image size).
    state
        ``space.build_module(genome)`` or a mapping of its ``state_dict`` names to tensors or arrays.

    Returns
    -------
    dict
        Unfolded float32 arrays under the names of :mod:`nasaccel.latency.onnx_builders`; pass them as
        ``weights`` to :func:`~nasaccel.latency.build_onnx` with :func:`latency_description`'s result.

    Raises
    ------
    ValueError
        When a tensor the network needs is missing or has the wrong shape (named).
    """
    from .onnx_builders import chain_weight_shapes, macro_weight_shapes, nb201_weight_shapes

    kind = _space_kind(space)
    if hasattr(state, "state_dict") and callable(state.state_dict):
        state = state.state_dict()
    if not isinstance(state, Mapping):
        raise ValueError(f"state must be a torch module or a mapping of parameter names, got {type(state).__name__}")
    desc = latency_description(space, genome)
    if kind == "chain":
        assert isinstance(desc, ChainNetwork)
        shapes = chain_weight_shapes(desc)
        prefixes = _chain_torch_names(desc)

        def torch_name(name: str) -> str:
            prefix, leaf = name.rsplit(".", 1)
            return f"{prefixes.get(prefix, prefix)}.{leaf}"
    elif kind == "macro":
        assert isinstance(desc, MacroNetwork)
        shapes = macro_weight_shapes(desc)

        def torch_name(name: str) -> str:
            return name  # the builder names MacroSpace's tensors as its torch module does
    else:
        assert isinstance(desc, NB201Network)
        shapes = nb201_weight_shapes(desc)

        def torch_name(name: str) -> str:
            prefix, leaf = name.rsplit(".", 1)
            return f"{_nb201_torch_name(prefix)}.{leaf}"

    out: dict[str, np.ndarray] = {}
    for name, shape in shapes.items():
        src = torch_name(name)
        if src not in state:
            raise ValueError(
                f"the module has no tensor {src!r} for {name!r} (shape {tuple(shape)}); "
                f"is it {type(space).__name__}.build_module(genome) of this genome?"
            )
        a = _to_numpy(state[src])
        if a.shape != tuple(shape):
            raise ValueError(f"tensor {src!r} has shape {a.shape}, the network needs {tuple(shape)} for {name!r}")
        out[name] = a
    return out


def genome_onnx(
    space: Any,
    genome: Genome,
    state: Any = None,
    *,
    batch_size: int = 1,
    input_size: Any = None,
    seed: int = 0,
) -> onnx.ModelProto:
    """The ONNX graph of ``genome``'s network: with ``state``'s weights (module or state dict) or seeded random ones."""
    from .onnx_builders import build_onnx

    desc = latency_description(space, genome, input_size=input_size)
    weights = None if state is None else onnx_weights(space, genome, state)
    return build_onnx(desc, weights, seed=seed, batch_size=batch_size)


def describe_with(space: Any, *, input_size: Any = None) -> Any:
    """``genome -> latency_description(space, genome, input_size=...)``, the ``describe`` adapter of ``profile_space``."""
    kind = _space_kind(space)
    if input_size is not None and kind != "chain":
        _image_size(kind, input_size)

    def describe(genome: Genome) -> ChainNetwork | NB201Network | MacroNetwork:
        return latency_description(space, genome, input_size=input_size)

    return describe


__all__: Sequence[str] = ["describe_with", "genome_onnx", "latency_description", "onnx_weights"]
