"""The GPU validation kit behind ``scripts/gpu_check.sh``: staged checks under one time budget.

    scripts/gpu_check.sh RESULTS_DIR [--budget-s 480] [--wheelhouse wheelhouse]

0. install the wheelhouse offline (``pip install --no-index --no-deps --target``);
then, in order of value, each stage with its own time cap and never past the budget:

1. ``pytest -m cuda`` (CUDA equals CPU, one AMP step, one 2-process DDP step);
2. ``bench_train_step.py`` on ``r50_dota_1x`` at 1024 px with 300 GTs per image, AMP off and
   on, and with 2000 GTs per image (step time, assignment share, syncs, peak memory);
3. ``bench_input.py``: loader images/s against the step rate of stage 2 (runs on CPU too);
4. ``gpu_synthetic`` runs of ``compare_assigners.py``, one assigner after the other while time
   is left (resumable: ``--compare-out`` keeps the finished runs for the next slot);
5. notebook 04 executed with nbclient.

Every stage writes ``RESULTS_DIR/NN_<stage>.json`` as soon as it ends (status ``passed``,
``failed``, ``timeout`` or ``skipped`` with the reason, seconds, command, output tail and the
figures it measured), and ``RESULTS_DIR/summary.md`` is rewritten after each, so a run cut off
by its slot still reports what finished. At most 7 files, all directly in RESULTS_DIR.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MIN_STAGE_S = 10  # a stage with less time left than this is skipped
MARGIN_S = 3  # kept free at the end of the budget (writing files, process exit)
#: (file stem, seconds it may take at most, needs CUDA)
STAGES = (("01_pytest_cuda", 100, True), ("02_train_step", 110, True),
          ("03_input", 60, False), ("04_gpu_synthetic", 120, True), ("05_notebook04", 60, True))
VARIANTS = ("paa_atss", "atss", "maxiou", "paa_maxiou")


class Budget:
    """Seconds left before ``budget_s`` (minus a small margin) since creation."""

    def __init__(self, budget_s: float):
        self.start, self.budget_s = time.monotonic(), budget_s

    def left(self) -> float:
        return self.budget_s - MARGIN_S - (time.monotonic() - self.start)


def run(command: list[str], timeout: float, env: dict, cwd: Path = REPO) -> dict:
    """Run ``command`` in its own process group, killed after ``timeout`` seconds."""
    start = time.monotonic()
    proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=max(timeout, 1))
        status = "passed" if proc.returncode == 0 else "failed"
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        status = "timeout"
    if status == "timeout":
        return {"status": status, "reason": f"stopped at its {timeout:.0f} s cap",
                "returncode": None, "seconds": time.monotonic() - start,
                "command": " ".join(command), "output_tail": (output or "")[-4000:]}
    return {"status": status, "returncode": proc.returncode, "seconds": time.monotonic() - start,
            "command": " ".join(command), "output_tail": (output or "")[-4000:]}


class Report:
    """One JSON per stage plus ``summary.md``, written as the stages end."""

    def __init__(self, results: Path, header: dict):
        self.results, self.header, self.rows = results, header, []
        results.mkdir(parents=True, exist_ok=True)

    def add(self, stem: str, result: dict) -> dict:
        result = {"stage": stem, **result}
        (self.results / f"{stem}.json").write_text(json.dumps(result, indent=2))
        self.rows.append(result)
        lines = [f"# paa_edu GPU check, {self.header['date']}", "",
                 f"GPU: {self.header['gpu']}; budget {self.header['budget_s']:.0f} s; "
                 f"command: `{self.header['command']}`", "",
                 "| stage | status | s | note |", "|---|---|---|---|"]
        for row in self.rows:
            note = row.get("reason") or row.get("note") or ""
            lines.append(f"| {row['stage']} | {row['status']} | {row.get('seconds', 0):.0f} | "
                         f"{note} |")
        (self.results / "summary.md").write_text("\n".join(lines) + "\n")
        return result


def install(wheelhouse: Path, site: Path, budget: Budget, env: dict) -> dict:
    requirements = wheelhouse / "requirements.txt"
    if not requirements.is_file():
        return {"status": "skipped", "reason": f"skipped: no {requirements} (run "
                f"scripts/make_wheelhouse.sh where an index is reachable)"}
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-index", "--no-deps",
               "--no-compile", "--no-cache-dir", "--upgrade", "--find-links", str(wheelhouse),
               "--target", str(site), "-r", str(requirements)]
    return run(command, min(90, budget.left()), env)


def cuda_info(env: dict) -> str | None:
    """The GPU's name, or None without CUDA."""
    probe = "import torch; print(torch.cuda.get_device_name() if torch.cuda.is_available() " \
            "else '')"
    result = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True,
                            text=True, timeout=60)
    return result.stdout.strip() or None


def stage_pytest(cap, env, args, done):
    return run([sys.executable, "-m", "pytest", "-m", "cuda", "-q", "-rs", "-n", "0",
                "-p", "no:cacheprovider", "tests"], cap, env)


def stage_train_step(cap, env, args, done):
    out, figures = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        runs = (("fp32", False, 300, 10), ("amp", True, 300, 10), ("fp32_2000gts", False, 2000, 5))
        for name, amp, num_gts, iters in runs:
            path = Path(tmp) / f"{name}.json"
            result = run([sys.executable, "benchmarks/bench_train_step.py", "--config",
                          "r50_dota_1x", "--device", "cuda", "--num-gts", str(num_gts),
                          "--iters", str(iters), "--warmup", "3", "--count-ops", "--json",
                          str(path)] + (["--amp"] if amp else []), cap / len(runs), env)
            out[name] = result
            if path.is_file():
                figures[name] = json.loads(path.read_text())
    worst = [r["status"] for r in out.values() if r["status"] != "passed"]
    return {"status": worst[0] if worst else "passed", "metrics": figures,
            "seconds": sum(r["seconds"] for r in out.values()),
            "command": " ; ".join(r["command"] for r in out.values()),
            "output_tail": "\n".join(r["output_tail"][-1800:] for r in out.values()),
            "note": "; ".join(f"{k}: {v['step_ms']:.0f} ms/step, assignment "
                              f"{100 * v['assign_share']:.1f}% (PAA {100 * v['paa_share']:.1f}%)"
                              for k, v in figures.items())}


