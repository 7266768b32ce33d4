"""ONNX builders (onnx package only) and the ONNX Runtime runner, against torch functional references."""

from __future__ import annotations

import numpy as np
import pytest

from nasaccel.latency import (
    NB201_EDGES,
    ChainLayer,
    NB201Network,
    OrtRunner,
    SkipInput,
    build_chain_layer_onnx,
    build_chain_onnx,
    build_nb201_cell_onnx,
    build_nb201_onnx,
    build_nb201_op_onnx,
    chain_network,
    chain_weight_shapes,
    description_from_dict,
    machine_description,
    nb201_from_string,
    nb201_weight_shapes,
    random_weights,
)
from nasaccel.latency.onnx_builders import OPSET, fold_batch_norm

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")


def run(model, feed):
    r = OrtRunner(model, mode="run")
    r.feed.update({k: v.astype(np.float32) for k, v in feed.items()})
    return r.session.run(None, r.feed)[0]


# ----------------------------------------------------------------------------- torch references


def torch_ref():
    return pytest.importorskip("torch")


def t_bn(F, W, x, p):
    return F.batch_norm(x, W[p + ".running_mean"], W[p + ".running_var"], W[p + ".weight"], W[p + ".bias"], False, 0.0, 1e-5)


def torch_chain_layer(torch, F, W, layer, x, skip_tensors, prefix):
    d = len(layer.in_size)
    conv = F.conv1d if d == 1 else F.conv2d
    u = x
    for s in layer.skips:
        t = skip_tensors[s.source]
        if s.channels != layer.c_in or s.size != layer.in_size:
            t = t_bn(F, W, conv(t, W[f"{prefix}.skips.{s.source}.conv.weight"], stride=s.stride), f"{prefix}.skips.{s.source}.bn")
        u = u + t
    k, st = layer.kernel, layer.stride
    if layer.op == "conv":
        return F.relu(t_bn(F, W, conv(u, W[f"{prefix}.conv.weight"], stride=st, padding=k // 2), f"{prefix}.bn"))
    if layer.op == "dwsep":
        y = F.relu(t_bn(F, W, conv(u, W[f"{prefix}.dw.weight"], stride=st, padding=k // 2, groups=layer.c_in), f"{prefix}.dw_bn"))
        return F.relu(t_bn(F, W, conv(y, W[f"{prefix}.pw.weight"]), f"{prefix}.pw_bn"))
    if layer.op == "maxpool":
        return (F.max_pool1d if d == 1 else F.max_pool2d)(u, k, st, k // 2)
    if layer.op == "avgpool":
        return (F.avg_pool1d if d == 1 else F.avg_pool2d)(u, k, st, k // 2, count_include_pad=False)
    return u


def torch_chain(net, weights, x):
    torch = torch_ref()
    F = torch.nn.functional
    W = {k: torch.from_numpy(v) for k, v in weights.items()}
    nodes = [torch.from_numpy(x)]
    with torch.no_grad():
        for i, layer in enumerate(net.layers):
            nodes.append(torch_chain_layer(torch, F, W, layer, nodes[i], {s.source: nodes[s.source] for s in layer.skips}, f"layers.{i}"))
        pooled = nodes[-1].flatten(2).mean(-1)
        return F.linear(pooled, W["head.weight"], W["head.bias"]).numpy()


def torch_nb201_cell(torch, F, W, ops, x, prefix):
    nodes = [x]
    for to in (1, 2, 3):
        acc = x.mul(0.0)
        for (t, frm), op in zip(NB201_EDGES, ops):
            if t != to:
                continue
            h = nodes[frm]
            if op == "none":
                y = h.mul(0.0)
            elif op == "skip_connect":
                y = h
            elif op == "avg_pool_3x3":
                y = F.avg_pool2d(h, 3, 1, 1, count_include_pad=False)
            else:
                p = f"{prefix}edges.{to}<-{frm}"
                w = W[p + ".conv.weight"]
                y = t_bn(F, W, F.conv2d(F.relu(h), w, padding=w.shape[-1] // 2), p + ".bn")
            acc = acc + y
        nodes.append(acc)
    return nodes[3]


def full_cell_shapes(c, prefix):
    """Weights for every conv edge (the builder takes what it needs and ignores the rest)."""
    shapes = {}
    for to, frm in NB201_EDGES:
        for k in (1, 3):
            shapes[f"{prefix}edges.{to}<-{frm}.conv.weight"] = (c, c, k, k)
        for s in ("weight", "bias", "running_mean", "running_var"):
            shapes[f"{prefix}edges.{to}<-{frm}.bn.{s}"] = (c,)
    return shapes


def nb201_weights_for(net, seed):
    shapes = dict(nb201_weight_shapes(net))
    k = 0
    for stage, (c, _) in enumerate(net.stage_shapes()):
        k += stage > 0
        for _ in range(net.cells_per_stage):
            shapes.update(full_cell_shapes(c, f"cells.{k}."))
            k += 1
    w = random_weights(shapes, seed)
    # Two conv sizes share a name here; keep the kernel size each edge's op asks for.
    for name in list(w):
        if name.endswith("conv.weight") and "edges" in name:
            edge = name.split("edges.")[1].split(".")[0]
            op = net.ops[[f"{t}<-{f}" for t, f in NB201_EDGES].index(edge)]
            kk = 1 if op == "nor_conv_1x1" else 3
            w[name] = random_weights({name: w[name].shape[:2] + (kk, kk)}, seed + len(name))[name]
    return w


def torch_nb201(net, weights, x):
    torch = torch_ref()
    F = torch.nn.functional
    W = {k: torch.from_numpy(v) for k, v in weights.items()}
    with torch.no_grad():
        h = t_bn(F, W, F.conv2d(torch.from_numpy(x), W["stem.conv.weight"], padding=1), "stem.bn")
        k = 0
        for stage in range(3):
            if stage > 0:
                p = f"cells.{k}"
                a = t_bn(F, W, F.conv2d(F.relu(h), W[p + ".conv_a.conv.weight"], stride=2, padding=1), p + ".conv_a.bn")
                b = t_bn(F, W, F.conv2d(F.relu(a), W[p + ".conv_b.conv.weight"], padding=1), p + ".conv_b.bn")
                h = F.conv2d(F.avg_pool2d(h, 2, 2), W[p + ".downsample.weight"]) + b
                k += 1
            for _ in range(net.cells_per_stage):
                h = torch_nb201_cell(torch, F, W, net.ops, h, f"cells.{k}.")
                k += 1
        h = F.relu(t_bn(F, W, h, "lastact.bn"))
        return F.linear(h.mean((2, 3)), W["classifier.weight"], W["classifier.bias"]).numpy()


def close(a, b, rtol=2e-4):
    scale = max(1.0, float(np.abs(b).max()))
    np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * scale)


# ----------------------------------------------------------------------------- chain networks

CHAINS = {
    "2d-all-ops-skips": ((3, 17, 15), [("conv", 8, 3, 1), ("dwsep", 12, 5, 2, (1,)), ("maxpool", 0, 3, 2, (1, 2)),
                                        ("avgpool", 0, 3, 1, (2,)), ("identity", 0, 0, 0, (1, 4)), ("conv", 6, 1, 2)]),
    "1d": ((4, 33), [("dwsep", 8, 3, 2), ("avgpool", 0, 5, 2, (1,)), ("conv", 8, 3, 1, (1, 2)), ("maxpool", 0, 3, 3)]),
    "identity-only": ((3, 8, 8), [("identity", 0, 0, 0), ("identity", 0, 0, 0, (1,))]),
    "no-layers": ((2, 5, 5), []),
}


@pytest.mark.parametrize("name", list(CHAINS))
def test_chain_network_matches_torch_reference(name):
    """BN-folded ONNX graphs give the outputs of the unfolded network computed with torch (1-D and 2-D)."""
    shape, layers = CHAINS[name]
    net = chain_network(shape, 7, layers)
    w = random_weights(chain_weight_shapes(net), seed=5)
    model = build_chain_onnx(net, w, batch_size=2)
    onnx.checker.check_model(model, full_check=True)
    assert model.opset_import[0].version >= 17 == OPSET
    x = np.random.default_rng(0).normal(size=(2,) + shape).astype(np.float32)
    close(run(model, {"input": x}), torch_chain(net, w, x))


def test_1d_networks_run_as_height_1_convolutions():
    """A 1-D network keeps (N, C, L) at its input but runs every conv and pool with (1, k) kernels."""
    shape, layers = CHAINS["1d"]
    model = build_chain_onnx(chain_network(shape, 7, layers), batch_size=2)
    dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert dims == [2, 4, 33]
    spatial = [n for n in model.graph.node if n.op_type in ("Conv", "MaxPool", "AveragePool")]
    assert spatial and all(list(onnx.helper.get_attribute_value(a))[0] == 1
                           for n in spatial for a in n.attribute if a.name == "kernel_shape")
    assert [n.op_type for n in model.graph.node].count("Unsqueeze") == 1


def test_1d_layer_alone_keeps_its_1d_inputs_and_output():
    """A single 1-D layer with a skip reads (N, C, L) tensors and writes one, equal to torch's."""
    net = chain_network((4, 20), 5, [("conv", 8, 3, 2), ("conv", 8, 5, 1, (1,))])
    layer = net.layers[1]
    w = {k.replace("layers.1", "layers.0"): v for k, v in random_weights(chain_weight_shapes(net), 3).items() if k.startswith("layers.1")}
    model = build_chain_layer_onnx(layer, w)
    rng = np.random.default_rng(4)
    feed = {"x": rng.normal(size=(1, 8, 10)), "skip0": rng.normal(size=(1, 4, 20))}
    torch = torch_ref()
    W = {k: torch.from_numpy(v) for k, v in w.items()}
    T = {k: torch.from_numpy(v.astype(np.float32)) for k, v in feed.items()}
    with torch.no_grad():
        ref = torch_chain_layer(torch, torch.nn.functional, W, layer, T["x"], {0: T["skip0"]}, "layers.0").numpy()
    out = run(model, feed)
    assert out.shape == (1, 8, 10)
    close(out, ref)


def test_chain_layer_alone_matches_torch_reference():
    """A single layer with skip inputs is a graph of its own inputs (x, skip{j}) and output y."""
    net = chain_network((3, 16, 16), 5, [("conv", 8, 3, 2), ("conv", 8, 3, 1), ("dwsep", 4, 3, 2, (1, 2))])
    layer = net.layers[2]
    assert [s.source for s in layer.skips] == [0, 1] and layer.skips[0].stride == 2 and layer.skips[1].stride == 1
    w = {k.replace("layers.2", "layers.0"): v for k, v in random_weights(chain_weight_shapes(net), 1).items() if k.startswith("layers.2")}
    model = build_chain_layer_onnx(layer, w)
    assert [i.name for i in model.graph.input] == ["x", "skip0", "skip1"]
    rng = np.random.default_rng(2)
    feed = {"x": rng.normal(size=(1, 8, 8, 8)), "skip0": rng.normal(size=(1, 3, 16, 16)), "skip1": rng.normal(size=(1, 8, 8, 8))}
    torch = torch_ref()
    W = {k: torch.from_numpy(v) for k, v in w.items()}
    T = {k: torch.from_numpy(v.astype(np.float32)) for k, v in feed.items()}
    with torch.no_grad():
        ref = torch_chain_layer(torch, torch.nn.functional, W, layer, T["x"], {0: T["skip0"], 1: T["skip1"]}, "layers.0").numpy()
    close(run(model, feed), ref)


def test_chain_network_derives_channels_sizes_and_ratios():
    """chain_network fills c_in, ceil spatial sizes and the skip stride ratios from per-layer choices."""
    net = chain_network((3, 15, 9), 10, [("conv", 16, 3, 2), ("maxpool", 99, 3, 2), ("dwsep", 32, 3, 1, (1, 2))])
    assert [l.in_size for l in net.layers] == [(15, 9), (8, 5), (4, 3)]
    assert net.layers[1].c_out == 16  # pools keep channels whatever width says
    assert net.layers[2].skips == (SkipInput(0, 3, 4, (15, 9)), SkipInput(1, 16, 2, (8, 5)))
    assert description_from_dict(net.to_dict()) == net


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(op="sepconv", c_in=3, c_out=4, kernel=3, stride=1, in_size=(4, 4)), "op must be one of"),
        (dict(op="conv", c_in=3, c_out=4, kernel=2, stride=1, in_size=(4, 4)), "kernel must be odd"),
        (dict(op="conv", c_in=3, c_out=0, kernel=3, stride=1, in_size=(4, 4)), "c_out"),
        (dict(op="conv", c_in=3, c_out=4, kernel=3, stride=1, in_size=(4, 4, 4)), "in_size"),
        (dict(op="conv", c_in=3, c_out=4, kernel=3, stride=1, in_size=(4, 4), skips=(SkipInput(0, 3, 1, (8, 8)),)), "stride ratio"),
    ],
)
def test_bad_layers_raise_value_error(kwargs, match):
    """Invalid layer descriptions are ValueErrors naming the bad value."""
    with pytest.raises(ValueError, match=match):
        ChainLayer(**kwargs)


def test_inconsistent_networks_raise_value_error():
    """Channel mismatches and bad skip offsets are caught with a message naming the layer."""
    good = chain_network((3, 8, 8), 2, [("conv", 4, 3, 1), ("conv", 4, 3, 1)])
    with pytest.raises(ValueError, match="layer 1 expects 5 channels"):
        type(good)((3, 8, 8), 2, (good.layers[0], ChainLayer("conv", 5, 4, 3, 1, (8, 8))))
    with pytest.raises(ValueError, match="skip offset"):
        chain_network((3, 8, 8), 2, [("conv", 4, 3, 1, (1,))])
    with pytest.raises(ValueError, match="batch_size"):
        build_chain_onnx(good, batch_size=0)


def test_random_weights_are_deterministic_and_given_weights_are_checked():
    """The same seed gives the same graph bytes; missing or mis-shaped given weights are named."""
    net = chain_network((3, 8, 8), 2, [("conv", 4, 3, 1), ("dwsep", 6, 3, 2)])
    a = build_chain_onnx(net, seed=3).SerializeToString()
    assert a == build_chain_onnx(net, seed=3).SerializeToString()
    assert a != build_chain_onnx(net, seed=4).SerializeToString()
    w = random_weights(chain_weight_shapes(net), 0)
    del w["layers.1.pw_bn.running_var"]
    with pytest.raises(ValueError, match="layers.1.pw_bn.running_var"):
        build_chain_onnx(net, w)
    w = random_weights(chain_weight_shapes(net), 0)
    w["head.weight"] = w["head.weight"].T
    with pytest.raises(ValueError, match="head.weight.*shape"):
        build_chain_onnx(net, w)


def test_fold_batch_norm_is_exact():
    """Folding BN into a conv's weights and bias equals conv followed by BN."""
    rng = np.random.default_rng(0)
    w = rng.normal(size=(4, 3, 1, 1))
    bn = {"weight": rng.uniform(0.5, 1.5, 4), "bias": rng.normal(size=4), "running_mean": rng.normal(size=4),
          "running_var": rng.uniform(0.5, 1.5, 4)}
    x = rng.normal(size=3)
    wf, bf = fold_batch_norm(w, bn)
    direct = (w[:, :, 0, 0] @ x - bn["running_mean"]) / np.sqrt(bn["running_var"] + 1e-5) * bn["weight"] + bn["bias"]
    np.testing.assert_allclose(wf[:, :, 0, 0] @ x + bf, direct, rtol=1e-5)


# ----------------------------------------------------------------------------- NAS-Bench-201

NB201_CASES = [
    ("nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3", "skip_connect", "nor_conv_3x3", "none"),
    ("none", "nor_conv_3x3", "none", "skip_connect", "none", "avg_pool_3x3"),  # node 1 is constant zero
    ("avg_pool_3x3", "none", "nor_conv_1x1", "none", "nor_conv_3x3", "none"),  # output only through node 1
    ("none",) * 6,  # the network is a constant
]


@pytest.mark.parametrize("ops", NB201_CASES)
def test_nb201_network_matches_torch_reference(ops):
    """NB201 graphs (none edges dropped, BN folded) equal the NAS-Bench-201 network computed with torch."""
    net = NB201Network(ops, channels=4, cells_per_stage=2, input_shape=(3, 16, 16), num_classes=5)
    w = nb201_weights_for(net, 11)
    model = build_nb201_onnx(net, w)
    onnx.checker.check_model(model, full_check=True)
    x = np.random.default_rng(1).normal(size=(1, 3, 16, 16)).astype(np.float32)
    close(run(model, {"input": x}), torch_nb201(net, w, x), rtol=5e-4)


@pytest.mark.parametrize("ops", NB201_CASES[:3])
def test_nb201_cell_alone_matches_torch_reference(ops):
    """A single cell graph maps x to node 3 as NAS-Bench-201's InferCell does."""
    c = 5
    shapes = full_cell_shapes(c, "")
    w = random_weights(shapes, 2)
    for i, (to, frm) in enumerate(NB201_EDGES):
        if ops[i] == "nor_conv_1x1":
            w[f"edges.{to}<-{frm}.conv.weight"] = w[f"edges.{to}<-{frm}.conv.weight"][:, :, 1:2, 1:2].copy()
    model = build_nb201_cell_onnx(ops, c, (6, 6), w)
    x = np.random.default_rng(3).normal(size=(1, c, 6, 6)).astype(np.float32)
    torch = torch_ref()
    with torch.no_grad():
        ref = torch_nb201_cell(torch, torch.nn.functional, {k: torch.from_numpy(v) for k, v in w.items()}, ops,
                               torch.from_numpy(x), "").numpy()
    close(run(model, {"x": x}), ref)


@pytest.mark.parametrize("op", ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"])
def test_nb201_single_ops_are_valid_and_shape_preserving(op):
    """Each NB201 op alone is a valid graph mapping (1, C, H, W) to the same shape."""
    model = build_nb201_op_onnx(op, 8, (5, 7))
    onnx.checker.check_model(model, full_check=True)
    x = np.random.default_rng(0).normal(size=(1, 8, 5, 7)).astype(np.float32)
    y = run(model, {"x": x})
    assert y.shape == x.shape
    if op == "none":
        assert np.all(y == 0)
    if op == "skip_connect":
        np.testing.assert_array_equal(y, x)


def test_nb201_descriptions_validate_and_round_trip():
    """Arch strings round-trip; bad ops, edge counts and input sizes are ValueErrors."""
    arch = "|nor_conv_3x3~0|+|none~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_1x1~1|none~2|"
    net = nb201_from_string(arch)
    assert net.arch_string == arch and net.ops[2] == "avg_pool_3x3"
    assert description_from_dict(net.to_dict()) == net
    with pytest.raises(ValueError, match="conv_5x5"):
        NB201Network(("conv_5x5",) * 6)
    with pytest.raises(ValueError, match="6 edge ops"):
        NB201Network(("none",) * 5)
    with pytest.raises(ValueError, match="divisible by 4"):
        NB201Network(("none",) * 6, input_shape=(3, 30, 30))
    with pytest.raises(ValueError, match="node 2"):
        nb201_from_string("|nor_conv_3x3~0|+|none~0|+|none~0|none~1|none~2|")


# ----------------------------------------------------------------------------- runner


@pytest.mark.parametrize("mode", ["run", "iobinding", "auto"])
def test_runner_modes_compute_the_same_outputs(mode):
    """run, iobinding and auto modes run the same inference; settings and batch size are recorded."""
    net = chain_network((3, 8, 8), 4, [("conv", 8, 3, 2)])
    r = OrtRunner(build_chain_onnx(net, batch_size=3), mode=mode, intra_op_threads=1)
    r()
    assert r.config["batch_size"] == 3 and r.config["intra_op_threads"] == 1
    assert r.config["mode"] in ("run", "iobinding")
    out = r.outputs()[0]
    assert out.shape == (3, 4)
    if r.mode == "iobinding":
        np.testing.assert_allclose(r._binding.copy_outputs_to_cpu()[0], out, rtol=1e-6)
    rec = r.measure(__import__("nasaccel")._core.HarnessOptions(min_repeats=5, max_repeats=5))
    assert rec["latency_s"] == rec["stats"]["median"] and rec["calls"] == 5
    assert rec["machine"]["onnxruntime"] and rec["runner"]["mode"] == r.mode


def test_runner_rejects_bad_settings():
    """Unknown modes, levels and thread counts are ValueErrors naming the value."""
    model = build_chain_onnx(chain_network((3, 4, 4), 2, []))
    for kwargs, match in [({"mode": "fast"}, "fast"), ({"optimization_level": "max"}, "max"),
                          ({"intra_op_threads": -1}, "-1"), ({"execution_mode": "async"}, "async")]:
        with pytest.raises(ValueError, match=match):
            OrtRunner(model, **kwargs)
    with pytest.raises(ValueError, match="not a file"):
        OrtRunner("/nonexistent/model.onnx")


def test_machine_description_names_the_context():
    """The machine record carries CPU, cores, OS, onnxruntime version and load."""
    d = machine_description()
    for key in ("cpu", "logical_cores", "os", "onnxruntime", "numpy", "load_average"):
        assert key in d
