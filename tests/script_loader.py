"""Import a repository script (``scripts/`` or ``benchmarks/``, not a package) by its path."""
from __future__ import annotations

import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def load_script(relative_path: str):
    """The module of ``REPO / relative_path`` (e.g. ``"benchmarks/bench_input.py"``), executed."""
    path = REPO / relative_path
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
