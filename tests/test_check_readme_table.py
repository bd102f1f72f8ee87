"""scripts/check_readme_table.py: the README's measured table against the demo's results.md."""
from __future__ import annotations

import pytest
from script_loader import REPO, load_script

check = load_script("scripts/check_readme_table.py")

RESULTS = """| Method             | angle | $AP_{0.5}$ | $mAP$ |
| ------------------ | ----- | ---------- | ----- |
| RetinaNet-(maxiou) | le135 | 66.10      | 30.02 |
| RetinaNet-(ATSS)   | le135 | 72.10      | 34.50 |

`paa-edu demo --out paa_demo`, 2026-12-02 02:00 UTC, x86_64, ...
"""


def _readme(table: str) -> str:
    return f"# Title\n\nSome text | with a bar.\n\n{check.BEGIN}\n{table}\n{check.END}\n\nMore.\n"


def test_equal_tables_pass_whatever_the_padding(tmp_path):
    squeezed = "\n".join("|" + "|".join(c.strip() for c in line.strip("|").split("|")) + "|"
                         for line in RESULTS.splitlines()[:4])
    (tmp_path / "results.md").write_text(RESULTS)
    (tmp_path / "README.md").write_text(_readme(squeezed))
    assert check.main([str(tmp_path / "results.md"), "--readme", str(tmp_path / "README.md")]) == 0


def test_a_changed_value_a_missing_row_and_a_reordered_table_are_reported():
    rows = check.table_rows(RESULTS)
    assert rows[0] == ["Method", "angle", "$AP_{0.5}$", "$mAP$"] and len(rows) == 3
    stale = [r[:] for r in rows]
    stale[1][2] = "62.80"
    assert check.differences(rows, stale) == [
        "row 1 (RetinaNet-(maxiou)), $AP_{0.5}$: demo '66.10', README '62.80'"]
    assert check.differences(rows, rows[:2]) == ["the demo's table has 2 rows, the README's 1"]
    swapped = [rows[0], rows[2], rows[1]]
    assert len(check.differences(rows, swapped)) == 6  # three cells in each of two rows
    assert check.differences(rows, [rows[0], rows[1], rows[2][:3]]) == [
        "row 2 (RetinaNet-(ATSS)): 4 columns in the demo's, 3 in the README's"]
    assert check.differences([], rows) == ["the demo's results file holds no table"]


def test_main_exit_codes_and_update(tmp_path, capsys):
    results, readme = tmp_path / "results.md", tmp_path / "README.md"
    results.write_text(RESULTS)
    readme.write_text(_readme(RESULTS.replace("72.10", "72.37").split("\n\n")[0]))
    args = [str(results), "--readme", str(readme)]
    assert check.main(args) == 1
    assert "$AP_{0.5}$: demo '72.10', README '72.37'" in capsys.readouterr().out
    assert check.main([*args, "--update"]) == 0
    assert check.main(args) == 0
    text = readme.read_text()
    assert text.startswith("# Title\n\nSome text") and text.endswith(f"{check.END}\n\nMore.\n")
    assert "`paa-edu demo" not in text  # only the table is pasted, not the run's note
    readme.write_text("no markers")
    assert check.main(args) == 2
    assert "demo-table:begin" in capsys.readouterr().err
    (tmp_path / "empty.md").write_text("no table here\n")
    readme.write_text(_readme(""))
    assert check.main([str(tmp_path / "empty.md"), "--readme", str(readme)]) == 2
    assert check.main([str(tmp_path / "missing.md"), "--readme", str(readme)]) == 2


def test_the_repository_readme_has_exactly_one_marked_table():
    from paa_edu.config import VARIANTS, apply_overrides
    from paa_edu.evaluation.report import method_name
    from paa_edu.presets import tiny_synthetic
    readme = (REPO / "README.md").read_text()
    start, stop = check.readme_block(readme)
    rows = check.table_rows(readme[start:stop])
    assert rows[0][0] == "Method" and len(rows) == 1 + len(VARIANTS)  # the demo's variants
    names = [method_name(apply_overrides(tiny_synthetic(), [f"model.assigner={a}",
                                                            f"model.paa_init={i}"]))
             for _, a, i in VARIANTS]
    assert [r[0] for r in rows[1:]] == names


@pytest.mark.parametrize("bad", ["", f"{check.END}\n{check.BEGIN}"])
def test_bad_markers_raise(bad):
    with pytest.raises(ValueError, match="marker|README must hold"):
        check.readme_block(bad)
