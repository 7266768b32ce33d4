"""Candidate sets for acquisition optimisation: the whole space when small, else a mutation pool."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .._core import DistanceCache, Genome, Kernel, KernelData, MutationWeights, Population, SpaceSpec, genome_at

__all__ = ["CandidatePool", "mutation_pool", "whole_space"]


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


class CandidatePool:
    """A mutation pool kept between Bayesian-optimisation steps, with its distances to the observations.

    The pool is a function of the incumbents, the seed and the step alone: one block of mutants per incumbent
    (``mutation_pool`` of that incumbent, seeded by the pool's seed and the incumbent's hash), then one block of
    uniform random genomes that is redrawn every ``random_refresh`` steps. A block is kept for as long as its
    incumbent stays among the incumbents, with its cross distances to the observations; a new observation
    then costs one new column of distances per candidate, and a new incumbent one new block of rows, instead
    of the whole pool-by-observations matrix of a fresh pool. ``cached=False`` computes every block's
    distances afresh at each step (the same pool and the same matrices, for checking and timing).

    Parameters
    ----------
    kernel
        The GP kernel (its distance cache holds the metrics this kernel needs).
    spec
        The space's spec.
    size
        Candidates drawn per step, before duplicates and exclusions are removed.
    n_incumbents
        Incumbents the mutant blocks are drawn around (the block size is fixed by it).
    random_fraction
        Share of uniform random candidates, in [0, 1].
    seed
        Seeds every block (same seed, incumbents and step: same pool).
    random_refresh
        Steps between two draws of the random block.
    cached
        Keep blocks and their distances between steps.
    weights
        Mutation weights of the mutant blocks.
    """

    def __init__(self, kernel: Kernel, spec: SpaceSpec, size: int, n_incumbents: int, random_fraction: float,
                 seed: int, random_refresh: int = 25, cached: bool = True,
                 weights: MutationWeights | None = None) -> None:
        if size < 1:
            raise ValueError(f"pool size must be >= 1, got {size}")
        if n_incumbents < 1:
            raise ValueError(f"n_incumbents must be >= 1, got {n_incumbents}")
        if not 0.0 <= random_fraction <= 1.0:
            raise ValueError(f"random_fraction must be in [0, 1], got {random_fraction}")
        if random_refresh < 1:
            raise ValueError(f"random_refresh must be >= 1, got {random_refresh}")
        self.kernel, self.spec = kernel, spec
        self.n_random = int(round(size * random_fraction))
        self.per_incumbent = (size - self.n_random) // n_incumbents
        self.seed, self.random_refresh, self.cached = int(seed) % 2**63, int(random_refresh), bool(cached)
        self.weights = weights
        self._blocks: dict[str, tuple[Population, DistanceCache | None]] = {}

    def _block(self, key: str, incumbent: Genome | None, epoch: int) -> Population:
        if incumbent is None:
            return mutation_pool(self.spec, [], self.n_random, (self.seed + 104_729 * (epoch + 1)) % 2**63)
        seed = (self.seed ^ int(incumbent.hash())) % 2**63
        return mutation_pool(self.spec, [incumbent], self.per_incumbent, seed, 0.0, weights=self.weights)

    def candidates(self, incumbents: Sequence[Genome], observed: KernelData, step: int,
                   threads: int = 0) -> tuple[Population, np.ndarray, np.ndarray]:
        """The pool at ``step`` around ``incumbents``, its cross Gram matrix against ``observed`` (rows:
        candidates, columns: every observed point, in order) and a mask of the candidates to skip (a repeat
        of an earlier candidate, or an observed genome).

        ``observed`` may only grow between calls (new points appended), as a BO loop's points do.
        """
        blocks: list[tuple[str, Genome | None]] = [("g:" + g.to_text(), g) for g in incumbents if self.per_incumbent]
        epoch = step // self.random_refresh
        if self.n_random > 0:
            blocks.append((f"random:{epoch}", None))
        n_obs = len(observed)
        new_points: dict[int, KernelData] = {}  # the observations appended since a block's last step
        kept: dict[str, tuple[Population, DistanceCache | None]] = {}
        grams, pops = [], []
        for key, inc in blocks:
            if key in kept:
                continue  # an incumbent listed twice
            pop, cache = self._blocks.get(key, (None, None)) if self.cached else (None, None)
            if pop is None:
                pop = self._block(key, inc, epoch)
            if len(pop) == 0:
                kept[key] = (pop, None)
                continue
            if cache is None or cache.cols > n_obs:
                cache = DistanceCache(self.kernel, pop, observed, threads=threads)
            elif cache.cols < n_obs:
                start = cache.cols
                if start not in new_points:
                    new_points[start] = KernelData(observed.genomes.subset(np.arange(start, n_obs)))
                cache.extend_columns(new_points[start], threads=threads)
            kept[key] = (pop, cache if self.cached else None)
            pops.append(pop)
            grams.append(self.kernel.gram(cache, threads=threads))
        self._blocks = kept
        cands = Population(self.spec)
        for pop in pops:
            cands.extend(pop)
        k_cross = np.vstack(grams) if grams else np.zeros((0, n_obs))
        hashes = cands.hashes()
        first = np.zeros(len(hashes), bool)
        first[np.unique(hashes, return_index=True)[1]] = True
        obs_hashes = observed.genomes.hashes() if n_obs else np.zeros(0, np.uint64)
        excluded = ~first | np.isin(hashes, obs_hashes)
        return cands, k_cross, excluded
