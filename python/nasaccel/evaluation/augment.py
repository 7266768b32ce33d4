"""``Augmentation``: seeded random transformations of training batches (shifts, stretches, gain, noise).

Made for signals such as MNIST-1D, whose examples are templates placed at a random position, dilated
by a random amount, scaled and made noisy by the generator: drawing the same kinds of change afresh in
every epoch shows a network many more variants of the few thousand training signals. The
transformations work on batches of any spatial rank (``(B, C, L)`` or ``(B, C, H, W)``), each
spatial axis on its own. The random draws come from a numpy ``Generator`` the caller passes in, so a
seeded trainer gets the same augmented batches on every run.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch

__all__ = ["PADDINGS", "Augmentation"]

#: How positions outside the example are filled after a shift or stretch.
PADDINGS: tuple[str, ...] = ("circular", "zeros")

_FIELDS = ("shift", "padding", "stretch", "scale", "noise")


def _fraction(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"augmentation {name} must be a finite number in [0, 1), got {value!r}")
    v = float(value)
    if not 0.0 <= v < 1.0:
        raise ValueError(f"augmentation {name} must be in [0, 1), got {value!r}")
    return v


class Augmentation:
    """Random transformations applied to every training batch, one independent draw per example.

    Parameters
    ----------
    shift : int
        Largest translation in samples (of the trained resolution) along each spatial axis: the
        content moves by an integer drawn uniformly from ``[-shift, shift]``.
    padding : {"circular", "zeros"}
        What enters at the edges: the content that left at the other end (``circular``; MNIST-1D's
        generator translates its signals circularly) or zeros (the mean of standardised data).
    stretch : float
        Largest relative dilation in ``[0, 1)``: each spatial axis is resampled (linear
        interpolation about its centre) by a factor drawn uniformly from ``[1 - stretch, 1 + stretch]``;
        a factor above 1 makes the pattern longer.
    scale : float
        Largest relative gain change in ``[0, 1)``: each example is multiplied by a factor drawn
        uniformly from ``[1 - scale, 1 + scale]``.
    noise : float
        Standard deviation of the i.i.d. Gaussian noise added to every value (0: none).

    Notes
    -----
    The order is: resample (shift and stretch), then gain, then noise. With ``stretch == 0`` the
    shift moves values by whole samples, without interpolation, so a circular shift equals
    ``numpy.roll``. All settings at zero is the identity (:attr:`active` is false).
    """

    def __init__(
        self, shift: int = 0, padding: str = "circular", stretch: float = 0.0, scale: float = 0.0, noise: float = 0.0
    ) -> None:
        if isinstance(shift, bool) or not isinstance(shift, numbers.Integral) or shift < 0:
            raise ValueError(f"augmentation shift must be an integer >= 0 (samples), got {shift!r}")
        if padding not in PADDINGS:
            raise ValueError(f"unknown augmentation padding {padding!r}; choose from {list(PADDINGS)}")
        if isinstance(noise, bool) or not isinstance(noise, numbers.Real) or not math.isfinite(noise) or noise < 0:
            raise ValueError(f"augmentation noise must be a finite number >= 0, got {noise!r}")
        self.shift = int(shift)
        self.padding = padding
        self.stretch = _fraction("stretch", stretch)
        self.scale = _fraction("scale", scale)
        self.noise = float(noise)

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | Augmentation) -> Augmentation:
        """An augmentation from its :meth:`config` mapping (or itself); unknown keys raise ``ValueError``."""
        if isinstance(config, Augmentation):
            return config
        if not isinstance(config, Mapping):
            raise ValueError(f"augment must be a mapping of {list(_FIELDS)}, got {config!r}")
        unknown = sorted(set(config) - set(_FIELDS))
        if unknown:
            raise ValueError(f"unknown augmentation setting(s) {unknown}; known: {list(_FIELDS)}")
        return cls(**config)

    def config(self) -> dict[str, Any]:
        """JSON-serialisable settings; ``Augmentation.from_config`` rebuilds an equal augmentation."""
        return {"shift": self.shift, "padding": self.padding, "stretch": self.stretch, "scale": self.scale,
                "noise": self.noise}

    @property
    def active(self) -> bool:
        """Whether any transformation changes the inputs."""
        return bool(self.shift or self.stretch or self.scale or self.noise)

    def check_shape(self, input_shape: tuple[int, ...]) -> None:
        """Raise ``ValueError`` when a shift would move content by a whole axis of ``input_shape`` (C, *spatial)."""
        spatial = tuple(input_shape[1:])
        if not spatial:
            raise ValueError(f"augmentation needs inputs with a spatial axis, got example shape {list(input_shape)}")
        if self.shift and self.shift >= min(spatial):
            raise ValueError(
                f"augmentation shift {self.shift} must be smaller than every spatial size of the inputs {list(spatial)}"
            )

    def __call__(self, x: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        """A transformed copy of the batch ``x`` (``(B, C, *spatial)``), drawing from ``rng``.

        The draws per call are, in this order and only for the settings that are non-zero: the
        shifts ``(B, spatial axes)``, the stretch factors ``(B, spatial axes)``, the gains ``(B,)``
        and the noise ``x.shape``, so a seeded ``rng`` gives the same batches on every run.
        """
        import torch

        if x.dim() < 3:
            raise ValueError(f"augmentation needs a batch (B, C, *spatial), got shape {list(x.shape)}")
        if not self.active:
            return x
        b, axes = x.shape[0], x.dim() - 2
        shifts = rng.integers(-self.shift, self.shift + 1, size=(b, axes)) if self.shift else np.zeros((b, axes), np.int64)
        factors = rng.uniform(1.0 - self.stretch, 1.0 + self.stretch, size=(b, axes)) if self.stretch else None
        out = x
        if self.shift or self.stretch:
            for a in range(axes):
                out = self._resample_axis(out, 2 + a, shifts[:, a], None if factors is None else factors[:, a])
        if self.scale:
            gain = rng.uniform(1.0 - self.scale, 1.0 + self.scale, size=b).astype(np.float32)
            out = out * torch.from_numpy(gain).to(out.device).view(b, *([1] * (out.dim() - 1)))
        if self.noise:
            noise = rng.standard_normal(size=tuple(out.shape), dtype=np.float32) * np.float32(self.noise)
            out = out + torch.from_numpy(noise).to(out.device)
        return out

    def _resample_axis(self, x: torch.Tensor, axis: int, shifts: np.ndarray, factors: np.ndarray | None) -> torch.Tensor:
        """Output sample ``i`` of example ``b`` reads input position ``c + (i - c) / f_b - s_b`` (``c`` the centre)."""
        import torch

        n = x.shape[axis]
        xm = x.movedim(axis, -1)
        lead = xm.shape[:-1]
        i = np.arange(n, dtype=np.float64)
        if factors is None:
            pos = (i[None, :] - shifts[:, None]).astype(np.int64)
            return self._gather(xm, pos, n, lead).movedim(-1, axis)
        c = (n - 1) / 2.0
        q = c + (i[None, :] - c) / factors[:, None] - shifts[:, None]
        lo = np.floor(q)
        w = (q - lo).astype(np.float32)
        lo = lo.astype(np.int64)
        w_t = torch.from_numpy(w).to(x.device).view(x.shape[0], *([1] * (len(lead) - 1)), n)
        a = self._gather(xm, lo, n, lead)
        b = self._gather(xm, lo + 1, n, lead)
        return (a * (1 - w_t) + b * w_t).movedim(-1, axis)

    def _gather(self, xm: torch.Tensor, pos: np.ndarray, n: int, lead: tuple[int, ...]) -> torch.Tensor:
        """``xm[..., pos]`` per example, wrapping (circular) or reading zeros (zeros) outside ``[0, n)``."""
        import torch

        b = xm.shape[0]
        shape = (b, *([1] * (len(lead) - 1)), n)
        if self.padding == "circular":
            idx = torch.from_numpy(np.mod(pos, n)).to(xm.device).view(shape).expand(*lead, n)
            return torch.gather(xm, -1, idx)
        inside = (pos >= 0) & (pos < n)
        idx = torch.from_numpy(np.clip(pos, 0, n - 1)).to(xm.device).view(shape).expand(*lead, n)
        mask = torch.from_numpy(inside.astype(np.float32)).to(xm.device).view(shape)
        return torch.gather(xm, -1, idx) * mask

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Augmentation) and self.config() == other.config()

    def __hash__(self) -> int:
        return hash(tuple(self.config().items()))

    def __repr__(self) -> str:
        return "Augmentation(" + ", ".join(f"{k}={v!r}" for k, v in self.config().items()) + ")"
