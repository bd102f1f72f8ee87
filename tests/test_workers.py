"""Worker processes end with the command that started them (issue #19, item 8): ``paa-edu demo``
killed by SIGTERM (what ``timeout`` and job schedulers send) leaves no training process behind,
and a worker of a parent killed outright (``kill -9``) dies with it."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.conftest import TINY_OVERRIDES

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def _wait_for(predicate, proc: subprocess.Popen, timeout: float) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        assert proc.poll() is None, "the parent ended before its workers started"
        assert time.monotonic() < end, "the workers did not start"
        time.sleep(0.1)


def _kill_tree(proc: subprocess.Popen, known=()) -> None:
    """Clean-up after a failed test: the process, everything under it, and ``known``."""
    try:
        processes = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(True)]
    except psutil.NoSuchProcess:
        processes = []
    for process in [*processes, *known]:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            pass


def test_a_demo_stopped_by_sigterm_leaves_no_worker_running(tiny_data_root, tmp_path):
    sets = [arg for item in (*TINY_OVERRIDES, f"data.root={tiny_data_root}",
                             "train.epochs=100000") for arg in ("--set", item)]
    log = tmp_path / "demo.log"
    with open(log, "w") as handle:
        children = []
        proc = subprocess.Popen([sys.executable, "-m", "paa_edu", "demo", "--out",
                                 str(tmp_path / "demo"), "--workers", "2", "--device", "cpu",
                                 "--no-progress", *sets], stdout=handle,
                                stderr=subprocess.STDOUT, env=ENV)
    try:
        _wait_for(lambda: log.read_text().count("[demo] training") == 2, proc, 300)
        children = psutil.Process(proc.pid).children(recursive=True)
        assert len(children) >= 2  # the two trainings (and multiprocessing's helper)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 130
        _, alive = psutil.wait_procs(children, timeout=10)
        assert alive == [], f"still running after the demo ended: {alive}"
    finally:
        _kill_tree(proc, children)  # orphans included, should the test fail
    printed = log.read_text()
    assert printed.splitlines()[-1] == "paa-edu demo: interrupted: SIGTERM", printed


PARENT = """
import multiprocessing, os, sys, time
from paa_edu.data.workers import die_with_parent
def work(parent):
    die_with_parent(parent)
    time.sleep(600)
if __name__ == "__main__":
    child = multiprocessing.get_context("fork").Process(target=work, args=(os.getpid(),))
    child.start()
    print(child.pid, flush=True)
    time.sleep(600)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_worker_dies_with_a_parent_killed_outright():
    proc = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, env=ENV,
                            text=True)
    try:
        child = psutil.Process(int(proc.stdout.readline()))
        time.sleep(0.5)  # the child has asked for its parent-death signal
        assert child.is_running()
        proc.kill()
        proc.wait(timeout=10)
        _, alive = psutil.wait_procs([child], timeout=10)
        assert alive == []
    finally:
        _kill_tree(proc)
