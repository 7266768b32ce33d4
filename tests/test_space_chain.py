"""ChainSpace: spec, canonical form, text grammar, decoding, torch networks, decisions, configs, bad input."""

from __future__ import annotations

import itertools
import json
import math
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nasaccel import Genome, Rng
from nasaccel.spaces import CHAIN_OPS, ChainSpace, Decision, NB201CellSpace, SearchSpace, space_from_config

torch = pytest.importorskip("torch")


def small_1d(**kw) -> ChainSpace:
    args = dict(
        input_shape=(2, 23),
        num_classes=4,
        ops=CHAIN_OPS,
        widths=(4, 8),
        kernels=(3, 5),
        strides=(1, 2),
        min_layers=1,
        max_layers=5,
        max_skip_offset=3,
    )
    args.update(kw)
    return ChainSpace(**args)


def train_losses(net, x, y, steps: int) -> list[float]:
    """Losses of `steps` Adam steps on one fixed batch (memorisation must drive them down)."""
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


@pytest.fixture(autouse=True)
def _torch_setup():
    torch.manual_seed(0)
    torch.set_num_threads(1)


# ---------------------------------------------------------------- spec and sampling


def test_spec_mirrors_the_constructor():
    """The spec has fields op (categorical), width/kernel/stride (ordinal) sized by the choices, and layer bounds."""
    s = ChainSpace((3, 8, 8), 5, ("conv", "maxpool"), (8, 16, 32), (3,), (1, 2), 2, 6, 2)
    spec = s.spec
    assert spec.field_names == ["op", "width", "kernel", "stride"]
    assert [f.size for f in spec.fields] == [2, 3, 1, 2]
    assert [f.ordinal for f in spec.fields] == [False, True, True, True]
    assert (spec.min_genes, spec.max_genes, spec.max_skip_offset) == (2, 6, 2)


def test_sample_is_seeded_valid_and_canonical():
    """Samples depend only on the seed, pass validation and are fixed points of canonicalize."""
    s = small_1d()
    a = [s.sample(Rng(7)) for _ in range(3)]
    assert a[0] == a[1] == a[2]
    rng = Rng(11)
    for _ in range(200):
        g = s.sample(rng, skip_probability=0.5)
        s.validate(g)
        assert s.canonicalize(g) == g


def test_canonicalize_zeroes_exactly_the_ignored_fields():
    """Pools lose their width, identity its width, kernel and stride; conv and dwsep keep all fields."""
    s = small_1d()
    conv, dwsep, maxpool, avgpool, identity = range(5)
    g = Genome(
        [[conv, 1, 1, 1], [dwsep, 1, 1, 1], [maxpool, 1, 1, 1], [avgpool, 1, 0, 1], [identity, 1, 1, 1]],
        [0, 1, 3, 0, 5],
    )
    c = s.canonicalize(g)
    assert c.genes.tolist() == [[0, 1, 1, 1], [1, 1, 1, 1], [2, 0, 1, 1], [3, 0, 0, 1], [4, 0, 0, 0]]
    assert c.skips == [0, 1, 3, 0, 5]
    assert s.to_text(g) == s.to_text(c)


# ---------------------------------------------------------------- text form


def test_text_form_matches_the_documented_grammar():
    """A hand-built genome prints as the grammar says and parses back to the canonical genome."""
    s = ChainSpace((3, 32, 32), 10, CHAIN_OPS, (16, 32, 64), (3, 5), (1, 2), 1, 6, 3)
    g = Genome([[0, 1, 0, 0], [1, 2, 1, 1], [2, 0, 0, 1], [4, 0, 0, 0]], [0, 0, 3, 4])
    text = "conv-32-k3-s1|dwsep-64-k5-s2|maxpool-k3-s2+1,2|identity+3"
    assert s.to_text(g) == text
    assert s.from_text(text) == g


def test_text_round_trip_is_exact_for_samples():
    """from_text(to_text(g)) == canonicalize(g) and to_text(from_text(t)) == t for many random genomes."""
    for s in (small_1d(), ChainSpace.mobilenet_like((3, 32, 32), 10), ChainSpace.mnist1d()):
        rng = Rng(3)
        for _ in range(150):
            g = s.sample(rng, skip_probability=0.4)
            t = s.to_text(g)
            assert s.from_text(t) == g
            assert s.to_text(s.from_text(t)) == t


