"""RecurrentCellSpace: cell genomes, text form, decisions and the torch network over sequences."""

from __future__ import annotations

import itertools
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nasaccel as na
from nasaccel import Genome, Rng
from nasaccel.spaces import RECURRENT_ACTIVATIONS, RecurrentCellSpace, space_from_config


@st.composite
def raw_genomes(draw, space: RecurrentCellSpace):
    """Any genome the spec admits, inputs above the node's reach included."""
    return Genome([[draw(st.integers(0, 3)), draw(st.integers(0, space.num_nodes - 1))]
                   for _ in range(space.num_nodes)])


HYPO_SPACE = RecurrentCellSpace(num_nodes=6)


def test_spec_and_cardinality():
    """N genes of fields activation (4) and input (N), no skips; N! * 4^N distinct cells."""
    s = RecurrentCellSpace(num_nodes=3)
    assert s.spec.field_names == ["activation", "input"]
    assert (s.spec.min_genes, s.spec.max_genes, s.spec.allows_skips) == (3, 3, False)
    assert RECURRENT_ACTIVATIONS == ("tanh", "relu", "sigmoid", "identity")
    cells = {s.canonicalize(Genome([list(g) for g in genes]))
             for genes in itertools.product(itertools.product(range(4), range(3)), repeat=3)}
    assert len(cells) == 4**3 * 6


def test_known_text_and_decode():
    """A hand-written cell prints, parses and decodes as documented (loose ends = nodes nobody reads)."""
    s = RecurrentCellSpace(num_nodes=4)
    g = Genome([[0, 0], [1, 1], [2, 1], [3, 2]])
    text = "tanh~0|relu~1|sigmoid~1|identity~2"
    assert s.to_text(g) == text and s.from_text(text) == g
    d = s.decode(g)
    assert d["loose_ends"] == [3, 4]
    assert [n["input"] for n in d["nodes"]] == [0, 1, 1, 2]
    assert d["num_steps"] == 10


def test_inputs_beyond_reach_mean_the_previous_node():
    """An input value above k-1 on node k is that node's predecessor, and canonicalize writes it so."""
    s = RecurrentCellSpace(num_nodes=3)
    g = Genome([[0, 2], [1, 2], [2, 2]])
    assert s.is_valid(g)
    assert s.canonicalize(g) == Genome([[0, 0], [1, 1], [2, 2]])
    assert s.to_text(g) == "tanh~0|relu~1|sigmoid~2"


@settings(max_examples=150, deadline=None)
@given(raw_genomes(HYPO_SPACE))
def test_round_trips_for_any_genome(check_canonical_round_trip, g):
    """Text, decisions and decode all describe exactly the canonical cell of any genome."""
    d = check_canonical_round_trip(HYPO_SPACE, g)
    assert d["loose_ends"] and all(n["input"] < n["index"] for n in d["nodes"])


def test_decisions_cover_every_cell_once():
    """Every choice vector of decisions() is a distinct canonical cell, and all cells are reached."""
    s = RecurrentCellSpace(num_nodes=3)
    ds = s.decisions()
    assert [(d.name, d.num_choices) for d in ds] == [
        ("node1.activation", 4), ("node1.input", 1), ("node2.activation", 4), ("node2.input", 2),
        ("node3.activation", 4), ("node3.input", 3),
    ]
    cells = [s.genome_from_decisions(c) for c in itertools.product(*(range(d.num_choices) for d in ds))]
    assert len(set(cells)) == len(cells) == 4**3 * 6
    for g in cells:
        assert s.canonicalize(g) == g


def test_sample_is_seeded_and_canonical():
    """sample() gives canonical cells, the same ones for the same seed, and reaches every input."""
    s = RecurrentCellSpace(num_nodes=5)
    ra, rb = Rng(2), Rng(2)
    a = [s.sample(ra) for _ in range(200)]
    assert a == [s.sample(rb) for _ in range(200)]
    assert a != [s.sample(Rng(3)) for _ in range(200)]
    assert all(s.canonicalize(g) == g for g in a)
    assert {g.at(4, 1) for g in a} == set(range(5))
    with pytest.raises(ValueError, match="nasaccel.Rng"):
        s.sample(3)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("tanh~0|relu~1|sigmoid~1", "has 3 nodes"),
        ("tanh~0|relu~1|sigmoid~1|identity~2|tanh~0", "has 5 nodes"),
        ("tanh~0|gelu~1|sigmoid~1|identity~2", "unknown activation 'gelu'"),
        ("tanh~0|relu~2|sigmoid~1|identity~2", "input 2 of node 2 token 'relu~2'"),
        ("tanh~1|relu~0|sigmoid~1|identity~2", "input 1 of node 1"),
        ("tanh~0|relu~01|sigmoid~1|identity~2", "node 2 token 'relu~01' .* malformed"),
        ("tanh~0|relu|sigmoid~1|identity~2", "node 2 token 'relu' .* malformed"),
        ("tanh~0||sigmoid~1|identity~2", "node 2 token ''"),
        ("tanh~0|relu~-1|sigmoid~1|identity~2", "relu~-1"),
        ("tanh~0|relu~1|sigmoid~1|identity~2 ", "identity~2 "),
        ("", "empty"),
    ],
)
def test_from_text_errors_name_the_bad_token(text, needle):
    """Malformed text raises ValueError naming the bad node token or count."""
    with pytest.raises(ValueError, match=needle):
        RecurrentCellSpace(num_nodes=4).from_text(text)


