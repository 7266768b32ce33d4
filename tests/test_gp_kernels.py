"""The C++ kernel algebra: scikit-learn equality, genome kernels against brute force, caches, PSD, errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.gaussian_process import kernels as skk

from nasaccel._core import Field, Genome, Population, SpaceSpec, histogram_features, wl_features
from nasaccel.gp import (
    ConstantKernel,
    DistanceCache,
    EditDistanceKernel,
    HammingKernel,
    HistogramKernel,
    KernelData,
    MaternKernel,
    ProductKernel,
    RBFKernel,
    SumKernel,
    WLKernel,
)

CHAIN = SpaceSpec([Field("op", 4), Field("width", 5, True)], 1, 7, 3)
FIXED = SpaceSpec([Field("op", 5)], 6, 6)
# NAS-Bench-201's cell: genes are the edges 1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2; op 0 is "none" (no edge).
CELL = FIXED.with_cell_graph(4, [(0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3)], zero=("op", 0))
NONE, SKIP, CONV1, CONV3, POOL = range(5)


def cell(*ops: int) -> Genome:
    return Genome([[o] for o in ops])


def pairs():
    """Our composite kernels beside scikit-learn's equivalents."""
    return [
        (RBFKernel(0.7), skk.RBF(0.7)),
        (MaternKernel(1.3), skk.Matern(1.3, nu=2.5)),
        (2.0 * RBFKernel(0.5), skk.ConstantKernel(2.0) * skk.RBF(0.5)),
        (RBFKernel(0.6) + MaternKernel(2.0), skk.RBF(0.6) + skk.Matern(2.0, nu=2.5)),
        (RBFKernel(0.6) * MaternKernel(0.9), skk.RBF(0.6) * skk.Matern(0.9, nu=2.5)),
        (3.0 * RBFKernel(1.1) + 0.5 * MaternKernel(0.4) * RBFKernel(2.5),
         skk.ConstantKernel(3.0) * skk.RBF(1.1) + skk.ConstantKernel(0.5) * skk.Matern(0.4, nu=2.5) * skk.RBF(2.5)),
    ]


@pytest.mark.parametrize("case", range(len(pairs())))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_numeric_kernels_equal_scikit_learn(case, seed):
    """RBF, Matern 5/2, their sums, products and scalings equal scikit-learn's to 1e-10, gradients included."""
    ours, theirs = pairs()[case]
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(25, 3)) * 2, rng.normal(size=(9, 3))
    np.testing.assert_allclose(ours(x), theirs(x), rtol=0, atol=1e-10)
    np.testing.assert_allclose(ours(x, y), theirs(x, y), rtol=0, atol=1e-10)
    k, g = ours(x, eval_gradient=True)
    k2, g2 = theirs(x, eval_gradient=True)
    np.testing.assert_allclose(k, k2, rtol=0, atol=1e-10)
    np.testing.assert_allclose(np.moveaxis(g, 0, -1), g2, rtol=0, atol=1e-10)
    np.testing.assert_allclose(ours.theta, theirs.theta, rtol=0, atol=1e-12)
    np.testing.assert_allclose(ours.bounds, theirs.bounds, rtol=0, atol=1e-12)
    np.testing.assert_allclose(ours.diag(x), theirs.diag(x), rtol=0, atol=1e-12)


def test_theta_names_and_setter_follow_scikit_learn():
    """theta is the flat log vector in operand order, with k1__/k2__ names; setting it changes the Gram matrix."""
    k = 2.0 * RBFKernel(0.5) + MaternKernel(1.0)
    assert k.hyperparameter_names == ["k1__k1__constant_value", "k1__k2__length_scale", "k2__length_scale"]
    assert isinstance(k, SumKernel) and isinstance(k.k1, ProductKernel)
    k.theta = np.log([3.0, 0.25, 2.0])
    sk = skk.ConstantKernel(3.0) * skk.RBF(0.25) + skk.Matern(2.0, nu=2.5)
    x = np.random.default_rng(3).normal(size=(10, 2))
    np.testing.assert_allclose(k(x), sk(x), rtol=0, atol=1e-10)


def chain_pop(n: int, seed: int) -> Population:
    return Population.random(CHAIN, n, seed)


