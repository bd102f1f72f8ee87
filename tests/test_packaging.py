"""Packaging and code-shape checks: the install paths agree, one geometry implementation."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    """Normalised distribution name of a requirement string ("Foo_bar>=1" -> "foo-bar")."""
    return re.split(r"[<>=!~\[; ]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pip_section(environment_yml: str) -> list[str]:
    """Items of the ``pip:`` list of a conda environment file (a small line parser)."""
    items, in_pip, pip_indent = [], False, 0
    for line in environment_yml.splitlines():
        stripped = line.split("#", 1)[0].rstrip()
        if not stripped:
            continue
        indent = len(stripped) - len(stripped.lstrip())
        if stripped.strip() == "- pip:":
            in_pip, pip_indent = True, indent
        elif in_pip and indent > pip_indent and stripped.strip().startswith("- "):
            items.append(stripped.strip()[2:].strip())
        elif in_pip:
            in_pip = False
    return items


def test_environment_yml_lists_the_pyproject_requirements():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_name(r) for r in project["dependencies"] + project["optional-dependencies"]["test"]}
    pip_items = _pip_section((ROOT / "environment.yml").read_text())
    listed = {_name(item) for item in pip_items if not item.startswith("-")}
    assert listed == wanted
    assert "-e ." in pip_items
    # The pins of the pip path (README and .ci/run) are the ones conda users get too.
    assert {"torch==2.14.1", "torchvision==0.29.1"} <= set(pip_items)
    assert "torch==2.14.1 torchvision==0.29.1" in (ROOT / ".ci" / "run").read_text()


def test_ci_runs_the_readme_test_command():
    readme, ci = (ROOT / "README.md").read_text(), (ROOT / ".ci" / "run").read_text()
    commands = re.findall(r"^(\.venv/bin/python -m pytest .*)$", readme, flags=re.M)
    assert commands, "README.md must give the test command"
    assert commands[0] in ci.splitlines()


def test_trigonometry_lives_in_the_geometry_modules():
    """Box math (cos/sin/atan2 on angles) has one home: geometry/, the coder and flips."""
    offenders = []
    for path in (ROOT / "paa_edu").rglob("*.py"):
        rel = path.relative_to(ROOT / "paa_edu")
        if rel.parts[0] == "geometry" or rel.as_posix() == "model/coder.py":
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"torch\.(cos|sin|atan2)\(|np\.(cos|sin|arctan2)\(", line):
                offenders.append(f"{rel}:{number}: {line.strip()}")
    assert not offenders, "trigonometry outside the geometry modules:\n" + "\n".join(offenders)


def test_modules_stay_small():
    too_long = [f"{p.relative_to(ROOT)}: {n} lines" for p in (ROOT / "paa_edu").rglob("*.py")
                if (n := len(p.read_text().splitlines())) > 400]
    assert not too_long, too_long


def test_test_modules_have_unique_names():
    # tests/ has no __init__.py files: pytest imports each test module by its file name, so two
    # test_gmm.py in different folders stop the whole run at collection ("import file mismatch")
    seen: dict[str, list[str]] = {}
    for path in (ROOT / "tests").rglob("test_*.py"):
        seen.setdefault(path.name, []).append(str(path.relative_to(ROOT)))
    assert not {name: paths for name, paths in seen.items() if len(paths) > 1}


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def test_pins_satisfy_the_floors_and_the_floors_the_apis():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    floors = {_name(r): _version(r.split(">=")[1]) for r in project["dependencies"] if ">=" in r}
    # torch.amp.GradScaler("cuda") (train.py) exists from torch 2.3; torchvision 0.18 is its pair.
    assert floors["torch"] >= (2, 3) and floors["torchvision"] >= (0, 18)
    pins = {_name(item): _version(item.split("==")[1])
            for item in _pip_section((ROOT / "environment.yml").read_text()) if "==" in item}
    for name, pin in pins.items():
        assert pin >= floors.get(name, ()), f"environment.yml pins {name} below pyproject's floor"