def test_text_is_a_bijection_on_a_tiny_space():
    """Over every raw genome of a tiny space, texts are equal exactly when canonical genomes are equal."""
    s = ChainSpace((1, 6), 2, ("conv", "maxpool", "identity"), (4, 8), (3,), (1, 2), 1, 2, 1)
    raw = []
    gene_values = list(itertools.product(range(3), range(2), range(1), range(2)))
    for n in (1, 2):
        for genes in itertools.product(gene_values, repeat=n):
            for skip in [0] if n == 1 else [0, 1]:
                raw.append(Genome([list(x) for x in genes], [0] * (n - 1) + [skip]))
    texts = {s.to_text(g) for g in raw}
    canon = {s.canonicalize(g) for g in raw}
    assert len(texts) == len(canon)
    # pools: 1 width-free x 2 strides, conv: 2 widths x 2 strides, identity: 1 => 7 layer choices
    assert len(canon) == 7 + 7 * 7 * 2
    for t in texts:
        assert s.to_text(s.from_text(t)) == t


@st.composite
def raw_genomes(draw, space: ChainSpace):
    """Any genome the spec admits, including non-canonical values in ignored fields."""
    n = draw(st.integers(space.min_layers, space.max_layers))
    sizes = [f.size for f in space.spec.fields]
    genes = [[draw(st.integers(0, size - 1)) for size in sizes] for _ in range(n)]
    masks = [draw(st.integers(0, space.spec.allowed_skip_mask(i))) for i in range(n)]
    return Genome(genes, masks)


HYPO_SPACE = ChainSpace((2, 11, 6), 3, CHAIN_OPS, (4, 8, 16), (1, 3, 5), (1, 2), 1, 6, 3)


@settings(max_examples=150, deadline=None)
@given(raw_genomes(HYPO_SPACE))
def test_text_decisions_and_decode_invariants(check_canonical_round_trip, g):
    """For any genome: text and decisions encode exactly its canonical form, and decode is JSON-serialisable."""
    d = check_canonical_round_trip(HYPO_SPACE, g)
    assert len(d["layers"]) == g.num_genes


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("", "empty"),
        ("conv-8-k3-s1|foo-8-k3-s1", "unknown op 'foo'"),
        ("conv-8-k3-s1||identity", "layer 1 is empty"),
        ("conv-16-k3-s1", "width 16"),
        ("conv-8-k7-s1", "kernel 7"),
        ("conv-8-k3-s3", "stride 3"),
        ("conv-08-k3-s1", "'conv-08-k3-s1'"),
        ("conv-8-k3", "'conv-8-k3'"),
        ("conv-8-k3-s1-s1", "'conv-8-k3-s1-s1'"),
        ("maxpool-8-k3-s1", "'maxpool-8-k3-s1'"),
        ("identity-k3", "'identity-k3'"),
        ("conv-8-k3-s1|identity+2", "skip offset 2"),
        ("conv-8-k3-s1+1", "skip offset 1"),
        ("conv-8-k3-s1|identity|identity+2,1", "(1 after 2)"),
        ("conv-8-k3-s1|identity+", "skip offsets ''"),
        ("conv-8-k3-s1|identity+01", "skip offsets '01'"),
        ("|".join(["identity"] * 6), "has 6 layers"),
        (" conv-8-k3-s1", "unknown op ' conv'"),
    ],
)
def test_from_text_rejects_malformed_text_naming_the_bad_part(text, needle):
    """Malformed text, unknown ops, out-of-range values and wrong field counts raise ValueError naming them."""
    s = small_1d()
    with pytest.raises(ValueError) as e:
        s.from_text(text)
    assert needle in str(e.value)


def test_from_text_rejects_ops_outside_the_space():
    """A known op that the space does not offer is named in the error."""
    s = ChainSpace((1, 8), 2, ("conv", "identity"), (4,), (3,), (1,), 1, 3, 0)
    with pytest.raises(ValueError, match="op 'maxpool'"):
        s.from_text("maxpool-k3-s1")
    with pytest.raises(ValueError, match="architecture text must be a str"):
        s.from_text(42)


# ---------------------------------------------------------------- decode and torch network


def _node_shapes(net, x) -> list[list[int]]:
    shapes = []
    hooks = [layer.register_forward_hook(lambda m, i, o: shapes.append(list(o.shape[1:]))) for layer in net.layers]
    net.eval()
    with torch.no_grad():
        out = net(x)
    for h in hooks:
        h.remove()
    return shapes, out


