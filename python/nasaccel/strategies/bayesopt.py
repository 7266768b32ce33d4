"""Bayesian optimisation: a GP on architecture kernels (edit distance, Weisfeiler-Lehman, Hamming) with
acquisition maximised over the whole space when it is small, else over a pool of mutants of the incumbents."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._core import (
    ConstantKernel,
    DistanceCache,
    EditDistanceKernel,
    Genome,
    HammingKernel,
    HistogramKernel,
    Kernel,
    KernelData,
    Population,
    SpaceSpec,
    WLKernel,
    index_of,
    neighbours,
)
from ..gp.acquisition import (
    ACQUISITIONS,
    expected_improvement,
    local_penalties,
    log_expected_improvement,
    probability_of_improvement,
    thompson_sample,
    upper_confidence_bound,
)
from ..gp.model import GaussianProcess, blas_threads
from ..gp.pool import CandidatePool, whole_space
from ..trial import Trial, TrialState
from .base import SearchExhausted, Strategy

KERNELS = ("edit", "edit_squared", "wl", "wl_rbf", "histogram", "edit+wl", "edit+histogram", "hamming", "hamming_ard")
BATCH_MODES = ("kriging_believer", "local_penalization")
MULTI_OBJECTIVE = ("first", "parego")
TRANSFORMS = ("copula", "none")


def _base_kernel(name: str, spec: SpaceSpec) -> Kernel:
    bounds = (1e-2, 1e3)
    if name == "edit":
        return EditDistanceKernel(1.0, length_scale_bounds=bounds)
    if name == "edit_squared":
        return EditDistanceKernel(1.0, squared=True, length_scale_bounds=bounds)
    if name == "wl":
        return WLKernel(2)
    if name == "wl_rbf":
        return WLKernel(2, length_scale=1.0, length_scale_bounds=bounds)
    if name == "histogram":
        return HistogramKernel()
    if name == "hamming":
        return HammingKernel(1.0, length_scale_bounds=bounds)
    return HammingKernel([1.0] * spec.max_genes, length_scale_bounds=bounds)


def build_kernel(name: str, spec: SpaceSpec) -> Kernel:
    """The kernel ``name`` (one of ``KERNELS``) for genomes of ``spec``: each base kernel named between "+"
    scaled by its own fitted constant, and the scaled kernels summed."""
    if name not in KERNELS:
        raise ValueError(f"unknown kernel {name!r}; known: {list(KERNELS)}")
    parts = name.split("+")
    if any(p.startswith("hamming") for p in parts):
        if not spec.fixed_length:
            raise ValueError(f"kernel {name!r} needs fixed-length genomes; this space has {spec.min_genes}..{spec.max_genes}")
        if spec.max_genes > 64:
            raise ValueError(f"kernel {name!r} supports at most 64 genes, this space has {spec.max_genes}")
    kernel = None
    for part in parts:
        scaled = ConstantKernel(1.0, (1e-3, 1e3)) * _base_kernel(part, spec)
        kernel = scaled if kernel is None else kernel + scaled
    return kernel


def copula(y: np.ndarray) -> np.ndarray:
    """Gaussian copula of the values: normal quantiles of their ranks (ties share the mean rank).

    NAS tables have heavy lower tails (cells that do not train); modelling ranks keeps those from
    flattening the GP around the good architectures, and the transform keeps the order, so the best
    observation stays the best."""
    from scipy.special import ndtri
    from scipy.stats import rankdata

    n = len(y)
    return ndtri((rankdata(y) - 0.5) / n)


def pruned_expected_improvement(gp: GaussianProcess, ks: np.ndarray, best: float, xi: float, excluded: np.ndarray,
                                chunk: int = 512) -> np.ndarray:
    """The log of expected improvement where it can be the largest, -inf elsewhere; the same argmax as
    computing it everywhere.

    The posterior mean costs one product with the cross Gram matrix; the variance costs a triangular solve per
    candidate. EI grows with the standard deviation, which never exceeds sqrt(k(x,x) - |k_x|^2 / lambda_max) (k_x
    the candidate's cross-covariances, lambda_max the largest eigenvalue of the training covariance), so EI there
    bounds it: candidates are visited by decreasing bound and their exact EI computed in chunks until the next
    bound falls below the best exact value found (a whole space of 15,625 cells then needs a few chunks).
    Logs keep the order where EI itself underflows to 0 (a confident posterior far below the incumbent).
    """
    terms = gp.posterior_terms()
    mean = gp.predict(cross=ks)
    # var = k(x,x) - k^T A^-1 k with A = L L^T, and k^T A^-1 k >= |k|^2 / lambda_max(A): a bound on the standard
    # deviation far below the prior's once the observations are many, at the cost of the rows' norms.
    L = terms["L"]
    if len(L) <= 400:
        lam = float(np.linalg.eigvalsh(L @ L.T)[-1]) if len(L) else 1.0
    else:  # ||L||_2^2 <= ||L||_1 ||L||_inf: an upper bound (so still a valid one) in O(n^2), not O(n^3)
        absL = np.abs(L)
        lam = float(absL.sum(axis=0).max() * absL.sum(axis=1).max())
    var_bound = gp.kernel.diag_value - np.einsum("ij,ij->i", ks, ks) / lam
    # A relative margin keeps rounding from making the bound smaller than the exact variance.
    sd_bound = np.sqrt(np.maximum(var_bound, 0.0) + 1e-9 * abs(gp.kernel.diag_value)) * terms["y_std"]
    bound = log_expected_improvement(mean, sd_bound, best, xi)
    bound[excluded] = -np.inf
    order = np.lexsort((np.arange(len(bound)), -bound))
    score = np.full(len(mean), -np.inf)
    top = -np.inf
    for start in range(0, len(order), chunk):
        idx = order[start : start + chunk]
        # A small margin keeps rounding from cutting off a candidate whose exact EI equals the bound.
        if not np.isfinite(bound[idx[0]]) or bound[idx[0]] < top - 1e-9 * (1.0 + abs(top)):
            break
        m, sd = gp.predict(cross=ks[idx], return_std=True)
        e = log_expected_improvement(m, sd, best, xi)
        score[idx] = e
        top = max(top, float(e.max()))
    return score


class BayesOpt(Strategy):
    """GP-based Bayesian optimisation over architectures.

    After ``n_init`` random samples, each ``ask`` fits a GP (noise and output normalisation; kernel
    hyper-parameters by multi-start L-BFGS on the marginal likelihood every ``refit_every`` new results,
    else kept) to the results told so far and proposes the unevaluated candidate maximising the
    acquisition. Candidates are the whole space when it has at most ``exhaustive_max`` genomes
    (enumerated once, with its distances to the observations cached and extended column by column),
    else ``pool_size`` mutants of the best ``n_incumbents`` observations plus random genomes.

    With ``trust_region``, proposals stay within one mutation of a centre while they can (a trust region of
    radius one edit, as in local BO methods such as CASMOPOLITAN): the centre is the best observation at the
    first GP proposal and moves to every told result that beats it (first improvement); while it has
    unseen one-mutation neighbours (``neighbours``, with gene insertions in variable-length spaces) the
    acquisition is maximised over those alone, and once it has none (a local optimum of the observations)
    one proposal is made over the global candidates above and becomes the new centre. The GP still
    learns from every observation, so it orders the neighbours by what was seen anywhere.

    Proposals still in flight (asked, not told) are handled by ``batch``: ``"kriging_believer"`` adds
    them to the GP with the posterior mean as a fantasy result; ``"local_penalization"`` multiplies the
    acquisition by local penalties around them.

    Objectives: ``multi_objective="first"`` optimises the first objective (constraint violations rank
    below every feasible result); ``"parego"`` draws random weights at each ask and optimises the augmented
    Chebyshev scalarisation of all the objectives, normalised to [0, 1] over the observations (ParEGO).
    FAILED and PRUNED trials are never proposed again and carry no value into the GP.

    Parameters
    ----------
    kernel
        One of ``KERNELS``: "edit" (exp(-d/l), weighted edit distance), "edit_squared", "wl" (Weisfeiler-Lehman
        subtree, h = 2, on the genome's graph: the cell itself in cell spaces such as NAS-Bench-201), "wl_rbf"
        (the same features through an RBF with a fitted length scale, exp(-(1 - s) / l^2): neighbours of an
        observation keep more uncertainty than under the plain similarity s), "edit+wl",
        "hamming" or "hamming_ard" (fixed-length genomes only); each scaled by a fitted constant.
    acquisition
        "ei" (expected improvement), "ucb", "pi" or "thompson".
    n_init
        Random samples before the first GP proposal.
    pool_size, n_incumbents, random_fraction
        The candidate pool of spaces too large to enumerate.
    exhaustive_max
        Spaces with at most this many genomes are searched whole.
    batch
        "kriging_believer" or "local_penalization".
    refit_every
        Refit the hyper-parameters after this many new results (1: every ask).
    n_restarts
        Random L-BFGS starts besides the previous hyper-parameters.
    xi, kappa
        Exploration terms of EI/PI and UCB.
    thompson_candidates
        Thompson sampling draws jointly over this many candidates (the best by UCB).
    transform
        "copula" (default): the GP models the normal quantiles of the results' ranks; "none": the results.
    cache_pool
        Keep the pool's blocks and their distances between steps (``CandidatePool``); False recomputes them
        (the same proposals, slower).
    trust_region
        Propose within one mutation of a moving centre, see above.
    """

    name = "bayesopt"

    def __init__(
        self,
        kernel: str = "edit",
        acquisition: str = "ei",
        n_init: int = 10,
        pool_size: int = 10_000,
        n_incumbents: int = 10,
        random_fraction: float = 0.2,
        exhaustive_max: int = 20_000,
        batch: str = "kriging_believer",
        multi_objective: str = "first",
        refit_every: int = 1,
        n_restarts: int = 2,
        xi: float = 0.0,
        kappa: float = 2.0,
        thompson_candidates: int = 500,
        transform: str = "copula",
        cache_pool: bool = True,
        trust_region: bool = False,
    ) -> None:
        super().__init__()
        if kernel not in KERNELS:
            raise ValueError(f"unknown kernel {kernel!r}; known: {list(KERNELS)}")
        if acquisition not in ACQUISITIONS:
            raise ValueError(f"unknown acquisition {acquisition!r}; known: {list(ACQUISITIONS)}")
        if batch not in BATCH_MODES:
            raise ValueError(f"unknown batch mode {batch!r}; known: {list(BATCH_MODES)}")
        if multi_objective not in MULTI_OBJECTIVE:
            raise ValueError(f"unknown multi_objective {multi_objective!r}; known: {list(MULTI_OBJECTIVE)}")
        for nm, v, lo in (("n_init", n_init, 1), ("pool_size", pool_size, 1), ("n_incumbents", n_incumbents, 1),
                          ("exhaustive_max", exhaustive_max, 0), ("refit_every", refit_every, 1),
                          ("n_restarts", n_restarts, 0), ("thompson_candidates", thompson_candidates, 1)):
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < lo:
                raise ValueError(f"{nm} must be an integer >= {lo}, got {v!r}")
        for nm, v in (("cache_pool", cache_pool), ("trust_region", trust_region)):
            if not isinstance(v, (bool, np.bool_)):
                raise ValueError(f"{nm} must be a bool, got {v!r}")
        if transform not in TRANSFORMS:
            raise ValueError(f"unknown transform {transform!r}; known: {list(TRANSFORMS)}")
        if not 0.0 <= random_fraction <= 1.0:
            raise ValueError(f"random_fraction must be in [0, 1], got {random_fraction!r}")
        if not (math.isfinite(xi) and xi >= 0):
            raise ValueError(f"xi must be >= 0 and finite, got {xi!r}")
        if not (math.isfinite(kappa) and kappa >= 0):
            raise ValueError(f"kappa must be >= 0 and finite, got {kappa!r}")
        self.kernel_name, self.acquisition, self.n_init = kernel, acquisition, int(n_init)
        self.pool_size, self.n_incumbents, self.random_fraction = int(pool_size), int(n_incumbents), float(random_fraction)
        self.exhaustive_max, self.batch, self.multi_objective = int(exhaustive_max), batch, multi_objective
        self.refit_every, self.n_restarts = int(refit_every), int(n_restarts)
        self.xi, self.kappa, self.thompson_candidates = float(xi), float(kappa), int(thompson_candidates)
        self.transform = transform
        self.cache_pool = bool(cache_pool)
        self.trust_region = bool(trust_region)
        self._reset()

    def params(self) -> dict[str, Any]:
        return {
            "kernel": self.kernel_name, "acquisition": self.acquisition, "n_init": self.n_init,
            "pool_size": self.pool_size, "n_incumbents": self.n_incumbents, "random_fraction": self.random_fraction,
            "exhaustive_max": self.exhaustive_max, "batch": self.batch, "multi_objective": self.multi_objective,
            "refit_every": self.refit_every, "n_restarts": self.n_restarts, "xi": self.xi, "kappa": self.kappa,
            "thompson_candidates": self.thompson_candidates, "transform": self.transform,
            "cache_pool": self.cache_pool, "trust_region": self.trust_region,
        }

    # ---------------------------------------------------------------- state

    def _reset(self) -> None:
        self.points: list[str] = []  # genome texts, in the order of the distance caches' rows/columns
        self.index: dict[str, int] = {}
        self.status: list[str] = []  # "pending" | "complete" | "failed"
        self.values: list[list[float] | None] = []  # per point: sign-adjusted objectives (larger is better)
        self.violations: list[float] = []
        self.theta: list[float] | None = None
        self.noise = 1e-3
        self.fitted_at = -1  # number of complete results at the last hyper-parameter fit
        self.pool_seed: int | None = None  # drawn at the first pool step
        self.centre: int | None = None  # the trust region's centre (a point index)
        self.diagnostics: dict[str, Any] = {}
        self._kernel: Kernel | None = None
        self._self_cache: DistanceCache | None = None
        self._space_pop: Population | None = None
        self._space_cache: DistanceCache | None = None
        self._space_index: np.ndarray | None = None  # space index of each point (whole-space mode)
        self._pool: CandidatePool | None = None

    def _setup(self) -> None:
        self._reset()
        spec = self._space().spec
        self._kernel = build_kernel(self.kernel_name, spec)
        self._space_pop = whole_space(spec, self.exhaustive_max) if self.exhaustive_max > 0 else None

    def _state(self) -> dict[str, Any]:
        return {
            "points": list(self.points), "status": list(self.status), "values": [None if v is None else list(v)
                                                                                  for v in self.values],
            "violations": list(self.violations), "theta": self.theta, "noise": self.noise,
            "fitted_at": self.fitted_at, "pool_seed": self.pool_seed,
            "centre": None if self.centre is None else self.points[self.centre],
        }

    def _load_state(self, state: dict[str, Any]) -> None:
        spec = self._space().spec
        self._reset()
        self._kernel = build_kernel(self.kernel_name, spec)
        self._space_pop = whole_space(spec, self.exhaustive_max) if self.exhaustive_max > 0 else None
        for text in state["points"]:
            self._add_point(text)
        self.status = list(state["status"])
        self.values = [None if v is None else [float(x) for x in v] for v in state["values"]]
        self.violations = [float(v) for v in state["violations"]]
        self.theta = None if state["theta"] is None else [float(t) for t in state["theta"]]
        self.noise = float(state["noise"])
        self.fitted_at = int(state["fitted_at"])
        seed = state.get("pool_seed")
        self.pool_seed = None if seed is None else int(seed)
        centre = state.get("centre")
        if centre is not None and centre not in self.index:
            raise ValueError(f"the saved trust-region centre {centre!r} is not among the saved points")
        self.centre = None if centre is None else self.index[centre]

    # ---------------------------------------------------------------- points and caches

    def _add_point(self, text: str) -> int:
        spec = self._space().spec
        i = len(self.points)
        self.points.append(text)
        self.index[text] = i
        self.status.append("pending")
        self.values.append(None)
        self.violations.append(0.0)
        data = KernelData(Population(spec, [Genome.from_text(text)]))
        if self._self_cache is None:
            self._self_cache = DistanceCache(self._kernel, data)
        else:
            self._self_cache.extend(data)
        if self._space_pop is not None:
            if self._space_cache is None:
                self._space_cache = DistanceCache(self._kernel, self._space_pop, data)
            else:
                self._space_cache.extend_columns(data)
            ix = index_of(spec, Genome.from_text(text))
            self._space_index = np.append(self._space_index if self._space_index is not None
                                          else np.zeros(0, np.int64), ix)
        return i

    # ---------------------------------------------------------------- ask / tell

    def tell(self, trial: Trial, genome: Genome) -> None:
        text = genome.to_text()
        i = self.index.get(text)
        if i is None:
            i = self._add_point(text)
        elif self.status[i] != "pending":
            return  # a duplicate proposal of an architecture already told
        ok = trial.state == TrialState.COMPLETE and all(o.name in trial.metrics for o in self.objectives)
        if ok:
            vals = [o.sign * float(trial.metrics[o.name]) for o in self.objectives]
            ok = all(math.isfinite(v) for v in vals)
        if not ok:
            self.status[i] = "failed"
            return
        self.status[i] = "complete"
        self.values[i] = vals
        self.violations[i] = float(trial.violation(self.constraints))
        if self.trust_region and self.centre is not None and self.status[self.centre] == "complete" \
                and self._better(i, self.centre):
            self.centre = i

    def _better(self, i: int, j: int) -> bool:
        """Whether complete point i beats complete point j: a lower constraint violation, else (one objective,
        or "first") a larger first objective, else (ParEGO) Pareto dominance."""
        if self.violations[i] != self.violations[j]:
            return self.violations[i] < self.violations[j]
        a, b = self.values[i], self.values[j]
        if self.multi_objective == "first" or len(a) == 1:
            return a[0] > b[0]
        return all(x >= y for x, y in zip(a, b)) and any(x > y for x, y in zip(a, b))

    def ask(self) -> Genome:
        self._space()
        complete = [i for i, s in enumerate(self.status) if s == "complete"]
        if len(self.points) < self.n_init or len(complete) < 2:
            return self._propose_random()
        with blas_threads(len(self.points)):
            return self._propose_gp(complete)

    def _propose_random(self) -> Genome:
        space = self._space()
        for _ in range(1000):
            g = space.sample(self.rng)
            if g.to_text() not in self.index:
                self._add_point(g.to_text())
                return g
        if self._space_pop is not None and len(self.points) >= len(self._space_pop):
            raise SearchExhausted(f"all {len(self._space_pop)} genomes proposed")
        g = space.sample(self.rng)  # a crowded space: let the study answer the duplicate from storage
        return g

    # ---------------------------------------------------------------- the GP proposal

    def _targets(self, complete: list[int]) -> np.ndarray:
        """One value per complete point, larger is better, with constraint violations ranked last."""
        vals = np.array([self.values[i] for i in complete], dtype=float)
        if self.multi_objective == "parego" and vals.shape[1] > 1:
            lo, hi = vals.min(axis=0), vals.max(axis=0)
            u = (hi - vals) / np.where(hi > lo, hi - lo, 1.0)  # 0 = best observed, 1 = worst
            w = -np.log(np.array([max(self.rng.uniform(), 1e-300) for _ in range(vals.shape[1])]))
            w /= w.sum()
            y = -(np.max(w * u, axis=1) + 0.05 * (u @ w))
        else:
            y = vals[:, 0].copy()
        viol = np.array([self.violations[i] for i in complete])
        bad = viol > 0
        if bad.any():
            feas = y[~bad]
            top, bottom = (feas.max(), feas.min()) if len(feas) else (y.max(), y.min())
            span = max(top - bottom, 1e-9)
            y[bad] = bottom - span * viol[bad] / viol[bad].max()
        if self.transform == "copula":
            y = copula(y)
        return y

    def _fit(self, complete: list[int], y: np.ndarray) -> GaussianProcess:
        kernel = self._kernel
        if self.theta is not None:
            kernel.theta = self.theta
        refit = self.fitted_at < 0 or len(complete) - self.fitted_at >= self.refit_every
        gp = GaussianProcess(kernel, noise=self.noise, n_restarts=self.n_restarts, seed=self.rng.next() % 2**32)
        gp.fit(None, y, cache=self._self_cache, rows=complete, optimize=refit)
        if refit:
            self.fitted_at = len(complete)
        self.theta = [float(t) for t in kernel.theta]
        self.noise = float(gp.noise)
        self.diagnostics = dict(gp.diagnostics)
        return gp

    def _propose_gp(self, complete: list[int]) -> Genome:
        space = self._space()
        spec = space.spec
        y = self._targets(complete)
        gp = self._fit(complete, y)
        kernel = self._kernel
        pending = [i for i, s in enumerate(self.status) if s == "pending"]
        k_self = kernel.gram(self._self_cache)
        pend_mean = pend_std = None
        if pending:
            pend_mean, pend_std = gp.predict(cross=k_self[np.ix_(pending, complete)], return_std=True)
        rows = complete
        if pending and self.batch == "kriging_believer":
            rows = complete + pending
            gp.fit(None, np.concatenate([y, pend_mean]), cache=self._self_cache, rows=rows, optimize=False)
            self.diagnostics = dict(gp.diagnostics)
        # candidates and their cross Gram matrix against every point
        local = self._trust_region_candidates(complete) if self.trust_region else None
        restart = self.trust_region and local is None
        if local is not None:
            cands, k_cross_all = local
            excluded = np.zeros(len(cands), bool)
        elif self._space_pop is not None:
            cands = self._space_pop
            k_cross_all = kernel.gram(self._space_cache)
            excluded = np.zeros(len(cands), bool)
            excluded[self._space_index] = True
        else:
            incumbents = [Genome.from_text(self.points[complete[j]]) for j in np.argsort(-y, kind="stable")
                          [: self.n_incumbents]]
            if self._pool is None:
                if self.pool_seed is None:
                    self.pool_seed = self.rng.next() % 2**63
                self._pool = CandidatePool(kernel, spec, self.pool_size, self.n_incumbents, self.random_fraction,
                                           self.pool_seed, cached=self.cache_pool)
            # The pool and its distances to the points are kept between steps (see CandidatePool).
            cands, k_cross_all, excluded = self._pool.candidates(incumbents, self._self_cache.x, len(self.points))
            if len(cands) == 0 or excluded.all():
                return self._restart_at(self._propose_random(), restart)
        best = float(np.max(y))
        ks = k_cross_all[:, rows]
        if self.acquisition == "ei" and not (pending and self.batch == "local_penalization"):
            score = pruned_expected_improvement(gp, ks, best, self.xi * gp.posterior_terms()["y_std"], excluded)
            mean = std = None
        else:
            mean, std = gp.predict(cross=ks, return_std=True)
        if mean is None:
            pass
        elif self.acquisition == "ei":
            score = expected_improvement(mean, std, best, self.xi * gp.posterior_terms()["y_std"])
        elif self.acquisition == "pi":
            score = probability_of_improvement(mean, std, best, self.xi * gp.posterior_terms()["y_std"])
        elif self.acquisition == "ucb":
            score = upper_confidence_bound(mean, std, self.kappa)
        else:
            score = self._thompson(gp, cands, mean, std, excluded, rows)
        if pending and self.batch == "local_penalization":
            # Penalties multiply a non-negative acquisition: shift it to start at 0 over the open candidates.
            ok = ~excluded & np.isfinite(score)
            if ok.any():
                pen = local_penalties(k_cross_all[:, pending], kernel.diag_value, mean, pend_mean, pend_std, best)
                score = np.where(ok, (score - score[ok].min() + 1e-12) * pen, -np.inf)
        score = np.where(excluded, -np.inf, score)
        # Highest score first, ties to the lowest candidate index: the same inputs give the same proposal.
        order = np.lexsort((np.arange(len(score)), -score))
        for j in order[:1000]:
            if not np.isfinite(score[j]):
                break
            g = cands[int(j)]
            text = g.to_text()
            if text in self.index or not space.is_valid(g):
                continue
            canon = space.canonicalize(g)
            if canon.to_text() in self.index:
                continue
            self._add_point(canon.to_text())
            return self._restart_at(canon, restart)
        return self._restart_at(self._propose_random(), restart)

    def _restart_at(self, genome: Genome, restart: bool) -> Genome:
        """Make a global proposal of the trust region the new centre."""
        if restart:
            self.centre = self.index.get(genome.to_text(), self.centre)
        return genome

    def _trust_region_candidates(self, complete: list[int]) -> tuple[Population, np.ndarray] | None:
        """The centre's unseen one-mutation neighbours (canonical, valid, neither told nor in flight) and their
        cross Gram matrix against every point; None when it has none. Sets the centre to the best observation
        when it has none yet, or when its trial failed."""
        space = self._space()
        spec = space.spec
        if self.centre is None or self.status[self.centre] == "failed":
            best = complete[0]
            for i in complete[1:]:
                if self._better(i, best):
                    best = i
            self.centre = best
        seen: set[str] = set()
        open_: list[Genome] = []
        for g in neighbours(Genome.from_text(self.points[self.centre]), spec, True):
            if not space.is_valid(g):
                continue
            canon = space.canonicalize(g)
            text = canon.to_text()
            if text in self.index or text in seen:
                continue
            seen.add(text)
            open_.append(canon)
        if not open_:
            return None
        cands = Population(spec, open_)
        cross = DistanceCache(self._kernel, KernelData(cands), self._self_cache.x)
        return cands, self._kernel.gram(cross)

    def _thompson(self, gp: GaussianProcess, cands: Population, mean: np.ndarray, std: np.ndarray,
                  excluded: np.ndarray, rows: list[int]) -> np.ndarray:
        """A joint posterior draw over the best ``thompson_candidates`` by UCB; -inf elsewhere."""
        ucb = np.where(excluded, -np.inf, mean + 2.0 * std)
        top = np.lexsort((np.arange(len(ucb)), -ucb))[: self.thompson_candidates]
        top = top[np.isfinite(ucb[top])]
        out = np.full(len(mean), -np.inf)
        if len(top) == 0:
            return out
        sub = cands.subset(top)
        cross = DistanceCache(self._kernel, sub, self._self_cache.x)
        k_sub = self._kernel.gram(cross)[:, rows]
        kss = self._kernel(sub)
        terms = gp.posterior_terms()
        import scipy.linalg

        v = scipy.linalg.solve_triangular(terms["L"], k_sub.T, lower=True, check_finite=False)
        cov = (kss - v.T @ v) * terms["y_std"] ** 2
        rng = np.random.default_rng(self.rng.next() % 2**63)
        out[top] = thompson_sample(mean[top], cov, rng)
        return out
