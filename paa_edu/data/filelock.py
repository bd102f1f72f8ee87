"""An exclusive inter-process lock on a file, so two processes never write one dataset at once.

Two notebooks (or a notebook and a training run) that ask for the same synthetic set at the same
moment would otherwise both delete and rewrite its files. With the lock, the second waits, then
finds the set complete and reuses it.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no advisory locks here; concurrent writers are not protected
    fcntl = None


@contextmanager
def exclusive_lock(path: str | Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created if missing) inside the ``with`` block."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        if fcntl is not None:
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def try_exclusive_lock(path: str | Path) -> Iterator[bool]:
    """Like :func:`exclusive_lock` but without waiting: yields False if another process holds it.

    While held, the lock file contains the holder's process id (read by :func:`lock_holder`).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        if fcntl is not None:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        try:
            yield True
        finally:
            if fcntl is not None:
                fcntl.flock(handle, fcntl.LOCK_UN)


def lock_holder(path: str | Path) -> str:
    """The process id written in a lock file (``"?"`` when unreadable)."""
    try:
        return Path(path).read_text().strip() or "?"
    except OSError:
        return "?"
