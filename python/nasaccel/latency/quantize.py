"""Int8 deployment: static quantization of a network's ONNX graph with ONNX Runtime's quantizer.

On CPUs with int8 dot-product instructions (x86 VNNI, Arm dot product) a quantized convolution
can run much faster than its float32 graph (about 2x for MNIST-1D chain networks at batch 256 on
an AVX-512 VNNI core), while the quantize and dequantize steps make small networks and single
calls slower, so the network that is fastest at a given accuracy depends on the precision it ships
in. :func:`quantize_int8` writes the QDQ form ONNX Runtime's CPU provider fuses into integer kernels: weights int8 per output channel, activations
uint8 per tensor, scales from the minimum and maximum activations seen on calibration inputs.
Needs ``onnx`` and ``onnxruntime`` (no torch).
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

PRECISIONS = ("fp32", "int8")

__all__ = ["PRECISIONS", "check_precision", "quantize_int8"]


def check_precision(precision: Any) -> str:
    """Refuse a precision other than ``"fp32"`` or ``"int8"``, naming it."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {list(PRECISIONS)}, got {precision!r}")
    return str(precision)


def _input_shape(model: Any) -> tuple[str, tuple[int, ...]]:
    inp = model.graph.input[0]
    dims = tuple(int(d.dim_value) for d in inp.type.tensor_type.shape.dim)
    if not dims or any(d < 1 for d in dims):
        raise ValueError(f"quantization needs a graph with a fixed input shape, got {inp.name!r} of shape {dims}")
    return inp.name, dims


def quantize_int8(model: Any, calibration: np.ndarray | None = None, *, n_random: int = 4, seed: int = 0) -> Any:
    """The int8 (QDQ) version of float32 ``model``, an ``onnx.ModelProto`` with a fixed input shape.

    Parameters
    ----------
    model
        The float32 graph (e.g. :func:`~nasaccel.latency.genome_onnx`, batch norm folded).
    calibration
        Example inputs, ``(n, *example_shape)`` with the example shape of the graph's input (the
        batch dimension aside; ``(n, C, L)`` for a 1-D graph in the height-1 layout is accepted);
        they run through the graph in batches of its batch size, a short last batch padded by
        repeating examples. Real data gives the scales a deployed network needs. ``None``:
        ``n_random`` batches of seeded standard-normal inputs, enough for timing, where the
        scales do not matter.
    n_random, seed
        The random calibration batches.

    Raises
    ------
    ValueError
        When ``calibration`` is empty or its examples do not have the graph's input shape.
    ImportError
        When ``onnxruntime.quantization`` (part of onnxruntime) cannot be imported.
    """
    import onnx

    try:
        from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                              quantize_static)
    except ImportError as e:  # pragma: no cover - onnxruntime ships the quantizer
        raise ImportError(f"int8 quantization needs onnxruntime.quantization: {e}") from None

    name, dims = _input_shape(model)
    batch, example = dims[0], dims[1:]
    if calibration is None:
        if isinstance(n_random, bool) or not isinstance(n_random, int) or n_random < 1:
            raise ValueError(f"n_random must be a positive integer, got {n_random!r}")
        rng = np.random.default_rng(seed)
        x = rng.standard_normal((n_random * batch, *example)).astype(np.float32)
    else:
        x = np.asarray(calibration, dtype=np.float32)
        if x.ndim >= 1 and x.shape[0] == 0:
            raise ValueError("calibration has no examples")
        if x.ndim == len(dims) and tuple(x.shape[1:]) != example and int(np.prod(x.shape[1:])) == int(np.prod(example)):
            x = x.reshape(len(x), *example)  # (n, C, L) into the height-1 layout (n, C, 1, L)
        if x.ndim != len(dims) or tuple(x.shape[1:]) != example:
            raise ValueError(f"calibration examples must have shape {example}, got an array of shape {tuple(x.shape)}")
        short = -len(x) % batch
        if short:
            x = np.concatenate([x, x[np.arange(short) % len(x)]])
    batches = [{name: np.ascontiguousarray(x[i : i + batch])} for i in range(0, len(x), batch)]

    class _Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._it = iter(batches)

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self._it, None)

    root = logging.getLogger()
    hush = _PreprocessingHint()
    root.addFilter(hush)
    try:
        with tempfile.TemporaryDirectory(prefix="nasaccel-int8-") as tmp:
            src, dst = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
            onnx.save(model, str(src))
            quantize_static(
                str(src), str(dst), _Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                calibrate_method=CalibrationMethod.MinMax,
            )
            return onnx.load(str(dst))
    finally:
        root.removeFilter(hush)


class _PreprocessingHint(logging.Filter):
    """Drops the quantizer's advice to run its shape-inference pre-processing: our graphs have static shapes."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "pre-processing" not in record.getMessage()