@pytest.mark.parametrize(
    "genome",
    [
        Genome([[0, 0], [1, 1], [2, 1]]),  # one node short
        Genome([[0, 0], [4, 1], [2, 1], [3, 2]]),  # activation 4 does not exist
        Genome([[0, 0], [1, 4], [2, 1], [3, 2]]),  # input field has 4 values
        Genome([[0, 0], [1, 1], [2, 1], [3, 2]], [0, 1, 0, 0]),  # cells have no skips
        Genome([[0], [1], [2], [3]]),  # one field instead of two
    ],
)
def test_invalid_genomes_are_rejected(genome):
    """Genomes outside the spec raise ValueError from validate, to_text and decode."""
    s = RecurrentCellSpace(num_nodes=4)
    assert not s.is_valid(genome)
    for f in (s.validate, s.to_text, s.decode, s.canonicalize):
        with pytest.raises(ValueError, match="invalid genome"):
            f(genome)


def test_from_text_rejects_non_strings():
    """A non-string text raises ValueError naming its type."""
    with pytest.raises(ValueError, match="must be a str"):
        RecurrentCellSpace().from_text(3)


@pytest.mark.parametrize(
    ("choices", "needle"),
    [
        ([0, 0, 1], "got 3 choices"),
        ([0, 1, 0, 0], "choice 1 for decision 'node1.input'"),
        ([4, 0, 0, 0], "choice 4 for decision 'node1.activation'"),
        ([0, 0, 0, True], "node2.input' must be an integer"),
        ([0, 0, 0, 1.5], "node2.input' must be an integer"),
        (5, "sequence of integers"),
    ],
)
def test_genome_from_decisions_errors(choices, needle):
    """Bad choice vectors raise ValueError naming the decision and value."""
    with pytest.raises(ValueError, match=needle):
        RecurrentCellSpace(num_nodes=2).genome_from_decisions(choices)


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"num_nodes": 0}, "num_nodes"),
        ({"num_nodes": 65}, "limit 64"),
        ({"input_shape": (1, 2, 3)}, "input_shape must be"),
        ({"input_shape": (1, 0)}, "input_shape"),
        ({"num_classes": 0}, "num_classes"),
        ({"hidden_size": 2.5}, "hidden_size"),
        ({"window": 41}, "window 41"),
    ],
)
def test_constructor_errors(kwargs, needle):
    """Bad constructor arguments raise ValueError naming the argument."""
    with pytest.raises(ValueError, match=needle):
        RecurrentCellSpace(**kwargs)


def test_config_round_trip_and_export():
    """space_from_config rebuilds an equal space; the class is exported from nasaccel."""
    s = RecurrentCellSpace(num_nodes=3, input_shape=(2, 30), num_classes=4, hidden_size=8, window=3)
    again = space_from_config(json.loads(json.dumps(s.config())))
    assert again == s and isinstance(again, na.RecurrentCellSpace)


def test_an_rl_controller_searches_the_space():
    """The RL controller proposes valid cells of this space through its decisions."""
    s = RecurrentCellSpace(num_nodes=5)
    c = na.RLController()
    c.setup(s, [na.Objective("acc")], [], 0)
    for i in range(20):
        g = c.ask()
        assert s.canonicalize(g) == g
        c.tell(na.Trial(i, s.to_text(g), g.to_text(), na.TrialState.COMPLETE, {"acc": float(g.at(4, 1))}), g)


# ---------------------------------------------------------------------- torch

torch = pytest.importorskip("torch")


@pytest.fixture(autouse=True)
def _torch_setup():
    torch.manual_seed(0)
    torch.set_num_threads(1)


