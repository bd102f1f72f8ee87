"""Parse a labelTxt folder once: a cache of the parsed targets, keyed by what went into them.

Building a :class:`paa_edu.data.DOTADataset` reads and checks every label file (0.1-2 ms
each), which for a 21k-patch DOTA split is tens of seconds at every start, for every
evaluation and on every rank. :func:`parse_labels_cached` stores the parsed targets of a folder
in one file and reuses it while nothing that went into them changed:

- the label files: every name, size, modification time, status-change time and inode (one
  ``os.scandir``, no reading; :func:`stat_key`);
- the parse settings (classes, angle version, ``lenient``, ``min_size``);
- the parser itself: the source of the modules that turn a labelTxt line into a box.

Anything else is a miss: the folder is parsed again and the cache rewritten (atomically, so
concurrent ranks never read half a file). A parse that warned (``lenient`` skipping objects)
is not cached, so its warnings are shown at every start. The cache lives outside the data
folder (which may be read-only, and whose files paa_edu never touches unasked):
``$PAA_EDU_CACHE_DIR``, else ``$XDG_CACHE_HOME/paa_edu``, else ``~/.cache/paa_edu``.
"""
from __future__ import annotations

import hashlib
import os
import warnings
from collections.abc import Callable
from pathlib import Path

import torch

from paa_edu.data import dota
from paa_edu.geometry import angles, convert

CACHE_FORMAT = 2
_FIELDS = ("boxes", "labels", "difficult", "polygons")  # per-object tensors, in this order


def cache_dir() -> Path:
    """Where the caches live (see the module docstring)."""
    if os.environ.get("PAA_EDU_CACHE_DIR"):
        return Path(os.environ["PAA_EDU_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "paa_edu"


def stat_key(stat: os.stat_result) -> tuple[int, int, int, int]:
    """What identifies a file's content without reading it: (size, mtime_ns, ctime_ns, inode).

    Size and modification time alone are not enough: ``rsync -t``, ``cp -p`` and ``touch -r``
    restore the mtime of an edited file. The status-change time (``ctime``) cannot be set by
    any tool (the kernel moves it on every write and on every ``utime``), and a file replaced
    by another (``mv``, an editor's save) has a new inode.
    """
    return stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino


def folder_fingerprint(label_dir: Path) -> dict[str, tuple[int, int, int, int]]:
    """``{file name: stat_key}`` of the ``.txt`` files of a folder (no file is read)."""
    with os.scandir(label_dir) as entries:
        return {e.name: stat_key(e.stat()) for e in entries
                if e.name.endswith(".txt") and e.is_file()}


def parser_source_hash() -> str:
    """Hash of the modules a labelTxt line goes through (a code change invalidates caches)."""
    digest = hashlib.sha1()
    for module in (dota, convert, angles):
        digest.update(Path(module.__file__).read_bytes())
    return digest.hexdigest()


def _key(fingerprint: dict, names: list[str], settings: tuple) -> str:
    digest = hashlib.sha1(repr((CACHE_FORMAT, settings, parser_source_hash())).encode())
    for name in names:
        digest.update(f"{name}\0{fingerprint.get(name)}\n".encode())
    return digest.hexdigest()


def _pack(targets: list[dict]) -> dict:
    """Concatenate per-file targets (one tensor per field, plus counts): fast to save/load."""
    return {"counts": torch.tensor([len(t["labels"]) for t in targets], dtype=torch.long),
            **{f: torch.cat([t[f] for t in targets]) if targets else torch.zeros(0)
               for f in _FIELDS}}


def _unpack(packed: dict) -> list[dict]:
    counts = packed["counts"].tolist()
    parts = {f: packed[f].split(counts) for f in _FIELDS}
    return [{f: parts[f][i].clone() for f in _FIELDS} for i in range(len(counts))]


def parse_labels_cached(label_dir: str | Path, names: list[str],
                        parse: Callable[[Path], dict], settings: tuple,
                        use_cache: bool = True) -> list[dict]:
    """``[parse(label_dir / name) for name in names]``, from the cache when it is valid.

    Args:
        label_dir: the ``labelTxt`` folder.
        names: label file names, in the order wanted (all must exist in ``label_dir``).
        parse: path -> dict with the tensors ``boxes`` (M, 5), ``labels`` (M,),
            ``difficult`` (M,), ``polygons`` (M, 8).
        settings: everything besides the files that changes the result of ``parse``.
        use_cache: False parses every file and leaves the cache alone.
    Returns:
        one dict per name, as ``parse`` returns it (only the four tensors).
    """
    label_dir = Path(label_dir)
    if not use_cache:
        return [_fields(parse(label_dir / name)) for name in names]
    fingerprint = folder_fingerprint(label_dir)
    key = _key(fingerprint, names, settings)
    folder_hash = hashlib.sha1(str(label_dir.resolve()).encode()).hexdigest()[:16]
    path = cache_dir() / f"labels-{folder_hash}.pt"
    cached = _read(path, key)
    if cached is not None:
        return cached
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        targets = [_fields(parse(label_dir / name)) for name in names]
    for warning in caught:  # shown as usual, and such a parse is not cached
        warnings.warn_explicit(warning.message, warning.category, warning.filename,
                               warning.lineno)
    if not caught:
        _write(path, key, targets)
    return targets


def _fields(target: dict) -> dict:
    return {f: target[f] for f in _FIELDS}


def _read(path: Path, key: str) -> list[dict] | None:
    """The cached targets if ``path`` holds ``key``'s; None on a miss or an unreadable file."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        if state.get("key") == key:
            return _unpack(state["targets"])
    except Exception:  # missing, truncated or foreign: parse again  # noqa: BLE001
        pass
    return None


def _write(path: Path, key: str, targets: list[dict]) -> None:
    """Atomic write (unique temporary file + ``os.replace``); a read-only cache is skipped."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        torch.save({"key": key, "targets": _pack(targets)}, tmp)
        os.replace(tmp, path)
    except OSError as err:
        warnings.warn(f"label cache not written ({path}: {err}); labels are parsed at every "
                      f"start", stacklevel=3)
