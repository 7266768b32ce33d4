"""GaussianProcess: scikit-learn equality, hyper-parameter fitting, caches, non-PSD repair, acquisitions, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate
from scipy.stats import norm
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process import kernels as skk

from nasaccel._core import Field, Population, SpaceSpec
from nasaccel.gp import (
    CandidatePool,
    EditDistanceKernel,
    GaussianProcess,
    MaternKernel,
    RBFKernel,
    WLKernel,
    expected_improvement,
    KernelData,
    local_penalties,
    log_expected_improvement,
    mutation_pool,
    probability_of_improvement,
    thompson_sample,
    upper_confidence_bound,
    whole_space,
)

CHAIN = SpaceSpec([Field("op", 4), Field("width", 5, True)], 1, 7, 3)


def data(seed: int = 0, n: int = 30):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2, 2, size=(n, 2))
    y = np.sin(2 * x[:, 0]) + 0.5 * x[:, 1] ** 2 + 0.05 * rng.normal(size=n)
    return x, y, rng.uniform(-2, 2, size=(12, 2))


@pytest.mark.parametrize("normalize", [True, False])
def test_posterior_equals_scikit_learn_with_a_fixed_kernel(normalize):
    """Mean, std, covariance and log marginal likelihood (with gradient) equal GaussianProcessRegressor's."""
    x, y, xs = data()
    ours = GaussianProcess(1.5 * RBFKernel(0.8) + MaternKernel(1.2), noise=1e-2, fit_noise=False, optimize=False,
                           normalize_y=normalize).fit(x, y)
    sk_kernel = skk.ConstantKernel(1.5) * skk.RBF(0.8) + skk.Matern(1.2, nu=2.5)
    sk = GaussianProcessRegressor(sk_kernel, alpha=1e-2, optimizer=None, normalize_y=normalize).fit(x, y)
    m, s = ours.predict(xs, return_std=True)
    m2, s2 = sk.predict(xs, return_std=True)
    np.testing.assert_allclose(m, m2, rtol=0, atol=1e-10)
    np.testing.assert_allclose(s, s2, rtol=0, atol=1e-10)
    _, c = ours.predict(xs, return_cov=True)
    _, c2 = sk.predict(xs, return_cov=True)
    np.testing.assert_allclose(c, c2, rtol=0, atol=1e-10)
    v, g = ours.log_marginal_likelihood(eval_gradient=True)
    v2, g2 = sk.log_marginal_likelihood(sk.kernel_.theta, eval_gradient=True)
    assert v == pytest.approx(v2, abs=1e-9)
    np.testing.assert_allclose(g, g2, rtol=1e-9, atol=1e-9)


def test_fitted_hyperparameters_reach_scikit_learns_likelihood():
    """Multi-start L-BFGS finds a log marginal likelihood at least scikit-learn's (same kernel family, fixed noise)."""
    x, y, _ = data(1)
    ours = GaussianProcess(1.0 * RBFKernel(1.0), noise=1e-2, fit_noise=False, n_restarts=3, seed=0).fit(x, y)
    sk = GaussianProcessRegressor(skk.ConstantKernel(1.0) * skk.RBF(1.0), alpha=1e-2, normalize_y=True,
                                  n_restarts_optimizer=3, random_state=0).fit(x, y)
    assert ours.diagnostics["log_marginal_likelihood"] >= sk.log_marginal_likelihood_value_ - 1e-6


def test_noise_is_fitted_and_likelihood_gradient_is_exact():
    """With fit_noise the noise joins theta; the analytic gradient matches finite differences."""
    x, y, _ = data(2)
    gp = GaussianProcess(1.0 * RBFKernel(1.0), noise=0.1, fit_noise=True, seed=1).fit(x, y)
    assert 1e-6 <= gp.noise <= 1.0
    p = np.append(gp.kernel.theta, math.log(gp.noise)) + 0.1
    v, g = gp.log_marginal_likelihood(p, eval_gradient=True)
    eps = 1e-6
    for q in range(len(p)):
        pp = p.copy()
        pp[q] += eps
        assert (gp.log_marginal_likelihood(pp) - v) / eps == pytest.approx(g[q], rel=1e-4, abs=1e-5)


