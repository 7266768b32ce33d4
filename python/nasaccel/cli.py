"""Command line: ``nasaccel search | report | export | profile | width``."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from .configio import read_config

logger = logging.getLogger("nasaccel")


def load_config(path: str | Path) -> dict[str, Any]:
    """A study configuration from a JSON or YAML file."""
    return read_config(path)


_KNOWN_KEYS = {
    "space", "strategy", "evaluator", "objectives", "constraints", "budget", "storage", "study_name",
    "seed", "executor", "report", "export", "pruner",
    "final", "export_onnx",
}

#: The configuration ``nasaccel search`` runs without one: the main job (MNIST-1D, accuracy against
#: ONNX Runtime latency on this CPU). Relative paths in it are taken from the working directory.
CONFIGS = Path(__file__).parent / "configs"
DEFAULT_CONFIG = CONFIGS / "mnist1d_latency.json"


def run_search(config: dict[str, Any], base_dir: Path, show_progress: bool = True) -> Any:
    """Build and run the study a configuration describes; returns the study."""
    from .evaluation import evaluator_from_config
    from .evaluation.pruners import pruner_from_config
    from .spaces import space_from_config
    from .strategies import strategy_from_config
    from .study import Study

    unknown = set(config) - _KNOWN_KEYS
    if unknown:
        raise ValueError(f"unknown config key(s) {sorted(unknown)}; known: {sorted(_KNOWN_KEYS)}")
    for key in ("space", "strategy", "evaluator", "objectives"):
        if key not in config:
            raise ValueError(f"config needs a {key!r} entry")
    final_evaluator = _final_evaluator(config["final"], base_dir) if config.get("final") else None

    def resolve(p: str) -> str:
        q = Path(p)
        return str(q if q.is_absolute() else base_dir / q)

    space = space_from_config(config["space"])
    strategy = strategy_from_config(config["strategy"])
    evaluator = evaluator_from_config(config["evaluator"], base_dir=str(base_dir))
    storage = config.get("storage", "nasaccel.db")
    study = Study(
        space,
        strategy,
        evaluator,
        objectives=config["objectives"],
        constraints=config.get("constraints", ()),
        storage=resolve(storage) if storage not in (None, ":memory:") else storage,
        seed=int(config.get("seed", 0)),
        name=config.get("study_name", "nasaccel"),
        pruner=pruner_from_config(config["pruner"]) if config.get("pruner") else None,
    )
    budget = dict(config.get("budget", {}))
    unknown = set(budget) - {"trials", "timeout"}
    if unknown:
        raise ValueError(f"unknown budget key(s) {sorted(unknown)}; known: ['timeout', 'trials']")
    executor = config.get("executor", {"type": "inline"})
    if isinstance(executor, str):
        executor = {"type": executor}
    done_before = len(study.trials)
    study.optimize(
        max_trials=budget.get("trials"),
        timeout=budget.get("timeout"),
        executor=executor.get("type", "inline"),
        n_workers=executor.get("n_workers"),
        show_progress=show_progress,
    )
    logger.info("study %r: %d trials (%d this run)", study.name, len(study.trials), len(study.trials) - done_before)
    final = None
    if config.get("final"):
        final = _run_final(study, config["final"], final_evaluator, executor, show_progress)
    if config.get("export"):
        study.export_architecture(path=resolve(config["export"]))
    if config.get("export_onnx"):
        _export_best_onnx(final if final is not None else study, resolve(config["export_onnx"]))
    if config.get("report") and storage not in (None, ":memory:"):
        from .report import write_report

        links = (("final stage: the front retrained at full fidelity", "final/index.html"),) if final is not None else ()
        index = write_report(resolve(storage), resolve(config["report"]), study=study.name, links=links)
        logger.info("report of the search written to %s", index)
        if final is not None:
            index = write_report(resolve(storage), Path(resolve(config["report"])) / "final", study=final.name,
                                 links=(("the search", "../index.html"),))
            logger.info("report of the final stage written to %s", index)
    return final if final is not None else study


def _final_evaluator(final: Any, base_dir: Path) -> Any:
    """The evaluator of a ``"final"`` section, built (and a bad section refused) before the search runs."""
    from .evaluation import evaluator_from_config
    from .final import check_timeout, check_tolerance, spread_front

    if not isinstance(final, dict) or "evaluator" not in final:
        raise ValueError(
            f"'final' must be a mapping with an 'evaluator' (and optional 'top', 'tolerance', 'timeout'), got {final!r}"
        )
    unknown = set(final) - {"evaluator", "top", "tolerance", "timeout"}
    if unknown:
        raise ValueError(f"unknown final key(s) {sorted(unknown)}; known: ['evaluator', 'timeout', 'tolerance', 'top']")
    spread_front([], None, final.get("top", 6))  # checks top
    try:
        check_timeout(final.get("timeout"))
        check_tolerance(final.get("tolerance", 0.0))
    except ValueError as e:
        raise ValueError(f"final {e}") from None
    return evaluator_from_config(final["evaluator"], base_dir=str(base_dir))


def _run_final(study: Any, final: dict[str, Any], evaluator: Any, executor: dict[str, Any], show_progress: bool) -> Any:
    """The final stage a config's ``"final": {"top": N, "tolerance": eps, "timeout": s, "evaluator": {...}}`` asks for."""
    from .final import retrain_front

    return retrain_front(
        study, evaluator, top=final.get("top", 6), tolerance=final.get("tolerance", 0.0), timeout=final.get("timeout"),
        executor=executor.get("type", "inline"), n_workers=executor.get("n_workers"), show_progress=show_progress,
    )


