"""Acquisition functions (maximisation) and batch penalties over a finite set of candidates."""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "ACQUISITIONS",
    "expected_improvement",
    "local_penalties",
    "log_expected_improvement",
    "probability_of_improvement",
    "thompson_sample",
    "upper_confidence_bound",
]

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def ndtr(z: np.ndarray) -> np.ndarray:
    """The standard normal CDF (scipy's, imported where used: ``import nasaccel`` needs numpy alone)."""
    from scipy.special import ndtr as _ndtr

    return _ndtr(z)


def _check(mean: np.ndarray, std: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean, std = np.asarray(mean, dtype=float), np.asarray(std, dtype=float)
    if mean.shape != std.shape:
        raise ValueError(f"mean and std shapes differ: {mean.shape} vs {std.shape}")
    if np.any(std < 0):
        raise ValueError(f"std must be >= 0, got {float(std.min())}")
    return mean, std


def expected_improvement(mean, std, best: float, xi: float = 0.0) -> np.ndarray:
    """E[max(f - best - xi, 0)] under N(mean, std^2); exactly max(mean - best - xi, 0) where std is 0."""
    mean, std = _check(mean, std)
    imp = mean - best - xi
    out = np.maximum(imp, 0.0)
    pos = std > 0
    z = imp[pos] / std[pos]
    out[pos] = imp[pos] * ndtr(z) + std[pos] * _INV_SQRT_2PI * np.exp(-0.5 * z * z)
    return np.maximum(out, 0.0)


def _log_h(z: np.ndarray) -> np.ndarray:
    """log(phi(z) + z Phi(z)), accurate where it underflows (z far below 0), after Ament et al., NeurIPS 2023."""
    from scipy.special import erfcx, log_ndtr

    out = np.empty_like(z)
    hi = z > -1.0
    zh = z[hi]
    out[hi] = np.log(np.exp(-0.5 * zh * zh) * _INV_SQRT_2PI + zh * np.exp(log_ndtr(zh)))
    far = z < -1e3
    mid = ~hi & ~far
    zm = z[mid]
    # phi(z) + z Phi(z) = phi(z) (1 - |z| sqrt(pi/2) erfcx(-z/sqrt 2)); the bracket is about 1/z^2 for z << 0.
    t = np.log(-zm * erfcx(-zm / math.sqrt(2.0))) + 0.5 * math.log(math.pi / 2.0)
    near = t > -math.log(2.0)
    log1mexp = np.empty_like(t)
    log1mexp[near] = np.log(-np.expm1(t[near]))
    log1mexp[~near] = np.log1p(-np.exp(t[~near]))
    out[mid] = -0.5 * zm * zm - 0.5 * math.log(2.0 * math.pi) + log1mexp
    # Beyond, the bracket's cancellation costs digits: its asymptotic series 1/z^2 (1 - 3/z^2) is exact to rounding.
    zf = z[far]
    with np.errstate(over="ignore"):  # beyond 1e154 standard deviations log EI is -inf
        out[far] = -0.5 * zf * zf - 0.5 * math.log(2.0 * math.pi) - 2.0 * np.log(-zf) + np.log1p(-3.0 / (zf * zf))
    return out


def log_expected_improvement(mean, std, best: float, xi: float = 0.0) -> np.ndarray:
    """log E[max(f - best - xi, 0)] under N(mean, std^2), finite wherever std > 0.

    Expected improvement underflows to exactly 0 once the mean lies some 38 standard deviations below
    ``best``; a confident posterior then ties every candidate at 0 and its argmax says nothing. The log
    keeps them ordered. Where std is 0 it is log(max(mean - best - xi, 0)) (-inf without improvement).
    """
    mean, std = _check(mean, std)
    imp = mean - best - xi
    with np.errstate(divide="ignore"):
        out = np.log(np.maximum(imp, 0.0))
    pos = std > 0
    out[pos] = _log_h(imp[pos] / std[pos]) + np.log(std[pos])
    return out


def probability_of_improvement(mean, std, best: float, xi: float = 0.0) -> np.ndarray:
    """P[f > best + xi] under N(mean, std^2)."""
    mean, std = _check(mean, std)
    imp = mean - best - xi
    out = (imp > 0).astype(float)
    pos = std > 0
    out[pos] = ndtr(imp[pos] / std[pos])
    return out


def upper_confidence_bound(mean, std, kappa: float = 2.0) -> np.ndarray:
    """mean + kappa * std."""
    mean, std = _check(mean, std)
    if not (kappa >= 0 and math.isfinite(kappa)):
        raise ValueError(f"kappa must be >= 0 and finite, got {kappa}")
    return mean + kappa * std


def thompson_sample(mean: np.ndarray, cov: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One joint draw from N(mean, cov); the covariance is clipped to its PSD part first."""
    mean = np.asarray(mean, dtype=float)
    cov = np.asarray(cov, dtype=float)
    if cov.shape != (len(mean), len(mean)):
        raise ValueError(f"covariance of shape {cov.shape} does not match {len(mean)} means")
    w, V = np.linalg.eigh(0.5 * (cov + cov.T))
    z = rng.standard_normal(len(mean))
    return mean + V @ (np.sqrt(np.maximum(w, 0.0)) * z)


def local_penalties(
    k_cand_pending: np.ndarray,
    k_diag: float,
    mean_cand: np.ndarray,
    mean_pending: np.ndarray,
    std_pending: np.ndarray,
    best: float,
) -> np.ndarray:
    """Local penalisation (Gonzalez et al., AISTATS 2016) in the kernel's own metric.

    Each pending point x_j excludes a ball around it whose radius is how far f must travel, at the
    Lipschitz constant L, from the pending mean up to ``best``: the penalty of candidate x is
    ``prod_j Phi((L d(x, x_j) - best + mu_j) / (sqrt(2) sigma_j))`` with ``d`` the kernel-induced distance
    ``sqrt(k(x,x) + k(x_j,x_j) - 2 k(x,x_j))`` and L the largest slope of the posterior mean between
    candidates and pending points. Returns one factor in [0, 1] per candidate.
    """
    k = np.asarray(k_cand_pending, dtype=float)
    if k.ndim != 2 or k.shape[0] != len(mean_cand) or k.shape[1] != len(mean_pending):
        raise ValueError(f"cross kernel of shape {k.shape} does not match {len(mean_cand)} candidates and "
                         f"{len(mean_pending)} pending points")
    if k.shape[1] == 0:
        return np.ones(k.shape[0])
    d = np.sqrt(np.maximum(2.0 * k_diag - 2.0 * k, 0.0))
    slope = np.abs(mean_cand[:, None] - np.asarray(mean_pending)[None, :])
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = np.where(d > 1e-12, slope / d, 0.0)
    lip = max(float(ratios.max()), 1e-7)
    sigma = np.maximum(np.asarray(std_pending, dtype=float), 1e-9)
    z = (lip * d - best + np.asarray(mean_pending)[None, :]) / (math.sqrt(2.0) * sigma[None, :])
    return np.prod(ndtr(z), axis=1)


ACQUISITIONS = ("ei", "ucb", "pi", "thompson")