def hamming_brute(a: Genome, b: Genome, scales) -> float:
    s = 0.0
    for g in range(len(a)):
        if a.gene(g) != b.gene(g) or a.skips[g] != b.skips[g]:
            s += 1.0 / scales[g]
    return float(np.exp(-s))


def test_edit_distance_kernels_transform_the_edit_distance():
    """exp(-d/l) and exp(-d^2/l^2) of Population.distance_matrix, self and cross."""
    a, b = chain_pop(30, 1), chain_pop(12, 2)
    d_aa, d_ab = a.distance_matrix(), a.distance_matrix(b)
    np.testing.assert_allclose(EditDistanceKernel(1.7)(a), np.exp(-d_aa / 1.7), rtol=0, atol=1e-14)
    np.testing.assert_allclose(EditDistanceKernel(1.7, squared=True)(a, b), np.exp(-(d_ab / 1.7) ** 2), rtol=0, atol=1e-14)


def test_hamming_kernel_matches_brute_force():
    """The isotropic and ARD Hamming kernels equal the per-position formula, with finite-difference gradients."""
    pop = Population.random(SpaceSpec([Field("op", 3), Field("w", 2)], 5, 5, 2), 20, 4)
    scales = [0.5, 1.0, 2.0, 0.7, 3.0]
    k = HammingKernel(scales)
    K, G = k(pop, eval_gradient=True)
    gs = list(pop)
    brute = np.array([[hamming_brute(x, y, scales) for y in gs] for x in gs])
    np.testing.assert_allclose(K, brute, rtol=0, atol=1e-14)
    np.testing.assert_allclose(HammingKernel(0.8)(pop), np.array([[hamming_brute(x, y, [0.8] * 5) for y in gs]
                                                                  for x in gs]), rtol=0, atol=1e-14)
    eps, t0 = 1e-6, k.theta.copy()
    for q in range(5):
        t = t0.copy()
        t[q] += eps
        k.theta = t
        Kp = k(pop)
        np.testing.assert_allclose((Kp - K) / eps, G[q], atol=1e-5)
    k.theta = t0


@pytest.mark.parametrize("kernel", [lambda: 2.0 * EditDistanceKernel(1.5), lambda: EditDistanceKernel(2.0, squared=True),
                                    lambda: WLKernel(3) * EditDistanceKernel(4.0) + 0.5 * WLKernel(1),
                                    lambda: 1.5 * WLKernel(2, length_scale=0.7) + WLKernel(1)])
def test_gradients_match_finite_differences(kernel):
    """dK/dtheta of genome kernels (and their compositions) matches finite differences in log space."""
    k = kernel()
    pop = chain_pop(15, 7)
    cache = k.distances(pop)
    K, G = k.gram(cache, eval_gradient=True)
    t0, eps = k.theta.copy(), 1e-6
    for q in range(len(t0)):
        t = t0.copy()
        t[q] += eps
        k.theta = t
        np.testing.assert_allclose((k.gram(cache) - K) / eps, G[q], atol=2e-5)
    k.theta = t0


@pytest.mark.parametrize("make", [lambda: EditDistanceKernel(2.0), lambda: WLKernel(2), lambda: HammingKernel(1.5),
                                  lambda: EditDistanceKernel(1.0) + WLKernel(2), lambda: WLKernel(2, length_scale=0.5),
                                  lambda: HistogramKernel(), lambda: EditDistanceKernel(1.0) + HistogramKernel()])
def test_genome_gram_matrices_are_symmetric_with_constant_diagonal(make):
    """Self Gram matrices of genome kernels are exactly symmetric, with diag_value on the diagonal."""
    k = make()
    pop = Population.random(FIXED, 40, 5) if "Hamming" in repr(k) else chain_pop(40, 5)
    K = k(pop)
    assert np.array_equal(K, K.T)
    np.testing.assert_allclose(np.diag(K), k.diag_value, rtol=0, atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31), n=st.integers(2, 40), iterations=st.integers(0, 4))
def test_wl_kernel_is_psd(seed, n, iterations):
    """The Weisfeiler-Lehman kernel's Gram matrix is positive semi-definite on random genome sets."""
    pop = chain_pop(n, seed)
    K = WLKernel(iterations)(pop)
    assert np.linalg.eigvalsh(K).min() > -1e-9


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31), n=st.integers(2, 60), iterations=st.integers(0, 3),
       length_scale=st.floats(0.05, 20.0))
