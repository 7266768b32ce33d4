"""Latency of a genome's network: measured on ONNX Runtime now, or predicted from a saved latency table."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .._core import Genome
    from ..executors import EvalContext
    from ..latency import LatencyTable
    from ..spaces.base import SearchSpace

MODES = ("measured", "predicted")


def default_metric(batch_size: int, precision: str = "fp32") -> str:
    """``"latency_ms"`` at batch 1, ``"latency_b<B>_ms"`` otherwise: a batch-256 figure never reads as a batch-1 one.

    An int8 figure says so: ``"latency_int8_ms"``, ``"latency_b<B>_int8_ms"``.
    """
    name = "latency" if batch_size == 1 else f"latency_b{batch_size}"
    return f"{name}_ms" if precision == "fp32" else f"{name}_{precision}_ms"


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


class LatencyEvaluator:
    """Evaluator giving the inference latency of ``genome``'s network, in milliseconds per call.

    Parameters
    ----------
    mode : {"measured", "predicted"}
        ``"measured"``: build the network's ONNX graph (:func:`~nasaccel.latency.adapters.latency_description`,
        random weights) and time it on ONNX Runtime with the C++ harness (:class:`~nasaccel.latency.OnnxMeasure`:
        warm-up, adaptive repeats, harness overhead subtracted, minimum over ``passes`` medians).
        ``"predicted"``: price it with a saved :class:`~nasaccel.latency.LatencyTable` (``table``).
    table : str, Path or LatencyTable, optional
        The table of ``"predicted"`` mode (a JSON file from ``nasaccel profile`` or ``LatencyTable.save``).
    batch_size : int, optional
        Batch of one inference call. Measured: default 1. Predicted: default the table's (a table
        prices one batch size only; a different value is an error).
    threads : int, optional
        ONNX Runtime ``intra_op_num_threads`` (inter-op 1, sequential execution). Measured: default 1.
        Predicted: default the table's (a different value is an error).
    passes : int
        Measured mode: timing passes per network, the minimum of their medians is kept.
    input_size : int or (int, int), optional
        Image size of NB201 networks (default 32x32, or the table's).
    metric : str, optional
        Name of the metric; default :func:`default_metric` of the batch size.
    log_path : str or Path, optional
        Measured mode: append one JSON line per measurement (arch, latency, batch size, threads,
        machine and load average, harness statistics) to this file. Records are also kept in
        :attr:`records` of the evaluating process.
    harness : nasaccel._core.HarnessOptions or dict, optional
        Measured mode: harness settings (default :func:`~nasaccel.latency.default_harness_options`).
    precision : {"fp32", "int8"}, optional
        The precision the network ships in. Measured: default ``"fp32"``; ``"int8"`` times its static
        int8 quantization (:func:`~nasaccel.latency.quantize.quantize_int8`): on CPUs with int8 dot
        products about twice as fast for convolution-heavy networks at large batches, slower for small
        networks and at batch 1. Predicted: default the table's (a different value is an error).

    Notes
    -----
    :meth:`evaluate` returns ``{metric: milliseconds}``: the time of one call on a batch of
    ``batch_size`` (not per example). The batch size, threads and mode are in :meth:`config` and in
    every record. It needs numpy, onnx and onnxruntime (no torch), and composes with
    :class:`~nasaccel.evaluation.TorchTrainer` through
    :class:`~nasaccel.evaluation.CompositeEvaluator` (put it first: it is cheap and fails early).
    """

    def __init__(
        self,
        mode: str = "measured",
        *,
        table: str | Path | LatencyTable | None = None,
        batch_size: int | None = None,
        threads: int | None = None,
        passes: int = 1,
        input_size: Any = None,
        metric: str | None = None,
        log_path: str | Path | None = None,
        harness: Any = None,
        precision: str | None = None,
    ) -> None:
        from ..latency import LatencyTable
        from ..latency.quantize import check_precision

        if mode not in MODES:
            raise ValueError(f"mode must be one of {list(MODES)}, got {mode!r}")
        self.mode = mode
        self.passes = _positive_int("passes", passes)
        self.table_path: str | None = None
        self.table: LatencyTable | None = None
        if mode == "predicted":
            if table is None:
                raise ValueError("predicted mode needs a latency table: pass table=<path or LatencyTable>")
            if isinstance(table, LatencyTable):
                self.table = table
            elif isinstance(table, (str, Path)):
                if not Path(table).is_file():
                    raise ValueError(f"latency table {str(table)!r} does not exist")
                self.table_path = str(table)
                self.table = LatencyTable.load(table)
            else:
                raise ValueError(f"table must be a path or a LatencyTable, got {type(table).__name__}")
            table_batch = self.table.device.get("batch_size")
            if batch_size is None:
                if table_batch is None:
                    raise ValueError("the latency table does not record its batch size; pass batch_size")
                batch_size = int(table_batch)
            elif table_batch is not None and int(table_batch) != batch_size:
                raise ValueError(
                    f"batch_size {batch_size} differs from the latency table's batch size {table_batch}; "
                    "a table prices the batch size it was profiled at"
                )
            table_threads = self.table.device.get("intra_op_threads")
            if threads is None:
                threads = 1 if table_threads is None else int(table_threads)
            elif table_threads is not None and int(table_threads) != threads:
                raise ValueError(f"threads {threads} differs from the latency table's intra-op threads {table_threads}")
            if input_size is None:
                input_size = self.table.space.get("input_size")
            table_precision = self.table.device.get("precision", "fp32")
            if precision is None:
                precision = table_precision
            elif check_precision(precision) != table_precision:
                raise ValueError(f"precision {precision!r} differs from the latency table's precision {table_precision!r}")
        elif table is not None:
            raise ValueError("table is for predicted mode; measured mode times the networks on ONNX Runtime")
        self.precision = check_precision("fp32" if precision is None else precision)
        self.batch_size = _positive_int("batch_size", 1 if batch_size is None else batch_size)
        self.threads = _positive_int("threads", 1 if threads is None else threads)
        self.input_size = None if input_size is None else (list(input_size) if not isinstance(input_size, int) else input_size)
        if metric is not None and (not isinstance(metric, str) or not metric):
            raise ValueError(f"metric must be a non-empty string, got {metric!r}")
        self.metric = metric or default_metric(self.batch_size, self.precision)
        self.log_path = None if log_path is None else str(log_path)
        if harness is not None:
            from .._core import HarnessOptions

            if isinstance(harness, Mapping):
                try:
                    harness = HarnessOptions(**harness)
                except TypeError as e:
                    raise ValueError(f"harness options {dict(harness)!r} are not HarnessOptions fields: {e}") from None
            if not isinstance(harness, HarnessOptions):
                raise ValueError(f"harness must be HarnessOptions or a dict of its fields, got {type(harness).__name__}")
            harness.validate()
            harness = harness.to_dict()  # plain data: the evaluator pickles for process-pool executors
        self.harness: dict[str, Any] | None = harness
        self.records: list[dict[str, Any]] = []
        self._measure: Any = None

    # ------------------------------------------------------------------ evaluation

    def description(self, genome: Genome, space: SearchSpace) -> Any:
        """The latency description (ChainNetwork / NB201Network) this evaluator times or prices."""
        from ..latency.adapters import latency_description

        return latency_description(space, genome, input_size=self.input_size)

    def evaluate(self, genome: Genome, space: SearchSpace, context: EvalContext | None = None) -> dict[str, float]:
        """``{metric: latency in ms of one call on a batch of batch_size}``.

        Raises
        ------
        ValueError
            For a space without latency description, a table profiled on another space, or (an
            :class:`~nasaccel.latency.UnmeasuredTermError`) a network needing a term the table never measured.
        """
        if self.mode == "predicted":
            return {self.metric: 1e3 * self._predict(genome, space)}
        return {self.metric: 1e3 * self._measured(genome, space)}

    def _predict(self, genome: Genome, space: SearchSpace) -> float:
        from ..latency import UnmeasuredTermError

        assert self.table is not None
        profiled = self.table.space.get("space")
        if isinstance(profiled, Mapping) and dict(profiled) != space.config():
            raise ValueError(f"the latency table was profiled on space {dict(profiled)}, not on {space.config()}")
        desc = self.description(genome, space)
        try:
            return self.table.predict(desc)
        except UnmeasuredTermError as e:
            raise UnmeasuredTermError(f"{space.to_text(genome)!r}: {e}") from None

    def _measured(self, genome: Genome, space: SearchSpace) -> float:
        from .._core import HarnessOptions
        from ..latency import OnnxMeasure

        if self._measure is None:
            harness = None if self.harness is None else HarnessOptions(**self.harness)
            self._measure = OnnxMeasure(
                threads=self.threads, batch_size=self.batch_size, harness=harness, passes=self.passes, chunk=1,
                precision=self.precision,
            )
        m = self._measure
        latency = float(m.measure_many([self.description(genome, space)])[0])
        rec = dict(m.records.pop()) if m.records else {}
        rec = {"arch": space.to_text(genome), "latency_s": latency, "batch_size": self.batch_size,
               "threads": self.threads, "precision": self.precision,
               **{k: v for k, v in rec.items() if k not in ("latency_s", "batch_size")}}
        self.records.append(rec)
        if self.log_path is not None:
            line = json.dumps(rec, default=str) + "\n"
            # One write per record, appended: concurrent worker processes do not interleave lines.
            fd = os.open(self.log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line.encode("utf-8"))
            finally:
                os.close(fd)
        return latency

    # ------------------------------------------------------------------ configuration

    def config(self) -> dict[str, Any]:
        """JSON-serialisable settings; ``evaluator_from_config`` rebuilds the evaluator from them."""
        cfg: dict[str, Any] = {
            "type": "latency",
            "mode": self.mode,
            "batch_size": self.batch_size,
            "threads": self.threads,
            "metric": self.metric,
        }
        if self.precision != "fp32":
            cfg["precision"] = self.precision
        if self.mode == "measured":
            cfg["passes"] = self.passes
            if self.harness is not None:
                cfg["harness"] = dict(self.harness)
            if self.log_path is not None:
                cfg["log_path"] = self.log_path
        else:
            cfg["table"] = self.table_path if self.table_path is not None else "<memory>"
        if self.input_size is not None:
            cfg["input_size"] = self.input_size
        return cfg

    def __getstate__(self) -> dict[str, Any]:
        # ONNX Runtime sessions do not pickle; a process-pool worker builds its own measure.
        state = dict(self.__dict__)
        state["_measure"] = None
        return state

    def __repr__(self) -> str:
        return (f"LatencyEvaluator(mode={self.mode!r}, metric={self.metric!r}, batch_size={self.batch_size}, "
                f"threads={self.threads}, precision={self.precision!r})")


__all__ = ["LatencyEvaluator", "default_metric"]
