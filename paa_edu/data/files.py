"""Files that are whole or absent, file-system failures said in one line, and file locks.

:func:`atomic_write` (every file paa_edu writes) writes a temporary file beside the target and
``os.replace``-s it over it: a crash, ``kill -9`` or a full disk leaves the old file or the new
one. A failure is an :class:`OSError` naming the target, also when the writer hid it
(``torch.save`` turns a full disk into a ``RuntimeError``)."""
from __future__ import annotations

import errno
import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no advisory locks here; concurrent writers are not protected
    fcntl = None

TEMP_SUFFIX = ".tmp"

#: What a user reads for the errno values a full, read-only or foreign disk gives.
CAUSES = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EFBIG: "file too large for the file system",
    errno.EIO: "input/output error (a failing disk or a lost network mount?)",
}


def temp_path(path: Path) -> Path:  # unique, beside ``path``
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}{TEMP_SUFFIX}")


def _os_error_in(err: BaseException) -> OSError | None:
    """``err`` if it is an OSError, else the first OSError it was raised from."""
    seen = set()
    while err is not None and id(err) not in seen:
        if isinstance(err, OSError):
            return err
        seen.add(id(err))
        err = err.__cause__ or err.__context__
    return None


def _naming(err: OSError, path: Path) -> OSError:
    """``err`` with ``filename`` set to ``path`` when it names no file, or the temporary one."""
    if err.errno is None or (err.filename and not str(err.filename).endswith(TEMP_SUFFIX)):
        return err
    return OSError(err.errno, err.strerror or os.strerror(err.errno), str(path))


def atomic_write(path: str | Path, write: Callable, durable: bool = True) -> Path:
    """Call ``write(binary_file)`` on a unique temporary file, then rename it to ``path``
    (its folder is created). ``durable`` fsyncs the file and the folder (checkpoints); without
    it (data files written by the thousand) no partial file is left under ``path`` either."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise _naming(err, path.parent) from None
    tmp = temp_path(path)
    try:
        with open(tmp, "wb") as handle:
            write(handle)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        tmp.unlink(missing_ok=True)
        found = _os_error_in(err) if isinstance(err, Exception) else None  # not Ctrl-C
        if found is None:
            raise
        raise _naming(found, path) from None
    if durable:  # the rename too (POSIX; where folders cannot be opened, as on Windows, not)
        with suppress(OSError):
            fd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    return path


def write_text(path: str | Path, text: str) -> Path:
    """:func:`atomic_write` of ``text`` as UTF-8, not fsynced (a data file)."""
    return atomic_write(path, lambda handle: handle.write(text.encode("utf-8")), durable=False)


def describe_os_error(err: OSError) -> str:
    """``<path>: <cause>`` for a file-system error, e.g. ``runs/x: read-only file system``."""
    cause = CAUSES.get(err.errno) or err.strerror or str(err)
    names = [str(n) for n in (err.filename, err.filename2) if n]
    return f"{' -> '.join(names)}: {cause}" if names else cause


@contextmanager
def exclusive_lock(path: str | Path, wait: bool = True) -> Iterator[bool]:
    """Hold an exclusive ``flock`` on ``path`` (created if missing) inside the ``with`` block,
    with the holder's process id written in it (:func:`lock_holder`). ``wait=False`` yields
    False at once when another process holds it; else it waits and yields True."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        if fcntl is not None:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
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
