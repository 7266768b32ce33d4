"""ONNX graphs of ChainSpace and NAS-Bench-201 networks, built with the ``onnx`` package alone.

Batch norm is folded into the preceding convolution (what a deployed network runs); the
NAS-Bench-201 final BN-ReLU, which follows an addition, stays a BatchNormalization node.
Graphs use opset 17, IR version 8, static shapes with a fixed batch size, input ``"input"``
and output ``"logits"`` (single layers, cells and ops: inputs ``"x"`` and ``"skip{j}"``, output ``"y"``).

1-D networks keep their ``(N, C, L)`` inputs and outputs, but run inside as ``(N, C, 1, L)``: an
``Unsqueeze`` after each input, convolutions and pools with ``(1, k)`` kernels, and a ``Squeeze``
before a 1-D output. ONNX Runtime (1.32, CPU) runs a 1-D ``Conv`` one example at a time and a 2-D
one with its batched NCHWc kernels: three stride-2 32-channel layers take about 3x less time per
batch of 256 in the height-1 form (``bench/bench_conv1d_layout.py``), with the same outputs.

Weights
-------
Every builder takes ``weights``: a dict of numpy arrays holding the *unfolded* parameters,
named as a torch module would name them, or ``None`` for deterministic random weights from
``seed`` (:func:`random_weights`). ``*_weight_shapes`` list every expected name and shape.
A BN named ``P`` has ``P.weight``, ``P.bias``, ``P.running_mean``, ``P.running_var`` (eps
``bn_eps``, 1e-5 as in torch).

ChainSpace (layer ``i`` reads node ``i``; ``j`` is a skip source node):

==========================================  =============================================
``layers.{i}.conv.weight``, ``layers.{i}.bn``       conv: (c_out, c_in, k[, k]) then BN(c_out)
``layers.{i}.dw.weight``, ``layers.{i}.dw_bn``      dwsep depthwise: (c_in, 1, k[, k]), BN(c_in)
``layers.{i}.pw.weight``, ``layers.{i}.pw_bn``      dwsep pointwise: (c_out, c_in, 1[, 1]), BN(c_out)
``layers.{i}.skips.{j}.conv.weight``, ``...bn``      skip adapter: (c_in, c_j, 1[, 1]), BN(c_in)
``head.weight``, ``head.bias``                      linear: (num_classes, C_last), (num_classes,)
==========================================  =============================================

NAS-Bench-201 (cells indexed as in NAS-Bench-201's ``cells`` list: stage cells and the two
reduction blocks at positions N and 2N+1):

==================================================  =========================================
``stem.conv.weight``, ``stem.bn``                        (C, 3, 3, 3), BN(C)
``cells.{k}.edges.{i}<-{j}.conv.weight``, ``...bn``       nor_conv_KxK: (C, C, K, K), BN(C)
``cells.{k}.conv_a.conv.weight``, ``cells.{k}.conv_a.bn``  reduction ReLU-conv3x3/2-BN: (2C', C', 3, 3)
``cells.{k}.conv_b.conv.weight``, ``cells.{k}.conv_b.bn``  reduction ReLU-conv3x3-BN: (2C', 2C', 3, 3)
``cells.{k}.downsample.weight``                          avgpool 2x2/2 then conv1x1: (2C', C', 1, 1)
``lastact.bn``                                           BN(4C) before the final ReLU
``classifier.weight``, ``classifier.bias``               (num_classes, 4C), (num_classes,)
==================================================  =========================================

NAS-Bench-Macro (:class:`MacroNetwork`): the names of ``MacroSpace.build_module``'s state dict,
``stem.0.weight`` / ``stem.1`` (BN); per layer ``i``: nothing (identity), ``layers.{i}.0.weight`` /
``layers.{i}.1`` (shape-changing identity: 1x1 conv + BN), or ``layers.{i}.body.{0,3,6}.weight`` with
BNs ``layers.{i}.body.{1,4,7}`` (expand, depthwise, project); ``head.0.weight`` / ``head.1``;
``classifier.weight``, ``classifier.bias``.

A single cell (:func:`build_nb201_cell_onnx`) uses ``edges.{i}<-{j}...`` without the
``cells.{k}.`` prefix; a single op (:func:`build_nb201_op_onnx`) uses ``conv.weight`` and ``bn``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .descriptions import (
    NB201_EDGES,
    ChainLayer,
    ChainNetwork,
    MacroNetwork,
    NB201Network,
    nb201_cell_liveness,
)

if TYPE_CHECKING:
    import onnx

OPSET = 17
IR_VERSION = 8
BN_SUFFIXES = ("weight", "bias", "running_mean", "running_var")

# ----------------------------------------------------------------------------- weights


def _bn_shapes(prefix: str, c: int) -> dict[str, tuple[int, ...]]:
    return {f"{prefix}.{s}": (c,) for s in BN_SUFFIXES}


def _kernel_shape(k: int, dims: int) -> tuple[int, ...]:
    return (k,) * dims


def chain_layer_weight_shapes(layer: ChainLayer, prefix: str = "layers.0") -> dict[str, tuple[int, ...]]:
    """Names and shapes of the unfolded parameters of one chain layer."""
    d = len(layer.in_size)
    shapes: dict[str, tuple[int, ...]] = {}
    for s in layer.skips:
        if s.needs_adapter(layer.c_in, layer.in_size):
            shapes[f"{prefix}.skips.{s.source}.conv.weight"] = (layer.c_in, s.channels) + _kernel_shape(1, d)
            shapes.update(_bn_shapes(f"{prefix}.skips.{s.source}.bn", layer.c_in))
    if layer.op == "conv":
        shapes[f"{prefix}.conv.weight"] = (layer.c_out, layer.c_in) + _kernel_shape(layer.kernel, d)
        shapes.update(_bn_shapes(f"{prefix}.bn", layer.c_out))
    elif layer.op == "dwsep":
        shapes[f"{prefix}.dw.weight"] = (layer.c_in, 1) + _kernel_shape(layer.kernel, d)
        shapes.update(_bn_shapes(f"{prefix}.dw_bn", layer.c_in))
        shapes[f"{prefix}.pw.weight"] = (layer.c_out, layer.c_in) + _kernel_shape(1, d)
        shapes.update(_bn_shapes(f"{prefix}.pw_bn", layer.c_out))
    return shapes


def chain_weight_shapes(network: ChainNetwork) -> dict[str, tuple[int, ...]]:
    """Names and shapes of every unfolded parameter of a ChainSpace network (see module docs)."""
    shapes: dict[str, tuple[int, ...]] = {}
    for i, layer in enumerate(network.layers):
        shapes.update(chain_layer_weight_shapes(layer, f"layers.{i}"))
    shapes["head.weight"] = (network.num_classes, network.out_channels)
    shapes["head.bias"] = (network.num_classes,)
    return shapes


def _nb201_cell_shapes(ops: Sequence[str], c: int, prefix: str) -> dict[str, tuple[int, ...]]:
    _, needed = nb201_cell_liveness(ops)
    shapes: dict[str, tuple[int, ...]] = {}
    for (to, frm), op in zip(NB201_EDGES, ops):
        if op in ("nor_conv_1x1", "nor_conv_3x3") and needed[to]:
            k = 1 if op == "nor_conv_1x1" else 3
            shapes[f"{prefix}edges.{to}<-{frm}.conv.weight"] = (c, c, k, k)
            shapes.update(_bn_shapes(f"{prefix}edges.{to}<-{frm}.bn", c))
    return shapes


def nb201_weight_shapes(network: NB201Network) -> dict[str, tuple[int, ...]]:
    """Names and shapes of every unfolded parameter of an NB201 network (see module docs).

    Edges into cell nodes that never reach the cell output are not built and have no weights.
    """
    c0 = network.channels
    shapes: dict[str, tuple[int, ...]] = {"stem.conv.weight": (c0, network.input_shape[0], 3, 3)}
    shapes.update(_bn_shapes("stem.bn", c0))
    k = 0
    for stage, (c, _) in enumerate(network.stage_shapes()):
        if stage > 0:
            cp = c // 2
            shapes[f"cells.{k}.conv_a.conv.weight"] = (c, cp, 3, 3)
            shapes.update(_bn_shapes(f"cells.{k}.conv_a.bn", c))
            shapes[f"cells.{k}.conv_b.conv.weight"] = (c, c, 3, 3)
            shapes.update(_bn_shapes(f"cells.{k}.conv_b.bn", c))
            shapes[f"cells.{k}.downsample.weight"] = (c, cp, 1, 1)
            k += 1
        for _ in range(network.cells_per_stage):
            shapes.update(_nb201_cell_shapes(network.ops, c, f"cells.{k}."))
            k += 1
    c_last = 4 * c0
    shapes.update(_bn_shapes("lastact.bn", c_last))
    shapes["classifier.weight"] = (network.num_classes, c_last)
    shapes["classifier.bias"] = (network.num_classes,)
    return shapes


def random_weights(shapes: Mapping[str, Sequence[int]], seed: int = 0) -> dict[str, np.ndarray]:
    """Deterministic random unfolded weights for the given names and shapes.

    Convolutions He-normal, linear layers N(0, 1/fan_in), biases N(0, 0.01); BN scale
    U(0.5, 1.5), shift N(0, 0.1), running mean N(0, 0.1), running variance U(0.5, 1.5), so
    that folding is exercised. The same seed and names give the same arrays.
    """
    rng = np.random.default_rng(seed)
    out: dict[str, np.ndarray] = {}
    for name, shape in shapes.items():
        shape = tuple(int(v) for v in shape)
        parent = name.rsplit(".", 1)[0]
        is_bn = parent.endswith("bn")
        if name.endswith("running_mean") or (is_bn and name.endswith(".bias")):
            a = rng.normal(0.0, 0.1, shape)
        elif name.endswith("running_var") or (is_bn and name.endswith(".weight")):
            a = rng.uniform(0.5, 1.5, shape)
        elif name.endswith(".bias"):
            a = rng.normal(0.0, 0.01, shape)
        elif len(shape) >= 3:
            fan_in = int(np.prod(shape[1:]))
            a = rng.normal(0.0, np.sqrt(2.0 / fan_in), shape)
        else:
            a = rng.normal(0.0, 1.0 / np.sqrt(shape[-1]), shape)
        out[name] = a.astype(np.float32)
    return out


def _check_weights(weights: Mapping[str, Any] | None, shapes: Mapping[str, tuple[int, ...]], seed: int) -> dict[str, np.ndarray]:
    if weights is None:
        return random_weights(shapes, seed)
    out = {}
    for name, shape in shapes.items():
        if name not in weights:
            raise ValueError(f"weights lack {name!r} (shape {shape})")
        a = np.asarray(weights[name], dtype=np.float32)
        if a.shape != tuple(shape):
            raise ValueError(f"weight {name!r} has shape {a.shape}, expected {tuple(shape)}")
        out[name] = a
    return out


def fold_batch_norm(
    weight: np.ndarray, bn: Mapping[str, np.ndarray], eps: float = 1e-5
) -> tuple[np.ndarray, np.ndarray]:
    """Fold an inference BN (keys weight, bias, running_mean, running_var) into a bias-free conv."""
    scale = bn["weight"].astype(np.float64) / np.sqrt(bn["running_var"].astype(np.float64) + eps)
    w = weight.astype(np.float64) * scale.reshape((-1,) + (1,) * (weight.ndim - 1))
    b = bn["bias"].astype(np.float64) - bn["running_mean"].astype(np.float64) * scale
    return w.astype(np.float32), b.astype(np.float32)


# ----------------------------------------------------------------------------- graph assembly


class _Graph:
    """Accumulates nodes and initializers with unique tensor names."""

    def __init__(self, weights: Mapping[str, np.ndarray], bn_eps: float) -> None:
        self.weights = weights
        self.bn_eps = bn_eps
        self.nodes: list[Any] = []
        self.inits: list[Any] = []
        self._n = 0

    def name(self, stem: str) -> str:
        self._n += 1
        return f"{stem}_{self._n}"

    def init(self, stem: str, array: np.ndarray) -> str:
        from onnx import numpy_helper

        n = self.name(stem)
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(array), n))
        return n

    def node(self, op: str, inputs: Sequence[str], stem: str, **attrs: Any) -> str:
        from onnx import helper

        out = self.name(stem)
        self.nodes.append(helper.make_node(op, list(inputs), [out], name=out, **attrs))
        return out

    def bn(self, prefix: str) -> dict[str, np.ndarray]:
        return {s: self.weights[f"{prefix}.{s}"] for s in BN_SUFFIXES}

    def conv(self, x: str, wname: str, bn_prefix: str | None, *, stride: int = 1, group: int = 1, relu: bool = False) -> str:
        w = self.weights[wname]
        if bn_prefix is not None:
            w, b = fold_batch_norm(w, self.bn(bn_prefix), self.bn_eps)
        else:
            b = None
        strides = [stride] * (w.ndim - 2)
        if w.ndim == 3:  # 1-D: run as height 1 (module docs)
            w, strides = w[:, :, None, :], [1, stride]
        k = w.shape[2:]
        inputs = [x, self.init(wname, w)] + ([self.init(wname + ".bias", b)] if b is not None else [])
        y = self.node(
            "Conv",
            inputs,
            "conv",
            kernel_shape=list(k),
            strides=strides,
            pads=[kk // 2 for kk in k] * 2,
            group=group,
        )
        return self.node("Relu", [y], "relu") if relu else y

    def lift(self, x: str, dims: int) -> str:
        """A 1-D tensor ``(N, C, L)`` as ``(N, C, 1, L)``; others unchanged."""
        if dims != 1:
            return x
        return self.node("Unsqueeze", [x, self.init("axes", np.array([2], np.int64))], "unsqueeze")

    def lower(self, x: str, dims: int) -> str:
        """Back from ``(N, C, 1, L)`` to ``(N, C, L)`` for a 1-D output."""
        if dims != 1:
            return x
        return self.node("Squeeze", [x, self.init("axes", np.array([2], np.int64))], "squeeze")

    def pool(self, x: str, op: str, k: int, stride: int, dims: int) -> str:
        if dims == 1:  # height 1, as for convolutions
            attrs: dict[str, Any] = {"kernel_shape": [1, k], "strides": [1, stride], "pads": [0, k // 2] * 2}
        else:
            attrs = {"kernel_shape": [k] * dims, "strides": [stride] * dims, "pads": [k // 2] * (2 * dims)}
        if op == "maxpool":
            return self.node("MaxPool", [x], "maxpool", **attrs)
        return self.node("AveragePool", [x], "avgpool", count_include_pad=0, **attrs)

    def add(self, a: str, b: str) -> str:
        return self.node("Add", [a, b], "add")

    def head(self, x: str, wname: str, bname: str) -> str:
        g = self.node("GlobalAveragePool", [x], "gap")
        f = self.node("Flatten", [g], "flatten", axis=1)
        return self.node(
            "Gemm", [f, self.init(wname, self.weights[wname]), self.init(bname, self.weights[bname])], "gemm", transB=1
        )

    def model(self, inputs: Sequence[tuple[str, Sequence[int]]], output: tuple[str, str, Sequence[int]], graph_name: str) -> onnx.ModelProto:
        import onnx
        from onnx import TensorProto, helper

        src, out_name, out_shape = output
        if src in [n for n, _ in inputs] or src not in {o for node in self.nodes for o in node.output}:
            # The output is a graph input (identity everywhere) or an initializer: give it a node.
            self.nodes.append(helper.make_node("Identity", [src], [out_name], name="output"))
        else:
            for node in self.nodes:
                for i, o in enumerate(node.output):
                    if o == src:
                        node.output[i] = out_name
                for i, x in enumerate(node.input):
                    if x == src:
                        node.input[i] = out_name
        # Dead-code elimination: nodes and initializers that do not reach the output go.
        live = {out_name}
        kept = []
        for node in reversed(self.nodes):
            if any(o in live for o in node.output):
                kept.append(node)
                live.update(node.input)
        self.nodes = kept[::-1]
        self.inits = [t for t in self.inits if t.name in live]
        graph = helper.make_graph(
            self.nodes,
            graph_name,
            [helper.make_tensor_value_info(n, TensorProto.FLOAT, list(s)) for n, s in inputs],
            [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, list(out_shape))],
            initializer=self.inits,
        )
        model = helper.make_model(
            graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="nasaccel.latency"
        )
        model.ir_version = IR_VERSION
        onnx.checker.check_model(model, full_check=True)
        return model


def _check_batch(batch_size: int) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    return int(batch_size)


# ----------------------------------------------------------------------------- ChainSpace


def _chain_layer_nodes(g: _Graph, layer: ChainLayer, x: str, skip_tensors: Mapping[int, str], prefix: str) -> str:
    u = x
    dims = len(layer.in_size)
    for s in layer.skips:
        t = skip_tensors[s.source]
        if s.needs_adapter(layer.c_in, layer.in_size):
            t = g.conv(t, f"{prefix}.skips.{s.source}.conv.weight", f"{prefix}.skips.{s.source}.bn", stride=s.stride)
        u = g.add(u, t)
    if layer.op == "conv":
        return g.conv(u, f"{prefix}.conv.weight", f"{prefix}.bn", stride=layer.stride, relu=True)
    if layer.op == "dwsep":
        y = g.conv(u, f"{prefix}.dw.weight", f"{prefix}.dw_bn", stride=layer.stride, group=layer.c_in, relu=True)
        return g.conv(y, f"{prefix}.pw.weight", f"{prefix}.pw_bn", relu=True)
    if layer.op in ("maxpool", "avgpool"):
        return g.pool(u, layer.op, layer.kernel, layer.stride, dims)
    return u  # identity


def build_chain_onnx(
    network: ChainNetwork,
    weights: Mapping[str, Any] | None = None,
    *,
    seed: int = 0,
    batch_size: int = 1,
    bn_eps: float = 1e-5,
) -> onnx.ModelProto:
    """The ONNX graph of a whole ChainSpace network (BN folded; weights named as in the module docs)."""
    if not isinstance(network, ChainNetwork):
        raise ValueError(f"network must be a ChainNetwork, got {type(network).__name__}")
    batch = _check_batch(batch_size)
    g = _Graph(_check_weights(weights, chain_weight_shapes(network), seed), bn_eps)
    nodes = [g.lift("input", len(network.input_shape) - 1)]
    for i, layer in enumerate(network.layers):
        nodes.append(_chain_layer_nodes(g, layer, nodes[i], {s.source: nodes[s.source] for s in layer.skips}, f"layers.{i}"))
    logits = g.head(nodes[-1], "head.weight", "head.bias")
    return g.model(
        [("input", (batch,) + tuple(network.input_shape))],
        (logits, "logits", (batch, network.num_classes)),
        "chain_network",
    )


def build_chain_layer_onnx(
    layer: ChainLayer,
    weights: Mapping[str, Any] | None = None,
    *,
    seed: int = 0,
    batch_size: int = 1,
    bn_eps: float = 1e-5,
) -> onnx.ModelProto:
    """One chain layer alone: inputs ``x`` (node i) and ``skip{j}`` per skip source, output ``y``.

    Weights are named as in a network with prefix ``layers.0``.
    """
    if not isinstance(layer, ChainLayer):
        raise ValueError(f"layer must be a ChainLayer, got {type(layer).__name__}")
    batch = _check_batch(batch_size)
    g = _Graph(_check_weights(weights, chain_layer_weight_shapes(layer), seed), bn_eps)
    inputs = [("x", (batch, layer.c_in) + layer.in_size)]
    inputs += [(f"skip{s.source}", (batch, s.channels) + s.size) for s in layer.skips]
    dims = len(layer.in_size)
    skips = {s.source: g.lift(f"skip{s.source}", dims) for s in layer.skips}
    y = g.lower(_chain_layer_nodes(g, layer, g.lift("x", dims), skips, "layers.0"), dims)
    return g.model(inputs, (y, "y", (batch, layer.c_out) + layer.out_size), "chain_layer")


# ----------------------------------------------------------------------------- NAS-Bench-201


def _nb201_op(g: _Graph, op: str, x: str, prefix: str) -> str:
    if op == "skip_connect":
        return x
    if op == "avg_pool_3x3":
        return g.pool(x, "avgpool", 3, 1, 2)
    r = g.node("Relu", [x], "relu")
    return g.conv(r, f"{prefix}conv.weight", f"{prefix}bn")


def _nb201_cell(g: _Graph, ops: Sequence[str], x: str, c: int, hw: tuple[int, int], batch: int, prefix: str) -> str:
    depends, needed = nb201_cell_liveness(ops)
    nodes: list[str | None] = [x, None, None, None]
    for to in (1, 2, 3):
        if not needed[to]:
            continue
        acc = None
        for (t, frm), op in zip(NB201_EDGES, ops):
            if t != to or op == "none":
                continue
            y = _nb201_op(g, op, nodes[frm], f"{prefix}edges.{to}<-{frm}.")  # type: ignore[arg-type]
            acc = y if acc is None else g.add(acc, y)
        # A node whose inputs are all "none" is the zero tensor (ONNX Runtime folds what follows).
        nodes[to] = acc if acc is not None else g.init("zeros", np.zeros((batch, c) + hw, np.float32))
    return nodes[3]  # type: ignore[return-value]


def _relu_conv_bn(g: _Graph, x: str, prefix: str, stride: int) -> str:
    r = g.node("Relu", [x], "relu")
    return g.conv(r, f"{prefix}.conv.weight", f"{prefix}.bn", stride=stride)


def build_nb201_onnx(
    network: NB201Network,
    weights: Mapping[str, Any] | None = None,
    *,
    seed: int = 0,
    batch_size: int = 1,
    bn_eps: float = 1e-5,
) -> onnx.ModelProto:
    """The ONNX graph of an NAS-Bench-201 network (``none`` edges dropped, BN folded into convs)."""
    if not isinstance(network, NB201Network):
        raise ValueError(f"network must be an NB201Network, got {type(network).__name__}")
    batch = _check_batch(batch_size)
    g = _Graph(_check_weights(weights, nb201_weight_shapes(network), seed), bn_eps)
    x = g.conv("input", "stem.conv.weight", "stem.bn")
    k = 0
    for stage, (c, hw) in enumerate(network.stage_shapes()):
        if stage > 0:
            p = f"cells.{k}"
            a = _relu_conv_bn(g, x, f"{p}.conv_a", 2)
            b = _relu_conv_bn(g, a, f"{p}.conv_b", 1)
            d = g.node("AveragePool", [x], "avgpool", kernel_shape=[2, 2], strides=[2, 2])
            d = g.conv(d, f"{p}.downsample.weight", None)
            x = g.add(d, b)
            k += 1
        for _ in range(network.cells_per_stage):
            x = _nb201_cell(g, network.ops, x, c, hw, batch, f"cells.{k}.")
            k += 1
    bn = g.bn("lastact.bn")
    x = g.node(
        "BatchNormalization",
        [x] + [g.init(f"lastact.bn.{s}", bn[s]) for s in BN_SUFFIXES],
        "bn",
        epsilon=bn_eps,
    )
    x = g.node("Relu", [x], "relu")
    logits = g.head(x, "classifier.weight", "classifier.bias")
    return g.model(
        [("input", (batch,) + tuple(network.input_shape))],
        (logits, "logits", (batch, network.num_classes)),
        "nb201_network",
    )


def build_nb201_cell_onnx(
    ops: Sequence[str],
    channels: int,
    size: tuple[int, int],
    weights: Mapping[str, Any] | None = None,
    *,
    seed: int = 0,
    batch_size: int = 1,
    bn_eps: float = 1e-5,
) -> onnx.ModelProto:
    """One NAS-Bench-201 cell alone: input ``x`` (batch, C, H, W), output ``y`` (node 3)."""
    net = NB201Network(tuple(ops), channels, 1, (channels, 4 * size[0], 4 * size[1]))  # validates ops/channels
    batch = _check_batch(batch_size)
    g = _Graph(_check_weights(weights, _nb201_cell_shapes(net.ops, net.channels, ""), seed), bn_eps)
    hw = (int(size[0]), int(size[1]))
    y = _nb201_cell(g, net.ops, "x", net.channels, hw, batch, "")
    shape = (batch, net.channels) + hw
    return g.model([("x", shape)], (y, "y", shape), "nb201_cell")


def build_nb201_op_onnx(
    op: str,
    channels: int,
    size: tuple[int, int],
    weights: Mapping[str, Any] | None = None,
    *,
    seed: int = 0,
    batch_size: int = 1,
    bn_eps: float = 1e-5,
) -> onnx.ModelProto:
    """One NAS-Bench-201 edge operation alone (``none`` gives the zero tensor); weights ``conv.weight``, ``bn.*``."""
    net = NB201Network((op,) * 6, channels, 1, (channels, 4 * size[0], 4 * size[1]))
    batch = _check_batch(batch_size)
    shapes: dict[str, tuple[int, ...]] = {}
    if op in ("nor_conv_1x1", "nor_conv_3x3"):
        k = 1 if op == "nor_conv_1x1" else 3
        shapes = {"conv.weight": (net.channels, net.channels, k, k), **_bn_shapes("bn", net.channels)}
    g = _Graph(_check_weights(weights, shapes, seed), bn_eps)
    hw = (int(size[0]), int(size[1]))
    shape = (batch, net.channels) + hw
    y = g.init("zeros", np.zeros(shape, np.float32)) if op == "none" else _nb201_op(g, op, "x", "")
    return g.model([("x", shape)], (y, "y", shape), "nb201_op")


# ----------------------------------------------------------------------------- NAS-Bench-Macro


def macro_weight_shapes(network: MacroNetwork) -> dict[str, tuple[int, ...]]:
    """Names and shapes of every unfolded parameter of a NAS-Bench-Macro network (see module docs)."""
    shapes: dict[str, tuple[int, ...]] = {"stem.0.weight": (network.stem_channels, network.input_shape[0], 3, 3)}
    shapes.update(_bn_shapes("stem.1", network.stem_channels))
    for i, x in enumerate(network.layers()):
        p = f"layers.{i}"
        if x["block"] == "identity":
            if x["stride"] != 1 or x["c_in"] != x["c_out"]:
                shapes[f"{p}.0.weight"] = (x["c_out"], x["c_in"], 1, 1)
                shapes.update(_bn_shapes(f"{p}.1", x["c_out"]))
            continue
        hidden = x["c_in"] * x["expansion"]
        shapes[f"{p}.body.0.weight"] = (hidden, x["c_in"], 1, 1)
        shapes.update(_bn_shapes(f"{p}.body.1", hidden))
        shapes[f"{p}.body.3.weight"] = (hidden, 1, x["kernel"], x["kernel"])
        shapes.update(_bn_shapes(f"{p}.body.4", hidden))
        shapes[f"{p}.body.6.weight"] = (x["c_out"], hidden, 1, 1)
        shapes.update(_bn_shapes(f"{p}.body.7", x["c_out"]))
    shapes["head.0.weight"] = (network.head_channels, network.out_channels, 1, 1)
    shapes.update(_bn_shapes("head.1", network.head_channels))
    shapes["classifier.weight"] = (network.num_classes, network.head_channels)
    shapes["classifier.bias"] = (network.num_classes,)
    return shapes


def build_macro_onnx(
    network: MacroNetwork,
    weights: Mapping[str, Any] | None = None,
    *,
    seed: int = 0,
    batch_size: int = 1,
    bn_eps: float = 1e-5,
) -> onnx.ModelProto:
    """The ONNX graph of a NAS-Bench-Macro network (BN folded; weights named as ``MacroSpace.build_module``'s)."""
    if not isinstance(network, MacroNetwork):
        raise ValueError(f"network must be a MacroNetwork, got {type(network).__name__}")
    batch = _check_batch(batch_size)
    g = _Graph(_check_weights(weights, macro_weight_shapes(network), seed), bn_eps)
    x = g.conv("input", "stem.0.weight", "stem.1", relu=True)
    for i, layer in enumerate(network.layers()):
        p = f"layers.{i}"
        if layer["block"] == "identity":
            if layer["stride"] != 1 or layer["c_in"] != layer["c_out"]:
                x = g.conv(x, f"{p}.0.weight", f"{p}.1", stride=layer["stride"])
            continue
        hidden = layer["c_in"] * layer["expansion"]
        y = g.conv(x, f"{p}.body.0.weight", f"{p}.body.1", relu=True)
        y = g.conv(y, f"{p}.body.3.weight", f"{p}.body.4", stride=layer["stride"], group=hidden, relu=True)
        y = g.conv(y, f"{p}.body.6.weight", f"{p}.body.7")
        x = g.add(y, x) if layer["residual"] else y
    x = g.conv(x, "head.0.weight", "head.1", relu=True)
    logits = g.head(x, "classifier.weight", "classifier.bias")
    return g.model(
        [("input", (batch,) + tuple(network.input_shape))],
        (logits, "logits", (batch, network.num_classes)),
        "macro_network",
    )


def build_onnx(description: Any, weights: Mapping[str, Any] | None = None, **kwargs: Any) -> onnx.ModelProto:
    """Dispatch on the description: ChainNetwork, ChainLayer, NB201Network or MacroNetwork."""
    if isinstance(description, MacroNetwork):
        return build_macro_onnx(description, weights, **kwargs)
    if isinstance(description, ChainNetwork):
        return build_chain_onnx(description, weights, **kwargs)
    if isinstance(description, ChainLayer):
        return build_chain_layer_onnx(description, weights, **kwargs)
    if isinstance(description, NB201Network):
        return build_nb201_onnx(description, weights, **kwargs)
    raise ValueError(
        f"no ONNX builder for {type(description).__name__}: expected ChainNetwork, ChainLayer, NB201Network or MacroNetwork"
    )
