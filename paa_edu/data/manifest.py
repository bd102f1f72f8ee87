"""Which files paa_edu wrote into a folder, so that it only ever rewrites or removes its own.

The dataset writers write only into a missing or empty folder, or one holding a manifest of the
same writer (:func:`claim_folder`), and remove only the files it lists (:func:`remove_written`).
The manifest, ``<folder>/paa_edu_manifest.jsonl``, is one JSON value per line::

    {"writer": "split", "info": {"patch_size": 1024, ...}}   <- header, written first
    "images/P0001__1024__0___0.png"                          <- one line per file, appended
    "labelTxt/P0001__1024__0___0.txt"                           *before* the file is written
    {"complete": true}                                       <- last, once all are written

A run killed half-way leaves a manifest listing every file it may have written, without the
``complete`` line: ``check-data`` and ``train`` refuse such a folder (:func:`incomplete_write`)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from paa_edu.data.files import write_text

MANIFEST_NAME = "paa_edu_manifest.jsonl"
LOCK_NAME = ".write.lock"  # the writers' inter-process lock file


class ForeignFolderError(ValueError):
    """A folder holds files that paa_edu did not write (or another writer wrote)."""


@dataclass
class Manifest:
    """A parsed manifest: who wrote the folder, with which settings, and which files."""
    writer: str
    info: dict
    files: list[str] = field(default_factory=list)  # paths relative to the folder
    complete: bool = False


def read_manifest(folder: str | Path) -> Manifest | None:
    """The manifest of ``folder``, or ``None`` when it has none."""
    path = Path(folder) / MANIFEST_NAME
    if not path.is_file():
        return None
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
             if line.strip()]
    if not lines or not isinstance(lines[0], dict) or "writer" not in lines[0]:
        raise ValueError(f"{path}: not a paa_edu manifest (no header line)")
    manifest = Manifest(lines[0]["writer"], lines[0].get("info", {}))
    for entry in lines[1:]:
        if isinstance(entry, str):
            manifest.files.append(entry)
        elif isinstance(entry, dict) and entry.get("complete"):
            manifest.complete = True
    return manifest


REDO = {"split": "run `paa-edu split --src {src} --dst {folder} --overwrite` to redo it",
        "synthetic": "run `paa-edu synth --root {folder}` (or the training that wrote it) again "
                     "to redo it"}


def incomplete_write(folder: str | Path) -> str | None:
    """The problem, on one line, when ``folder`` or the folder above it (a dataset root with
    ``train/``, ``val/``) holds a manifest that was never marked complete; else ``None``."""
    for candidate in (Path(folder), Path(folder).parent):
        manifest = read_manifest(candidate)
        if manifest is None or manifest.complete:
            continue
        hint = REDO.get(manifest.writer, "write it again").format(
            src=manifest.info.get("src", "<source>"), folder=candidate)
        return (f"{candidate}: incomplete {manifest.writer} output (stopped after at most "
                f"{len(manifest.files)} files: {MANIFEST_NAME} has no end mark); {hint}")
    return None


def claim_folder(folder: str | Path, writer: str) -> Manifest | None:
    """Check that ``writer`` may write into ``folder`` (else :class:`ForeignFolderError`);
    return the manifest it left there, ``None`` for a missing or empty folder."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ForeignFolderError(f"{folder}: is a file, not a folder")
    if not folder.is_dir():
        return None
    manifest = read_manifest(folder)
    if manifest is None:  # any file but the writers' lock and manifest files
        found = next((p for p in sorted(folder.rglob("*")) if not p.is_dir() and
                      p.name != LOCK_NAME and MANIFEST_NAME not in p.name), None)
        if found is None:
            return None
        raise ForeignFolderError(
            f"{folder}: holds files that paa_edu did not write (e.g. {found}, and no "
            f"{MANIFEST_NAME}); paa_edu only writes into an empty folder or one it wrote")
    if manifest.writer != writer:
        raise ForeignFolderError(f"{folder}: was written by paa_edu's {manifest.writer!r} "
                                 f"writer, not {writer!r} ({folder / MANIFEST_NAME})")
    return manifest


def remove_written(folder: str | Path, manifest: Manifest) -> int:
    """Delete the files ``manifest`` lists, the manifest and emptied folders; return the count."""
    folder = Path(folder).resolve()
    removed, parents = 0, set()
    for name in manifest.files:
        path = (folder / name).resolve()
        if folder not in path.parents:  # a hand-edited manifest cannot reach outside
            raise ValueError(f"{folder / MANIFEST_NAME}: {name!r} is outside the folder")
        if path.is_file() or path.is_symlink():
            path.unlink()
            removed += 1
        parents.add(path.parent)
    (folder / MANIFEST_NAME).unlink(missing_ok=True)
    for parent in sorted(parents, key=lambda p: len(p.parts), reverse=True):
        while parent != folder and parent.is_dir() and not any(parent.iterdir()):
            parent.rmdir()
            parent = parent.parent
    return removed


class ManifestWriter:
    """A context manager recording what a writer writes into ``folder``: call :meth:`add`
    *before* writing each file. A normal exit marks the manifest complete; an exception not."""

    def __init__(self, folder: str | Path, writer: str, info: dict):
        self.folder = Path(folder)
        path = write_text(self.folder / MANIFEST_NAME,  # atomic: never seen empty
                          json.dumps({"writer": writer, "info": info}) + "\n")
        self.handle = open(path, "a", encoding="utf-8")

    def _write(self, entry) -> None:
        self.handle.write(json.dumps(entry) + "\n")
        self.handle.flush()

    def add(self, path: str | Path) -> Path:
        """Record ``path``, a file under the folder; returns it."""
        self._write(Path(path).absolute().relative_to(self.folder.absolute()).as_posix())
        return Path(path)

    def __enter__(self) -> ManifestWriter:
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        if exc_type is None:
            self._write({"complete": True})
        self.handle.close()
