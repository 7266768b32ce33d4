"""The ``nasaccel width`` subcommand: latency-constrained width search from the command line."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

__all__ = ["add_width_parser", "run_width"]


def add_width_parser(sub: Any) -> None:
    """Register ``width`` on the ``nasaccel`` subcommand parser."""
    w = sub.add_parser(
        "width",
        help="latency-constrained width search (AOWS): widths, fine-tuned network, latency, ONNX",
        description="Train a slimmable backbone, choose per-layer widths under a latency budget measured on this "
        "CPU with ONNX Runtime, fine-tune the chosen network and export it to ONNX.",
    )
    w.add_argument("--data", default="mnist1d", choices=["mnist1d", "digits"], help="embedded data set")
    w.add_argument("--num-samples", type=int, default=None, help="MNIST-1D signals to generate (default 5000)")
    budget = w.add_mutually_exclusive_group(required=True)
    budget.add_argument("--budget-ms", type=float, help="latency budget in milliseconds")
    budget.add_argument("--budget-fraction", type=float,
                        help="budget as a fraction of the way from the narrowest (0) to the widest (1) network")
    w.add_argument("--backbone", default=None, help="ChainSpace text of the base network (default: MobileNetV1-like)")
    w.add_argument("--residual", action="store_true", help="default backbone with residuals (tied widths)")
    w.add_argument("--scale", type=float, default=0.5, help="factor on the default backbone's base widths")
    w.add_argument("--multipliers", default=None, help="comma-separated width multipliers (default 0.2..1.5)")
    w.add_argument("--table", default=None, help="latency table JSON of this space (built when absent)")
    w.add_argument("--save-table", default=None, help="write the latency table used to this JSON file")
    w.add_argument("--method", default="aows", choices=["aows", "greedy", "uniform"])
    w.add_argument("--solver", default="exact", choices=["exact", "lagrangian"])
    w.add_argument("--adaptive", action="store_true", help="adaptive narrowing of the width sampling (aows)")
    w.add_argument("--epochs", type=int, default=8, help="slimmable training epochs")
    w.add_argument("--finetune-epochs", type=int, default=4)
    w.add_argument("--batch-size", type=int, default=128)
    w.add_argument("--seed", type=int, default=0)
    w.add_argument("--threads", type=int, default=1, help="torch and ONNX Runtime threads")
    w.add_argument("--latency-batch", type=int, default=1, help="batch size of the timed ONNX graphs and the export")
    w.add_argument("--onnx", default="width.onnx", help="ONNX file of the chosen network")
    w.add_argument("--out", default=None, help="write the result as JSON here")
    w.add_argument("-q", "--quiet", action="store_true")
    w.set_defaults(func=run_width)


def _multipliers(text: str | None) -> Any:
    from ..spaces.width import DEFAULT_MULTIPLIERS

    if text is None:
        return DEFAULT_MULTIPLIERS
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise ValueError(f"--multipliers must be comma-separated numbers, got {text!r}") from None


def run_width(args: argparse.Namespace) -> int:
    """Run the search the arguments describe; print the widths, accuracy and latency."""
    from .latency import build_width_table
    from .search import width_search

    data_args: dict[str, Any] = {}
    if args.num_samples is not None:
        if args.data != "mnist1d":
            raise ValueError("--num-samples applies to --data mnist1d only")
        data_args["num_samples"] = args.num_samples
    table: Any = args.table
    if table is not None and not Path(table).is_file():
        raise ValueError(f"latency table {table!r} does not exist")
    say = (lambda msg: None) if args.quiet else (lambda msg: print(f"[width] {msg}", flush=True))
    if args.save_table and table is None:
        # build it here so that it can be saved; width_search then uses it as given
        from ..spaces.width import WidthSpace, mobilenet_backbone
        from .training import make_data

        d = make_data(args.data, data_args)
        space = WidthSpace(d.input_shape, d.num_classes,
                           args.backbone or mobilenet_backbone(d.input_shape, residual=args.residual, scale=args.scale),
                           _multipliers(args.multipliers))
        say("measuring the latency table")
        table = build_width_table(space, seed=args.seed, threads=args.threads, batch_size=args.latency_batch).table
        table.save(args.save_table)
    res = width_search(
        args.data, data_args=data_args or None,
        budget_s=None if args.budget_ms is None else args.budget_ms / 1e3, budget_fraction=args.budget_fraction,
        backbone=args.backbone, residual=args.residual, scale=args.scale, multipliers=_multipliers(args.multipliers),
        table=table, method=args.method, solver=args.solver, adaptive=args.adaptive, epochs=args.epochs,
        finetune_epochs=args.finetune_epochs, batch_size=args.batch_size, seed=args.seed, threads=args.threads,
        batch_size_latency=args.latency_batch, onnx_path=args.onnx, progress=say,
    )
    d = res.to_dict()
    if args.out:
        Path(args.out).write_text(json.dumps(d, indent=1))
    lat = res.measured_latency_s
    print(f"widths {res.widths} ({d['arch']}), method {res.method}")
    print(f"  budget {res.budget_s * 1e3:.4g} ms, table latency {res.solution.latency_s * 1e3:.4g} ms, "
          f"measured {'-' if lat is None else f'{lat * 1e3:.4g}'} ms (ONNX Runtime, batch {args.latency_batch})")
    print(f"  val_acc {res.metrics['val_acc']:.4f}, test_acc {res.metrics['test_acc']:.4f}; ONNX written to {res.onnx_path}")
    return 0