@pytest.mark.parametrize("input_shape", [(2, 23), (3, 9, 7)])
def test_decode_shapes_match_the_torch_network(input_shape):
    """decode's per-layer output shapes and projections are what the built module computes (1-D and 2-D)."""
    s = ChainSpace(input_shape, 3, CHAIN_OPS, (4, 8), (1, 3, 5), (1, 2, 3), 1, 5, 3)
    rng = Rng(5)
    for _ in range(25):
        g = s.sample(rng, skip_probability=0.5)
        d = s.decode(g)
        json.dumps(d)
        net = s.build_module(g)
        shapes, out = _node_shapes(net, torch.randn(2, *input_shape))
        assert shapes == [layer["output_shape"] for layer in d["layers"]]
        assert out.shape == (2, 3)
        for layer, mod in zip(d["layers"], net.layers, strict=True):
            assert sorted(mod.projections.keys()) == sorted(str(k["offset"]) for k in layer["skips"] if k["projection"])
            assert layer["input_shape"] == ([list(input_shape)] + shapes)[layer["index"]]


def test_decode_describes_layers_and_skip_adapters():
    """A skip over strided layers gets a 1x1 projection with the product of their strides; equal shapes do not."""
    s = ChainSpace((1, 7), 2, CHAIN_OPS, (4, 8), (3,), (1, 2), 1, 4, 3)
    g = s.from_text("conv-4-k3-s2|maxpool-k3-s2+1|identity+1,2|conv-8-k3-s1+1")
    d = s.decode(g)
    assert d["text"] == "conv-4-k3-s2|maxpool-k3-s2+1|identity+1,2|conv-8-k3-s1+1"
    assert [layer["output_shape"] for layer in d["layers"]] == [[4, 4], [4, 2], [4, 2], [8, 2]]
    l1, l2, l3 = d["layers"][1:]
    assert l1["skips"] == [{"offset": 1, "source": 0, "channels": 1, "projection": True, "stride": 2}]
    assert l2["op"] == "identity" and l2["kernel"] is None and l2["stride"] == 1
    assert l2["skips"] == [
        {"offset": 1, "source": 1, "channels": 4, "projection": True, "stride": 2},
        {"offset": 2, "source": 0, "channels": 1, "projection": True, "stride": 4},
    ]
    # node 2 (after the pool) and node 3 (after identity) have the same shape: no projection
    assert l3["skips"] == [{"offset": 1, "source": 2, "channels": 4, "projection": False, "stride": 1}]
    assert (l3["in_channels"], l3["out_channels"], d["output_channels"]) == (4, 8, 8)


def test_chain_layer_computes_the_contract():
    """A layer's output equals op(node_i + projected skip), recomputed by hand from its submodules."""
    s = ChainSpace((2, 10), 2, CHAIN_OPS, (4,), (3,), (1, 2), 1, 3, 2)
    net = s.build_module(s.from_text("conv-4-k3-s2|avgpool-k3-s1+1"))
    net.eval()
    x = torch.randn(3, 2, 10)
    with torch.no_grad():
        n1 = net.layers[0].op(x)
        expected = torch.nn.functional.avg_pool1d(
            n1 + net.layers[1].projections["1"](x), 3, 1, 1, count_include_pad=False
        )
        got = net.layers[1]([x, n1])
        logits = net.classifier(expected.mean(dim=2))
        assert torch.allclose(got, expected)
        assert torch.allclose(net(x), logits)


@pytest.mark.parametrize(
    ("input_shape", "text"),
    [
        ((1, 40), "conv-16-k5-s1|dwsep-32-k3-s2+1|maxpool-k3-s2|avgpool-k3-s1+1,2|identity+2|conv-32-k3-s2+1"),
        ((3, 12, 12), "conv-8-k3-s2|dwsep-16-k5-s1+1|maxpool-k3-s2+1,2|identity+2|conv-16-k3-s1+1"),
    ],
)
def test_built_network_trains(input_shape, text):
    """With skips and strides, a few Adam steps on a fixed random batch lower the loss (1-D and 2-D)."""
    s = ChainSpace(input_shape, 5, CHAIN_OPS, (8, 16, 32), (3, 5), (1, 2), 1, 6, 2)
    net = s.build_module(s.from_text(text))
    x = torch.randn(16, *input_shape)
    y = torch.randint(0, 5, (16,))
    losses = train_losses(net, x, y, 25)
    assert all(math.isfinite(v) for v in losses)
    assert sum(losses[-3:]) / 3 < 0.5 * losses[0]


# ---------------------------------------------------------------- factories and config


