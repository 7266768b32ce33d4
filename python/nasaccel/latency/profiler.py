"""Profile a search space into a latency table and check it on held-out networks.

Works with any space object offering ``sample(rng)`` plus a ``describe`` adapter turning what
``sample`` returns (a genome) into a description (:class:`ChainNetwork`, :class:`NB201Network`);
``describe=None`` when ``sample`` already returns descriptions.

Which networks to measure: coverage-biased sampling. At each step, with probability
``uniform_share`` the next network is a plain random draw (so the measured set still looks
like the networks that will be priced); otherwise ``candidates`` random draws are scored by
``sum over their distinct terms of 1 / (1 + times measured)`` and the best is measured, so
rarely seen terms (a wide layer at a small size, an odd adapter) get measured early and often.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import _core
from .descriptions import ChainLayer, ChainNetwork, MacroNetwork, NB201Network
from .table import LatencyTable, Term, chain_term_examples, error_stats, isolated_terms, terms_of

Measure = Callable[[Any], float]
Progress = Callable[[int, int, str], None]


def default_harness_options() -> _core.HarnessOptions:
    """Harness settings for one profiling pass: short warm-up, 2 % median CI, at most 0.15 s."""
    return _core.HarnessOptions(
        warmup_calls=2, warmup_seconds=0.002, min_repeats=10, max_repeats=2000, round_size=10,
        max_seconds=0.15, rel_tolerance=0.02, confidence=0.95, outlier_k=5.0,
        subtract_overhead=True, overhead_repeats=500,
    )


class OnnxMeasure:
    """Measure a description end to end: build its ONNX graph, open an ONNX Runtime session, time it.

    Calling it returns the overhead-corrected median latency (seconds); every record (with
    machine, runner and harness settings) is appended to :attr:`records`.

    Parameters
    ----------
    threads
        ``intra_op_num_threads`` (inter-op threads are 1, execution sequential).
    batch_size
        Batch of the built graphs (recorded with every measurement).
    harness
        Harness options (default :func:`default_harness_options`).
    mode
        Runner call mode; ``"auto"`` decides once, on the first network, and keeps it.
    optimization_level
        ONNX Runtime graph optimisation level.
    keep_records
        Keep the per-measurement records (they hold the raw statistics).
    passes, chunk
        See :meth:`measure_many`.
    precision
        ``"fp32"`` (default) times the float graph; ``"int8"`` its static int8 quantization
        (:func:`~nasaccel.latency.quantize.quantize_int8`, random calibration: scales do not change
        the time), the graph an int8 deployment runs.
    statistic
        ``"median"`` (default): each pass reports its overhead-corrected median; ``"min"``: its fastest
        call, which moves less when neighbour processes come and go during a pass.
    quiet_gate
        When set (e.g. 0.05), a small canary network is timed before every measurement and the
        measurement waits (up to ``max_wait`` seconds, in 20 ms steps) until the canary runs
        within this fraction of its fastest time seen, i.e. until a neighbour process stops
        competing for caches and memory bandwidth.
    """

    def __init__(
        self,
        *,
        threads: int = 1,
        batch_size: int = 1,
        harness: _core.HarnessOptions | None = None,
        mode: str = "auto",
        optimization_level: str = "all",
        keep_records: bool = True,
        passes: int = 5,
        chunk: int = 16,
        quiet_gate: float | None = None,
        max_wait: float = 1.0,
        statistic: str = "median",
        precision: str = "fp32",
    ) -> None:
        from .quantize import check_precision

        self.precision = check_precision(precision)
        if statistic not in ("median", "min"):
            raise ValueError(f"statistic must be 'median' or 'min', got {statistic!r}")
        self.statistic = statistic
        if isinstance(passes, bool) or not isinstance(passes, int) or passes < 1:
            raise ValueError(f"passes must be a positive integer, got {passes!r}")
        if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
            raise ValueError(f"chunk must be a positive integer, got {chunk!r}")
        if quiet_gate is not None and not (quiet_gate > 0):
            raise ValueError(f"quiet_gate must be a positive fraction or None, got {quiet_gate!r}")
        self.passes = passes
        self.chunk = chunk
        self.quiet_gate = quiet_gate
        self.max_wait = max_wait
        self._canary: Any = None
        self._canary_floor = float("inf")
        self.gate_waits = 0
        self.gate_timeouts = 0
        self.threads = threads
        self.batch_size = batch_size
        self.harness = harness if harness is not None else default_harness_options()
        self.harness.validate()
        self.mode = mode
        self.optimization_level = optimization_level
        self.keep_records = keep_records
        self.records: list[dict[str, Any]] = []
        self.last_runner_config: dict[str, Any] = {}

    def runner(self, description: Any) -> Any:
        from .onnx_builders import build_onnx
        from .runner import OrtRunner

        model = build_onnx(description, batch_size=self.batch_size)
        if self.precision == "int8":
            from .quantize import quantize_int8

            model = quantize_int8(model)
        r = OrtRunner(
            model,
            intra_op_threads=self.threads,
            inter_op_threads=1,
            optimization_level=self.optimization_level,
            execution_mode="sequential",
            mode=self.mode,
        )
        if self.mode == "auto":
            self.mode = r.mode
        return r

    def __call__(self, description: Any) -> float:
        return self.measure_many([description])[0]

    def measure_many(self, descriptions: list[Any]) -> list[float]:
        """Latency of each description: the minimum over ``passes`` round-robin harness runs.

        Sessions of ``chunk`` networks stay open while each is timed ``passes`` times in turn,
        so the timings of one network are spread over time; the minimum of its per-pass
        medians discards passes slowed by a neighbour process (shared caches and memory
        bandwidth slow whole stretches of seconds, which no per-call outlier test can see).
        """
        out: list[float] = []
        for start in range(0, len(descriptions), self.chunk):
            runners = [self.runner(d) for d in descriptions[start : start + self.chunk]]
            per_pass: list[list[dict[str, Any]]] = [[] for _ in runners]
            for _ in range(self.passes):
                for k, r in enumerate(runners):
                    self._wait_for_quiet()
                    per_pass[k].append(r.measure(self.harness))
            for recs in per_pass:
                if self.statistic == "min":
                    for rec in recs:
                        rec["latency_s"] = rec["stats"]["min"]
                best = min(recs, key=lambda rec: rec["latency_s"])
                self.last_runner_config = best["runner"]
                if self.keep_records:
                    rec = dict(best)
                    rec["pass_latencies_s"] = [x["latency_s"] for x in recs]
                    rec["pass_min_s"] = [x["stats"]["min"] for x in recs]  # per-call minima, for other statistics
                    rec["passes"] = self.passes
                    self.records.append(rec)
                out.append(float(best["latency_s"]))
            del runners
        return out

    def _canary_time(self) -> float:
        if self._canary is None:
            from .descriptions import chain_network
            from .onnx_builders import build_onnx
            from .runner import OrtRunner

            net = chain_network((3, 16, 16), 10, [("conv", 32, 3, 1), ("conv", 32, 3, 2)])
            self._canary = OrtRunner(build_onnx(net), intra_op_threads=self.threads, mode="run")
            self._canary_opts = _core.HarnessOptions(warmup_calls=2, min_repeats=15, max_repeats=15,
                                                     subtract_overhead=False)
        return _core.time_callable(self._canary.call, self._canary_opts).stats.median

    def _wait_for_quiet(self) -> None:
        if self.quiet_gate is None:
            return
        t_end = time.perf_counter() + self.max_wait
        while True:
            t = self._canary_time()
            self._canary_floor = min(self._canary_floor, t)
            if t <= self._canary_floor * (1.0 + self.quiet_gate):
                return
            if time.perf_counter() >= t_end:
                self.gate_timeouts += 1
                return
            self.gate_waits += 1
            time.sleep(0.02)

    def device(self) -> dict[str, Any]:
        """Machine and runner settings to store with a table."""
        from .runner import machine_description

        return {
            "machine": machine_description(),
            "intra_op_threads": self.threads,
            "inter_op_threads": 1,
            "batch_size": self.batch_size,
            "optimization_level": self.optimization_level,
            "precision": self.precision,
            "call_mode": self.mode,
            "harness": self.harness.to_dict(),
            "passes": self.passes,
            "quiet_gate": self.quiet_gate,
            "statistic": f"min over passes of the overhead-corrected {self.statistic}",
        }


@dataclass
class ProfileResult:
    """What :func:`profile_space` returns."""

    table: LatencyTable
    descriptions: list[Any]
    latencies: np.ndarray
    holdout: dict[str, Any] | None = None
    wall_seconds: float = 0.0  # everything, held-out measurements included
    measure_seconds: float = 0.0  # measuring the table's networks and isolated terms
    skipped_duplicates: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        d = {
            "measurements": len(self.descriptions),
            "terms": len(self.table.terms),
            "wall_seconds": self.wall_seconds,
            "fit": self.table.fit_info,
            "coverage": self.table.coverage_summary(),
        }
        if self.holdout is not None:
            d["holdout"] = {k: v for k, v in self.holdout.items() if k not in ("predicted", "measured", "descriptions", "all_measured")}
        return d


def _progress(progress: Progress | bool | None, total: int, desc: str) -> tuple[Callable[[int], None], Callable[[], None]]:
    if callable(progress):
        return (lambda done: progress(done, total, desc)), (lambda: None)
    if progress is False:
        return (lambda done: None), (lambda: None)
    try:
        from tqdm import tqdm
    except ImportError:
        return (lambda done: None), (lambda: None)
    bar = tqdm(total=total, desc=desc, leave=False)

    def update(done: int) -> None:
        bar.update(done - bar.n)

    return update, bar.close


def _identity(x: Any) -> Any:
    return x


def profile_space(
    space: Any,
    n_networks: int,
    *,
    describe: Callable[[Any], Any] | None = None,
    measure: Measure | None = None,
    holdout: int = 0,
    seed: int = 0,
    rng: Any = None,
    candidates: int = 16,
    uniform_share: float = 0.25,
    monotone: bool = False,
    relative: bool = True,
    threads: int = 1,
    batch_size: int = 1,
    harness: _core.HarnessOptions | None = None,
    progress: Progress | bool | None = None,
    space_config: Mapping[str, Any] | None = None,
    device: Mapping[str, Any] | None = None,
    max_draws: int | None = None,
    isolated_priors: float = 0.0,
) -> ProfileResult:
    """Measure ``n_networks`` networks of a space, fit a latency table, and test it on held-out ones.

    Parameters
    ----------
    space
        Object with ``sample(rng)``; ``rng`` is a :class:`nasaccel.Rng` unless ``rng`` is given.
    n_networks
        Distinct networks to measure for the table.
    describe
        Adapter from a sample to a description (e.g. ``lambda g: space_to_chain(space, g)``);
        ``None`` when ``sample`` returns descriptions already.
    measure
        Callable description -> latency in seconds; default an :class:`OnnxMeasure` with
        ``threads``, ``batch_size`` and ``harness``.
    holdout
        Fresh random networks (uniform, not among the measured ones) to measure and predict.
    seed, rng
        Seed of the :class:`nasaccel.Rng` drawing networks (or an rng object to use as is); the
        held-out draws use ``Rng.for_stream(seed, 1)``.
    candidates, uniform_share
        Coverage-biased sampling (see module docs). ``candidates=1`` or ``uniform_share=1`` is
        plain random sampling.
    monotone, relative
        Passed to :meth:`LatencyTable.fit`.
    progress
        ``callable(done, total, phase)``; ``None`` shows a tqdm bar when tqdm is installed; ``False`` is silent.
    space_config
        Stored in the table (what space the table prices).
    device
        Stored in the table; default the measure's ``device()`` when it has one.
    max_draws
        Give up drawing new distinct networks after this many draws (default 50 per network).
    isolated_priors
        When > 0 (chain networks only), also time every term alone (:func:`chain_term_examples`)
        and add those rows to the fit with this weight (see :meth:`LatencyTable.fit`).

    Returns
    -------
    ProfileResult
        Table, measured descriptions and latencies, held-out errors (``mape``, ``within_10``,
        ``unpredictable``: held-out networks needing a term never measured), timings.
    """
    if isinstance(n_networks, bool) or not isinstance(n_networks, int) or n_networks < 1:
        raise ValueError(f"n_networks must be a positive integer, got {n_networks!r}")
    if isinstance(holdout, bool) or not isinstance(holdout, int) or holdout < 0:
        raise ValueError(f"holdout must be an integer >= 0, got {holdout!r}")
    if isinstance(candidates, bool) or not isinstance(candidates, int) or candidates < 1:
        raise ValueError(f"candidates must be a positive integer, got {candidates!r}")
    if not (0.0 <= uniform_share <= 1.0):
        raise ValueError(f"uniform_share must lie in [0, 1], got {uniform_share!r}")
    if not hasattr(space, "sample"):
        raise ValueError(f"space must offer sample(rng); {type(space).__name__} does not")
    describe = describe or _identity
    if measure is None:
        measure = OnnxMeasure(threads=threads, batch_size=batch_size, harness=harness)
    draw_rng = rng if rng is not None else _core.Rng(seed)
    coin = _core.Rng.for_stream(seed, 2)
    max_draws = max_draws if max_draws is not None else 50 * (n_networks + holdout)

    t_start = time.perf_counter()
    terms: list[Term] = []
    index: dict[Term, int] = {}
    coverage: list[float] = []
    seen: set[Any] = set()
    descriptions: list[Any] = []
    draws = 0
    duplicates = 0

    def draw(r: Any) -> Any:
        nonlocal draws
        draws += 1
        d = describe(space.sample(r))
        if not isinstance(d, (ChainNetwork, NB201Network, MacroNetwork, ChainLayer)):
            raise ValueError(f"describe must return a ChainNetwork, NB201Network or MacroNetwork, got {type(d).__name__}")
        return d

    # Selection needs coverage only, not latencies: choose every network first, then measure
    # them in batches (a measure with measure_many spreads each network's timings over time).
    while len(descriptions) < n_networks and draws < max_draws:
        if candidates == 1 or coin.uniform() < uniform_share:
            pool = [draw(draw_rng)]
        else:
            pool = [draw(draw_rng) for _ in range(candidates)]
        fresh = list(dict.fromkeys(d for d in pool if d not in seen))
        duplicates += len(pool) - len(fresh)
        if not fresh:
            continue
        if len(fresh) > 1:
            rows, unseen = [], []
            for d in fresh:
                tc = terms_of(d)
                # Unseen terms share one extra column with coverage 0; each extra one adds 1 below.
                rows.append([(index.get(t, len(coverage)), float(c)) for t, c in tc.items()])
                unseen.append(sum(1 for t in tc if t not in index))
            scores = np.asarray(_core.coverage_scores(rows, np.asarray(coverage + [0.0])))
            scores += np.maximum(np.asarray(unseen) - 1, 0)
            chosen = fresh[int(np.argmax(scores))]
        else:
            chosen = fresh[0]
        for t, c in terms_of(chosen).items():
            if c and t not in index:
                index[t] = len(terms)
                terms.append(t)
                coverage.append(0.0)
            if c:
                coverage[index[t]] += 1.0
        seen.add(chosen)
        descriptions.append(chosen)
    if not descriptions:
        raise ValueError(f"no network could be drawn from the space in {max_draws} draws")

    held: list[Any] = []
    if holdout:
        hrng = _core.Rng.for_stream(seed, 1)
        hdraws = 0
        while len(held) < holdout and hdraws < max_draws:
            hdraws += 1
            d = draw(hrng)
            if d in seen:
                continue
            seen.add(d)
            held.append(d)

    examples: dict[Term, Any] = {}
    if isolated_priors > 0:
        for d in descriptions:
            if isinstance(d, ChainNetwork):
                for t, ex in chain_term_examples(d).items():
                    examples.setdefault(t, ex)
    prior_descs = list(dict.fromkeys(examples.values()))

    update, close = _progress(progress, len(descriptions) + len(held) + len(prior_descs), "profiling")
    timings: dict[str, float] = {}
    done = 0

    def run_phase(items: list[Any], phase: str) -> list[float]:
        nonlocal done
        out: list[float] = []
        batch = getattr(measure, "chunk", 1) if hasattr(measure, "measure_many") else 1
        t0 = time.perf_counter()
        for start in range(0, len(items), batch):
            part = items[start : start + batch]
            if hasattr(measure, "measure_many"):
                out += [float(v) for v in measure.measure_many(part)]
            else:
                out += [float(measure(d)) for d in part]
            done += len(part)
            update(done)
        timings[phase] = time.perf_counter() - t0
        return out

    try:
        latencies = run_phase(descriptions, "networks")
        prior_latencies = run_phase(prior_descs, "isolated_terms")
        held_latencies = run_phase(held, "holdout")
    finally:
        close()
    measure_time = timings["networks"] + timings["isolated_terms"]
    if device is None:
        device = measure.device() if hasattr(measure, "device") else {"measure": getattr(measure, "__name__", "custom")}
    table = LatencyTable.fit(
        [terms_of(d) for d in descriptions],
        latencies,
        monotone=monotone,
        relative=relative,
        device=device,
        space=space_config,
        descriptions=descriptions,
        prior_counts=[isolated_terms(d) for d in prior_descs] if prior_descs else None,
        prior_latencies=prior_latencies if prior_descs else None,
        prior_weight=isolated_priors if prior_descs else 0.0,
    )
    hold = None
    if holdout:
        measured, predicted = [], []
        unpredictable = 0
        for d, lat in zip(held, held_latencies):
            if table.can_predict(d):
                measured.append(lat)
                predicted.append(table.predict(d))
            else:
                unpredictable += 1
        hold = error_stats(predicted, measured) if predicted else {"n": 0}
        hold["unpredictable"] = unpredictable
        hold["predicted"] = predicted
        hold["measured"] = measured
        hold["descriptions"] = held
        hold["all_measured"] = held_latencies
    return ProfileResult(
        table=table,
        descriptions=descriptions,
        latencies=np.asarray(latencies),
        holdout=hold,
        wall_seconds=time.perf_counter() - t_start,
        measure_seconds=measure_time,
        skipped_duplicates=duplicates,
        extra={"prior_descriptions": prior_descs, "prior_latencies": np.asarray(prior_latencies), "timings": timings},
    )


def evaluate_table(table: LatencyTable, descriptions: list[Any], measure: Measure) -> dict[str, Any]:
    """Measure the given networks and compare with the table's predictions (see :func:`error_stats`)."""
    ok = [d for d in descriptions if table.can_predict(d)]
    missing = [d for d in descriptions if not table.can_predict(d)]
    if hasattr(measure, "measure_many"):
        measured = [float(v) for v in measure.measure_many(ok)]
    else:
        measured = [float(measure(d)) for d in ok]
    predicted = [table.predict(d) for d in ok]
    out: dict[str, Any] = error_stats(predicted, measured) if predicted else {"n": 0}
    out["unpredictable"] = len(missing)
    out["predicted"] = predicted
    out["measured"] = measured
    return out


