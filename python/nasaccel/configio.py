"""Reading configuration files (JSON, or YAML when PyYAML is installed) shared by the command-line tools."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def read_config(path: str | Path, what: str = "config") -> dict[str, Any]:
    """The mapping held by a JSON or YAML (``.yaml``/``.yml``) file.

    Raises
    ------
    ValueError
        When the file is missing, does not parse, or holds something other than a mapping; the message
        starts with ``what`` and names the file.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{what} file {str(path)!r} does not exist")
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError as e:
            raise ValueError(f"reading {path.name} needs PyYAML (pip install pyyaml), or write the {what} as JSON") from e
        try:
            config = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise ValueError(f"{what} {str(path)!r} is not valid YAML: {e}") from None
    else:
        try:
            config = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"{what} {str(path)!r} is not valid JSON: {e}") from None
    if not isinstance(config, dict):
        raise ValueError(f"{what} {str(path)!r} must hold a mapping, got {type(config).__name__}")
    return config
