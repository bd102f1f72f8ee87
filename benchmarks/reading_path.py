"""How many library files a reader opens to follow ``paa-edu train`` from an image to the loss.

Runs ``paa-edu train --config tiny_synthetic`` (PAA on ATSS candidates) for one iteration and
records, with ``sys.setprofile``, the ``paa_edu`` files a training step goes through: the
callers on the stack when the dataset reads the first image, then every file in which a
function is called until the detector's losses are computed (first-run work before the step,
such as writing the synthetic set, is not the path). Also counts the library's lines and
top-level modules.

    python benchmarks/reading_path.py [--root DIR]   # DIR: a checkout (default: this one)
"""
from __future__ import annotations

import argparse
import ast
import os
import sys
import tempfile
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1])
    args = parser.parse_args()
    package = (args.root / "paa_edu").resolve()
    sys.path.insert(0, str(args.root.resolve()))
    from paa_edu.cli import main as cli_main

    files: list[str] = []
    state = {"recording": False, "done": False}

    def note(frame) -> None:
        path = Path(frame.f_code.co_filename)
        if frame.f_code.co_name != "<module>" and package in path.parents:
            rel = path.relative_to(package.parent).as_posix()
            if rel not in files:
                files.append(rel)

    def profile(frame, event, arg):
        if state["done"] or event != "call":
            return
        if not state["recording"]:
            if frame.f_code.co_name != "__getitem__" or "dataset" not in frame.f_code.co_filename:
                return
            state["recording"] = True  # the first image is read: the stack that asked for it
            stack = []
            while frame is not None:
                stack.append(frame)
                frame = frame.f_back
            for caller in reversed(stack):
                note(caller)
            return
        note(frame)
        if frame.f_code.co_name in ("detection_losses", "compute_losses"):
            state["done"] = True

    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("PAA_EDU_CACHE_DIR", str(Path(tmp) / "cache"))
        argv = ["train", "--config", "tiny_synthetic"]
        for setting in ("train.max_iters=1", f"train.out_dir={tmp}/run", f"data.root={tmp}/data",
                        "data.num_workers=0", "train.device=cpu"):
            argv += ["--set", setting]
        sys.setprofile(profile)
        try:
            cli_main(argv)
        except SystemExit:
            pass
        finally:
            sys.setprofile(None)
    library = sorted(package.rglob("*.py"))
    lines = sum(len(p.read_text().splitlines()) for p in library)
    graph, inside = import_graph(package)
    print(f"files from `paa-edu train` to the loss: {len(files)}")
    for rel in files:
        print("  " + rel)
    print(f"library: {len(library)} files, {lines} lines, "
          f"{len(list(package.glob('*.py')))} top-level modules, {inside} paa_edu imports inside "
          f"functions, import cycles (strongly connected groups): {cycles(graph)}")


def import_graph(package: Path) -> tuple[dict[str, set[str]], int]:
    """Module -> the paa_edu modules it imports, and how many such imports sit in functions."""
    names = {".".join(p.relative_to(package.parent).with_suffix("").parts).removesuffix(
        ".__init__"): p for p in package.rglob("*.py")}
    graph, inside = {}, 0
    for name, path in names.items():
        tree = ast.parse(path.read_text())
        nested = {id(n) for f in ast.walk(tree) if isinstance(f, ast.FunctionDef)
                  for n in ast.walk(f)}
        graph[name] = set()
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom) or node.level or not node.module \
                    or not node.module.startswith("paa_edu"):
                continue
            inside += id(node) in nested
            for alias in node.names:
                target = f"{node.module}.{alias.name}"
                graph[name].add(target if target in names else node.module)
    return graph, inside


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one module."""
    index, low, stack, found = {}, {}, [], []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


if __name__ == "__main__":
    main()