def test_add_and_row_subsets_equal_a_fresh_fit():
    """add() (cache extended by the new points) and fitting a subset of a cache's rows equal fresh fits."""
    pop = Population.random(CHAIN, 40, 3)
    y = np.array([len(g) + 0.1 * g.at(0, 0) for g in pop], dtype=float)
    k1, k2, k3 = (EditDistanceKernel(2.0) + WLKernel(2) for _ in range(3))
    first = Population(CHAIN, list(pop)[:30])
    rest = Population(CHAIN, list(pop)[30:])
    a = GaussianProcess(k1, optimize=False).fit(first, y[:30]).add(rest, y[30:])
    b = GaussianProcess(k2, optimize=False).fit(pop, y)
    test = Population.random(CHAIN, 10, 4)
    np.testing.assert_allclose(a.predict(test), b.predict(test), rtol=0, atol=1e-10)
    rows = np.arange(0, 40, 2)
    cache = k3.distances(pop)
    c = GaussianProcess(k3, optimize=False).fit(None, y[rows], cache=cache, rows=rows)
    d = GaussianProcess(EditDistanceKernel(2.0) + WLKernel(2), optimize=False).fit(
        Population(CHAIN, [pop[int(i)] for i in rows]), y[rows])
    cross = (EditDistanceKernel(2.0) + WLKernel(2))(test, pop)[:, rows]
    np.testing.assert_allclose(c.predict(cross=cross), d.predict(test), rtol=0, atol=1e-10)


def test_non_psd_edit_kernel_is_repaired_and_reported():
    """A Gram matrix with negative eigenvalues is repaired, reported, and every observation is kept."""
    pop = Population.random(CHAIN, 60, 1)
    k = EditDistanceKernel(3.0, squared=True)
    assert np.linalg.eigvalsh(k(pop)).min() < -0.1  # the case is genuinely not PSD
    y = np.array([float(len(g)) for g in pop])
    gp = GaussianProcess(k, noise=1e-6, fit_noise=False, optimize=False).fit(pop, y)
    d = gp.diagnostics
    assert d["repair"] == "clip"
    assert d["min_eigenvalue"] < -0.1 and d["clipped_eigenvalues"] > 0
    assert d["n_observations"] == 60
    m, s = gp.predict(Population.random(CHAIN, 5, 2), return_std=True)
    assert np.all(np.isfinite(m)) and np.all(s >= 0)


def test_small_defects_are_repaired_by_jitter():
    """A matrix that fails Cholesky only by rounding is repaired with the smallest sufficient jitter."""
    x = np.repeat(np.random.default_rng(0).normal(size=(10, 2)), 2, axis=0)  # duplicated points: singular K
    gp = GaussianProcess(RBFKernel(1.0), noise=1e-300, noise_bounds=(1e-300, 1.0), fit_noise=False,
                         optimize=False).fit(x, np.arange(20.0))
    assert gp.diagnostics["repair"] == "jitter"
    assert 0 < gp.diagnostics["jitter"] <= 1e-4
    assert gp.diagnostics["n_observations"] == 20


def test_fitting_on_an_edit_kernel_with_repair_stays_finite():
    """Hyper-parameter fitting over a non-PSD edit-distance kernel ends with finite values and a report."""
    pop = Population.random(CHAIN, 50, 5)
    y = np.array([sum(g.at(i, 1) for i in range(len(g))) for g in pop], dtype=float)
    gp = GaussianProcess(2.0 * EditDistanceKernel(1.0, squared=True), n_restarts=1, seed=0).fit(pop, y)
    assert np.all(np.isfinite(gp.kernel.theta))
    assert math.isfinite(gp.diagnostics["log_marginal_likelihood"])
    assert "repair" in gp.diagnostics


