"""scripts/run_notebooks.py: nbval comment markers become cell tags that nbval reads alike."""
from __future__ import annotations

from collections import defaultdict

import nbformat
from nbval.plugin import find_comment_markers, find_metadata_tags

from tests.script_loader import load_script

run_notebooks = load_script("scripts/run_notebooks.py")


def _notebook(*sources: str):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell("# NBVAL_CHECK_OUTPUT in prose stays")]
    notebook.cells += [nbformat.v4.new_code_cell(source) for source in sources]
    return notebook


def test_markers_move_into_tags_and_nbval_reads_them_as_before():
    sources = ("# NBVAL_CHECK_OUTPUT\nprint(1)", "#  NBVAL_IGNORE_OUTPUT\nx = 2\nx",
               "# NBVAL_SKIP\nimport time", "y = 3  # a plain comment")
    notebook = _notebook(*sources)
    before = [dict(find_comment_markers(s)) for s in sources]  # nbval's reading of the comments
    assert run_notebooks.markers_to_tags(notebook) == 3
    code = notebook.cells[1:]
    assert [c.source for c in code] == ["print(1)", "x = 2\nx", "import time",
                                        "y = 3  # a plain comment"]
    after = [dict(find_metadata_tags(c.metadata)) for c in code]
    assert after == before  # the same options for every cell, now from the tags
    assert code[0].metadata["tags"] == ["nbval-check-output"]
    assert "tags" not in code[3].metadata
    assert notebook.cells[0].source == "# NBVAL_CHECK_OUTPUT in prose stays"


def test_moving_twice_changes_nothing_and_keeps_other_tags():
    notebook = _notebook("# NBVAL_CHECK_OUTPUT\nprint(1)")
    notebook.cells[1].metadata["tags"] = ["hide-input"]
    run_notebooks.markers_to_tags(notebook)
    assert run_notebooks.markers_to_tags(notebook) == 0
    assert notebook.cells[1].metadata["tags"] == ["hide-input", "nbval-check-output"]
    options = defaultdict(bool, find_metadata_tags(notebook.cells[1].metadata))
    assert options["check"] is True
