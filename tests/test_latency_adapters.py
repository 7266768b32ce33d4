"""Space genome -> latency description adapters, and torch weights -> ONNX graphs with the same outputs."""

from __future__ import annotations

import numpy as np
import pytest

import nasaccel as na
from nasaccel.latency import (
    ChainNetwork,
    MacroNetwork,
    NB201Network,
    chain_network,
    describe_with,
    genome_onnx,
    latency_description,
    onnx_weights,
    terms_of,
)


def test_chain_genome_describes_its_decoded_network():
    """Every layer's op, channels, kernel, stride, sizes and skips follow ChainSpace.decode."""
    space = na.ChainSpace((3, 17, 15), 7, widths=(8, 16), kernels=(3, 5), max_skip_offset=3)
    g = space.from_text("conv-8-k3-s2|dwsep-16-k5-s1+1|maxpool-k3-s2+1,2|identity+1,3|avgpool-k5-s1")
    d = latency_description(space, g)
    dec = space.decode(g)
    assert isinstance(d, ChainNetwork) and d.input_shape == (3, 17, 15) and d.num_classes == 7
    for layer, ref in zip(d.layers, dec["layers"], strict=True):
        assert layer.op == ref["op"] and layer.c_in == ref["in_channels"] and layer.c_out == ref["out_channels"]
        assert list(layer.in_size) == ref["input_shape"][1:] and list(layer.out_size) == ref["output_shape"][1:]
        assert [s.source for s in layer.skips] == sorted(s["source"] for s in ref["skips"])
        for s, rs in zip(layer.skips, sorted(ref["skips"], key=lambda r: r["source"])):
            assert s.stride == rs["stride"] and s.needs_adapter(layer.c_in, layer.in_size) == rs["projection"]
    assert d == chain_network((3, 17, 15), 7, [("conv", 8, 3, 2), ("dwsep", 16, 5, 1, (1,)), ("maxpool", 0, 3, 2, (1, 2)),
                                               ("identity", 0, 0, 0, (1, 3)), ("avgpool", 0, 5, 1)])


def test_nb201_genome_describes_the_macro_network():
    """The cell string, channels, cells per stage, classes and the chosen image size reach the description."""
    space = na.NB201CellSpace(num_cells=3, channels=8, num_classes=5, input_channels=1)
    arch = "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_1x1~1|none~2|"
    d = latency_description(space, space.from_text(arch), input_size=(16, 24))
    assert isinstance(d, NB201Network) and d.arch_string == arch
    assert (d.channels, d.cells_per_stage, d.num_classes, d.input_shape) == (8, 3, 5, (1, 16, 24))
    assert latency_description(space, space.from_text(arch)).input_shape == (1, 32, 32)


def test_macro_genome_describes_its_backbone():
    """Blocks, channels, strides and residuals follow MacroSpace.decode; a kept-shape identity has no term."""
    space = na.MacroSpace(num_classes=7, init_channels=8, head_channels=64)
    g = space.from_text("10201002")
    d = latency_description(space, g, input_size=20)
    assert isinstance(d, MacroNetwork) and d.input_shape == (3, 20, 20) and d.blocks == tuple(
        x["block"] for x in space.decode(g)["layers"])
    for x, ref in zip(d.layers(), space.decode(g)["layers"], strict=True):
        assert (x["c_in"], x["c_out"], x["stride"], x["residual"]) == (
            ref["in_channels"], ref["out_channels"], ref["stride"], ref["residual"])
    t = terms_of(d)
    assert ("macro.stem|20x20", 3, 8) in t and ("macro.head|3x3|h64|n7", 64, 7) in t
    assert ("macro.identity|s2|5x5", 32, 64) in t  # a stride-2 identity is a 1x1 conv
    assert not any(k[0].startswith("macro.identity|s1") for k in t)
    assert sum(v for k, v in t.items() if k[0].startswith("macro.mb")) == 4


