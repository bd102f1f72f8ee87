"""The run folder (``train.out_dir``): one run at a time (:func:`locked_run_dir`; once the lock
is held, stale temporary files of a killed writer are removed), nothing of an earlier run lost
(:func:`claim_run_dir`), and Ctrl-C or SIGTERM that stop a run after a step."""
from __future__ import annotations

import os
import re
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from paa_edu.data.files import TEMP_SUFFIX, exclusive_lock, lock_holder
from paa_edu.engine import distributed
from paa_edu.engine.checkpoint import CHECKPOINT_NAME
from paa_edu.engine.log import LOG_NAME

LOCK_NAME = ".lock"
OLD_RUNS = "old_runs"
_TEMP = re.compile(r"^\..+\.\d+\.[0-9a-f]{8}" + re.escape(TEMP_SUFFIX) + "$")


@contextmanager
def locked_run_dir(out_dir: str | Path, lock: bool = True) -> Iterator[Path]:
    """Create ``out_dir`` if needed and hold its lock inside the block (error if held).
    ``lock=False`` (the ranks but 0 under torchrun: rank 0 holds it) only yields the folder."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"train.out_dir={out} is an existing file, not a folder")
    if not lock:
        yield out
        return
    with exclusive_lock(out / LOCK_NAME, wait=False) as acquired:
        if not acquired:
            raise ValueError(f"{out} is in use by pid {lock_holder(out / LOCK_NAME)} (another "
                             f"training run); wait for it to end or use another --out-dir")
        for path in out.iterdir():
            if _TEMP.match(path.name):
                path.unlink(missing_ok=True)
        yield out


def claim_run_dir(out: Path, resume: bool, restart: bool) -> Path | None:
    """Refuse an earlier run in ``out`` unless ``resume`` or ``restart`` (which moves its files
    to ``old_runs/<UTC time>/`` and returns that folder)."""
    if resume and restart:
        raise ValueError("--resume and --restart exclude each other")
    earlier = [out / name for name in (CHECKPOINT_NAME, LOG_NAME) if (out / name).is_file()]
    if resume or not earlier:
        return None
    if not restart:
        raise ValueError(f"{out} already holds a run ({', '.join(p.name for p in earlier)}); "
                         f"pass --resume to continue it, or --restart to start over (the old "
                         f"files are moved to {out / OLD_RUNS}/<time>/, not deleted)")
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    dest, n = out / OLD_RUNS / stamp, 1
    while dest.exists():
        dest, n = out / OLD_RUNS / f"{stamp}-{n}", n + 1
    dest.mkdir(parents=True)
    for path in sorted(out.iterdir()):
        if path.name not in (LOCK_NAME, OLD_RUNS):
            os.replace(path, dest / path.name)
    return dest


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM stopped training after a step; ``last.pth`` holds that iteration."""


@contextmanager
def stop_requests():
    """Ctrl-C and SIGTERM ask the loop to stop after the current step (a 2nd Ctrl-C aborts)."""
    stop = {"signal": None}

    def request(signum, frame):
        if stop["signal"] is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop["signal"] = signal.Signals(signum).name

    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    old = {sig: signal.signal(sig, request) for sig in (signal.SIGINT, signal.SIGTERM)
           if signal.getsignal(sig) is not signal.SIG_IGN}  # e.g. nohup or `cmd &`: stay ignored
    try:
        yield stop
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def stop_requested(stop: dict) -> bool:
    """A stop asked of this process or, under torchrun, of any rank (all ranks agree)."""
    if distributed.all_ranks(stop["signal"] is None):
        return False
    stop["signal"] = stop["signal"] or "a stop request on another rank"
    return True
