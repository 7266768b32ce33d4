"""The ``SearchSpace`` base class, the categorical-decision view and ``space_from_config``.

A search space ties a C++ :class:`~nasaccel.SpaceSpec` (what a genome may hold) to its meaning:
how to sample, check and canonicalize genomes, how to print and parse their text form (the stable
identity of an architecture in storage and reports), how to describe them readably and how to build
them as ``torch.nn.Module``. torch is imported only inside ``build_module``.
"""

from __future__ import annotations

import abc
import json
import operator
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from .._core import Genome, Rng, SpaceSpec, random_genome

if TYPE_CHECKING:
    import torch

__all__ = ["Decision", "SearchSpace", "space_from_config"]

# Every concrete space registers itself here under its class name so that a stored config rebuilds it.
_REGISTRY: dict[str, type[SearchSpace]] = {}


class Decision(NamedTuple):
    """One categorical decision of a space's fixed-length view (used by an RL controller).

    Attributes
    ----------
    name : str
        Stable, readable name, e.g. ``"layer3.op"`` or ``"layer3.skip2"``.
    num_choices : int
        Number of choices; a choice is an integer in ``[0, num_choices)``.
    """

    name: str
    num_choices: int


class SearchSpace(abc.ABC):
    """Base class of every search space.

    Subclasses set ``self._spec`` in their constructor and implement :meth:`decode`, :meth:`to_text`,
    :meth:`from_text`, :meth:`build_module` and :meth:`_arguments`; they may override
    :meth:`canonicalize` (identity here), :meth:`_check` (extra validity rules) and :meth:`_gene_label`.

    Two spaces compare equal when they have the same type and the same constructor arguments.
    """

    _spec: SpaceSpec

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _REGISTRY[cls.__name__] = cls

    # ------------------------------------------------------------------ genome level

    @property
    def spec(self) -> SpaceSpec:
        """The C++ ``SpaceSpec`` the genome operators (mutation, crossover, distances) work on."""
        return self._spec

    def sample(self, rng: Rng, skip_probability: float = 0.25) -> Genome:
        """A random canonical genome.

        Parameters
        ----------
        rng : Rng
            Seeded generator; the same seed gives the same genome.
        skip_probability : float
            Probability of each allowed skip input (ignored by spaces without skips).

        Returns
        -------
        Genome
            ``canonicalize(random_genome(spec, rng, skip_probability))``.
        """
        if not isinstance(rng, Rng):
            raise ValueError(f"rng must be a nasaccel.Rng, got {type(rng).__name__} {rng!r}")
        return self.canonicalize(random_genome(self._spec, rng, skip_probability))

    def validate(self, genome: Genome) -> None:
        """Raise ``ValueError`` naming the gene, field and value at fault when ``genome`` is not in the space."""
        if not isinstance(genome, Genome):
            raise ValueError(f"expected a nasaccel.Genome, got {type(genome).__name__} {genome!r}")
        problem = self._spec.check(genome)
        if not problem:
            problem = self._check(genome)
        if problem:
            raise ValueError(f"invalid genome '{genome.to_text()}' for {type(self).__name__}: {problem}")

    def is_valid(self, genome: Genome) -> bool:
        """Whether :meth:`validate` would accept ``genome``."""
        try:
            self.validate(genome)
        except ValueError:
            return False
        return True

    def canonicalize(self, genome: Genome) -> Genome:
        """The canonical representative of ``genome``: equal networks map to equal genomes.

        The default is the identity (after validation); spaces whose genes have fields that some
        choices ignore set those fields to 0.
        """
        self.validate(genome)
        return genome

    def _check(self, genome: Genome) -> str:
        """Extra validity rules beyond the spec, as a message naming the problem ('' when valid)."""
        return ""

    # ------------------------------------------------------------------ meaning

    @abc.abstractmethod
    def decode(self, genome: Genome) -> dict[str, Any]:
        """A readable, JSON-serialisable description of the network ``genome`` encodes."""

    @abc.abstractmethod
    def to_text(self, genome: Genome) -> str:
        """The space's text form of ``genome``: the stable identity of an architecture."""

    @abc.abstractmethod
    def from_text(self, text: str) -> Genome:
        """Parse the space's text form; ``ValueError`` naming the bad part for anything malformed."""

    @abc.abstractmethod
    def build_module(self, genome: Genome) -> torch.nn.Module:
        """The network ``genome`` encodes as a freshly initialised ``torch.nn.Module``."""

    # ------------------------------------------------------------------ fixed-length decision view

    def _gene_label(self, i: int) -> str:
        """Prefix of the decision names of gene ``i``."""
        return f"gene{i}"

    def _skip_reach(self, i: int) -> int:
        return min(i, self._spec.max_skip_offset)

    def decisions(self) -> list[Decision]:
        """The space as a fixed sequence of categorical decisions (for an RL controller).

        For each gene position ``i < max_genes``: one decision per field (named
        ``"<label>.<field>"``, one choice per field value) and one binary decision per skip
        offset ``k = 1 .. min(i, max_skip_offset)`` (named ``"<label>.skip<k>"``, 1 = take node
        ``i-k`` as an extra input). When the length varies, the first field of every optional
        position ``i >= min_genes`` has one more choice, the last one (index = field size), meaning
        "none": the gene is absent, the genome ends before gene ``i`` and all later decisions are
        ignored. Positions below ``min_genes`` have no "none", so every choice vector encodes a
        valid genome.
        """
        spec = self._spec
        out: list[Decision] = []
        for i in range(spec.max_genes):
            label = self._gene_label(i)
            for f, field in enumerate(spec.fields):
                n = field.size + (1 if f == 0 and i >= spec.min_genes else 0)
                out.append(Decision(f"{label}.{field.name}", n))
            for k in range(1, self._skip_reach(i) + 1):
                out.append(Decision(f"{label}.skip{k}", 2))
        return out

    def decisions_of(self, genome: Genome) -> list[int]:
        """The choices that encode ``canonicalize(genome)``; decisions it ignores are 0.

        ``genome_from_decisions(decisions_of(g)) == canonicalize(g)`` for every valid ``g``.
        """
        g = self.canonicalize(genome)
        spec = self._spec
        n = g.num_genes
        out: list[int] = []
        for i in range(spec.max_genes):
            present = i < n
            for f, field in enumerate(spec.fields):
                if present:
                    out.append(int(g.at(i, f)))
                else:
                    # the absent marker ends the genome; later positions are ignored and 0
                    out.append(field.size if f == 0 and i == n else 0)
            offsets = set(g.skip_offsets(i)) if present else set()
            for k in range(1, self._skip_reach(i) + 1):
                out.append(1 if k in offsets else 0)
        return out

    def check_choices(self, choices: Sequence[int]) -> list[int]:
        """``choices`` as plain integers, one per decision of :meth:`decisions`, each in ``[0, num_choices)``.

        Raises
        ------
        ValueError
            When the number of choices differs from the number of decisions, or a choice is not
            an integer in range (the message names the decision and the value).
        """
        decisions = self.decisions()
        try:
            values = list(choices)
        except TypeError:
            raise ValueError(f"choices must be a sequence of integers, got {choices!r}") from None
        if len(values) != len(decisions):
            raise ValueError(f"got {len(values)} choices, this space has {len(decisions)} decisions")
        checked: list[int] = []
        for d, v in zip(decisions, values, strict=True):
            if isinstance(v, bool):
                raise ValueError(f"choice for decision '{d.name}' must be an integer, got {v!r}")
            try:
                iv = operator.index(v)
            except TypeError:
                raise ValueError(f"choice for decision '{d.name}' must be an integer, got {v!r}") from None
            if not 0 <= iv < d.num_choices:
                raise ValueError(f"choice {iv} for decision '{d.name}' is outside [0, {d.num_choices})")
            checked.append(iv)
        return checked

    def genome_from_decisions(self, choices: Sequence[int]) -> Genome:
        """The canonical genome encoded by one choice per decision of :meth:`decisions`.

        Raises
        ------
        ValueError
            When the number of choices differs from the number of decisions, or a choice is not
            an integer in ``[0, num_choices)`` (the message names the decision and the value).
        """
        checked = self.check_choices(choices)
        spec = self._spec
        genes: list[list[int]] = []
        masks: list[int] = []
        pos = 0
        for i in range(spec.max_genes):
            fields = checked[pos : pos + spec.num_fields]
            pos += spec.num_fields
            reach = self._skip_reach(i)
            bits = checked[pos : pos + reach]
            pos += reach
            if fields[0] == spec.fields[0].size:  # the "absent" choice
                break
            genes.append(fields)
            masks.append(sum(1 << (k - 1) for k, b in enumerate(bits, start=1) if b))
        return self.canonicalize(Genome(genes, masks))

    # ------------------------------------------------------------------ configuration

    @abc.abstractmethod
    def _arguments(self) -> dict[str, Any]:
        """The constructor arguments, JSON-serialisable (tuples as lists)."""

    def config(self) -> dict[str, Any]:
        """``{"type": <class name>, "args": <constructor arguments>}``, JSON-serialisable.

        :func:`space_from_config` rebuilds an equal space from it.
        """
        return {"type": type(self).__name__, "args": self._arguments()}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SearchSpace):
            return NotImplemented
        return self.config() == other.config()

    def __hash__(self) -> int:
        return hash(json.dumps(self.config(), sort_keys=True))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._arguments().items())
        return f"{type(self).__name__}({args})"