def _export_best_onnx(study: Any, path: str, batch_size: int = 1) -> dict[str, Any]:
    """Write the best trial of ``study`` as ONNX with its trained weights (and its JSON document beside it)."""
    config = study.storage.study_config(study._id)
    return _export_onnx(study.space, study.best_trial, config, study.name, path, batch_size)


def _export_onnx(space: Any, trial: Any, config: dict[str, Any], name: str, path: str, batch_size: int) -> dict[str, Any]:
    from .final import calibration_inputs, export_onnx, train_config, trained_state
    from .study import architecture_document

    state = trained_state(config["evaluator"], trial.arch)
    info = export_onnx(space, space.from_text(trial.arch), state, path, batch_size=batch_size)
    doc = architecture_document(space, trial, name) | {"onnx": info}
    train = train_config(config["evaluator"])
    if train is not None and train.get("int8_accuracy"):
        # the trainer measured the int8 deployment: write that graph too, calibrated as it was
        int8_path = str(Path(path).with_name(Path(path).stem + "_int8.onnx"))
        calibration = calibration_inputs(train)
        doc["onnx_int8"] = export_onnx(space, space.from_text(trial.arch), state, int8_path, batch_size=batch_size,
                                       precision="int8", calibration=calibration)
        logger.info("its int8 graph written to %s (its predictions agree with torch on %.0f%% of calibration examples)",
                    int8_path, 100 * doc["onnx_int8"]["argmax_agreement"])
    Path(path).with_suffix(".json").write_text(json.dumps(doc, indent=1))
    logger.info(
        "trial #%d (%s) exported to %s: ONNX Runtime matches torch to %.2g", trial.number, trial.arch, path,
        info["max_abs_diff"],
    )
    return info