def test_bad_spaces_and_sizes_are_named():
    """Foreign objects and bad input sizes raise ValueError saying why."""
    with pytest.raises(ValueError, match="no latency description for object"):
        latency_description(object(), None)
    nb = na.NB201CellSpace()
    g = nb.sample(na.Rng(0))
    for bad in (30, (32,), (0, 32), (32, 32.0), "32"):
        with pytest.raises(ValueError, match="input_size"):
            latency_description(nb, g, input_size=bad)
    chain = na.ChainSpace.mnist1d()
    with pytest.raises(ValueError, match="input_size applies to NB201"):
        latency_description(chain, chain.sample(na.Rng(0)), input_size=40)
    with pytest.raises(ValueError, match="not|invalid|gene"):
        latency_description(nb, na.Genome([[0]] * 5))


def test_describe_with_gives_terms_for_every_sample():
    """The profiler adapter describes sampled genomes of both spaces; each has a constant and a head term."""
    for space in (na.ChainSpace.mobilenet_like((3, 32, 32), 10), na.NB201CellSpace(), na.MacroSpace()):
        describe = describe_with(space)
        rng = na.Rng(3)
        for _ in range(20):
            t = terms_of(describe(space.sample(rng)))
            assert t[("const", 0, 0)] == 1


def _eval_module(torch, module):
    module.eval()
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                # Non-trivial statistics so that folding is exercised.
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=gen) * 0.1)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=gen) + 0.5)
                m.weight.copy_(torch.rand(m.weight.shape, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=gen) * 0.1)
    return module


SPACES = {
    "chain-1d": (lambda: na.ChainSpace.mnist1d(), None, (2, 1, 40), 8),
    "chain-2d": (lambda: na.ChainSpace((3, 16, 16), 5, widths=(8, 16), kernels=(3, 5), max_skip_offset=3), None, (2, 3, 16, 16), 8),
    "nb201": (lambda: na.NB201CellSpace(num_cells=1, channels=8), 16, (2, 3, 16, 16), 4),
    "macro": (lambda: na.MacroSpace(init_channels=8, head_channels=32), 12, (2, 3, 12, 12), 4),
}


@pytest.mark.parametrize("name", list(SPACES))
def test_onnx_graph_with_module_weights_matches_the_torch_module(name):
    """build_onnx(latency_description, onnx_weights(module)) computes what space.build_module computes (eval mode)."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from nasaccel.latency import OrtRunner

    make, size, shape, n = SPACES[name]
    space = make()
    rng = na.Rng(11)
    for i in range(n):
        g = space.sample(rng)
        module = _eval_module(torch, space.build_module(g))
        model = genome_onnx(space, g, module, batch_size=shape[0], input_size=size)
        x = np.random.default_rng(i).normal(size=shape).astype(np.float32)
        r = OrtRunner(model, mode="run")
        r.feed["input"] = x
        got = r.session.run(None, r.feed)[0]
        with torch.no_grad():
            want = module(torch.from_numpy(x)).numpy()
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * max(1.0, float(np.abs(want).max())),
                                   err_msg=space.to_text(g))


def test_onnx_weights_name_missing_and_misshapen_tensors():
    """A state dict lacking a tensor, or holding one of the wrong shape, raises ValueError naming it."""
    space = na.ChainSpace((3, 8, 8), 4, widths=(8,), kernels=(3,))
    g = space.from_text("conv-8-k3-s1")
    state = {"layers.0.op.0.weight": np.zeros((8, 3, 3, 3)), "classifier.weight": np.zeros((4, 8)),
             "classifier.bias": np.zeros(4)}
    with pytest.raises(ValueError, match="layers.0.op.1.weight"):
        onnx_weights(space, g, state)
    state.update({f"layers.0.op.1.{k}": np.ones(8) for k in ("weight", "bias", "running_mean", "running_var")})
    assert set(onnx_weights(space, g, state)) >= {"layers.0.conv.weight", "layers.0.bn.running_var", "head.bias"}
    state["classifier.weight"] = np.zeros((4, 9))
    with pytest.raises(ValueError, match=r"'classifier.weight' has shape \(4, 9\)"):
        onnx_weights(space, g, state)
    with pytest.raises(ValueError, match="mapping"):
        onnx_weights(space, g, [1, 2])