@pytest.mark.parametrize("shape, window", [((1, 40), 4), ((3, 17), 5), ((2, 9), 1)])
def test_module_output_shapes(shape, window):
    """Logits are (B, num_classes) for (B, C, L) inputs, also when L is not a multiple of the window."""
    s = RecurrentCellSpace(num_nodes=4, input_shape=shape, num_classes=7, hidden_size=6, window=window)
    m = s.build_module(s.sample(Rng(0)))
    assert m(torch.randn(5, *shape)).shape == (5, 7)
    assert m.num_steps == -(-shape[1] // window)
    assert len(m.cell.node_proj) == 4
    with pytest.raises(ValueError, match="expected a batch of shape"):
        m(torch.randn(5, shape[1]))


def test_module_matches_a_hand_computed_step():
    """One step of a two-node cell equals the documented highway equations computed by hand."""
    s = RecurrentCellSpace(num_nodes=2, input_shape=(1, 3), num_classes=2, hidden_size=4, window=3)
    m = s.build_module(s.from_text("relu~0|sigmoid~0"))
    x = torch.randn(2, 1, 3)
    cell = m.cell
    h = torch.zeros(2, 4)
    gate, cand = (cell.x_proj(x[:, 0]) + cell.h_proj(h)).chunk(2, dim=1)
    c = torch.sigmoid(gate)
    n0 = c * torch.tanh(cand) + (1 - c) * h
    outs = []
    for k, act in ((0, torch.relu), (1, torch.sigmoid)):
        gate, cand = cell.node_proj[k](n0).chunk(2, dim=1)
        c = torch.sigmoid(gate)
        outs.append(c * act(cand) + (1 - c) * n0)
    expected = m.classifier((outs[0] + outs[1]) / 2)
    assert torch.allclose(m(x), expected, atol=1e-6)


def test_module_is_deterministic_for_a_seed():
    """The same torch seed builds identical weights and outputs; different cells compute differently."""
    s = RecurrentCellSpace(num_nodes=4, hidden_size=8)
    x = torch.randn(3, 1, 40)
    g = s.from_text("tanh~0|relu~1|sigmoid~1|identity~2")
    torch.manual_seed(5)
    a = s.build_module(g)
    torch.manual_seed(5)
    b = s.build_module(g)
    assert torch.equal(a(x), b(x))
    torch.manual_seed(5)
    c = s.build_module(s.from_text("tanh~0|tanh~1|sigmoid~1|identity~2"))
    assert not torch.equal(a(x), c(x))


def test_a_few_steps_lower_the_loss_on_random_data():
    """Forty Adam steps on a fixed random batch lower the cross-entropy (gradients reach every node)."""
    s = RecurrentCellSpace(num_nodes=4, input_shape=(1, 12), num_classes=3, hidden_size=8, window=3)
    m = s.build_module(s.from_text("tanh~0|relu~1|sigmoid~1|identity~0"))
    x, y = torch.randn(16, 1, 12), torch.randint(0, 3, (16,))
    opt = torch.optim.Adam(m.parameters(), lr=2e-2)
    losses = []
    for _ in range(40):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(m(x), y)
        loss.backward()
        losses.append(float(loss.detach()))
        opt.step()
    assert losses[-1] < 0.7 * losses[0]
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in m.parameters())


def test_trains_above_chance_on_a_small_mnist1d_subset():
    """TorchTrainer trains a small cell on 1,000 MNIST-1D signals to well above chance (10%)."""
    s = RecurrentCellSpace(num_nodes=2, hidden_size=16, window=8)
    trainer = na.TorchTrainer("mnist1d", data_args={"num_samples": 1000}, epochs=3, batch_size=32, lr=1e-2)
    m = trainer.evaluate(s.from_text("tanh~0|relu~1"), s)
    assert m["val_acc"] > 0.15 and m["test_acc"] > 0.15
    assert m["params"] > 0 and m["macs"] > 0


@pytest.mark.slow
def test_trains_well_on_mnist1d():
    """A four-node cell reaches over 35% test accuracy on MNIST-1D in 15 epochs."""
    s = RecurrentCellSpace(num_nodes=4, hidden_size=32, window=4)
    trainer = na.TorchTrainer("mnist1d", data_args={"num_samples": 4000}, epochs=15, batch_size=64, lr=1e-2)
    m = trainer.evaluate(s.from_text("tanh~0|relu~1|sigmoid~1|identity~2"), s)
    assert m["test_acc"] > 0.35