def test_factories_build_usable_spaces():
    """mobilenet_like offers dwsep/conv/identity over 16..256 channels; mnist1d fits (1, 40) inputs with 10 classes."""
    m = ChainSpace.mobilenet_like((3, 32, 32), 100)
    assert m.ops == ("dwsep", "conv", "identity")
    assert m.widths[0] == 16 and m.widths[-1] == 256
    g = m.sample(Rng(2))
    assert m.build_module(g)(torch.randn(1, 3, 32, 32)).shape == (1, 100)
    d = ChainSpace.mnist1d()
    assert d.input_shape == (1, 40) and d.num_classes == 10 and d.ops == CHAIN_OPS
    assert d.build_module(d.sample(Rng(4)))(torch.randn(2, 1, 40)).shape == (2, 10)


def test_config_round_trips_through_json():
    """space_from_config(json(config)) rebuilds an equal space with an equal spec."""
    for s in (small_1d(), ChainSpace.mobilenet_like((3, 64, 64), 7), ChainSpace.mnist1d()):
        c = json.loads(json.dumps(s.config()))
        assert c["type"] == "ChainSpace"
        t = space_from_config(c)
        assert isinstance(t, ChainSpace) and t == s and t.spec == s.spec
        assert hash(t) == hash(s)
    assert small_1d() != small_1d(max_layers=4)
    assert small_1d() != NB201CellSpace()


@pytest.mark.parametrize(
    ("config", "needle"),
    [
        ({"type": "NoSuchSpace", "args": {}}, "'NoSuchSpace'"),
        ({"args": {}}, "no 'type'"),
        ({"type": "ChainSpace", "args": {"input_shape": [1, 8], "num_classes": 2, "colour": 3}}, "colour"),
        ({"type": "ChainSpace", "args": [1, 2]}, "'args' must be a mapping"),
        ({"type": "ChainSpace", "args": {}, "extra": 1}, "'extra'"),
        ([("type", "ChainSpace")], "must be a mapping"),
        ({"type": "SearchSpace", "args": {}}, "'SearchSpace'"),
    ],
)
def test_space_from_config_rejects_bad_configs(config, needle):
    """Unknown types, missing keys and bad arguments raise ValueError naming them."""
    with pytest.raises(ValueError) as e:
        space_from_config(config)
    assert needle in str(e.value)


# ---------------------------------------------------------------- decisions (RL view)


def test_decisions_list_ops_with_absent_fields_and_skip_bits():
    """Per layer: op (+'absent' for optional layers), width, kernel, stride, and one bit per reachable offset."""
    s = ChainSpace((1, 8), 2, ("conv", "identity"), (4, 8, 16), (3, 5), (1, 2), 2, 4, 2)
    assert s.decisions() == [
        Decision("layer0.op", 2), Decision("layer0.width", 3), Decision("layer0.kernel", 2),
        Decision("layer0.stride", 2),
        Decision("layer1.op", 2), Decision("layer1.width", 3), Decision("layer1.kernel", 2),
        Decision("layer1.stride", 2), Decision("layer1.skip1", 2),
        Decision("layer2.op", 3), Decision("layer2.width", 3), Decision("layer2.kernel", 2),
        Decision("layer2.stride", 2), Decision("layer2.skip1", 2), Decision("layer2.skip2", 2),
        Decision("layer3.op", 3), Decision("layer3.width", 3), Decision("layer3.kernel", 2),
        Decision("layer3.stride", 2), Decision("layer3.skip1", 2), Decision("layer3.skip2", 2),
    ]  # fmt: skip
    # 'absent' at layer 2 ends the genome after two layers, whatever follows
    g = s.genome_from_decisions([0, 1, 0, 1, 1, 0, 0, 0, 1, 2, 1, 1, 1, 1, 1, 0, 2, 1, 1, 1, 1])
    assert s.to_text(g) == "conv-8-k3-s2|identity+1"


def test_decisions_round_trip_and_cover_the_space():
    """decisions_of inverts genome_from_decisions; all choice vectors of a tiny space give every canonical genome."""
    s = ChainSpace((1, 6), 2, ("conv", "identity"), (4, 8), (3,), (1,), 1, 2, 1)
    decisions = s.decisions()
    from_decisions = set()
    for choices in itertools.product(*(range(d.num_choices) for d in decisions)):
        g = s.genome_from_decisions(list(choices))
        s.validate(g)
        from_decisions.add(g)
        assert s.genome_from_decisions(s.decisions_of(g)) == g
    everything = set()
    for n in (1, 2):
        for genes in itertools.product(itertools.product(range(2), range(2), [0], [0]), repeat=n):
            for skip in [0] if n == 1 else [0, 1]:
                everything.add(s.canonicalize(Genome([list(x) for x in genes], [0] * (n - 1) + [skip])))
    assert from_decisions == everything
    rng = Rng(9)
    big = small_1d()
    for _ in range(100):
        g = big.sample(rng, skip_probability=0.5)
        c = big.decisions_of(g)
        assert len(c) == len(big.decisions())
        assert big.genome_from_decisions(c) == g


