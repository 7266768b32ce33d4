"""``RecurrentCellSpace``: recurrent cells of N nodes, each an activation of one earlier node (ENAS-style)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .._core import Field, Genome, Rng, SpaceSpec
from .base import Decision, SearchSpace, check_int, check_int_tuple, check_text

if TYPE_CHECKING:
    import torch

__all__ = ["RECURRENT_ACTIVATIONS", "RecurrentCellSpace"]

#: The activations a node may apply, in the order of the ``activation`` field.
RECURRENT_ACTIVATIONS: tuple[str, ...] = ("tanh", "relu", "sigmoid", "identity")

_NODE_TOKEN = re.compile(r"([A-Za-z_]+)~(0|[1-9][0-9]*)")


class RecurrentCellSpace(SearchSpace):
    """Recurrent cells in the style of ENAS (Pham et al., 2018) and NAS-Bench-NLP, run over a sequence.

    A cell has nodes ``0 .. num_nodes``. Node 0 combines the step's input ``x_t`` with the previous
    hidden state ``h_{t-1}``; each node ``k = 1 .. num_nodes`` reads one earlier node ``j < k`` and
    applies one activation (``tanh``, ``relu``, ``sigmoid``, ``identity``). The new hidden state
    ``h_t`` is the average of the loose ends: the nodes no other node reads.

    **Genome.** ``num_nodes`` genes (gene ``k-1`` is node ``k``), fixed length, no skips, with two
    categorical fields: ``activation`` (index into ``RECURRENT_ACTIVATIONS``) and ``input``
    (``num_nodes`` values, the node read). A value of ``input`` above ``k-1`` is read as ``k-1``
    (the node just before), so every genome the spec allows (and every mutation of one) is a cell;
    ``canonicalize`` writes it as ``k-1``. :meth:`sample` draws uniformly among the canonical cells.

    **Text form** (``to_text`` / ``from_text``): one token ``<activation>~<input>`` per node, joined
    by ``|``, e.g. ``tanh~0|relu~1|sigmoid~1|identity~2``. The input is a plain decimal below the
    node's index; only canonical genomes have a text form, so text and genome correspond one to one.

    **Decisions** (``decisions()``): for each node ``k``, ``node<k>.activation`` (4 choices) and
    ``node<k>.input`` (``k`` choices: nodes ``0 .. k-1``), so every choice vector is a distinct
    canonical cell.

    **Network** (``build_module``): an input ``(B, C, L)`` is cut into ``ceil(L / window)`` steps
    of ``window`` samples (the last zero-padded), each step a vector of ``C * window`` values. With
    ``H = hidden_size`` and ``sigma`` the logistic function, node 0 is
    ``c = sigma(x W_xc + h W_hc)``, ``n_0 = c * tanh(x W_xh + h W_hh) + (1 - c) * h`` and node ``k``
    reading node ``j`` with activation ``f`` is the highway step ``c_k = sigma(n_j W_c^k)``,
    ``n_k = c_k * f(n_j W_h^k) + (1 - c_k) * n_j`` (ENAS's cell; the highway keeps deep cells
    trainable). ``h_0 = 0``; after the last step a linear layer maps ``h`` to ``num_classes`` logits.
    Only the input projection has a bias.

    Parameters
    ----------
    num_nodes : int
        Searchable nodes ``N`` (ENAS used 11 on Penn Treebank; the default suits small data).
    input_shape : sequence of int
        ``(C, L)``: channels and length of one example (``(1, 40)`` for MNIST-1D).
    num_classes : int
        Outputs of the classifier.
    hidden_size : int
        ``H``: width of the hidden state and of every node.
    window : int
        Samples of the sequence read per step.
    """

    def __init__(
        self,
        num_nodes: int = 4,
        input_shape: Sequence[int] = (1, 40),
        num_classes: int = 10,
        hidden_size: int = 32,
        window: int = 4,
    ) -> None:
        self.num_nodes = check_int("num_nodes", num_nodes)
        if self.num_nodes > 64:
            raise ValueError(f"num_nodes {self.num_nodes} is above the limit 64")
        shape = check_int_tuple("input_shape", input_shape, minimum=1, ascending=False)
        if len(shape) != 2:
            raise ValueError(f"input_shape must be (C, L) for sequences, got {list(shape)!r}")
        self.input_shape: tuple[int, ...] = shape
        self.num_classes = check_int("num_classes", num_classes)
        self.hidden_size = check_int("hidden_size", hidden_size)
        self.window = check_int("window", window)
        if self.window > shape[1]:
            raise ValueError(f"window {self.window} is longer than the sequence length {shape[1]}")
        self._spec = SpaceSpec(
            [Field("activation", len(RECURRENT_ACTIVATIONS)), Field("input", self.num_nodes)],
            self.num_nodes,
            self.num_nodes,
        )

    @property
    def num_steps(self) -> int:
        """Recurrent steps per example: ``ceil(L / window)``."""
        return -(-self.input_shape[1] // self.window)

    # ------------------------------------------------------------------ genome level

    def _gene_label(self, i: int) -> str:
        return f"node{i + 1}"

    def sample(self, rng: Rng, skip_probability: float = 0.25) -> Genome:
        """A cell drawn uniformly: each node a uniform activation and a uniform earlier node.

        ``skip_probability`` is accepted for the common interface and ignored (cells have no skips).
        """
        if not isinstance(rng, Rng):
            raise ValueError(f"rng must be a nasaccel.Rng, got {type(rng).__name__} {rng!r}")
        genes = []
        for i in range(self.num_nodes):
            genes.append([rng.below(len(RECURRENT_ACTIVATIONS)), rng.below(i + 1)])
        return Genome(genes)

    def canonicalize(self, genome: Genome) -> Genome:
        """``genome`` with every input above ``k-1`` on node ``k`` written as ``k-1`` (the same cell)."""
        self.validate(genome)
        genes = genome.genes.tolist()
        for i, gene in enumerate(genes):
            gene[1] = min(gene[1], i)
        return Genome(genes)

    def _inputs(self, genome: Genome) -> list[int]:
        """The node each node 1..N reads (index 0 of the list is node 1)."""
        return [min(genome.at(i, 1), i) for i in range(genome.num_genes)]

    def loose_ends(self, genome: Genome) -> list[int]:
        """Nodes no other node reads, ascending: their average is the new hidden state."""
        self.validate(genome)
        read = set(self._inputs(genome))
        return [k for k in range(1, self.num_nodes + 1) if k not in read]

    def decode(self, genome: Genome) -> dict[str, Any]:
        """``{"text", "nodes": [{"index", "activation", "input"}], "loose_ends", "input_shape",
        "num_classes", "hidden_size", "window", "num_steps"}`` (nodes 1..N; node 0 is implicit)."""
        self.validate(genome)
        inputs = self._inputs(genome)
        nodes = [
            {"index": i + 1, "activation": RECURRENT_ACTIVATIONS[genome.at(i, 0)], "input": inputs[i]}
            for i in range(genome.num_genes)
        ]
        return {
            "text": self.to_text(genome),
            "nodes": nodes,
            "loose_ends": self.loose_ends(genome),
            "input_shape": list(self.input_shape),
            "num_classes": self.num_classes,
            "hidden_size": self.hidden_size,
            "window": self.window,
            "num_steps": self.num_steps,
        }

    # ------------------------------------------------------------------ text

    def to_text(self, genome: Genome) -> str:
        """``act~input|act~input|...``, one token per node 1..N (see the class docstring)."""
        self.validate(genome)
        inputs = self._inputs(genome)
        return "|".join(f"{RECURRENT_ACTIVATIONS[genome.at(i, 0)]}~{inputs[i]}" for i in range(genome.num_genes))

    def from_text(self, text: str) -> Genome:
        """Parse the text form; ``ValueError`` naming the bad node token and what is wrong with it."""
        check_text(text)
        tokens = text.split("|")
        if len(tokens) != self.num_nodes:
            raise ValueError(f"'{text}' has {len(tokens)} nodes separated by '|', this space has {self.num_nodes}")
        genes = []
        for i, token in enumerate(tokens):
            k = i + 1
            m = _NODE_TOKEN.fullmatch(token)
            if m is None:
                raise ValueError(
                    f"node {k} token '{token}' in '{text}' is malformed: expected '<activation>~<input>' "
                    "with a canonical decimal input"
                )
            name, src = m.group(1), int(m.group(2))
            if name not in RECURRENT_ACTIVATIONS:
                raise ValueError(
                    f"unknown activation '{name}' in node {k} token '{token}'; known: {list(RECURRENT_ACTIVATIONS)}"
                )
            if src >= k:
                raise ValueError(f"input {src} of node {k} token '{token}' must be an earlier node, 0..{k - 1}")
            genes.append([RECURRENT_ACTIVATIONS.index(name), src])
        return Genome(genes)

    # ------------------------------------------------------------------ decisions

    def decisions(self) -> list[Decision]:
        """Per node ``k``: ``node<k>.activation`` (4 choices) then ``node<k>.input`` (``k`` choices)."""
        out = []
        for k in range(1, self.num_nodes + 1):
            out.append(Decision(f"node{k}.activation", len(RECURRENT_ACTIVATIONS)))
            out.append(Decision(f"node{k}.input", k))
        return out

    def decisions_of(self, genome: Genome) -> list[int]:
        """The choices of ``canonicalize(genome)``: activation and input of each node."""
        g = self.canonicalize(genome)
        return [int(v) for i in range(g.num_genes) for v in g.gene(i)]

    def genome_from_decisions(self, choices: Sequence[int]) -> Genome:
        """The cell of one choice per decision; ``ValueError`` naming a wrong count or the bad decision."""
        checked = self.check_choices(choices)
        return Genome([checked[2 * i : 2 * i + 2] for i in range(self.num_nodes)])

    # ------------------------------------------------------------------ torch

    def build_module(self, genome: Genome) -> torch.nn.Module:
        """The cell run over the sequence, then a linear classifier; input ``(B, C, L)``, logits ``(B, num_classes)``."""
        from ._recurrent_torch import RecurrentCellNetwork

        return RecurrentCellNetwork(self.decode(genome))

    def _arguments(self) -> dict[str, Any]:
        return {
            "num_nodes": self.num_nodes,
            "input_shape": list(self.input_shape),
            "num_classes": self.num_classes,
            "hidden_size": self.hidden_size,
            "window": self.window,
        }
