"""Gaussian-process regression on the C++ kernel algebra, with explicit repair of non-PSD Gram matrices."""

from __future__ import annotations

import contextlib
import math
from typing import Any

import numpy as np

from .._core import DistanceCache, Kernel, KernelData, Population

__all__ = ["GaussianProcess", "as_kernel_data", "blas_threads"]

_LOG_2PI = math.log(2.0 * math.pi)


_CONTROLLER: Any = None


def blas_threads(n: int | None):
    """A context limiting BLAS to one thread for small matrices (``n`` < 512): spawning BLAS threads costs
    far more than the work there, and dozens of times more on a loaded machine. Needs ``threadpoolctl``
    (a scikit-learn dependency); without it, nothing is limited. The loaded BLAS libraries are looked up
    once: each lookup reads the process's memory map, which costs more than a small GP step."""
    global _CONTROLLER
    if n is not None and n >= 512:
        return contextlib.nullcontext()
    if _CONTROLLER is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
            return contextlib.nullcontext()
        import scipy.linalg  # noqa: F401  (scipy may bring its own BLAS: load it before the lookup)

        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER.limit(limits=1, user_api="blas")


def as_kernel_data(x: Any) -> KernelData:
    """``x`` as ``KernelData``: a ``KernelData``, a ``Population`` or a 2-D array of numbers."""
    if isinstance(x, KernelData):
        return x
    if isinstance(x, Population):
        return KernelData(x)
    arr = np.asarray(x, dtype=float)
    if arr.ndim != 2:
        raise ValueError(f"GP inputs must be a Population, a KernelData or a 2-D array, got an array of shape {arr.shape}")
    return KernelData(features=arr)


