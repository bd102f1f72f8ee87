"""Worker processes that never outlive the command that started them.

:func:`worker_pool` is the one process pool of paa_edu (the demo's side-by-side trainings, the
synthetic writer's drawing workers). Its workers end with their parent however it ends:

- an exception, Ctrl-C, or SIGTERM (which the command line turns into ``KeyboardInterrupt``)
  leaves the ``with`` block, which terminates the workers and waits for them;
- a parent killed outright (``kill -9``, a SIGTERM with no handler): on Linux each worker asks
  the kernel for SIGKILL when its parent dies (``prctl(PR_SET_PDEATHSIG)``), so no worker
  goes on training with parent PID 1.

DataLoader workers need nothing more: PyTorch's worker loop exits when its parent is gone.
"""
from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.pool import Pool

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def die_with_parent(parent_pid: int) -> None:
    """Ask for SIGKILL when the parent process dies (Linux; elsewhere a no-op).

    Runs in the worker; exits at once if the parent is already gone (it may die before the
    request is made).
    """
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # no libc symbol: keep the with-block cleanup only
            pass
    if os.getppid() != parent_pid:
        os._exit(1)


@contextmanager
def worker_pool(processes: int) -> Iterator[Pool]:
    """A ``spawn`` :class:`multiprocessing.pool.Pool` whose workers end with the block or
    with this process (see the module docstring).

    ``spawn`` starts clean interpreters: no forked OpenMP, CUDA or RNG state.
    """
    context = multiprocessing.get_context("spawn")
    pool = context.Pool(processes, initializer=die_with_parent, initargs=(os.getpid(),))
    try:
        yield pool
    except BaseException:  # an error, Ctrl-C or SIGTERM: stop every worker now
        pool.terminate()
        pool.join()
        raise
    pool.close()
    pool.join()
