"""Candidate sets for acquisition optimisation: the whole space when small, else a mutation pool."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .._core import Genome, MutationWeights, Population, SpaceSpec, genome_at

__all__ = ["mutation_pool", "whole_space"]


def whole_space(spec: SpaceSpec, max_size: int) -> Population | None:
    """Every genome of the spec in enumeration order (``genome_at``), or None above ``max_size`` genomes."""
    n = spec.cardinality()
    if n < 0 or n > max_size:
        return None
    return Population(spec, [genome_at(spec, i) for i in range(n)])


def mutation_pool(
    spec: SpaceSpec,
    incumbents: Sequence[Genome],
    size: int,
    seed: int,
    random_fraction: float = 0.2,
    exclude: np.ndarray | None = None,
    weights: MutationWeights | None = None,
) -> Population:
    """Up to ``size`` distinct candidates: mutants of the incumbents (C++ batch mutation, one to three
    mutations deep) plus ``random_fraction`` uniform random genomes; genomes whose hash is in ``exclude``
    are left out.

    Parameters
    ----------
    spec
        The space's spec.
    incumbents
        Parents of the mutants (the best observations); with none, every candidate is random.
    size
        Number of candidates drawn before duplicates and exclusions are removed.
    seed
        Seeds the batch operators (same seed, same pool).
    random_fraction
        Share of uniform random candidates, in [0, 1].
    exclude
        Hashes (``Genome.hash``) of genomes never to return, e.g. those already evaluated.
    """
    if size < 1:
        raise ValueError(f"pool size must be >= 1, got {size}")
    if not 0.0 <= random_fraction <= 1.0:
        raise ValueError(f"random_fraction must be in [0, 1], got {random_fraction}")
    n_random = size if not incumbents else int(round(size * random_fraction))
    n_mut = size - n_random
    pool = Population(spec)
    if n_mut > 0:
        parents = Population(spec, list(incumbents))
        w = weights if weights is not None else MutationWeights()
        # A third of the mutants are one mutation away, a third two, a third three: near and farther neighbours.
        depth_sizes = [n_mut - 2 * (n_mut // 3), n_mut // 3, n_mut // 3]
        current = parents
        for depth, count in enumerate(depth_sizes):
            if count == 0:
                break
            idx = np.arange(count, dtype=np.int64) % len(current)
            children = current.mutate(idx, seed=(seed + 7919 * (depth + 1)) % 2**63, weights=w)
            pool.extend(children)
            current = children
    if n_random > 0:
        pool.extend(Population.random(spec, n_random, seed))
    hashes = pool.hashes()
    _, first = np.unique(hashes, return_index=True)
    keep = np.sort(first)
    if exclude is not None and len(exclude):
        keep = keep[~np.isin(hashes[keep], np.asarray(exclude, dtype=np.uint64))]
    return pool.subset(keep)
