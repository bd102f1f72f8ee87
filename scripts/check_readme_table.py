"""Check that the README's measured table is the one ``paa-edu demo`` wrote.

    python scripts/check_readme_table.py paa_demo/results.md            # exit 0 if equal
    python scripts/check_readme_table.py paa_demo/results.md --update   # paste it in

The README's table sits between the two marker lines below; ``results.md`` starts with the
demo's table. Cells are compared after stripping the padding spaces, so only a different
value (or a missing, extra or reordered row) counts as a difference.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

BEGIN = "<!-- demo-table:begin (scripts/check_readme_table.py) -->"
END = "<!-- demo-table:end -->"
README = Path(__file__).resolve().parent.parent / "README.md"


def table_lines(text: str) -> list[str]:
    """The lines of the first markdown table in ``text``, as written."""
    lines = []
    for line in text.splitlines():
        if line.strip().startswith("|"):
            lines.append(line.strip())
        elif lines:
            break
    return lines


def table_rows(text: str) -> list[list[str]]:
    """Cells of the first markdown table in ``text`` (its separator row left out)."""
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in table_lines(text)]
    return [cells for cells in rows if not all(set(c) <= set("-: ") for c in cells)]


def readme_block(readme: str) -> tuple[int, int]:
    """(start, stop) character offsets of the text between the README's markers."""
    if readme.count(BEGIN) != 1 or readme.count(END) != 1:
        raise ValueError(f"README must hold the line {BEGIN!r} once and {END!r} once")
    start, stop = readme.index(BEGIN) + len(BEGIN), readme.index(END)
    if stop < start:
        raise ValueError("README: the end marker comes before the begin marker")
    return start, stop


def differences(expected: list[list[str]], actual: list[list[str]]) -> list[str]:
    """Readable differences between the demo's rows (``expected``) and the README's."""
    if not expected:
        return ["the demo's results file holds no table"]
    out = []
    if len(expected) != len(actual):
        out.append(f"the demo's table has {len(expected) - 1} rows, the README's "
                   f"{len(actual) - 1}")
    header = expected[0]
    for number, (want, got) in enumerate(zip(expected, actual)):
        if want == got:
            continue
        where = "header" if number == 0 else f"row {number} ({want[0]})"
        if len(want) != len(got):
            out.append(f"{where}: {len(want)} columns in the demo's, {len(got)} in the README's")
            continue
        out += [f"{where}, {header[i]}: demo {w!r}, README {g!r}"
                for i, (w, g) in enumerate(zip(want, got)) if w != g]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, help="the results.md that `paa-edu demo` wrote")
    parser.add_argument("--readme", type=Path, default=README)
    parser.add_argument("--update", action="store_true",
                        help="write the demo's table into the README instead of comparing")
    args = parser.parse_args(argv)
    try:
        results, readme = args.results.read_text(), args.readme.read_text()
        start, stop = readme_block(readme)
        if not table_lines(results):
            raise ValueError(f"{args.results} holds no markdown table")
    except (OSError, ValueError) as err:
        print(f"check_readme_table: error: {err}", file=sys.stderr)
        return 2
    if args.update:
        table = "\n".join(table_lines(results))
        args.readme.write_text(readme[:start] + "\n" + table + "\n" + readme[stop:])
        print(f"{args.readme}: table replaced by the one in {args.results}")
        return 0
    problems = differences(table_rows(results), table_rows(readme[start:stop]))
    if problems:
        print(f"{args.readme} differs from {args.results}:\n  " + "\n  ".join(problems))
        return 1
    print(f"{args.readme}: the measured table equals {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
