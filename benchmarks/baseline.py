"""Import another commit of ``paa_edu`` next to the working tree's, for side-by-side timings.

``load_baseline("main")`` extracts ``paa_edu/`` of that git revision into a temporary folder
as the package ``paa_edu_<rev>`` (its own imports renamed), so one process can time the old
and the new code interleaved, on the same load.
"""
from __future__ import annotations

import importlib
import io
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def load_baseline(rev: str):
    """The ``paa_edu`` package of git revision ``rev`` (e.g. ``main``), importable side by side."""
    name = "paa_edu_" + re.sub(r"\W", "_", rev)
    if name in sys.modules:
        return sys.modules[name]
    tar = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "paa_edu"], check=True,
                         capture_output=True).stdout
    folder = Path(tempfile.mkdtemp(prefix="paa_baseline_"))
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        archive.extractall(folder, filter="data")
    (folder / "paa_edu").rename(folder / name)
    for path in (folder / name).rglob("*.py"):
        text = path.read_text()
        path.write_text(re.sub(r"\bpaa_edu\b", name, text))
    sys.path.insert(0, str(folder))
    return importlib.import_module(name)