def test_wl_rbf_kernel_is_the_rbf_of_the_normalised_features_and_psd(seed, n, iterations, length_scale):
    """With a length scale l the WL kernel is exp(-(1 - s) / l^2), s the normalised WL similarity: the RBF
    exp(-|u - v|^2 / (2 l^2)) of the unit-length feature vectors, positive semi-definite on random cell sets."""
    pop = Population.random(CELL, n, seed)
    s = WLKernel(iterations)(pop)
    K = WLKernel(iterations, length_scale=length_scale)(pop)
    np.testing.assert_allclose(K, np.exp(-np.maximum(1.0 - s, 0.0) / length_scale**2), rtol=1e-12, atol=0)
    labels = sorted({lab for g in pop for lab, _ in wl_features(CELL, g, iterations)})
    col = {lab: j for j, lab in enumerate(labels)}
    u = np.zeros((n, len(labels)))
    for i, g in enumerate(pop):
        for lab, c in wl_features(CELL, g, iterations):
            u[i, col[lab]] = c
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    np.testing.assert_allclose(K, skk.RBF(length_scale)(u), rtol=0, atol=1e-10)
    assert np.array_equal(K, K.T) and np.linalg.eigvalsh(K).min() > -1e-9


def histogram_brute(pop: Population) -> np.ndarray:
    """Cosine similarity of the counts of (field, value) over the genes and of skip offsets, built in numpy."""
    rows = []
    for g in pop:
        c: dict[tuple[int, int], float] = {}
        for i in range(len(g)):
            for f, v in enumerate(g.genes[i].tolist()):
                c[(f, v)] = c.get((f, v), 0.0) + 1.0
            for o in g.skip_offsets(i):
                c[(-1, int(o))] = c.get((-1, int(o)), 0.0) + 1.0
        rows.append(c)
    keys = sorted({k for r in rows for k in r})
    u = np.array([[r.get(k, 0.0) for k in keys] for r in rows])
    return (u / np.linalg.norm(u, axis=1, keepdims=True)) @ (u / np.linalg.norm(u, axis=1, keepdims=True)).T


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31), n=st.integers(2, 50))
def test_histogram_kernel_is_the_cosine_of_gene_value_counts_and_psd(seed, n):
    """The histogram kernel equals a numpy cosine similarity of per-field value counts and skip-offset counts
    (positions ignored) on random chain genomes; its Gram matrix is PSD with a unit diagonal."""
    pop = chain_pop(n, seed)
    K = HistogramKernel()(pop)
    np.testing.assert_allclose(K, histogram_brute(pop), rtol=0, atol=1e-12)
    assert np.array_equal(K, K.T) and np.linalg.eigvalsh(K).min() > -1e-9
    np.testing.assert_allclose(np.diag(K), 1.0, rtol=0, atol=1e-12)
    g = pop[0]
    assert sum(c for _, c in histogram_features(CHAIN, g)) == len(g) * 2 + sum(len(g.skip_offsets(i))
                                                                                 for i in range(len(g)))


def test_histogram_kernel_ignores_positions_and_handles_empty_genomes():
    """Permuted genes score 1 (the edit distance charges for them); a genome without genes is similar only to
    another empty one (a unit vector of its own), which keeps the matrix PSD without dividing by zero."""
    pop = Population(CELL, [cell(CONV3, CONV3, SKIP, NONE, POOL, CONV1), cell(CONV1, POOL, NONE, SKIP, CONV3, CONV3),
                            cell(CONV3, CONV3, CONV3, CONV3, CONV3, CONV3)])
    K = HistogramKernel()(pop)
    assert K[0, 1] == pytest.approx(1.0) and EditDistanceKernel(1.0)(pop)[0, 1] < 0.01
    assert K[0, 2] == pytest.approx(2 * 6 / (np.sqrt(8) * 6))  # counts (2 conv3, 1 of each other op) against 6 conv3
    spec = SpaceSpec([Field("op", 3)], 0, 3)
    K = HistogramKernel()(Population(spec, [Genome([]), Genome([]), Genome([[1]]), Genome([[1], [2]])]))
    np.testing.assert_allclose(K, [[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 2**-0.5], [0, 0, 2**-0.5, 1]], atol=1e-15)
    assert HistogramKernel().n_params == 0 and repr(HistogramKernel()) == "HistogramKernel()"


