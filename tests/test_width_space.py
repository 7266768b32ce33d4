"""WidthSpace: per-layer widths of a ChainSpace backbone, residual ties, text form and networks."""

from __future__ import annotations

import pytest
import torch

from nasaccel import Genome
from nasaccel.spaces import WidthSpace, space_from_config
from nasaccel.spaces.width import mobilenet_backbone

torch.set_num_threads(1)


def test_widths_are_rounded_multiples_of_the_base():
    """Choice k of a node with base width b has max(1, round(b * m_k)) channels, 20 %..150 % by default."""
    s = WidthSpace((1, 40), 10, "conv-10-k3-s1|maxpool-k3-s2|dwsep-20-k3-s1")
    assert s.layer_of_node == (0, 2) and s.base_widths == (10, 20)
    assert s.choices[0] == (2, 4, 5, 8, 10, 12, 15)
    assert s.choices[1] == (4, 7, 10, 15, 20, 25, 30)
    assert s.node_of_input == (None, 0, 0) and s.node_of_output == (0, 0, 1)


def test_residual_skips_tie_the_widths_they_join():
    """A same-shape skip ties the width nodes of its two ends; a genome breaking the tie is refused."""
    s = WidthSpace((1, 8, 8), 10, mobilenet_backbone((1, 8, 8), residual=True))
    assert s.ties == ((1, 2), (3, 4))
    with pytest.raises(ValueError, match=r"tie 0 \(nodes \[1, 2\], joined by a residual\) needs one width"):
        s.validate(Genome([[0], [1], [2], [0], [0], [0]]))
    g = s.genome([0, 3, 3, 5, 5, 1])
    assert s.widths_of(g) == [3, 24, 24, 80, 80, 45]


def test_text_round_trip_and_canonical_duplicates():
    """to_text names the channels; from_text inverts it; choices with equal channels canonicalise low."""
    s = WidthSpace((1, 40), 10, "conv-2-k3-s1|dwsep-8-k3-s2", multipliers=(0.4, 0.5, 1.0))
    assert s.choices[0] == (1, 1, 2)
    g = s.genome([1, 2])
    assert s.choice_of(g) == [0, 2] and s.to_text(g) == "1-8"
    assert s.from_text("1-8") == g
    for bad, msg in [("1", "names 1 widths"), ("3-8", r"width 3 of node 0 in '3-8' is not one of \[1, 1, 2\]"),
                     ("1-08", "not a positive canonical decimal")]:
        with pytest.raises(ValueError, match=msg):
            s.from_text(bad)


def test_decode_description_and_module_agree():
    """decode, the latency description and the torch module describe the same network."""
    s = WidthSpace((1, 40), 10, mobilenet_backbone((1, 40), residual=True, scale=0.5))
    g = s.genome([2, 4, 4, 1, 1, 6])
    net = s.decode(g)["network"]
    desc = s.description(g)
    assert [layer["out_channels"] for layer in net["layers"]] == [layer.c_out for layer in desc.layers] == s.widths_of(g)
    assert s.chain_text(g) == net["text"]
    m = s.build_module(g)
    assert m(torch.zeros(2, 1, 40)).shape == (2, 10)
    assert m.classifier.in_features == s.widths_of(g)[-1]


def test_config_round_trip():
    """space_from_config rebuilds an equal WidthSpace."""
    s = WidthSpace((1, 8, 8), 10, multipliers=(0.5, 1.0))
    assert space_from_config(s.config()) == s


@pytest.mark.parametrize(
    ("kwargs", "msg"),
    [
        (dict(backbone="conv-8-k3-s1|dwsep-16-k3-s2+1"), r"needs a 1x1 projection"),
        (dict(backbone="maxpool-k3-s2"), "no conv or dwsep layer"),
        (dict(backbone="conv-8-k3-s1|bogus"), "not a valid ChainSpace network|unknown op"),
        (dict(multipliers=()), "multipliers must be a non-empty"),
        (dict(multipliers=(1.0, 0.5)), "strictly ascending"),
        (dict(multipliers=(0.0, 1.0)), r"width multiplier 0\.0 must be a positive"),
        (dict(input_shape=(1, 2, 3, 4)), "input_shape must be"),
    ],
)
def test_bad_arguments_name_the_culprit(kwargs, msg):
    """Projection skips, width-free backbones, bad multipliers and shapes raise ValueError naming them."""
    args = dict(input_shape=(1, 40), num_classes=10) | kwargs
    with pytest.raises(ValueError, match=msg):
        WidthSpace(**args)


def test_genome_rejects_bad_choices():
    """genome() names a wrong length or an index outside the choices."""
    s = WidthSpace((1, 40), 10, "conv-8-k3-s1|dwsep-16-k3-s2")
    with pytest.raises(ValueError, match="choice has 3 entries, this space has 2"):
        s.genome([0, 0, 0])
    with pytest.raises(ValueError, match=r"choice\[1\] = 7 is not a width index in \[0, 7\)"):
        s.genome([0, 7])
