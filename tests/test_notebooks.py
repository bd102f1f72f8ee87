"""The stored notebooks keep the rules a lesson relies on (nbval runs them; this reads them).

Thin cells (at most 20 lines) without asserts (an exercise would trip them), nbval markers as
cell tags (not comments in the learner's code),
no error or warning text stored in an output, the shared setup line, exercises and references,
and figures written to docs/figures only through ``paa_edu.save_figure``.
"""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
MAX_CELL_LINES = 20


def _code_cells(path: Path):
    notebook = nbformat.read(path, as_version=4)
    return [(i, c) for i, c in enumerate(notebook.cells) if c.cell_type == "code"]


def _markdown(path: Path) -> str:
    notebook = nbformat.read(path, as_version=4)
    return "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")


def test_there_are_six_lessons():
    assert [p.name[:3] for p in NOTEBOOKS] == ["01_", "02_", "03_", "04_", "05_", "06_"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_cells_are_thin_and_free_of_test_markers(path):
    for i, cell in _code_cells(path):
        lines = cell.source.splitlines()
        assert len(lines) <= MAX_CELL_LINES, f"{path.name} cell {i}: {len(lines)} lines"
        markers = [line for line in lines if line.strip().lstrip("#").strip().startswith("NBVAL")]
        assert not markers, (f"{path.name} cell {i}: {markers[0]!r}; run scripts/run_notebooks.py "
                             "to move it into the cell's tags")
        asserts = [line for line in lines if re.match(r"\s*assert\b", line)]
        assert not asserts, (f"{path.name} cell {i}: {asserts[0].strip()!r}; an exercise would "
                             "trip it: print the fact in an nbval-check-output cell instead")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_stored_outputs_hold_no_error_or_warning(path):
    cells = _code_cells(path)
    counts = [c.execution_count for _, c in cells]
    assert counts == list(range(1, len(cells) + 1)), f"{path.name}: not run top to bottom once"
    for i, cell in cells:
        for output in cell.outputs:
            assert output.output_type != "error", f"{path.name} cell {i}: {output.get('ename')}"
            if output.output_type == "stream":
                assert output.name == "stdout", f"{path.name} cell {i}: {output.text[:200]!r}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_lesson_frame(path):
    sources = [c.source for _, c in _code_cells(path)]
    assert "notebook_setup(" in sources[0], f"{path.name}: the first cell calls notebook_setup()"
    assert not any("savefig(" in s for s in sources), f"{path.name}: use paa_edu.save_figure"
    markdown = _markdown(path)
    assert "## Exercises" in markdown and "## References" in markdown, path.name
    assert "2007.08103" in markdown, f"{path.name}: cite the PAA paper"
    exercises = markdown[markdown.index("## Exercises"):markdown.index("## References")]
    numbered = re.findall(r"^\*\*(\d)\.(?: Implement it\.)?\*\*", exercises, flags=re.M)
    assert 3 <= len(numbered) <= 6, f"{path.name}: {len(numbered)} exercises"
    for kind in ("Hint", "Solution"):
        assert exercises.count(f"<summary>{kind}</summary>") == len(numbered), (path.name, kind)
    # At least one exercise asks for an implementation, checked by paa_edu.exercises.
    assert "Implement it." in exercises, path.name
    assert any("exercises.check_" in s for s in sources), path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_slider_cells_store_a_static_figure(path):
    """An unrun notebook (and GitHub) shows the figure of the defaults, not a widget's repr."""
    for i, cell in _code_cells(path):
        if "interactive(" not in cell.source:
            continue
        kinds = [set(o.get("data", {})) for o in cell.outputs]
        assert any("image/png" in k for k in kinds), f"{path.name} cell {i}: no stored figure"
        assert not any("application/vnd.jupyter.widget-view+json" in k for k in kinds), (
            f"{path.name} cell {i}: stores a widget view; run scripts/run_notebooks.py")