class GaussianProcess:
    """GP regression with observation noise, output normalisation and marginal-likelihood hyper-parameters.

    The kernel's hyper-parameters (``kernel.theta``, log space) and, when ``fit_noise``, the log noise
    variance are fitted by multi-start L-BFGS-B on the log marginal likelihood, with analytic gradients.
    The training inputs' base distances are computed once (a ``DistanceCache``) and reused by every
    evaluation of the likelihood and by ``add``.

    Gram matrices of kernels that are not positive semi-definite (edit-distance kernels) are repaired:
    first by escalating jitter on the diagonal (up to ``max_jitter`` times the mean prior variance),
    then, if Cholesky still fails, by clipping the negative eigenvalues to zero. Every repair is recorded
    in ``diagnostics``; no observation is ever dropped.

    Parameters
    ----------
    kernel
        A ``nasaccel.gp`` kernel (it is modified in place when fitting).
    noise
        Observation noise variance, in normalised output units when ``normalize_y`` (as scikit-learn's ``alpha``).
    noise_bounds
        Bounds of the noise variance when it is fitted.
    fit_noise
        Fit the noise variance together with the kernel's hyper-parameters.
    normalize_y
        Standardise the outputs (mean 0, standard deviation 1) before fitting.
    optimize
        Fit hyper-parameters in ``fit``; otherwise keep the kernel's current ones.
    n_restarts
        Extra L-BFGS starts drawn log-uniformly within the bounds, besides the current values.
    max_iter
        L-BFGS iterations per start.
    seed
        Seeds the restarts' starting points.
    threads
        Threads of the C++ distance and Gram computations (0: all).
    """

    def __init__(
        self,
        kernel: Kernel,
        noise: float = 1e-4,
        noise_bounds: tuple[float, float] = (1e-6, 1.0),
        fit_noise: bool = True,
        normalize_y: bool = True,
        optimize: bool = True,
        n_restarts: int = 2,
        max_iter: int = 50,
        max_jitter: float = 1e-4,
        seed: int = 0,
        threads: int = 0,
    ) -> None:
        if not isinstance(kernel, Kernel):
            raise ValueError(f"kernel must be a nasaccel.gp kernel, got {kernel!r}")
        if not (math.isfinite(noise) and noise > 0):
            raise ValueError(f"noise must be a positive finite variance, got {noise!r}")
        lo, hi = noise_bounds
        if not (0 < lo <= hi and math.isfinite(hi)):
            raise ValueError(f"noise_bounds must be (low, high) with 0 < low <= high < inf, got {noise_bounds!r}")
        if n_restarts < 0:
            raise ValueError(f"n_restarts must be >= 0, got {n_restarts}")
        if max_iter < 1:
            raise ValueError(f"max_iter must be >= 1, got {max_iter}")
        if not (0 <= max_jitter < 1):
            raise ValueError(f"max_jitter must be in [0, 1), got {max_jitter}")
        self.kernel = kernel
        self.noise = float(noise)
        self.noise_bounds = (float(lo), float(hi))
        self.fit_noise = bool(fit_noise)
        self.normalize_y = bool(normalize_y)
        self.optimize = bool(optimize)
        self.n_restarts = int(n_restarts)
        self.max_iter = int(max_iter)
        self.max_jitter = float(max_jitter)
        self.seed = int(seed)
        self.threads = int(threads)
        self.cache: DistanceCache | None = None
        self.diagnostics: dict[str, Any] = {}
        self._y_raw = np.zeros(0)
        self._rows: np.ndarray | None = None

    # ---------------------------------------------------------------- fitting

    def fit(
        self,
        x: Any,
        y: Any,
        cache: DistanceCache | None = None,
        optimize: bool | None = None,
        rows: Any = None,
    ) -> GaussianProcess:
        """Fit to inputs ``x`` (``Population``, ``KernelData`` or (n, d) array) and outputs ``y``.

        ``cache`` may be a self ``DistanceCache`` of ``x`` built for this kernel; it is then reused (``x``
        may be None). ``rows`` selects the cache's rows that ``y`` belongs to (default: all, in order), so
        a growing cache can serve fits on any subset of its points.
        """
        y = self._check_y(y)
        if cache is None:
            if x is None:
                raise ValueError("fit needs x or a cache")
            cache = DistanceCache(self.kernel, as_kernel_data(x), threads=self.threads)
        elif not cache.symmetric:
            raise ValueError("the training cache must be a self cache (built without y)")
        if rows is not None:
            rows = np.asarray(rows, dtype=np.int64)
            if rows.ndim != 1 or len(rows) != len(y):
                raise ValueError(f"rows must list one cache row per output ({len(y)}), got shape {rows.shape}")
            bad = np.flatnonzero((rows < 0) | (rows >= cache.rows))
            if len(bad):
                raise IndexError(f"row {int(rows[bad[0]])} is out of range for a cache of {cache.rows} points")
            if len(np.unique(rows)) != len(rows):
                raise ValueError("rows must not repeat a cache row")
        elif cache.rows != len(y):
            raise ValueError(f"{cache.rows} training inputs but {len(y)} outputs")
        self.cache = cache
        self._rows = rows
        self._y_raw = y
        self._refit(self.optimize if optimize is None else optimize)
        return self

    def add(self, x: Any, y: Any, optimize: bool = False) -> GaussianProcess:
        """Append observations: only the new rows and columns of the distances are computed."""
        if self.cache is None:
            return self.fit(x, y, optimize=optimize)
        y = self._check_y(y)
        data = as_kernel_data(x)
        if len(data) != len(y):
            raise ValueError(f"{len(data)} new inputs but {len(y)} outputs")
        if self._rows is not None:
            raise ValueError("add() needs a GP fitted on all of its cache's rows")
        self.cache.extend(data, threads=self.threads)
        self._y_raw = np.concatenate([self._y_raw, y])
        self._refit(optimize)
        return self

    @staticmethod
    def _check_y(y: Any) -> np.ndarray:
        y = np.asarray(y, dtype=float)
        if y.ndim != 1:
            raise ValueError(f"outputs must be one-dimensional, got shape {y.shape}")
        if len(y) == 0:
            raise ValueError("a GP needs at least one observation")
        bad = np.flatnonzero(~np.isfinite(y))
        if len(bad):
            raise ValueError(f"output {int(bad[0])} is {y[bad[0]]!r}: outputs must be finite")
        return y

    def _refit(self, optimize: bool) -> None:
        with blas_threads(len(self._y_raw)):
            self._refit_locked(optimize)

    def _refit_locked(self, optimize: bool) -> None:
        y = self._y_raw
        if self.normalize_y:
            self._y_mean = float(np.mean(y))
            std = float(np.std(y))
            self._y_std = std if std > 0 else 1.0
        else:
            self._y_mean, self._y_std = 0.0, 1.0
        self._y = (y - self._y_mean) / self._y_std
        if optimize and (self.kernel.n_params > 0 or self.fit_noise):
            self._optimize()
        K = self._gram()
        self._factor, self.diagnostics = self._factorize(K, self.noise)
        self._alpha = self._solve(self._factor, self._y)
        self.diagnostics["n_observations"] = len(self._y)
        self.diagnostics["log_marginal_likelihood"] = self._lml_from(self._factor, self._alpha, self._y)

    def _gram(self, eval_gradient: bool = False) -> Any:
        out = self.kernel.gram(self.cache, eval_gradient=eval_gradient, threads=self.threads)
        if self._rows is None:
            return out
        r = self._rows
        if eval_gradient:
            K, dK = out
            return K[np.ix_(r, r)], dK[:, r][:, :, r]
        return out[np.ix_(r, r)]

    def _params(self) -> np.ndarray:
        t = np.asarray(self.kernel.theta, dtype=float)
        return np.append(t, math.log(self.noise)) if self.fit_noise else t

    def _set_params(self, p: np.ndarray) -> None:
        k = self.kernel.n_params
        self.kernel.theta = p[:k]
        if self.fit_noise:
            self.noise = float(math.exp(p[k]))

    def _bounds(self) -> np.ndarray:
        b = np.asarray(self.kernel.bounds, dtype=float).reshape(-1, 2)
        if self.fit_noise:
            b = np.vstack([b, np.log(self.noise_bounds)])
        return b

    def _optimize(self) -> None:
        import scipy.optimize

        bounds = self._bounds()
        rng = np.random.default_rng(self.seed)
        starts = [np.clip(self._params(), bounds[:, 0], bounds[:, 1])]
        for _ in range(self.n_restarts):
            starts.append(rng.uniform(bounds[:, 0], bounds[:, 1]))
        best_p, best_v = starts[0], math.inf
        for p0 in starts:
            try:
                res = scipy.optimize.minimize(self._neg_lml, p0, jac=True, method="L-BFGS-B", bounds=bounds,
                                              options={"maxiter": self.max_iter})
            except np.linalg.LinAlgError:
                continue
            if np.isfinite(res.fun) and res.fun < best_v:
                best_p, best_v = res.x, float(res.fun)
        self._set_params(np.asarray(best_p, dtype=float))

    def _neg_lml(self, p: np.ndarray) -> tuple[float, np.ndarray]:
        self._set_params(p)
        v, g = self._lml_and_gradient()
        if not np.isfinite(v):
            return 1e25, np.zeros_like(p)
        return -v, -g

    def _lml_and_gradient(self) -> tuple[float, np.ndarray]:
        K, dK = self._gram(eval_gradient=True)
        factor, _ = self._factorize(K, self.noise)
        alpha = self._solve(factor, self._y)
        lml = self._lml_from(factor, alpha, self._y)
        # d lml / d theta_q = 0.5 tr((alpha alpha^T - K^-1) dK_q); for a repaired K the repair is held fixed.
        kinv = self._solve(factor, np.eye(len(self._y)))
        inner = np.outer(alpha, alpha) - kinv
        grad = 0.5 * np.einsum("ij,qji->q", inner, dK) if dK.shape[0] else np.zeros(0)
        if self.fit_noise:
            grad = np.append(grad, 0.5 * self.noise * np.trace(inner))
        return lml, grad

    # ---------------------------------------------------------------- linear algebra

    def _factorize(self, K: np.ndarray, noise: float) -> tuple[tuple[np.ndarray, bool], dict[str, Any]]:
        """Cholesky factor of K + noise I, repaired when K is not PSD enough to factor."""
        import scipy.linalg

        n = K.shape[0]
        diag = {"repair": None, "jitter": 0.0, "min_eigenvalue": None, "clipped_eigenvalues": 0}
        A = K + noise * np.eye(n)
        try:
            return (scipy.linalg.cholesky(A, lower=True, check_finite=False), True), diag
        except np.linalg.LinAlgError:
            pass
        scale = max(float(np.mean(np.diag(K))), 1e-300)
        jitter = 1e-10 * scale
        while jitter <= self.max_jitter * scale:
            try:
                L = scipy.linalg.cholesky(A + jitter * np.eye(n), lower=True, check_finite=False)
                diag.update(repair="jitter", jitter=jitter)
                return (L, True), diag
            except np.linalg.LinAlgError:
                jitter *= 10.0
        # Eigenvalue clipping: the nearest PSD matrix in Frobenius norm.
        w, V = np.linalg.eigh(0.5 * (K + K.T))
        neg = w < 0
        diag.update(repair="clip", min_eigenvalue=float(w.min()), clipped_eigenvalues=int(neg.sum()))
        Kc = (V * np.maximum(w, 0.0)) @ V.T + noise * np.eye(n)
        extra = 0.0
        while True:
            try:
                L = scipy.linalg.cholesky(Kc + extra * np.eye(n), lower=True, check_finite=False)
                diag["jitter"] = extra
                return (L, True), diag
            except np.linalg.LinAlgError:
                extra = max(extra * 10.0, 1e-12 * scale)
                if extra > scale:
                    raise

    @staticmethod
    def _solve(factor: tuple[np.ndarray, bool], b: np.ndarray) -> np.ndarray:
        import scipy.linalg

        return scipy.linalg.cho_solve(factor, b, check_finite=False)

    @staticmethod
    def _lml_from(factor: tuple[np.ndarray, bool], alpha: np.ndarray, y: np.ndarray) -> float:
        L = factor[0]
        return float(-0.5 * y @ alpha - np.log(np.diag(L)).sum() - 0.5 * len(y) * _LOG_2PI)

    def log_marginal_likelihood(self, theta: Any = None, eval_gradient: bool = False) -> Any:
        """Log marginal likelihood of the normalised outputs at ``theta`` (kernel theta, then log noise when fitted)."""
        self._require_fit()
        with blas_threads(len(self._y)):
            if theta is None:
                v, g = self._lml_and_gradient()
            else:
                saved = self._params()
                try:
                    self._set_params(np.asarray(theta, dtype=float))
                    v, g = self._lml_and_gradient()
                finally:
                    self._set_params(saved)
        return (v, g) if eval_gradient else v

    # ---------------------------------------------------------------- prediction

    def _require_fit(self) -> None:
        if self.cache is None:
            raise RuntimeError("the GP is not fitted: call fit() first")

    def cross_cache(self, x: Any) -> DistanceCache:
        """Distances from ``x`` (rows) to the training inputs (columns), for ``predict(cross=...)``."""
        self._require_fit()
        if self._rows is not None:
            raise ValueError("the GP was fitted on a subset of its cache's rows: build the cross Gram matrix instead")
        return DistanceCache(self.kernel, as_kernel_data(x), self.cache.x, threads=self.threads)

    def predict(
        self,
        x: Any = None,
        return_std: bool = False,
        return_cov: bool = False,
        cross: DistanceCache | np.ndarray | None = None,
    ) -> Any:
        """Posterior mean (and standard deviation or covariance) at ``x``, in the original output units.

        Instead of ``x``, ``cross`` may give a cross ``DistanceCache`` (rows: test points, columns: the
        training inputs in order) or the cross Gram matrix itself.
        """
        self._require_fit()
        if cross is None:
            if x is None:
                raise ValueError("predict needs x or cross")
            cross = self.cross_cache(x)
        Ks = cross if isinstance(cross, np.ndarray) else self.kernel.gram(cross, threads=self.threads)
        if Ks.ndim != 2 or Ks.shape[1] != len(self._y):
            raise ValueError(f"cross Gram matrix has shape {Ks.shape}, expected (m, {len(self._y)})")
        with blas_threads(len(self._y)):
            return self._predict(cross, Ks, x, return_std, return_cov)

    def _predict(self, cross: Any, Ks: np.ndarray, x: Any, return_std: bool, return_cov: bool) -> Any:
        import scipy.linalg

        mean = Ks @ self._alpha * self._y_std + self._y_mean
        if not (return_std or return_cov):
            return mean
        v = scipy.linalg.solve_triangular(self._factor[0], Ks.T, lower=True, check_finite=False)
        if return_cov:
            if isinstance(cross, np.ndarray):
                raise ValueError("return_cov needs x or a cross cache, not a bare Gram matrix")
            Kss = self.kernel(self._rows_data(cross, x), threads=self.threads)
            cov = (Kss - v.T @ v) * self._y_std**2
            return mean, cov
        var = self.kernel.diag_value - np.einsum("ij,ij->j", v, v)
        return mean, np.sqrt(np.maximum(var, 0.0)) * self._y_std

    @staticmethod
    def _rows_data(cross: Any, x: Any) -> KernelData:
        return cross.x if isinstance(cross, DistanceCache) else as_kernel_data(x)

    # ---------------------------------------------------------------- helpers for batches

    def posterior_terms(self) -> dict[str, Any]:
        """What acquisition code needs: normalisation, alpha and the Cholesky factor."""
        self._require_fit()
        return {"y_mean": self._y_mean, "y_std": self._y_std, "alpha": self._alpha, "L": self._factor[0],
                "noise": self.noise}
