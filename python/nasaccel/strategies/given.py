"""A strategy that proposes a given list of architectures, once each, in order.

What the final stage of a search uses to retrain the members of a Pareto front at full fidelity: the
loop, storage, executors and progress bar of a :class:`~nasaccel.study.Study`, over a fixed list.
It is not in the registry of strategies built from configs, since its parameters depend on the space.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .._core import Genome
from ..trial import Trial
from .base import SearchExhausted, Strategy


class GivenArchitectures(Strategy):
    """Proposes ``archs`` (text forms of the study's space) in order, then is exhausted.

    Parameters
    ----------
    archs
        Architectures in the space's text form, without repeats; checked against the space at set-up.
    """

    name = "given"
    bounded = True

    def __init__(self, archs: Sequence[str]) -> None:
        super().__init__()
        if isinstance(archs, str) or not isinstance(archs, Sequence):
            raise ValueError(f"archs must be a sequence of architecture texts, got {archs!r}")
        if not archs:
            raise ValueError("archs must not be empty")
        for a in archs:
            if not isinstance(a, str) or not a:
                raise ValueError(f"every arch must be a non-empty text, got {a!r}")
        dup = [a for i, a in enumerate(archs) if a in archs[:i]]
        if dup:
            raise ValueError(f"arch {dup[0]!r} appears more than once")
        self.archs = list(archs)
        self.position = 0

    def params(self) -> dict[str, Any]:
        return {"archs": list(self.archs)}

    def _setup(self) -> None:
        space = self._space()
        self._genomes = []
        for a in self.archs:
            try:
                self._genomes.append(space.from_text(a))
            except ValueError as e:
                raise ValueError(f"arch {a!r} is not in the study's space: {e}") from None
        self.position = 0

    @property
    def finished(self) -> bool:
        return self.position >= len(self.archs)

    def ask(self) -> Genome:
        if self.finished:
            raise SearchExhausted(f"all {len(self.archs)} given architectures were proposed")
        g = self._genomes[self.position]
        self.position += 1
        return g

    def tell(self, trial: Trial, genome: Genome) -> None:
        # Nothing to learn: the list is fixed.
        return None

    def _state(self) -> dict[str, Any]:
        return {"position": self.position}

    def _load_state(self, state: dict[str, Any]) -> None:
        pos = state.get("position")
        if isinstance(pos, bool) or not isinstance(pos, int) or not 0 <= pos <= len(self.archs):
            raise ValueError(f"given-architectures state has a bad position {pos!r} for {len(self.archs)} archs")
        self.position = pos
