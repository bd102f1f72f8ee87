"""Fault injection: ``kill -9`` a CPU training run at random moments, including in the middle of
a checkpoint write, and resume each time. The final weights must be bit-identical to an
uninterrupted run and ``log.csv`` must hold each iteration exactly once."""
from __future__ import annotations

import csv
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from paa_edu.config import apply_overrides
from paa_edu.presets import tiny_synthetic
from tests.conftest import TINY_OVERRIDES

ROOT = Path(__file__).resolve().parents[1]
ITERS = 8  # 8 images, batch 4, 4 epochs
KILLS = 4


@pytest.fixture(scope="module")
def eight_images(tmp_path_factory):
    from paa_edu.data import SceneConfig, SyntheticPreset, write_synthetic_dataset
    root = tmp_path_factory.mktemp("eight")
    write_synthetic_dataset(root, SyntheticPreset(64, 8, 1, SceneConfig(
        (12.0, 40.0), (2, 4), 0.0, 0.0, 0.0)), seed=0, progress=False)
    return root


def _overrides(root: Path) -> list[str]:
    return [*TINY_OVERRIDES, f"data.root={root}", "train.batch_size=4", "train.epochs=4",
            "train.checkpoint_every=1", "train.num_threads=1"]


def _start(root: Path, out: Path) -> subprocess.Popen:
    flag = "--resume" if (out / "last.pth").is_file() else "--restart"
    sets = [arg for item in _overrides(root) for arg in ("--set", item)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # every write held 0.15 s before its rename
    return subprocess.Popen([sys.executable, str(ROOT / "tests" / "slow_writes.py"), "0.15",
                             "train", "--device", "cpu", "--out-dir", str(out), "--no-progress",
                             *sets, flag], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)


def _wait(predicate, proc: subprocess.Popen, timeout: float = 60.0) -> bool:
    """Poll ``predicate`` until true (True) or until ``proc`` ends (False)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.002)
    raise TimeoutError("the training subprocess neither progressed nor ended")


def _temps(out: Path, pid: int) -> list[Path]:
    return list(out.glob(f".last.pth.{pid}.*.tmp"))


def test_kill_9_at_random_moments_then_resume_is_bit_exact(eight_images, tmp_path):
    reference = __import__("paa_edu.engine.train", fromlist=["train"]).train(
        apply_overrides(tiny_synthetic(), [*_overrides(eight_images),
                                           f"train.out_dir={tmp_path / 'ref'}"]),
        progress=False)
    out, rng, kills, during_write = tmp_path / "run", random.Random(0), 0, 0
    lock = out / ".lock"
    for attempt in range(KILLS):
        proc = _start(eight_images, out)
        started = _wait(lambda: lock.is_file() and lock.read_text().strip() == str(proc.pid),
                        proc)
        if attempt % 2 == 0:  # the middle of a checkpoint write
            hit = started and _wait(lambda: bool(_temps(out, proc.pid)), proc)
        else:  # anywhere: start-up, a step, a log line, a write
            time.sleep(rng.uniform(0.0, 1.0))
            hit = started
        if proc.poll() is not None:
            break  # it finished first: nothing left to interrupt
        writing = bool(_temps(out, proc.pid))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills, during_write = kills + 1, during_write + (hit and writing)
    proc = _start(eight_images, out)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()
    print(f"kill -9: {kills} kills, {during_write} during a checkpoint write")
    assert kills >= 3 and during_write >= 1, (kills, during_write)
    final = torch.load(out / "last.pth", weights_only=True)
    assert final["iter"] == ITERS
    expected = reference["model"].state_dict()
    assert all(torch.equal(final["model"][k], expected[k]) for k in expected)
    with open(out / "log.csv", newline="") as handle:
        assert [int(r["iter"]) for r in csv.DictReader(handle)] == list(range(1, ITERS + 1))
    assert not list(out.glob("*.tmp"))
