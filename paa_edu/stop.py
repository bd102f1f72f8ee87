"""Ctrl-C and SIGTERM during training: a request to stop after the current step, not a crash.

Stopping between steps (never inside ``optimizer.step()``) leaves a consistent state, which the
loop saves as a checkpoint at that iteration before raising :class:`TrainingInterrupted`. A
second Ctrl-C aborts at once (the previous checkpoint is kept).
"""
from __future__ import annotations

import signal
import threading
from contextlib import contextmanager

from paa_edu import distributed


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
    if not distributed.any_rank(stop["signal"] is not None):
        return False
    stop["signal"] = stop["signal"] or "a stop request on another rank"
    return True
