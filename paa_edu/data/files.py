"""Files that are whole or absent, and file-system failures said in one line.

Every file paa_edu writes (checkpoints, logs, patches, label files, Task1 files, PNGs) goes
through :func:`atomic_write`:

- the bytes go to a temporary file with a unique name (``.<name>.<pid>.<random>.tmp``, process
  id + random suffix) in the target's folder, which is then ``os.replace``-d over the target:
  a reader, a crash, ``kill -9`` or a full disk only ever leaves the old file or the new one,
  never a truncated one under the real name;
- on any failure the temporary file is removed and the error is an :class:`OSError` that names
  the target (``err.filename``), also when the writer hid it (``torch.save`` turns the
  ``OSError`` of a full disk into a ``RuntimeError``).

:func:`describe_os_error` turns such an error into ``<path>: <cause>`` ("no space left on the
device", "read-only file system", ...): the one line the command line prints.
"""
from __future__ import annotations

import errno
import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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


def temp_path(path: Path) -> Path:
    """A unique temporary name beside ``path``: ``.<name>.<pid>.<random>.tmp``."""
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}{TEMP_SUFFIX}")


def _os_error_in(err: BaseException) -> OSError | None:
    """``err`` itself if it is an OSError, else the first OSError it was raised from."""
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
    """Call ``write(binary_file)`` on a unique temporary file, then rename it to ``path``.

    Args:
        path: the target; its folder is created.
        write: writes the content into the open binary file it is given.
        durable: fsync the file and the folder (checkpoints); ``False`` (many small data
            files) still never leaves a partial file under ``path``.
    Returns:
        ``path``.
    Raises:
        OSError: naming ``path``, when the file system refuses (full, read-only, ...); nothing
            is left under ``path`` or the temporary name then.
    """
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
    if durable:
        _fsync_dir(path.parent)
    return path


def write_bytes(path: str | Path, data: bytes) -> Path:
    """:func:`atomic_write` of ``data`` (not fsynced: for data files written by the thousand)."""
    return atomic_write(path, lambda handle: handle.write(data), durable=False)


def write_text(path: str | Path, text: str) -> Path:
    """:func:`write_bytes` of ``text`` as UTF-8."""
    return write_bytes(path, text.encode("utf-8"))


def _fsync_dir(folder: Path) -> None:
    """Make a rename durable (POSIX); a no-op where folders cannot be opened (Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def describe_os_error(err: OSError) -> str:
    """``<path>: <cause>`` for a file-system error, e.g. ``runs/x: read-only file system``."""
    cause = CAUSES.get(err.errno) or err.strerror or str(err)
    names = [str(n) for n in (err.filename, err.filename2) if n]
    return f"{' -> '.join(names)}: {cause}" if names else cause


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