def test_bad_gp_inputs_raise():
    """Non-finite outputs, mismatched sizes, bad settings and predicting before fitting raise clear errors."""
    x, y, _ = data()
    with pytest.raises(ValueError, match="noise"):
        GaussianProcess(RBFKernel(1.0), noise=0.0)
    with pytest.raises(ValueError, match="kernel"):
        GaussianProcess("rbf")
    with pytest.raises(ValueError, match="n_restarts"):
        GaussianProcess(RBFKernel(1.0), n_restarts=-1)
    gp = GaussianProcess(RBFKernel(1.0))
    with pytest.raises(RuntimeError, match="not fitted"):
        gp.predict(x)
    with pytest.raises(ValueError, match="output 3"):
        gp.fit(x, np.where(np.arange(len(y)) == 3, np.nan, y))
    with pytest.raises(ValueError, match="inputs but"):
        gp.fit(x, y[:-1])
    with pytest.raises(ValueError, match="2-D"):
        gp.fit(np.zeros(5), np.zeros(5))
    gp.fit(x, y)
    with pytest.raises(ValueError, match="shape"):
        gp.predict(cross=np.zeros((3, 4)))
    with pytest.raises(IndexError, match="row 99"):
        GaussianProcess(RBFKernel(1.0)).fit(None, y[:2], cache=RBFKernel(1.0).distances(x), rows=[0, 99])


# ---------------------------------------------------------------- acquisitions


def test_expected_improvement_equals_its_integral():
    """EI equals the numerical integral of max(f - best - xi, 0) under the Gaussian, and max(mu - best, 0) at std 0."""
    mean, std = np.array([0.3, -1.0, 2.0, 0.0]), np.array([0.5, 2.0, 0.1, 0.0])
    ei = expected_improvement(mean, std, best=0.5, xi=0.1)
    for m, s, e in zip(mean[:3], std[:3], ei[:3]):
        ref, _ = integrate.quad(lambda f, m=m, s=s: max(f - 0.6, 0.0) * norm.pdf(f, m, s), m - 12 * s, m + 12 * s,
                                points=[0.6], limit=200)
        assert e == pytest.approx(ref, rel=1e-7, abs=1e-10)
    assert ei[3] == 0.0
    assert expected_improvement([2.0], [0.0], best=0.5)[0] == 1.5


def test_log_expected_improvement_is_the_log_and_orders_where_ei_underflows():
    """log EI equals log(EI) where EI is representable, stays finite and increasing where EI underflows to 0."""
    mean = np.linspace(-80.0, 4.0, 4001)
    std = np.full_like(mean, 1.3)
    ei = expected_improvement(mean, std, best=0.5, xi=0.1)
    log_ei = log_expected_improvement(mean, std, best=0.5, xi=0.1)
    ok = ei > 1e-250
    np.testing.assert_allclose(log_ei[ok], np.log(ei[ok]), rtol=1e-9, atol=1e-12)
    assert (ei == 0).sum() > 100 and np.all(np.isfinite(log_ei)) and np.all(np.diff(log_ei) > 0)
    assert np.array_equal(log_expected_improvement([2.0, 0.5, 0.0], [0.0, 0.0, 0.0], best=0.5),
                          [np.log(1.5), -np.inf, -np.inf])


def test_pi_and_ucb():
    """PI is the normal CDF of the standardised improvement; UCB is mean + kappa std."""
    p = probability_of_improvement([1.0, 0.0], [2.0, 0.0], best=0.0, xi=0.5)
    assert p[0] == pytest.approx(norm.cdf(0.25)) and p[1] == 0.0
    np.testing.assert_allclose(upper_confidence_bound([1.0, 2.0], [0.5, 0.0], kappa=3.0), [2.5, 2.0])
    with pytest.raises(ValueError, match="kappa"):
        upper_confidence_bound([1.0], [1.0], kappa=-1.0)
    with pytest.raises(ValueError, match="std"):
        expected_improvement([1.0], [-1.0], best=0.0)


def test_thompson_samples_have_the_posterior_moments():
    """Seeded joint draws reproduce, and their mean and covariance approach the posterior's."""
    mean = np.array([0.0, 1.0, -1.0])
    cov = np.array([[1.0, 0.8, 0.0], [0.8, 1.0, 0.0], [0.0, 0.0, 0.25]])
    a = thompson_sample(mean, cov, np.random.default_rng(0))
    assert np.array_equal(a, thompson_sample(mean, cov, np.random.default_rng(0)))
    rng = np.random.default_rng(1)
    draws = np.array([thompson_sample(mean, cov, rng) for _ in range(4000)])
    np.testing.assert_allclose(draws.mean(axis=0), mean, atol=0.06)
    np.testing.assert_allclose(np.cov(draws.T), cov, atol=0.08)