def test_wl_length_scale_is_a_hyper_parameter():
    """The plain WL kernel has no hyper-parameter; with a length scale it has one, named, bounded, in log space."""
    assert WLKernel(2).length_scale is None and len(WLKernel(2).theta) == 0
    k = WLKernel(2, length_scale=0.5, length_scale_bounds=(0.01, 10.0))
    assert k.length_scale == 0.5 and k.theta == pytest.approx([np.log(0.5)])
    assert k.hyperparameter_names == ["length_scale"] and k.n_params == 1
    np.testing.assert_allclose(k.bounds, np.log([[0.01, 10.0]]))
    k.theta = [np.log(2.0)]
    assert k.length_scale == pytest.approx(2.0) and "length_scale=2" in repr(k)


def test_wl_kernel_sees_graph_structure():
    """Equal genomes score 1; a changed skip (an edge) lowers the WL similarity, not only a changed label."""
    a = Genome([[0, 1], [1, 2], [2, 3]], [0, 0, 0])
    b = Genome([[0, 1], [1, 2], [2, 3]], [0, 0, 1])
    pop = Population(CHAIN, [a, a, b])
    K = WLKernel(2)(pop)
    assert K[0, 1] == pytest.approx(1.0)
    assert K[0, 2] < 1.0
    assert WLKernel(0)(pop)[0, 2] == pytest.approx(1.0)  # no iteration: only node labels


def test_wl_features_of_a_cell_by_hand():
    """A cell's graph has the input, the output and its operations on input-output paths as nodes: counts by hand."""
    # conv3 on 1<-0, 3<-1 and 3<-0: IN -> a -> b -> OUT and IN -> c -> OUT, all three labelled conv3.
    g = cell(CONV3, NONE, NONE, CONV3, CONV3, NONE)
    f0, f1 = wl_features(CELL, g, 0), wl_features(CELL, g, 1)
    assert sorted(c for _, c in f0) == [1.0, 1.0, 3.0]  # IN, OUT, conv3 x 3
    # iteration 1 tells every node apart: IN, OUT, a (IN -> a -> conv3), b (conv3 -> b -> OUT), c (IN -> c -> OUT)
    assert len(f1) == 3 + 5 and sum(c for _, c in f1) == 10.0
    # against IN -> skip -> OUT, the same input and output labels only at iteration 0
    h = cell(NONE, NONE, NONE, SKIP, NONE, NONE)
    pop = Population(CELL, [g, h])
    assert WLKernel(0)(pop)[0, 1] == pytest.approx(2.0 / np.sqrt(11.0 * 3.0), rel=1e-14)
    assert WLKernel(1)(pop)[0, 1] == pytest.approx(2.0 / np.sqrt(16.0 * 6.0), rel=1e-14)


def test_wl_cell_features_ignore_dead_operations_and_node_order():
    """Cells that compute the same function get identical features: dead operations and node swaps change nothing."""
    # 2<-1 is none, so nodes 1 and 2 are interchangeable: swap their in- and out-edges.
    a = cell(CONV3, CONV1, NONE, SKIP, POOL, CONV3)
    b = cell(CONV1, CONV3, NONE, SKIP, CONV3, POOL)
    assert wl_features(CELL, a, 3) == wl_features(CELL, b, 3)
    # node 2 feeds nothing (3<-2 is none): the ops into it are dead, whatever they are.
    c = cell(CONV3, NONE, NONE, SKIP, POOL, NONE)
    d = cell(CONV3, CONV1, POOL, SKIP, POOL, NONE)
    assert wl_features(CELL, c, 2) == wl_features(CELL, d, 2)
    # read as a chain, the same genomes differ
    assert wl_features(FIXED, c, 2) != wl_features(FIXED, d, 2)
    K = WLKernel(2)(Population(CELL, [a, b, c, d, cell(CONV3, CONV3, CONV3, SKIP, CONV3, CONV3)]))
    assert K[0, 1] == pytest.approx(1.0) and K[2, 3] == pytest.approx(1.0) and K[0, 4] < 1.0


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31), n=st.integers(2, 60), iterations=st.integers(0, 3))
def test_wl_kernel_on_cells_is_psd(seed, n, iterations):
    """The Weisfeiler-Lehman kernel on cell graphs is positive semi-definite on random cell sets."""
    K = WLKernel(iterations)(Population.random(CELL, n, seed))
    assert np.array_equal(K, K.T) and np.linalg.eigvalsh(K).min() > -1e-9