def space_from_config(config: Mapping[str, Any]) -> SearchSpace:
    """Rebuild a space from :meth:`SearchSpace.config` (e.g. as loaded back from JSON).

    Raises
    ------
    ValueError
        When ``config`` is not a mapping with a known ``"type"`` and an ``"args"`` mapping, or the
        arguments do not build a space (the message names the bad key or value).
    """
    if not isinstance(config, Mapping):
        raise ValueError(f"space config must be a mapping, got {type(config).__name__} {config!r}")
    extra = set(config) - {"type", "args"}
    if extra:
        raise ValueError(f"space config has unknown keys {sorted(extra)!r}; expected 'type' and 'args'")
    if "type" not in config:
        raise ValueError(f"space config {dict(config)!r} has no 'type'")
    name = config["type"]
    if not isinstance(name, str) or name not in _REGISTRY or name == "SearchSpace":
        known = sorted(k for k in _REGISTRY if k != "SearchSpace")
        raise ValueError(f"unknown space type {name!r}; known: {known}")
    args = config.get("args", {})
    if not isinstance(args, Mapping):
        raise ValueError(f"space config 'args' must be a mapping, got {type(args).__name__} {args!r}")
    cls = _REGISTRY[name]
    try:
        return cls(**args)
    except TypeError as e:
        raise ValueError(f"bad arguments {dict(args)!r} for {name}: {e}") from None