def test_local_penalties_shrink_near_pending_points():
    """Penalties lie in [0, 1], equal 1 without pending points, and are smallest at the pending point itself."""
    k = np.array([[1.0], [0.9], [0.1]])
    pen = local_penalties(k, 1.0, np.array([1.0, 0.9, 0.2]), np.array([1.0]), np.array([0.2]), best=1.2)
    assert np.all((0 <= pen) & (pen <= 1))
    assert pen[0] < pen[1] < pen[2]
    assert np.array_equal(local_penalties(np.zeros((3, 0)), 1.0, np.zeros(3), np.zeros(0), np.zeros(0), 0.0),
                          np.ones(3))


# ---------------------------------------------------------------- candidate sets


def test_mutation_pool_is_seeded_distinct_and_excludes():
    """The pool is the same for a seed, has no duplicates, and leaves out excluded genomes."""
    inc = list(Population.random(CHAIN, 5, 0))
    a = mutation_pool(CHAIN, inc, 2000, seed=3)
    assert a.texts() == mutation_pool(CHAIN, inc, 2000, seed=3).texts()
    assert len(set(a.texts())) == len(a) <= 2000
    ex = a.hashes()[:100]
    b = mutation_pool(CHAIN, inc, 2000, seed=3, exclude=ex)
    assert not set(b.texts()) & set(a.texts()[:100])
    assert len(mutation_pool(CHAIN, [], 300, seed=1)) <= 300
    with pytest.raises(ValueError, match="random_fraction"):
        mutation_pool(CHAIN, inc, 10, seed=0, random_fraction=2.0)


def test_whole_space_enumerates_small_spaces_only():
    """A small space comes back whole and in enumeration order; a large one gives None."""
    small = SpaceSpec([Field("op", 5)], 3, 3)
    pop = whole_space(small, 1000)
    assert pop is not None and len(pop) == 125 and len(set(pop.texts())) == 125
    assert whole_space(CHAIN, 1000) is None


def test_candidate_pool_kept_equals_recomputed_and_follows_the_incumbents():
    """A kept pool gives the pool and cross Gram matrix of a fresh one, step after step; blocks follow the incumbents."""
    k = 2.0 * EditDistanceKernel(1.5) + WLKernel(2)
    obs = Population.random(CHAIN, 60, 7)
    kept = CandidatePool(k, CHAIN, 400, 3, 0.25, seed=5, random_refresh=2)
    fresh = CandidatePool(k, CHAIN, 400, 3, 0.25, seed=5, random_refresh=2, cached=False)
    for step, (n, inc) in enumerate([(20, [0, 1, 2]), (21, [0, 1, 2]), (25, [3, 1, 0]), (40, [3, 1, 0]),
                                     (41, [4, 3, 1])]):
        data = KernelData(obs.subset(np.arange(n)))
        incumbents = [obs[i] for i in inc]
        a, ka, xa = kept.candidates(incumbents, data, step)
        b, kb, xb = fresh.candidates(incumbents, data, step)
        assert a.texts() == b.texts() and np.array_equal(ka, kb) and np.array_equal(xa, xb)
        np.testing.assert_allclose(ka, k(a, obs.subset(np.arange(n))), rtol=0, atol=1e-12)
        assert ka.shape == (len(a), n) and len(a) <= 400
        assert set(kept._blocks) == {"g:" + obs[i].to_text() for i in inc} | {f"random:{step // 2}"}
    # exactly the repeats of earlier candidates and the observed genomes are masked
    hashes = a.hashes()
    first = np.zeros(len(a), bool)
    first[np.unique(hashes, return_index=True)[1]] = True
    assert np.array_equal(xa, ~first | np.isin(hashes, obs.subset(np.arange(41)).hashes()))
    assert 0 < xa.sum() < len(a)
    with pytest.raises(ValueError, match="random_fraction"):
        CandidatePool(k, CHAIN, 10, 2, 1.5, seed=0)