def test_cache_extension_equals_fresh_computation():
    """Extending a self cache, or a cross cache by rows or columns, gives the matrices computed from scratch."""
    k = EditDistanceKernel(2.0) + WLKernel(2)
    a, b, c = chain_pop(20, 1), chain_pop(7, 2), chain_pop(5, 3)
    grown = k.distances(a)
    grown.extend(b)
    ab = Population(CHAIN, list(a) + list(b))
    np.testing.assert_array_equal(k.gram(grown), k(ab))
    cross = k.distances(a, b)
    cross.extend_columns(c)
    np.testing.assert_array_equal(k.gram(cross), k(a, Population(CHAIN, list(b) + list(c))))
    cross.extend_rows(c)
    np.testing.assert_array_equal(k.gram(cross), k(Population(CHAIN, list(a) + list(c)),
                                                   Population(CHAIN, list(b) + list(c))))
    assert cross.shape == (25, 12) and not cross.symmetric


def test_cache_serves_any_theta_and_mixed_inputs():
    """One cache of genomes plus features serves edit and RBF kernels together for any hyper-parameters."""
    pop = chain_pop(12, 9)
    feats = np.random.default_rng(0).normal(size=(12, 4))
    data = KernelData(pop, feats)
    k = EditDistanceKernel(1.0) * RBFKernel(1.0)
    cache = DistanceCache(k, data)
    assert sorted(cache.metrics) == ["edit", "sqeuclidean"]
    k.theta = np.log([2.0, 0.5])
    expected = np.exp(-pop.distance_matrix() / 2.0) * skk.RBF(0.5)(feats)
    np.testing.assert_allclose(k.gram(cache), expected, rtol=0, atol=1e-12)


def test_threads_do_not_change_results():
    """Gram matrices are identical with one thread and with several."""
    k = 1.5 * EditDistanceKernel(2.0) + WLKernel(2)
    pop = chain_pop(200, 11)
    assert np.array_equal(k(pop, threads=1), k(pop, threads=3))


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: EditDistanceKernel(-1.0), "length_scale"),
        (lambda: EditDistanceKernel(1.0, length_scale_bounds=(2.0, 1.0)), "bounds"),
        (lambda: RBFKernel(float("nan")), "length_scale"),
        (lambda: HammingKernel([]), "at least one"),
        (lambda: WLKernel(-1), "iterations"),
        (lambda: WLKernel(2, length_scale=0.0), "length_scale"),
        (lambda: WLKernel(2, length_scale="1"), "length_scale"),
        (lambda: WLKernel(2, length_scale=1.0, length_scale_bounds=(1.0, 0.5)), "bounds"),
        (lambda: ConstantKernel(0.0), "constant_value"),
    ],
)
def test_bad_kernel_parameters_raise(make, match):
    """Bad hyper-parameters and bounds raise ValueError naming them."""
    with pytest.raises(ValueError, match=match):
        make()


def test_bad_kernel_inputs_raise():
    """Wrong theta, missing metrics, mismatched genomes or features raise clear errors."""
    k = 2.0 * RBFKernel(1.0)
    with pytest.raises(ValueError, match="theta has 1 values"):
        k.theta = [0.0]
    with pytest.raises(ValueError, match="not finite"):
        k.theta = [0.0, float("inf")]
    pop = chain_pop(5, 0)
    with pytest.raises(ValueError, match="no 'wl2' matrix"):
        WLKernel(2).gram(EditDistanceKernel(1.0).distances(pop))
    with pytest.raises(ValueError, match="one length"):
        HammingKernel(1.0)(pop if len({len(g) for g in pop}) > 1 else chain_pop(30, 1))
    with pytest.raises(ValueError, match="numeric features"):
        RBFKernel(1.0)(pop)
    with pytest.raises(ValueError, match="no genomes"):
        EditDistanceKernel(1.0)(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="do not match"):
        RBFKernel(1.0)(np.zeros((3, 2)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="not finite"):
        RBFKernel(1.0)(np.array([[0.0, np.nan]]))
    with pytest.raises(ValueError, match="length scales"):
        HammingKernel([1.0, 1.0])(Population.random(FIXED, 4, 0))
    with pytest.raises(ValueError, match="extend"):
        EditDistanceKernel(1.0).distances(pop, pop).extend(pop)
