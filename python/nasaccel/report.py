"""Plots and an HTML page for a study, read from its storage alone."""

from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from .storage import SQLiteStorage, Storage
from .trial import Constraint, Objective, Trial, TrialState


def _load(storage: Storage, study: str | None) -> tuple[str, dict[str, Any], list[Trial]]:
    names = storage.study_names()
    if not names:
        raise ValueError("the storage holds no study")
    if study is None:
        if len(names) > 1:
            raise ValueError(f"the storage holds several studies {names}: name one")
        study = names[0]
    if study not in names:
        raise ValueError(f"no study named {study!r}; the storage holds {names}")
    sid, _ = storage.open_study(study, {})
    return study, storage.study_config(sid), storage.trials(sid)


def _pareto_mask(points: np.ndarray) -> np.ndarray:
    """Non-dominated rows under maximisation of every column."""
    from ._core import non_dominated_sort

    if len(points) == 0:
        return np.zeros(0, dtype=bool)
    return np.asarray(non_dominated_sort(-points)) == 0


def write_report(
    db: str | Path | Storage, out_dir: str | Path, study: str | None = None, links: tuple[tuple[str, str], ...] = ()
) -> Path:
    """Write ``history.png``, ``pareto.png`` (with two or more objectives), ``trials.csv`` and ``index.html``.

    ``links`` are ``(text, relative URL)`` pairs listed at the top of the page (e.g. the final stage's report).
    Returns the path of ``index.html``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    storage = db if isinstance(db, Storage) else SQLiteStorage(db)
    name, config, trials = _load(storage, study)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    objectives = [Objective(n, d) for n, d in config.get("objectives", [])]
    constraints = [Constraint(m, op, b) for m, op, b in config.get("constraints", [])]
    if not objectives:
        raise ValueError(f"study {name!r} records no objectives")
    done = [t for t in trials if t.state == TrialState.COMPLETE and objectives[0].name in t.metrics]
    feasible = [t.violation(constraints) == 0.0 for t in done]
    primary = objectives[0]
    figures = []

    fig, ax = plt.subplots(figsize=(7, 4))
    if done:
        xs = np.array([t.number for t in done])
        ys = np.array([t.metrics[primary.name] for t in done])
        feas = np.array(feasible)
        ax.scatter(xs[feas], ys[feas], s=12, label="feasible", color="tab:blue")
        if (~feas).any():
            ax.scatter(xs[~feas], ys[~feas], s=12, label="infeasible", color="tab:gray", marker="x")
        best, running = -math.inf, []
        for t, f in zip(done, feasible):
            if f:
                best = max(best, primary.sign * t.metrics[primary.name])
            running.append(primary.sign * best if best > -math.inf else np.nan)
        ax.step(xs, running, where="post", color="tab:red", label="best feasible so far")
        ax.legend()
    ax.set_xlabel("trial")
    ax.set_ylabel(primary.name)
    ax.set_title(f"{name}: optimisation history")
    fig.tight_layout()
    fig.savefig(out / "history.png", dpi=110)
    plt.close(fig)
    figures.append(("Optimisation history", "history.png"))

    if len(objectives) >= 2:
        a, b = objectives[0], objectives[1]
        pts = [(t, f) for t, f in zip(done, feasible) if b.name in t.metrics]
        fig, ax = plt.subplots(figsize=(7, 4))
        if pts:
            P = np.array([[t.metrics[b.name], t.metrics[a.name]] for t, _ in pts])
            feas = np.array([f for _, f in pts])
            ax.scatter(P[:, 0], P[:, 1], s=12, color="tab:gray", alpha=0.6, label="trials")
            signed = np.column_stack([b.sign * P[:, 0], a.sign * P[:, 1]])
            front = np.zeros(len(P), dtype=bool)
            if feas.any():
                front[np.flatnonzero(feas)[_pareto_mask(signed[feas])]] = True
            F = P[front][np.argsort(P[front][:, 0])]
            ax.plot(F[:, 0], F[:, 1], "o-", color="tab:red", label="Pareto front (feasible)")
            ax.legend()
        for c in constraints:
            if c.metric == b.name:
                ax.axvline(c.bound, color="k", ls="--", lw=1)
        ax.set_xlabel(f"{b.name} ({b.direction})")
        ax.set_ylabel(f"{a.name} ({a.direction})")
        ax.set_title(f"{name}: {a.name} against {b.name}")
        fig.tight_layout()
        fig.savefig(out / "pareto.png", dpi=110)
        plt.close(fig)
        figures.append(("Pareto front", "pareto.png"))

    metric_names = sorted({m for t in trials for m in t.metrics})
    with (out / "trials.csv").open("w") as f:
        f.write(",".join(["number", "state", "arch"] + metric_names) + "\n")
        for t in trials:
            vals = [str(t.metrics.get(m, "")) for m in metric_names]
            f.write(",".join([str(t.number), t.state.value, json.dumps(t.arch)] + vals) + "\n")

    counts = {s.value: sum(t.state == s for t in trials) for s in TrialState}
    best_rows = sorted(
        (t for t, f in zip(done, feasible) if f), key=lambda t: -primary.sign * t.metrics[primary.name]
    )[:10]
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>nasaccel report: {html.escape(name)}</title>",
        "<style>body{font-family:sans-serif;max-width:1000px;margin:auto}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 6px;font-size:13px}"
        "code{font-size:12px}</style></head><body>",
        f"<h1>Study {html.escape(name)}</h1>",
        "<p>Objectives: " + ", ".join(f"{html.escape(o.name)} ({o.direction})" for o in objectives) + "<br>",
        "Constraints: " + (", ".join(html.escape(str(c)) for c in constraints) or "none") + "<br>",
        "Trials: " + ", ".join(f"{k} {v}" for k, v in counts.items() if v) + "</p>",
    ]
    if links:
        parts.append("<p>" + " | ".join(f"<a href='{html.escape(u)}'>{html.escape(t)}</a>" for t, u in links) + "</p>")
    for title, fname in figures:
        parts.append(f"<h2>{title}</h2><img src='{fname}' alt='{title}'>")
    parts.append(f"<h2>Best feasible trials by {html.escape(primary.name)}</h2><table><tr><th>#</th><th>architecture</th>")
    parts += [f"<th>{html.escape(m)}</th>" for m in metric_names] + ["</tr>"]
    for t in best_rows:
        cells = "".join(f"<td>{t.metrics[m]:.5g}</td>" if m in t.metrics else "<td></td>" for m in metric_names)
        parts.append(f"<tr><td>{t.number}</td><td><code>{html.escape(t.arch)}</code></td>{cells}</tr>")
    parts.append("</table><p>All trials: <a href='trials.csv'>trials.csv</a></p>")
    parts.append("<h2>Configuration</h2><pre>" + html.escape(json.dumps(config, indent=1)) + "</pre></body></html>")
    (out / "index.html").write_text("\n".join(parts))
    if not isinstance(db, Storage):
        storage.close()
    return out / "index.html"
