"""SpaceSpec: construction errors, skip rules, costs, cardinality and genome checks."""

from __future__ import annotations

import itertools
import math
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nasaccel._core import Field, Genome, Rng, SpaceSpec, random_genome


def chain_fields() -> list[Field]:
    return [Field("op", 5), Field("width", 8, True), Field("kernel", 3, True), Field("stride", 2, True)]


@pytest.mark.parametrize(
    ("args", "kwargs", "fragment"),
    [
        (([], 1, 2), {}, "at least one field"),
        (([Field("a", 2), Field("a", 3)], 1, 2), {}, "'a' appears twice"),
        (([Field("", 2)], 1, 2), {}, "must not be empty"),
        (([Field("a", 0)], 1, 2), {}, "has size 0"),
        (([Field("a", 2**24 + 1)], 1, 2), {}, "has size 16777217"),
        (([Field("a", 2, cost=0.0)], 1, 2), {}, "has cost 0"),
        (([Field("a", 2, cost=math.nan)], 1, 2), {}, "has cost nan"),
        (([Field("a", 2)], 3, 2), {}, "[3, 2]"),
        (([Field("a", 2)], -1, 2), {}, "[-1, 2]"),
        (([Field("a", 2)], 0, 0), {}, "[0, 0]"),
        (([Field("a", 2)], 1, 2**21), {}, "[1, 2097152]"),
        (([Field("a", 2)], 1, 2**80), {}, "1208925819614629174706176"),
        (([Field("a", 2)], 1, 2, 65), {}, "max_skip_offset 65"),
        (([Field("a", 2)], 1, 2, -1), {}, "max_skip_offset -1"),
        (([Field("a", 2)], 1, 2), {"skip_cost": 0.0}, "skip_cost 0"),
        (([Field("a", 2)], 1, 2), {"skip_cost": math.nan}, "skip_cost nan"),
        (([Field("a", 2)], 1, 2), {"indel_cost": 0.0}, "indel_cost 0"),
        (([Field("a", 2)], 1, 2), {"indel_cost": math.inf}, "indel_cost inf"),
        (([Field("a", 2)], 1, 2), {"indel_cost": -math.inf}, "indel_cost -inf"),
    ],
)
def test_constructor_errors_name_the_bad_value(args, kwargs, fragment):
    """Each invalid SpaceSpec argument raises ValueError whose message names the offending value."""
    with pytest.raises(ValueError) as err:
        SpaceSpec(*args, **kwargs)
    assert fragment in str(err.value)


@pytest.mark.parametrize("size", [2**40, -(2**40), 2**100])
def test_field_size_beyond_int32_is_a_value_error(size):
    """Field sizes that do not fit the C++ field raise ValueError naming the size, not a crash or TypeError."""
    with pytest.raises(ValueError, match=str(size)):
        Field("a", size)


def test_non_integer_field_size_is_rejected():
    """A float field size is refused with ValueError naming it."""
    with pytest.raises(ValueError, match="2.5"):
        Field("a", 2.5)


def test_default_indel_cost_is_the_sum_of_field_costs():
    """indel_cost < 0 means the sum of the field costs (the largest field substitution)."""
    spec = SpaceSpec([Field("a", 3, cost=0.5), Field("b", 4, True, cost=2.0)], 1, 3)
    assert spec.indel_cost == 2.5
    assert SpaceSpec([Field("a", 3)], 1, 3, indel_cost=0.75).indel_cost == 0.75


def test_properties_reflect_the_constructor():
    """The read-only properties return what the spec was built with."""
    spec = SpaceSpec(chain_fields(), 2, 8, max_skip_offset=3, skip_cost=0.5)
    assert spec.field_names == ["op", "width", "kernel", "stride"]
    assert spec.num_fields == 4 and spec.min_genes == 2 and spec.max_genes == 8
    assert spec.allows_skips and spec.max_skip_offset == 3 and spec.skip_cost == 0.5
    assert not spec.fixed_length and SpaceSpec(chain_fields(), 5, 5).fixed_length
    assert spec.field_index("kernel") == 2
    with pytest.raises(ValueError, match="'depth'"):
        spec.field_index("depth")
    assert [f.size for f in spec.fields] == [5, 8, 3, 2]