# ---------------------------------------------------------------------- argument checks shared by spaces


def check_int(name: str, value: Any, minimum: int = 1) -> int:
    """``value`` as an int >= ``minimum``; ``ValueError`` naming ``name`` and ``value`` otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    try:
        iv = operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be an integer, got {value!r}") from None
    if iv < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {iv}")
    return iv


def check_int_tuple(name: str, values: Any, minimum: int = 1, ascending: bool = True) -> tuple[int, ...]:
    """A non-empty tuple of ints >= ``minimum`` (strictly ascending when asked); ``ValueError`` otherwise."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise ValueError(f"{name} must be a sequence of integers, got {values!r}")
    if len(values) == 0:
        raise ValueError(f"{name} must not be empty, got {values!r}")
    out = tuple(check_int(f"{name} value", v, minimum) for v in values)
    if ascending:
        for a, b in zip(out, out[1:], strict=False):
            if b <= a:
                raise ValueError(f"{name} must be strictly ascending, got {list(out)!r} ({b} after {a})")
    return out


def check_text(text: Any) -> str:
    """``text`` if it is a non-empty str; ``ValueError`` naming it otherwise."""
    if not isinstance(text, str):
        raise ValueError(f"architecture text must be a str, got {type(text).__name__} {text!r}")
    if not text:
        raise ValueError("architecture text is empty")
    return text
