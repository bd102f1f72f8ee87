"""Re-execute the notebooks in place so their stored outputs match the library (nbval checks them).

Usage: ``python scripts/run_notebooks.py [notebooks/NN_name.ipynb ...]`` (default: all of them).
Runs each notebook top to bottom in a fresh ``python3`` kernel with ``notebooks/`` as the working
directory and :data:`paa_edu.notebook.REPRODUCIBLE_CPU_ENV` (as nbval's kernels get it from
``notebooks/conftest.py``), stops at the first error and names the notebook and cell. A
``# NBVAL_CHECK_OUTPUT`` (or ``NBVAL_IGNORE_OUTPUT``, ``NBVAL_SKIP``, ``NBVAL_RAISES_EXCEPTION``)
comment line is moved into the cell's tags (``nbval-check-output``, ...), which nbval reads the
same way and which keep the lesson's code free of test markers. The figures the notebooks pass to
:func:`paa_edu.save_figure` are written to ``docs/figures/`` (this script is the only
thing that does; ``--no-save-figures`` turns it off). Widget cells store the static figure of
their defaults (``PAA_EDU_STATIC_WIDGETS``, see :func:`paa_edu.interactive`).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat
from nbconvert.preprocessors import CellExecutionError, ExecutePreprocessor

from paa_edu.notebook import REPRODUCIBLE_CPU_ENV, STATIC_WIDGETS_ENV

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
FIGURES = NOTEBOOKS.parent / "docs" / "figures"


MARKERS = ("NBVAL_CHECK_OUTPUT", "NBVAL_IGNORE_OUTPUT", "NBVAL_SKIP", "NBVAL_RAISES_EXCEPTION")


def _marker(line: str) -> str | None:
    """``NBVAL_CHECK_OUTPUT`` for the line ``# NBVAL_CHECK_OUTPUT``; ``None`` for any other."""
    text = line.strip()
    name = text.lstrip("#").strip()
    return name if text.startswith("#") and name in MARKERS else None


def markers_to_tags(notebook) -> int:
    """Move ``# NBVAL_*`` comment lines of code cells into cell tags; return how many moved."""
    moved = 0
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        lines = cell.source.splitlines()
        markers = [m for m in map(_marker, lines) if m]
        if not markers:
            continue
        tags = cell.metadata.setdefault("tags", [])
        for name in markers:
            tag = name.lower().replace("_", "-")  # nbval's tag for the comment marker
            if tag not in tags:
                tags.append(tag)
        cell.source = "\n".join(line for line in lines if not _marker(line))
        moved += len(markers)
    return moved


def run_notebook(path: Path, timeout: int) -> float:
    """Execute ``path`` in place (markers moved to tags first); return the wall time in seconds."""
    notebook = nbformat.read(path, as_version=4)
    markers_to_tags(notebook)
    start = time.perf_counter()
    executor = ExecutePreprocessor(timeout=timeout, kernel_name="python3", record_timing=False)
    executor.preprocess(notebook, {"metadata": {"path": str(NOTEBOOKS)}})
    nbformat.write(notebook, path)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/*.ipynb")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    parser.add_argument("--no-save-figures", action="store_true",
                        help="do not write docs/figures/ (paa_edu.save_figure does nothing)")
    args = parser.parse_args(argv)
    os.environ.update(REPRODUCIBLE_CPU_ENV)  # inherited by the kernels, as under nbval
    os.environ[STATIC_WIDGETS_ENV] = "1"  # widget cells store their static figure
    if args.no_save_figures:
        os.environ.pop("PAA_EDU_SAVE_FIGURES", None)
    else:  # read by paa_edu.save_figure in the kernels started below
        os.environ["PAA_EDU_SAVE_FIGURES"] = str(FIGURES)
    paths = args.notebooks or sorted(NOTEBOOKS.glob("*.ipynb"))
    if not paths:
        parser.error(f"no notebooks found in {NOTEBOOKS}")
    for path in paths:
        if not path.is_file():
            parser.error(f"no such notebook: {path}")
        try:
            seconds = run_notebook(path.resolve(), args.timeout)
        except CellExecutionError as error:
            print(f"{path}: a cell failed:\n{error}", file=sys.stderr)
            return 1
        print(f"{path}: executed in {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
