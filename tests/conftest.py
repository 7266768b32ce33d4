"""Shared fixtures: where the real NAS benchmark tables live."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def find_benchmarks() -> Path | None:
    """The folder holding nb201.csv and nas_bench_macro_cifar10.json, or None."""
    candidates = []
    if os.environ.get("NASACCEL_BENCHMARKS"):
        candidates.append(Path(os.environ["NASACCEL_BENCHMARKS"]))
    candidates += [ROOT.parent / "shared" / "benchmarks", Path("/work/shared/benchmarks")]
    for c in candidates:
        if (c / "nb201.csv").is_file():
            return c
    return None


@pytest.fixture(scope="session")
def benchmarks_dir() -> Path:
    """Folder of the benchmark tables; CI keeps shared/ beside the clone, so it must be there."""
    d = find_benchmarks()
    if d is None:
        pytest.fail("benchmark tables not found: set NASACCEL_BENCHMARKS or keep ../shared/benchmarks beside the repo")
    return d


@pytest.fixture(scope="session")
def check_canonical_round_trip():
    """``check(space, genome)``: text, decisions and decode all describe exactly the canonical form of ``genome``
    (canonicalize is idempotent); returns the JSON round-tripped decode for space-specific checks."""
    import json

    def check(space, g):
        c = space.canonicalize(g)
        assert space.canonicalize(c) == c
        t = space.to_text(g)
        assert space.from_text(t) == c and space.to_text(c) == t
        assert space.genome_from_decisions(space.decisions_of(g)) == c
        d = json.loads(json.dumps(space.decode(g)))
        assert d == space.decode(c) and d["text"] == t
        return d

    return check