def stage_input(cap, env, args, done):
    steps = done.get("02_train_step", {}).get("metrics", {})
    step_ms = (steps.get("amp") or steps.get("fp32") or {}).get("step_ms")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "input.json"
        command = [sys.executable, "benchmarks/bench_input.py", "--images",
                   str(args.input_images), "--epochs",
                   "2", "--workers", "0", "2", "4", "8", "--json", str(path),
                   "--root", str(args.input_root)]
        if args.cuda:
            command += ["--device", "cuda"]
        if step_ms:
            command += ["--step-ms", f"{step_ms:.1f}"]
        result = run(command, cap, env)
        if path.is_file():
            result["metrics"] = json.loads(path.read_text())
            if "input_bound" in result["metrics"]:
                result["note"] = ("input-bound" if result["metrics"]["input_bound"]
                                  else "not input-bound")
    return result


def stage_gpu_synthetic(cap, env, args, done):
    start, runs = time.monotonic(), []
    for variant in VARIANTS:  # one assigner after the other while the cap allows
        left = cap - (time.monotonic() - start)
        if left < MIN_STAGE_S:
            break
        runs.append(run([sys.executable, "benchmarks/compare_assigners.py", "--config",
                         "gpu_synthetic", "--seeds", "0", "--variants", variant, "--out",
                         str(args.compare_out)], left, env))
    metrics = {}
    for path in sorted(Path(args.compare_out).glob("*_s*/metrics.json")):
        metrics[path.parent.name] = json.loads(path.read_text())
    statuses = [r["status"] for r in runs]
    status = "passed" if statuses and all(s == "passed" for s in statuses) else \
        (next((s for s in statuses if s != "passed"), "skipped"))
    return {"status": status, "seconds": time.monotonic() - start, "metrics": metrics,
            "command": " ; ".join(r["command"] for r in runs),
            "output_tail": "\n".join(r["output_tail"][-1000:] for r in runs),
            "note": f"{sum(s == 'passed' for s in statuses)} of {len(VARIANTS)} assigners"}


NOTEBOOK_RUNNER = """
import sys, nbformat, nbclient
nb = nbformat.read(sys.argv[1], as_version=4)
client = nbclient.NotebookClient(nb, timeout=int(sys.argv[2]), kernel_name="python3",
                                 resources={"metadata": {"path": "notebooks"}})
client.execute()
print("executed", sum(c.cell_type == "code" for c in nb.cells), "code cells")
"""


def stage_notebook(cap, env, args, done):
    probe = subprocess.run([sys.executable, "-c", "import nbclient, nbformat, ipykernel"],
                           env=env, capture_output=True, text=True)
    if probe.returncode != 0:
        return {"status": "skipped", "reason": "skipped: nbclient/ipykernel not importable ("
                + (probe.stderr.strip().splitlines() or ["?"])[-1] + ")"}
    notebook = REPO / "notebooks" / "04_train_on_gpu.ipynb"
    return run([sys.executable, "-c", NOTEBOOK_RUNNER, str(notebook), str(int(cap))], cap, env)


RUNNERS = {"01_pytest_cuda": stage_pytest, "02_train_step": stage_train_step,
           "03_input": stage_input, "04_gpu_synthetic": stage_gpu_synthetic,
           "05_notebook04": stage_notebook}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("results", type=Path, help="folder for the per-stage results")
    parser.add_argument("--budget-s", type=float, default=480.0)
    parser.add_argument("--wheelhouse", type=Path, default=REPO / "wheelhouse")
    parser.add_argument("--site", type=Path, default=Path(tempfile.gettempdir())
                        / "paa_edu_gpu_site", help="where the wheels are installed")
    parser.add_argument("--compare-out", type=Path, default=REPO / "work_dirs" / "gpu_check")
    parser.add_argument("--input-images", type=int, default=24, help="patches of stage 3")
    parser.add_argument("--input-root", type=Path, default=Path(tempfile.gettempdir())
                        / "paa_edu_bench_input")
    args = parser.parse_args(argv)
    budget = Budget(args.budget_s)
    env = {**os.environ, "PYTHONUNBUFFERED": "1",
           "PYTHONPATH": os.pathsep.join([str(args.site), str(REPO),
                                          os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    header = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
              "gpu": "?", "budget_s": args.budget_s,
              "command": "scripts/gpu_check.sh " + " ".join(argv or sys.argv[1:])}
    report = Report(args.results, header)
    report.add("00_install", install(args.wheelhouse, args.site, budget, env))
    args.cuda = cuda_info(env)
    header["gpu"] = args.cuda or "none (no CUDA)"
    done: dict[str, dict] = {}
    for stem, cap, needs_cuda in STAGES:
        left = budget.left()
        if needs_cuda and not args.cuda:
            result = {"status": "skipped", "reason": "skipped: no CUDA"}
        elif left < MIN_STAGE_S:
            result = {"status": "skipped", "reason": f"skipped: budget spent ({left:.0f} s "
                      f"left of {args.budget_s:.0f})"}
        else:
            result = RUNNERS[stem](min(cap, left), env, args, done)
            result["cap_s"] = min(cap, left)
        done[stem] = report.add(stem, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