@pytest.mark.parametrize(
    ("max_skip", "gene", "mask"),
    [(0, 5, 0), (3, 0, 0), (3, 1, 0b1), (3, 2, 0b11), (3, 3, 0b111), (3, 10, 0b111), (64, 63, 2**63 - 1),
     (64, 64, 2**64 - 1), (64, 1000, 2**64 - 1)],
)
def test_allowed_skip_mask(max_skip, gene, mask):
    """Gene i may read nodes i-1 .. i-max_skip_offset that exist; node 0 is the input."""
    spec = SpaceSpec([Field("a", 2)], 1, 2, max_skip)
    assert spec.allowed_skip_mask(gene) == mask


def test_allowed_skip_mask_rejects_negative_gene():
    """A negative gene index is a ValueError naming it."""
    with pytest.raises(ValueError, match="-1"):
        SpaceSpec([Field("a", 2)], 1, 2, 3).allowed_skip_mask(-1)


def brute_force_count(spec: SpaceSpec) -> int:
    """Counts genomes by enumerating them and validating each."""
    values = list(itertools.product(*[range(f.size) for f in spec.fields]))
    total = 0
    for n in range(spec.min_genes, spec.max_genes + 1):
        masks_per_gene = [range(spec.allowed_skip_mask(i) + 1) for i in range(n)]
        for genes in itertools.product(values, repeat=n):
            for masks in itertools.product(*masks_per_gene):
                total += spec.is_valid(Genome([list(g) for g in genes], list(masks)))
    return total


@pytest.mark.parametrize(
    "spec",
    [
        SpaceSpec([Field("a", 2)], 0, 3),
        SpaceSpec([Field("a", 2), Field("b", 3)], 1, 2),
        SpaceSpec([Field("a", 2)], 1, 3, 2),
        SpaceSpec([Field("a", 1)], 2, 4, 1),
    ],
)
def test_cardinality_matches_enumeration(spec):
    """cardinality() equals the number of valid genomes found by brute-force enumeration."""
    assert spec.cardinality() == brute_force_count(spec)


def test_cardinality_overflow_and_speed():
    """Huge spaces report -1, and a spec of 2^20 size-1 genes answers at once (no quadratic loop)."""
    assert SpaceSpec(chain_fields(), 1, 40, 3).cardinality() == -1
    spec = SpaceSpec([Field("a", 1)], 0, 2**20)
    start = time.perf_counter()
    assert spec.cardinality() == 2**20 + 1
    assert time.perf_counter() - start < 5.0


@pytest.mark.parametrize(
    ("genome", "fragment"),
    [
        (Genome([[0, 0, 0, 0]]), "1 genes, expected 2..8"),
        (Genome([[0, 0, 0]] * 2), "3 fields per gene, expected 4"),
        (Genome([[0, 8, 0, 0], [0, 0, 0, 0]]), "gene 0 field 'width' has value 8, outside [0, 8)"),
        (Genome([[0, 0, 0, 0], [0, 0, -1, 0]]), "gene 1 field 'kernel' has value -1"),
        (Genome([[0, 0, 0, 0], [0, 0, 0, 0]], [1, 0]), "gene 0 has skip offset 1"),
        (Genome([[0, 0, 0, 0]] * 3, [0, 0, 4]), "gene 2 has skip offset 3, allowed 1..2"),
    ],
)
def test_check_names_gene_field_and_value(genome, fragment):
    """check() explains the first fault; validate() raises ValueError quoting the genome's text."""
    spec = SpaceSpec(chain_fields(), 2, 8, 3)
    assert fragment in spec.check(genome)
    assert not spec.is_valid(genome)
    with pytest.raises(ValueError, match="invalid genome"):
        spec.validate(genome)


