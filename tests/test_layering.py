"""The package reads bottom-up: no module imports a layer above its own, and nothing cycles.

Layers, lowest first: geometry, assigners, config, model, {data, evaluation}, engine, viz, then
the entry points (presets, notebook, predict, pretrained, demo, exercises, cli). A module may
import its own layer (inside its subpackage) and any layer below. Imports sit at the top of a
module; ``if TYPE_CHECKING:`` imports are types only and are not followed.
"""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "paa_edu"

LAYERS = {"geometry": 0, "assigners": 1, "config": 2, "model": 3, "data": 4, "evaluation": 4,
          "engine": 5, "viz": 6, "presets": 7, "notebook": 7, "predict": 8, "pretrained": 8,
          "demo": 8, "exercises": 8, "cli": 9, "__main__": 10, "__init__": 10}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> tuple[int, str]:
    """(rank, area) of a ``paa_edu.*`` module; the package root is the top."""
    parts = module.split(".")
    area = parts[1] if len(parts) > 1 else "__init__"
    return LAYERS[area], area


def type_only(node: ast.AST, tree: ast.Module) -> bool:
    return any(isinstance(n, ast.If) and "TYPE_CHECKING" in ast.unparse(n.test)
               and node in ast.walk(n) for n in tree.body)


def imports(path: Path, modules: set[str]) -> list[tuple[str, int, bool]]:
    """(imported paa_edu module, line, inside a function) for each import in ``path``."""
    tree = ast.parse(path.read_text())
    in_function = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef,
                   ast.AsyncFunctionDef)) for n in ast.walk(f)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules
                     else node.module for a in node.names]
        else:
            continue
        if type_only(node, tree):
            continue
        found += [(n, node.lineno, id(node) in in_function) for n in set(names)
                  if n.split(".")[0] == "paa_edu"]
    return found


def import_graph() -> tuple[dict[str, set[str]], list[str]]:
    files = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph, problems = {}, []
    for module, path in files.items():
        graph[module] = set()
        for target, line, in_function in imports(path, set(files)):
            where = f"{path.relative_to(PACKAGE.parent)}:{line} imports {target}"
            if in_function:
                problems.append(f"{where} inside a function")
            (rank, area), (target_rank, target_area) = layer(module), layer(target)
            if target_rank > rank or (target_rank == rank and target_area != area):
                problems.append(f"{where}: an upward import")
            graph[module].add(target)
    return graph, problems


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every import loop, found by a depth-first search (one path per loop)."""
    found, state = [], {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for target in sorted(graph.get(module, ())):
            if state.get(target) == "open":
                found.append(path[path.index(target):] + [target])
            elif target not in state:
                visit(target, path + [target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    return found


def test_no_upward_import_and_none_inside_a_function():
    _, problems = import_graph()
    assert problems == []


def test_no_import_cycle():
    graph, _ = import_graph()
    assert cycles(graph) == []


def test_the_checks_can_fail():
    """A hand-made loop and an upward import are found."""
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert layer("paa_edu.geometry.iou") < layer("paa_edu.model.detector")
    assert layer("paa_edu.data.dota")[0] == layer("paa_edu.evaluation.rotated_ap")[0]


def test_at_most_ten_top_level_modules():
    assert len(list(PACKAGE.glob("*.py"))) <= 10