def _cmd_search(args: argparse.Namespace) -> int:
    shipped = sorted(p.stem for p in CONFIGS.glob("*.json"))
    if args.config is None:
        config, base = load_config(DEFAULT_CONFIG), Path.cwd()
        print(f"no config given: running the default search {DEFAULT_CONFIG.name} (files go to {base})")
    elif not Path(args.config).exists() and args.config in shipped:
        config, base = load_config(CONFIGS / f"{args.config}.json"), Path.cwd()
        print(f"running the shipped search {args.config}.json (files go to {base})")
    elif not Path(args.config).exists():
        raise ValueError(f"config {args.config!r} is neither a file nor a shipped config; shipped: {shipped}")
    else:
        config, base = load_config(args.config), Path(args.config).resolve().parent
    study = run_search(config, base, show_progress=not args.quiet)
    try:
        best = study.best_trial
    except ValueError as e:
        print(f"no feasible result: {e}")
        return 1
    metrics = ", ".join(f"{k}={v:.5g}" for k, v in sorted(best.metrics.items()))
    print(f"best trial #{best.number}: {best.arch}\n  {metrics}")
    if len(study.objectives) > 1:
        front = study.pareto_front()
        print(f"Pareto front: {len(front)} trial(s)")
        for t in sorted(front, key=lambda t: t.metrics[study.objectives[1].name]):
            print("  " + ", ".join(f"{o.name}={t.metrics[o.name]:.5g}" for o in study.objectives) + f"  {t.arch}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from .report import write_report

    index = write_report(args.db, args.out, study=args.study)
    print(f"report written to {index}")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from .storage import SQLiteStorage

    storage = SQLiteStorage(args.db)
    names = storage.study_names()
    name = args.study or _default_study(names)
    if name not in names:
        raise ValueError(f"name the study to export (--study); the storage holds {names}")
    sid, _ = storage.open_study(name, {})
    config = storage.study_config(sid)
    from .spaces import space_from_config
    from .study import architecture_document, best_feasible
    from .trial import Constraint, Objective

    trials = storage.trials(sid)
    if args.trial is not None:
        if not 0 <= args.trial < len(trials):
            raise ValueError(f"trial {args.trial} out of range [0, {len(trials)})")
        trial = trials[args.trial]
    else:
        constraints = [Constraint(*c) for c in config["constraints"]]
        trial = best_feasible(trials, Objective(*config["objectives"][0]), constraints)
    space = space_from_config(config["space"])
    if args.onnx is not None:
        info = _export_onnx(space, trial, config, name, args.onnx, args.batch_size)
        print(f"trial #{trial.number} ({trial.arch}) of {name!r} written to {args.onnx} with its trained weights "
              f"(batch {args.batch_size}; ONNX Runtime matches torch to {info['max_abs_diff']:.2g})")
        if args.out is None:
            return 0
    doc = architecture_document(space, trial, name)
    out = args.out or "architecture.json"
    Path(out).write_text(json.dumps(doc, indent=1))
    print(f"trial #{trial.number} ({trial.arch}) written to {out}")
    return 0


def _default_study(names: list[str]) -> str | None:
    """The only study, or the latest final stage of the only search in a storage."""
    from .final import final_study_names

    if len(names) == 1:
        return names[0]
    bases = [n for n in names if not any(n in final_study_names(names, b) for b in names)]
    if len(bases) == 1:
        finals = final_study_names(names, bases[0])
        if finals and len(finals) + 1 == len(names):
            return finals[-1]
    return None


def _cmd_profile(args: argparse.Namespace) -> int:
    from .latency.command import profile_to_file, summary_text

    summary = profile_to_file(
        args.space, args.out, networks=args.networks, holdout=args.holdout, threads=args.threads,
        batch_size=args.batch_size, input_size=args.input_size, passes=args.passes, seed=args.seed,
        priors=args.priors, monotone=args.monotone, max_seconds=args.max_seconds, statistic=args.statistic,
        precision=args.precision, progress=None if args.quiet else sys.stderr,
    )
    print(summary_text(summary))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="nasaccel", description="Hardware-aware neural architecture search.")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("search", help="run (or resume) a search described by a JSON/YAML config")
    s.add_argument(
        "config", nargs="?", default=None,
        help="config file: space, strategy, evaluator, objectives, budget, storage; or the name of a shipped config "
             "(mnist1d_latency: the default MNIST-1D latency search; mnist1d_latency_int8: the same for int8 deployment)",
    )
    s.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    s.set_defaults(func=_cmd_search)

    r = sub.add_parser("report", help="plots and an HTML page for a study database")
    r.add_argument("db", help="SQLite database of the study")
    r.add_argument("-o", "--out", default="report", help="output folder (default: report)")
    r.add_argument("--study", default=None, help="study name, when the database holds several")
    r.set_defaults(func=_cmd_report)

    e = sub.add_parser(
        "export", help="write a trial's architecture (default: the best) as JSON, and as ONNX with its trained weights"
    )
    e.add_argument("db", help="SQLite database of the study")
    e.add_argument("-o", "--out", default=None, help="architecture JSON (default: architecture.json unless --onnx)")
    e.add_argument("--onnx", default=None, help="also write the network with its trained weights as ONNX here")
    e.add_argument("--batch-size", type=int, default=1, help="fixed batch size of the ONNX graph (default 1)")
    e.add_argument("--study", default=None)
    e.add_argument("--trial", type=int, default=None, help="trial number (default: the best feasible)")
    e.set_defaults(func=_cmd_export)

    f = sub.add_parser("profile", help="build a latency table for a space on this device (ONNX Runtime)")
    f.add_argument("space", help="mobilenet, nb201, macro, mnist1d, or a space config file (JSON/YAML)")
    f.add_argument("-o", "--out", default="latency_table.json", help="table JSON (default: latency_table.json)")
    f.add_argument("--networks", type=int, default=300, help="networks measured for the table (default 300)")
    f.add_argument("--holdout", type=int, default=50, help="fresh networks measured to report the error (default 50)")
    f.add_argument("--threads", type=int, default=1, help="ONNX Runtime intra-op threads (default 1)")
    f.add_argument("--batch-size", type=int, default=1, help="batch size of the timed calls (default 1)")
    f.add_argument("--input-size", type=int, default=None, help="image size of nb201/macro/mobilenet (default 32)")
    f.add_argument("--passes", type=int, default=3, help="timing passes per network, minimum kept (default 3)")
    f.add_argument("--max-seconds", type=float, default=0.15, help="time cap of one timing pass (default 0.15)")
    f.add_argument("--priors", type=float, default=None, help="weight of isolated-term timings (chain spaces; default 0.3)")
    f.add_argument("--monotone", action="store_true", help="latency does not fall when channels grow")
    f.add_argument("--statistic", default="median", help="per pass: median (default) or min (fastest call)")
    f.add_argument("--precision", default="fp32", help="fp32 (default) or int8: time the static int8 graphs")
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    f.set_defaults(func=_cmd_profile)

    from .width.cli import add_width_parser

    add_width_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    try:
        return int(args.func(args) or 0)
    except (ValueError, KeyError, FileNotFoundError) as e:
        print(f"nasaccel {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
