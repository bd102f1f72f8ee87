"""Parse a labelTxt folder once: a cache of the parsed targets, keyed by what went into them:
every label file's name and :func:`stat_key` (one ``os.scandir``, no file read), the parse
settings and the parser's source. Any change is a miss: the folder is parsed again and the cache
rewritten. A parse that warned is not cached, so its warnings show at every start. The caches
live in ``$PAA_EDU_CACHE_DIR``, else ``$XDG_CACHE_HOME/paa_edu``, else ``~/.cache/paa_edu``."""
from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from hashlib import sha1
from pathlib import Path

import torch

from paa_edu.data import dota
from paa_edu.data.files import atomic_write
from paa_edu.geometry import angles, convert

CACHE_FORMAT = 3
_FIELDS = ("boxes", "labels", "difficult", "polygons")  # per-object tensors, in this order


def cache_dir() -> Path:
    if os.environ.get("PAA_EDU_CACHE_DIR"):
        return Path(os.environ["PAA_EDU_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "paa_edu"


def cache_file(kind: str, folder: Path, suffix: str) -> Path:
    """``<cache_dir>/<kind>-<hash of the folder's absolute path><suffix>``."""
    folder_hash = sha1(str(folder.resolve()).encode()).hexdigest()[:16]
    return cache_dir() / f"{kind}-{folder_hash}{suffix}"


def stat_key(stat: os.stat_result) -> tuple[int, int, int, int]:
    """What identifies a file's content without reading it: (size, mtime_ns, ctime_ns, inode).
    ``rsync -t``, ``cp -p`` and ``touch -r`` restore an edited file's mtime, but no tool sets its
    ctime, and a file replaced by another (``mv``, an editor's save) has a new inode."""
    return stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino


def parser_source_hash() -> str:
    """Hash of the modules a labelTxt line goes through (a change invalidates the caches)."""
    digest = sha1()
    for module in (dota, convert, angles):
        digest.update(Path(module.__file__).read_bytes())
    return digest.hexdigest()


def parse_labels_cached(label_dir: str | Path, names: list[str],
                        parse: Callable[[Path], dict], settings: tuple,
                        use_cache: bool = True) -> list[dict]:
    """``[parse(label_dir / name) for name in names]``, from the cache when it is valid.
    ``parse`` returns exactly the tensors of ``_FIELDS``; ``settings`` is everything besides the
    files that changes its result; ``use_cache=False`` leaves the cache alone."""
    label_dir = Path(label_dir)
    if not use_cache:
        return [parse(label_dir / name) for name in names]
    with os.scandir(label_dir) as entries:
        stats = {e.name: stat_key(e.stat()) for e in entries if e.name.endswith(".txt")}
    digest = sha1(repr((CACHE_FORMAT, settings, parser_source_hash())).encode())
    for name in names:
        digest.update(f"{name}\0{stats.get(name)}\n".encode())
    key, path = digest.hexdigest(), cache_file("labels", label_dir, ".pt")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        if state.get("key") == key:  # one tensor per field, the files' counts split them
            counts = state["counts"].tolist()
            parts = {f: state[f].split(counts) for f in _FIELDS}
            return [{f: parts[f][i].clone() for f in _FIELDS} for i in range(len(counts))]
    except Exception:  # missing, truncated or foreign: parse again  # noqa: BLE001
        pass
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        targets = [parse(label_dir / name) for name in names]
    for warning in caught:  # shown as usual, and such a parse is not cached
        warnings.warn_explicit(warning.message, warning.category, warning.filename,
                               warning.lineno)
    if caught:
        return targets
    packed = {"key": key, "counts": torch.tensor([len(t["labels"]) for t in targets],
                                                 dtype=torch.long),
              **{f: torch.cat([t[f] for t in targets]) if targets else torch.zeros(0)
                 for f in _FIELDS}}
    try:
        atomic_write(path, lambda handle: torch.save(packed, handle), durable=False)
    except OSError as err:
        warnings.warn(f"label cache not written ({path}: {err}); labels are parsed at every "
                      f"start", stacklevel=2)
    return targets
