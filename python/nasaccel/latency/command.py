"""What ``nasaccel profile`` does: profile a space on this device into a latency table with held-out errors.

Needs numpy, onnx and onnxruntime (no torch): the networks are built with the ``onnx`` package
from :func:`~nasaccel.latency.adapters.latency_description` and timed by the C++ harness.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TextIO

from ..configio import read_config

#: Named spaces of ``nasaccel profile`` (``--input-size`` sets their image size, default 32).
NAMED_SPACES = ("mobilenet", "nb201", "macro", "mnist1d")


def named_space(name: str, input_size: int | None = None) -> tuple[Any, Any]:
    """``(space, input_size for latency_description)`` of a named default space.

    ``mobilenet``: :meth:`ChainSpace.mobilenet_like` on ``3 x S x S`` images, 10 classes;
    ``nb201``: :class:`NB201CellSpace` (C=16, N=5) at ``S x S``; ``macro``: :class:`MacroSpace` at
    ``S x S``; ``mnist1d``: :meth:`ChainSpace.mnist1d` (input fixed at 1 x 40).
    """
    from ..spaces import ChainSpace, MacroSpace, NB201CellSpace

    if name not in NAMED_SPACES:
        raise ValueError(f"unknown space {name!r}: name one of {list(NAMED_SPACES)} or give a space config file")
    if name == "mnist1d":
        if input_size is not None:
            raise ValueError("--input-size does not apply to mnist1d (its input is fixed at 1 x 40)")
        return ChainSpace.mnist1d(), None
    s = 32 if input_size is None else input_size
    if name == "mobilenet":
        return ChainSpace.mobilenet_like((3, s, s), 10), None
    if name == "nb201":
        return NB201CellSpace(), s
    return MacroSpace(), s


def space_from_file(path: str | Path, input_size: int | None = None) -> tuple[Any, Any]:
    """``(space, input_size)`` from a JSON/YAML file holding a space config or a study config with a ``space``."""
    from ..spaces import ChainSpace, space_from_config

    config = read_config(path, what="space config")
    if "space" in config and isinstance(config["space"], Mapping):
        config = dict(config["space"])
    space = space_from_config(config)
    if isinstance(space, ChainSpace):
        if input_size is not None:
            raise ValueError(
                f"--input-size does not apply to a ChainSpace (its config fixes input_shape {list(space.input_shape)})"
            )
        return space, None
    return space, input_size


def resolve_space(spec: str, input_size: int | None = None) -> tuple[Any, Any]:
    """A named space (:data:`NAMED_SPACES`) or a config file path."""
    if spec in NAMED_SPACES:
        return named_space(spec, input_size)
    p = Path(spec)
    if p.suffix.lower() in (".json", ".yaml", ".yml") or p.exists():
        return space_from_file(p, input_size)
    raise ValueError(f"unknown space {spec!r}: name one of {list(NAMED_SPACES)} or give a space config file (.json/.yaml)")


def _bar(stream: TextIO | None) -> Callable[[int, int, str], None] | bool:
    """A progress callback for ``profile_space``: one line redrawn on a terminal, else a line every 5 %."""
    if stream is None:
        return False
    from ..progress import _fmt_time

    tty = bool(getattr(stream, "isatty", lambda: False)())
    start = time.monotonic()
    shown = [-1]

    def progress(done: int, total: int, phase: str) -> None:
        elapsed = time.monotonic() - start
        left = elapsed / done * (total - done) if done else float("nan")
        filled = int(24 * done / max(total, 1))
        text = f"{phase} [{'#' * filled}{'.' * (24 - filled)}] {done}/{total} networks  elapsed {_fmt_time(elapsed)}  left {_fmt_time(left)}"
        step = done * 20 // max(total, 1)
        if tty:
            stream.write("\r" + text + ("\n" if done >= total else ""))
        elif step != shown[0] or done >= total:
            shown[0] = step
            stream.write(text + "\n")
        stream.flush()

    return progress


def profile_to_file(
    spec: str,
    out: str | Path,
    *,
    networks: int = 300,
    holdout: int = 50,
    threads: int = 1,
    batch_size: int = 1,
    input_size: int | None = None,
    passes: int = 3,
    seed: int = 0,
    priors: float | None = None,
    monotone: bool = False,
    max_seconds: float = 0.15,
    statistic: str = "median",
    precision: str = "fp32",
    progress: TextIO | None = None,
) -> dict[str, Any]:
    """Profile the space ``spec`` on this device, save the table to ``out``, return a summary.

    The table JSON holds the term values, the device (machine, ONNX Runtime threads, batch size,
    harness settings), the space (``{"space": config, "input_size": ...}``, what
    :class:`~nasaccel.evaluation.LatencyEvaluator` checks) and, under ``fit.holdout``, the error
    against ``holdout`` fresh random networks measured end to end (MAPE, share within +-10 % and
    +-5 %, worst error), with the build wall time.

    ``priors`` is the weight of isolated-term timings (ChainSpace only; default 0.3 there, 0 elsewhere);
    ``statistic`` and ``precision`` are :class:`~nasaccel.latency.OnnxMeasure`'s (``"median"`` or ``"min"``;
    ``"fp32"`` or ``"int8"``, the graphs' static int8 quantization).
    """
    from ..spaces import ChainSpace
    from .adapters import describe_with
    from .profiler import OnnxMeasure, default_harness_options, profile_space

    for name, v in (("networks", networks), ("threads", threads), ("batch_size", batch_size), ("passes", passes)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    if isinstance(holdout, bool) or not isinstance(holdout, int) or holdout < 0:
        raise ValueError(f"holdout must be an integer >= 0, got {holdout!r}")
    if not (max_seconds > 0):
        raise ValueError(f"max_seconds must be positive, got {max_seconds!r}")
    out = Path(out)
    if not out.parent.is_dir():
        raise ValueError(f"output folder {str(out.parent)!r} does not exist")
    space, size = resolve_space(spec, input_size)
    is_chain = isinstance(space, ChainSpace)
    if priors is None:
        priors = 0.3 if is_chain else 0.0
    if priors < 0:
        raise ValueError(f"priors must be >= 0, got {priors!r}")
    if priors > 0 and not is_chain:
        raise ValueError(f"isolated-term priors apply to ChainSpace tables only, not {type(space).__name__}")
    harness = default_harness_options()
    harness.max_seconds = float(max_seconds)
    harness.validate()
    measure = OnnxMeasure(threads=threads, batch_size=batch_size, harness=harness, passes=passes, keep_records=False,
                          statistic=statistic, precision=precision)
    t0 = time.perf_counter()
    res = profile_space(
        space,
        networks,
        describe=describe_with(space, input_size=size),
        measure=measure,
        holdout=holdout,
        seed=seed,
        monotone=monotone,
        isolated_priors=priors,
        space_config={"space": space.config(), "input_size": size},
        progress=_bar(progress),
    )
    wall = time.perf_counter() - t0
    table = res.table
    build = wall - res.extra["timings"].get("holdout", 0.0)
    summary: dict[str, Any] = {
        "space": space.config(),
        "input_size": size,
        "measured_networks": len(res.descriptions),
        "isolated_term_rows": len(res.extra["prior_descriptions"]),
        "terms": len(table.terms),
        "build_seconds": build,
        "wall_seconds": wall,
        "threads": threads,
        "batch_size": batch_size,
        "precision": precision,
        "train_mape": table.fit_info["train_mape"],
    }
    if res.holdout is not None:
        hold = {k: v for k, v in res.holdout.items() if k not in ("predicted", "measured", "descriptions", "all_measured")}
        summary["holdout"] = hold
        table.fit_info["holdout"] = hold
    table.fit_info["build_seconds"] = build
    table.fit_info["isolated_term_rows"] = summary["isolated_term_rows"]
    table.save(out)
    summary["path"] = str(out)
    return summary


def summary_text(s: Mapping[str, Any]) -> str:
    """The lines ``nasaccel profile`` prints."""
    lines = [
        f"space {s['space']['type']}" + (f" at {s['input_size']}" if s.get("input_size") is not None else "")
        + f", ONNX Runtime intra-op threads {s['threads']}, batch size {s['batch_size']}"
        + (f", {s['precision']}" if s.get("precision", "fp32") != "fp32" else ""),
        f"measured {s['measured_networks']} networks (+{s['isolated_term_rows']} isolated terms), {s['terms']} terms, "
        f"table built in {s['build_seconds']:.1f} s; train MAPE {100 * s['train_mape']:.2f} %",
    ]
    h = s.get("holdout")
    if h is None or not h.get("n"):
        n_un = 0 if h is None else h.get("unpredictable", 0)
        lines.append("held-out error: not measured" + (f" ({n_un} held-out networks need unmeasured terms)" if n_un else ""))
    else:
        lines.append(
            f"held-out error on {h['n']} fresh networks: MAPE {100 * h['mape']:.2f} %, within +-10 % "
            f"{100 * h['within_10']:.1f} %, within +-5 % {100 * h['within_5']:.1f} %, worst {100 * h['max_rel_error']:.1f} %"
            + (f"; {h['unpredictable']} need unmeasured terms" if h.get("unpredictable") else "")
        )
    lines.append(f"table written to {s['path']}")
    return "\n".join(lines)


__all__ = ["NAMED_SPACES", "named_space", "profile_to_file", "resolve_space", "space_from_file", "summary_text"]
