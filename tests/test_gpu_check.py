"""The GPU validation kit without a GPU: it stops inside its budget and leaves its results.

- ``scripts/gpu_check.sh`` with a 30 s budget on this CPU machine: every CUDA stage says
  "skipped: no CUDA", the input benchmark (which runs on CPU) is cut at the budget, and every
  stage has its JSON plus ``summary.md``;
- (``-m wheelhouse``, only where ``wheelhouse/`` exists) the wheelhouse installs into a fresh
  virtual environment with ``--no-index`` and paa_edu's dependencies import from there.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
WHEELHOUSE = REPO / "wheelhouse"


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU behaviour")
def test_gpu_check_stops_in_its_budget_and_leaves_partial_results(tmp_path):
    results = tmp_path / "results"
    env = {**os.environ, "PYTHON": sys.executable}
    start = time.monotonic()
    proc = subprocess.run(
        ["bash", str(REPO / "scripts" / "gpu_check.sh"), str(results), "--budget-s", "30",
         "--wheelhouse", str(tmp_path / "no_wheelhouse"), "--input-root", str(tmp_path / "in"),
         "--input-images", "400",
         "--compare-out", str(tmp_path / "compare")],
        env=env, capture_output=True, text=True, timeout=120)
    elapsed = time.monotonic() - start
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert elapsed < 30 + 5, elapsed  # the budget, plus interpreter start-up and exit
    stages = {p.stem: json.loads(p.read_text()) for p in results.glob("*.json")}
    assert sorted(stages) == ["00_install", "01_pytest_cuda", "02_train_step", "03_input",
                              "04_gpu_synthetic", "05_notebook04"]
    assert stages["00_install"]["status"] == "skipped"
    assert "no_wheelhouse" in stages["00_install"]["reason"]
    for stem in ("01_pytest_cuda", "02_train_step", "04_gpu_synthetic", "05_notebook04"):
        assert stages[stem] == {"stage": stem, "status": "skipped", "reason": "skipped: no CUDA"}
    # 400 patches of 1024 px cannot be drawn and loaded in under 30 s on a CPU: cut off
    assert stages["03_input"]["status"] == "timeout"
    assert stages["03_input"]["cap_s"] < 30
    summary = (results / "summary.md").read_text()
    assert "none (no CUDA)" in summary and summary.count("skipped: no CUDA") == 4
    assert len(list(results.iterdir())) <= 8  # what a device run brings back


@pytest.mark.wheelhouse
@pytest.mark.skipif(not (WHEELHOUSE / "requirements.txt").is_file(),
                    reason="no wheelhouse/ (scripts/make_wheelhouse.sh)")
def test_wheelhouse_installs_offline_into_a_fresh_venv(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-index", "--no-deps",
                    "--find-links", str(WHEELHOUSE), "-r", str(WHEELHOUSE / "requirements.txt")],
                   check=True, timeout=600)
    # torch, numpy, ... come from this environment, as they come with a GPU node's image;
    # appended after the venv's own site-packages, so the wheelhouse's copies win.
    site = next((venv / "lib").glob("python3*/site-packages"))
    here = [p for p in sys.path if p.endswith("site-packages")]
    (site / "zz_host.pth").write_text("\n".join(here) + "\n")
    probe = ("import mmcv, mmengine, shapely, nbclient, ipykernel, nbval, sys; "
             "import paa_edu.data, paa_edu.evaluation; "
             "bad = [m.__name__ for m in (mmcv, mmengine, shapely, nbclient, ipykernel, nbval) "
             "if not m.__file__.startswith(sys.prefix)]; "
             "assert not bad, bad; print('ok')")
    out = subprocess.run([str(python), "-c", probe], cwd=REPO, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=300)
    assert out.stdout.strip() == "ok", out.stderr[-2000:]
