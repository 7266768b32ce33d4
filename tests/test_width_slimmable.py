"""SlimmableNetwork: sliced weights equal standalone networks; per-configuration batch-norm statistics."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from nasaccel.spaces import WidthSpace
from nasaccel.spaces.width import mobilenet_backbone
from nasaccel.width.slimmable import SlimmableNetwork

torch.set_num_threads(1)

SPACES = {
    "1d": WidthSpace((1, 24), 5, mobilenet_backbone((1, 24), residual=True, scale=0.25)),
    "2d": WidthSpace((2, 8, 8), 5, "conv-6-k3-s1|dwsep-8-k3-s2|maxpool-k3-s1|dwsep-8-k5-s1+1|avgpool-k3-s2|conv-12-k1-s1"),
}


def _net(name: str, seed: int = 0) -> SlimmableNetwork:
    torch.manual_seed(seed)
    net = SlimmableNetwork(SPACES[name])
    with torch.no_grad():  # non-trivial affine parameters, so that slicing them is exercised
        for p in net.parameters():
            if p.dim() == 1:
                p.add_(torch.randn_like(p) * 0.3)
    return net


def _choice(space: WidthSpace, draw) -> list[int]:
    x = [draw(st.integers(0, space.num_choices - 1)) for _ in range(space.num_nodes)]
    for g in space.ties:
        for n in g:
            x[n] = x[g[0]]
    return x


@settings(max_examples=12, deadline=None)
@given(st.sampled_from(sorted(SPACES)), st.data())
def test_sliced_network_equals_standalone_copy(name, data):
    """In training and in eval mode (after calibration), a configuration equals its extracted standalone network."""
    net = _net(name)
    space = net.space
    choice = _choice(space, data.draw)
    x = torch.randn(16, *space.input_shape, generator=torch.Generator().manual_seed(1))
    net.train()
    standalone = net.extract(choice)
    standalone.train()
    torch.testing.assert_close(net(x, choice), standalone(x), rtol=1e-5, atol=1e-5)
    net.calibrate(x, choice)
    net.eval()
    standalone = net.extract(choice)
    standalone.eval()
    torch.testing.assert_close(net(x, choice), standalone(x), rtol=1e-5, atol=1e-5)


def test_widest_configuration_uses_every_weight():
    """The widest configuration's standalone network has as many parameters as the slimmable one."""
    net = _net("2d")
    widest = net.space.widest()
    assert sum(p.numel() for p in net.extract(widest).parameters()) == sum(p.numel() for p in net.parameters())


def test_calibration_gives_population_statistics():
    """Calibrated statistics of the first BN equal the mean and unbiased variance over all inputs, batch-split or not."""
    net = _net("1d")
    space = net.space
    x = torch.randn(50, *space.input_shape)
    choice = [2] * space.num_nodes
    net.calibrate(x, choice, batch_size=7)
    c = space.choices[0][2]
    pre = torch.nn.functional.conv1d(x, net.convs["0_conv"][:c, :1], padding=1)
    mean, var = net.stats[net.key(choice)]["0_bn"]
    torch.testing.assert_close(mean, pre.mean((0, 2)), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(var, pre.var((0, 2), unbiased=True), rtol=1e-4, atol=1e-6)


def test_statistics_are_kept_per_configuration():
    """Two configurations sharing a layer width keep different statistics for the layers after it."""
    net = _net("1d")
    x = torch.randn(40, *net.space.input_shape)
    a, b = [3, 3, 3, 3, 3, 3], [3, 0, 0, 3, 3, 3]
    net.calibrate(x, a)
    net.calibrate(x, b)
    sa, sb = net.stats[net.key(a)], net.stats[net.key(b)]
    torch.testing.assert_close(sa["0_bn"][0], sb["0_bn"][0])  # same input, same first layer
    assert not torch.allclose(sa["3_pw_bn"][0], sb["3_pw_bn"][0])


def test_eval_without_calibration_names_the_configuration():
    """An eval-mode forward of an uncalibrated configuration raises ValueError naming it."""
    net = _net("2d")
    net.eval()
    with pytest.raises(ValueError, match=r"configuration 1-3-3-2 has no calibrated batch-norm statistics"):
        net(torch.zeros(2, 2, 8, 8), [0, 1, 1, 0])


def test_bad_configuration_is_refused():
    """A choice breaking a residual tie is refused with the tie named."""
    net = _net("1d")
    with pytest.raises(ValueError, match="tie 0"):
        net(torch.zeros(2, 1, 24), [0, 1, 2, 0, 0, 0])
    with pytest.raises(ValueError, match="at least 2 inputs"):
        net.calibrate(np.zeros((1, 1, 24), np.float32), [0] * 6)