def test_genome_from_decisions_rejects_bad_choices():
    """Wrong counts, out-of-range or non-integer choices raise ValueError naming the decision and value."""
    s = small_1d()
    n = len(s.decisions())
    with pytest.raises(ValueError, match=f"got 3 choices, this space has {n}"):
        s.genome_from_decisions([0, 0, 0])
    bad = [0] * n
    bad[0] = 5
    with pytest.raises(ValueError, match="choice 5 for decision 'layer0.op'"):
        s.genome_from_decisions(bad)
    bad[0] = 1.5
    with pytest.raises(ValueError, match="'layer0.op' must be an integer, got 1.5"):
        s.genome_from_decisions(bad)
    with pytest.raises(ValueError, match="sequence of integers"):
        s.genome_from_decisions(3)


# ---------------------------------------------------------------- bad spaces and genomes


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"ops": ()}, "ops must not be empty"),
        ({"ops": ("conv", "sepconv")}, "'sepconv'"),
        ({"ops": ("conv", "conv")}, "'conv' appears more than once"),
        ({"ops": "conv"}, "'conv'"),
        ({"widths": ()}, "widths must not be empty"),
        ({"widths": (8, 4)}, "(4 after 8)"),
        ({"widths": (0, 4)}, "got 0"),
        ({"kernels": (3, 4)}, "even kernel 4"),
        ({"kernels": ()}, "kernels must not be empty"),
        ({"strides": (2, 1)}, "(1 after 2)"),
        ({"min_layers": 4, "max_layers": 3}, "min_layers 4 is greater than max_layers 3"),
        ({"min_layers": 0}, "min_layers must be >= 1, got 0"),
        ({"max_skip_offset": -1}, "max_skip_offset must be >= 0, got -1"),
        ({"max_skip_offset": 65}, "max_skip_offset 65"),
        ({"input_shape": (1, 2, 3, 4)}, "[1, 2, 3, 4]"),
        ({"input_shape": (1, 0)}, "got 0"),
        ({"num_classes": 0}, "num_classes must be >= 1, got 0"),
        ({"num_classes": True}, "True"),
        ({"max_layers": 2.5}, "2.5"),
    ],
)
def test_inconsistent_spaces_are_rejected(kwargs, needle):
    """Empty or inconsistent constructor arguments raise ValueError naming the value."""
    with pytest.raises(ValueError) as e:
        small_1d(**kwargs)
    assert needle in str(e.value)


def test_invalid_genomes_are_rejected_naming_the_problem():
    """Out-of-range values, wrong field counts, bad skips, wrong lengths and non-genomes raise ValueError."""
    s = small_1d()
    cases = [
        (Genome([[0, 2, 0, 0]]), "field 'width' has value 2"),
        (Genome([[5, 0, 0, 0]]), "field 'op' has value 5"),
        (Genome([[0, 0, 0]]), "3 fields per gene, expected 4"),
        (Genome([[0, 0, 0, 0]], [1]), "skip offset 1"),
        (Genome([[0, 0, 0, 0]] * 6), "6 genes, expected 1..5"),
    ]
    for g, needle in cases:
        for call in (s.validate, s.to_text, s.decode, s.canonicalize, s.build_module):
            with pytest.raises(ValueError, match=needle):
                call(g)
        assert not s.is_valid(g)
    with pytest.raises(ValueError, match="expected a nasaccel.Genome, got str"):
        s.validate("conv-8-k3-s1")
    with pytest.raises(ValueError, match="rng must be a nasaccel.Rng, got int"):
        s.sample(3)
    with pytest.raises(ValueError, match="skip_probability"):
        s.sample(Rng(0), skip_probability=2.0)


def test_importing_spaces_does_not_import_torch():
    """torch is imported lazily, only when a module is built."""
    code = "import sys, nasaccel, nasaccel.spaces; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_search_space_is_abstract():
    """SearchSpace cannot be instantiated; spaces are its subclasses."""
    with pytest.raises(TypeError):
        SearchSpace()
    assert issubclass(ChainSpace, SearchSpace)
