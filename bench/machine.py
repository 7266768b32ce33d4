"""The machine line every benchmark prints first: CPU, cores, OS, library versions and the load average."""

from __future__ import annotations

import os

from nasaccel.latency.runner import machine_description


def machine_line(**versions: str) -> str:
    """One line from :func:`nasaccel.latency.machine_description` plus ``name=version`` pairs of the peers."""
    d = machine_description()
    parts = [d["cpu"], f"{d['logical_cores']} logical CPUs ({d['usable_cores']} usable)", d["os"],
             f"Python {d['python']}", f"numpy {d['numpy']}"]
    parts += [f"{k} {v}" for k, v in versions.items()]
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    return ", ".join(parts) + f", load average {load}"