def test_skips_are_rejected_when_the_space_allows_none():
    """A skip in a space without skips is reported as such."""
    spec = SpaceSpec([Field("a", 2)], 1, 3)
    assert "allows no skips" in spec.check(Genome([[0], [1]], [0, 1]))


def test_parse_validates():
    """parse() accepts valid canonical text and rejects text that breaks the spec."""
    spec = SpaceSpec(chain_fields(), 2, 8, 3)
    assert spec.parse("0,1,2,1;4,7,0,0:1").skips == [0, 1]
    with pytest.raises(ValueError, match="width"):
        spec.parse("0,9,2,1;4,7,0,0")


def test_equality_and_repr():
    """Specs compare by value; repr lists the fields and bounds."""
    a = SpaceSpec(chain_fields(), 2, 8, 3)
    assert a == SpaceSpec(chain_fields(), 2, 8, 3)
    assert a != SpaceSpec(chain_fields(), 2, 9, 3)
    assert "width:8 ordinal" in repr(a) and "genes=2..8" in repr(a)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**64 - 1))
def test_random_genome_with_64_skip_offsets_is_valid(seed):
    """Sampling skips when every one of 64 offsets is allowed stays in bounds (no 64-bit shift overflow)."""
    spec = SpaceSpec([Field("a", 2)], 66, 70, 64)
    g = random_genome(spec, Rng(seed), 0.5)
    assert spec.is_valid(g)
    assert g.skips[-1].bit_length() > 32  # high offsets do get drawn (fails with probability 2**-32)


CELL_EDGES = [(0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3)]


def test_cell_graph_is_carried_compared_and_shown():
    """with_cell_graph returns a copy reading genomes as a cell; the graph takes part in equality and repr."""
    plain = SpaceSpec([Field("op", 5)], 6, 6)
    cell = plain.with_cell_graph(4, CELL_EDGES, zero=("op", 0))
    assert plain.cell_graph is None
    assert cell.cell_graph == {"num_nodes": 4, "edges": CELL_EDGES, "zero": ("op", 0)}
    assert cell != plain and cell == plain.with_cell_graph(4, CELL_EDGES, zero=("op", 0))
    assert cell != plain.with_cell_graph(4, CELL_EDGES)
    assert "cell_graph=(nodes=4, edges=[0->1, 0->2, 1->2, 0->3, 1->3, 2->3], zero=op:0)" in repr(cell)


@pytest.mark.parametrize(
    ("spec", "args", "kwargs", "fragment"),
    [
        (SpaceSpec([Field("op", 5)], 6, 6), (1, CELL_EDGES), {}, "2..64 nodes, got 1"),
        (SpaceSpec([Field("op", 5)], 6, 6), (4, CELL_EDGES[:5]), {}, "5 edges for genomes of 6..6"),
        (SpaceSpec([Field("op", 5)], 5, 6), (4, CELL_EDGES), {}, "genomes of 5..6"),
        (SpaceSpec([Field("op", 5)], 6, 6, 1), (4, CELL_EDGES), {}, "must allow no skips"),
        (SpaceSpec([Field("op", 5)], 6, 6), (4, CELL_EDGES[:5] + [(3, 2)]), {}, "edge 5 (3 -> 2)"),
        (SpaceSpec([Field("op", 5)], 6, 6), (4, CELL_EDGES[:5] + [(2, 4)]), {}, "edge 5 (2 -> 4)"),
        (SpaceSpec([Field("op", 5)], 6, 6), (4, CELL_EDGES), {"zero": ("kind", 0)}, "unknown field 'kind'"),
        (SpaceSpec([Field("op", 5)], 6, 6), (4, CELL_EDGES), {"zero": ("op", 5)}, "zero value 5"),
    ],
)
def test_cell_graph_errors_name_the_bad_value(spec, args, kwargs, fragment):
    """A cell graph that does not fit the spec raises ValueError naming the bad edge, count or value."""
    with pytest.raises(ValueError, match=fragment.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        spec.with_cell_graph(*args, **kwargs)
