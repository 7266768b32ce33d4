"""Gaussian processes over architectures: the C++ kernel algebra, GP regression, acquisitions, pools.

Kernels are built from base kernels and combined with ``+``, ``*`` and scalars::

    k = 2.0 * EditDistanceKernel(1.0) + WLKernel(2)
    cache = k.distances(population)      # base distances, computed once
    K = k.gram(cache)                    # cheap for any hyper-parameters k.theta
"""

from __future__ import annotations

from .._core import (
    ConstantKernel,
    DistanceCache,
    EditDistanceKernel,
    HammingKernel,
    HistogramKernel,
    Kernel,
    KernelData,
    MaternKernel,
    ProductKernel,
    RBFKernel,
    SumKernel,
    WLKernel,
)
from .acquisition import (
    ACQUISITIONS,
    expected_improvement,
    local_penalties,
    log_expected_improvement,
    probability_of_improvement,
    thompson_sample,
    upper_confidence_bound,
)
from .model import GaussianProcess, as_kernel_data
from .pool import CandidatePool, mutation_pool, whole_space

__all__ = [
    "ACQUISITIONS",
    "CandidatePool",
    "ConstantKernel",
    "DistanceCache",
    "EditDistanceKernel",
    "GaussianProcess",
    "HammingKernel",
    "HistogramKernel",
    "Kernel",
    "KernelData",
    "MaternKernel",
    "ProductKernel",
    "RBFKernel",
    "SumKernel",
    "WLKernel",
    "as_kernel_data",
    "expected_improvement",
    "local_penalties",
    "log_expected_improvement",
    "mutation_pool",
    "probability_of_improvement",
    "thompson_sample",
    "upper_confidence_bound",
    "whole_space",
]
