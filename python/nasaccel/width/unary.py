"""``UnaryStatistics``: per node and width, a running estimate of what that width costs in loss.

AOWS attributes the loss of every configuration sampled during slimmable training to each of the
widths it chose: the unary cost of width ``k`` at node ``n`` is the mean loss of the sampled
configurations with ``x_n = k``. Under independent per-node sampling this is the first-order
(main-effect) decomposition of the loss over the widths, up to a constant per node, which does not
move the optimum of the chain MRF. Losses of one training step are centred on that step's mean
before they are attributed, so that the loss falling as training proceeds and batches of different
difficulty cancel out instead of adding noise (the centring shrinks all differences by the same factor).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["UnaryStatistics"]


class UnaryStatistics:
    """Running sums and counts of the losses attributed to each (node, width choice).

    Parameters
    ----------
    num_nodes, num_choices : int
        Shape of the estimate.
    """

    def __init__(self, num_nodes: int, num_choices: int) -> None:
        for name, v in (("num_nodes", num_nodes), ("num_choices", num_choices)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        self.sums = np.zeros((int(num_nodes), int(num_choices)))
        self.counts = np.zeros((int(num_nodes), int(num_choices)), dtype=np.int64)

    @property
    def shape(self) -> tuple[int, int]:
        return self.sums.shape  # type: ignore[return-value]

    def _check_choice(self, choice: Sequence[int]) -> np.ndarray:
        x = np.asarray(choice)
        if x.shape != (self.shape[0],) or x.dtype.kind not in "iu":
            raise ValueError(f"choice must hold {self.shape[0]} integer width indices, got {list(choice)!r}")
        if x.min() < 0 or x.max() >= self.shape[1]:
            raise ValueError(f"choice {list(map(int, x))} has an index outside [0, {self.shape[1]})")
        return x

    def update(self, choice: Sequence[int], loss: float) -> None:
        """Attribute ``loss`` to every (node, width) of ``choice``."""
        if not math.isfinite(loss):
            raise ValueError(f"loss must be finite, got {loss!r}")
        x = self._check_choice(choice)
        rows = np.arange(self.shape[0])
        self.sums[rows, x] += float(loss)
        self.counts[rows, x] += 1

    def update_step(self, choices: Sequence[Sequence[int]], losses: Sequence[float]) -> None:
        """Attribute the losses of one step's sampled configurations, centred on their mean (needs two or more)."""
        if len(choices) != len(losses):
            raise ValueError(f"{len(choices)} choices but {len(losses)} losses")
        if len(losses) < 2:
            raise ValueError(f"a step needs at least 2 sampled configurations to centre, got {len(losses)}")
        mean = float(np.mean(losses))
        for c, v in zip(choices, losses):
            self.update(c, float(v) - mean)

    def means(self) -> np.ndarray:
        """Mean attributed loss per (node, choice); NaN where nothing was sampled."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.counts > 0, self.sums / np.maximum(self.counts, 1), np.nan)

    def costs(self) -> list[np.ndarray]:
        """Unary costs for the MRF: the means, a never-sampled width costing its node's worst mean.

        Raises
        ------
        ValueError
            When some node has no sample at all.
        """
        m = self.means()
        out = []
        for n, row in enumerate(m):
            if np.all(np.isnan(row)):
                raise ValueError(f"node {n} has no sampled configuration yet; train (or sample) before solving")
            out.append(np.where(np.isnan(row), np.nanmax(row), row))
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"sums": self.sums.tolist(), "counts": self.counts.tolist()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> UnaryStatistics:
        sums, counts = np.asarray(d["sums"], float), np.asarray(d["counts"], np.int64)
        if sums.ndim != 2 or sums.shape != counts.shape:
            raise ValueError(f"sums {sums.shape} and counts {counts.shape} must be equal 2-D shapes")
        u = cls(*sums.shape)
        u.sums, u.counts = sums, counts
        return u
