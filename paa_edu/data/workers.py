"""Worker processes that never outlive the command that started them (:func:`worker_map`): an
exception, Ctrl-C or SIGTERM in the parent sends SIGTERM to every worker (killed :data:`GRACE_S`
seconds later); a parent killed outright takes them along (Linux ``PR_SET_PDEATHSIG``)."""
from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import suppress
from functools import partial

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
GRACE_S = 10.0  # seconds a worker has to end after the parent's SIGTERM


def raise_interrupt(signum, frame):
    """Signal handler: SIGTERM (or any signal) raises ``KeyboardInterrupt`` as Ctrl-C does."""
    raise KeyboardInterrupt(signal.Signals(signum).name)


def die_with_parent(parent_pid: int) -> None:
    """Worker set-up: SIGKILL when the parent dies (Linux; elsewhere only the parent's own
    clean-up), SIGTERM as an interrupt. Exits at once if the parent is already gone."""
    if sys.platform.startswith("linux"):
        with suppress(OSError, AttributeError):  # no libc symbol: the parent's clean-up only
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    signal.signal(signal.SIGTERM, raise_interrupt)
    if os.getppid() != parent_pid:
        os._exit(1)


def _call(func: Callable, item):  # in a worker: an interrupt exits quietly (130)
    try:
        return func(item)
    except KeyboardInterrupt:
        sys.exit(130)


def worker_map(func: Callable, items: Iterable, processes: int, chunksize: int = 1
               ) -> Iterator:
    """``func(item)`` for every item, in order, by ``processes`` ``spawn``-ed workers."""
    context = multiprocessing.get_context("spawn")
    pool = context.Pool(processes, initializer=die_with_parent, initargs=(os.getpid(),))
    try:
        yield from pool.imap(partial(_call, func), items, chunksize)
    except BaseException:  # an error, Ctrl-C, SIGTERM, or the caller stopped early
        workers = list(getattr(pool, "_pool", []))
        for worker in workers:  # SIGTERM, GRACE_S to end, then SIGKILL
            worker.terminate()
        deadline = time.monotonic() + GRACE_S
        for worker in workers:
            worker.join(max(0.0, deadline - time.monotonic()))
            if worker.is_alive():
                worker.kill()
        pool.terminate()
        pool.join()
        raise
    pool.close()
    pool.join()
