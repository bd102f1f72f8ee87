"""Train and package the four teaching checkpoints of :mod:`paa_edu.pretrained`.

Usage, from the repository root (about an hour on a 2-core CPU; safe to interrupt)::

    nice python scripts/make_teaching_checkpoints.py --out teaching_runs > teaching.log 2>&1 &

1. trains the ``tiny_teaching`` preset once per assigner (``maxiou``, ``atss``,
   ``paa_maxiou``, ``paa_atss``) on the tiny synthetic set written under ``--out/data``,
   ``--jobs`` runs side by side, each in its own process with one torch thread, its output in
   ``--out/<name>/train.log``. A run folder with a checkpoint but no ``done.json`` resumes
   where it stopped (``train(resume=True)``, bit for bit from the last finished epoch); a
   finished one is skipped. After an interruption, run the same command again.
2. converts every finished run into ``paa_edu/pretrained_data/<name>.pt``: fp16 weights, the
   config, the AP on the val set, on a synthetic set drawn with a seed never seen in training
   and on the first val images (what the tests re-check), training time and this command;
   the runs' snapshots go, thinned, into ``paa_edu/pretrained_data/snapshots.pt``.

3. writes each run's ``log.csv``, every ``LOG_EVERY``-th iteration with 5 significant digits,
   to ``paa_edu/pretrained_data/<name>_log.csv`` (the curves of notebook 04).

``--skip-convert`` stops after step 1, ``--convert-only`` skips it; ``--logs-only`` does only
step 3, e.g. for the logs of a re-run of the same recipe (its weights differ from the shipped
ones in the last bits after a few hundred iterations when the CPU differs). ``--verify``
trains nothing and writes nothing: it re-evaluates the shipped files with the current code and
lists every AP that moved (exit status 1), e.g. after a change to the model or the evaluation;
then run ``--convert-only`` again on the same ``--out`` to record the new figures.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch
from torch.utils.data import Subset

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing

from paa_edu.config import VARIANTS, Config, apply_overrides, config_from_dict  # noqa: E402
from paa_edu.data import write_synthetic_dataset  # noqa: E402
from paa_edu.data.build import build_dataset  # noqa: E402
from paa_edu.engine.checkpoint import CHECKPOINT_NAME, load_state_into  # noqa: E402
from paa_edu.engine.inference import evaluate  # noqa: E402
from paa_edu.engine.snapshots import load_snapshots  # noqa: E402
from paa_edu.engine.train import train  # noqa: E402
from paa_edu.model import RotatedPAADetector  # noqa: E402
from paa_edu.presets import tiny_teaching  # noqa: E402
from paa_edu.pretrained import DATA_DIR, NAMES, SNAPSHOTS_FILE, info, load  # noqa: E402

DONE = "done.json"
UNSEEN_SEED = 1  # the training set is drawn with seed 0
CHECK_IMAGES = 20  # first val images of the recorded check
SHIPPED_SNAPSHOT_EVERY = 200
LOG_EVERY = 5  # iterations between the rows of a shipped log
FORMAT = 1


def teaching_config(name: str, out_dir: str | Path, overrides: list[str] | tuple[str, ...] = ()
                    ) -> Config:
    """The training config of checkpoint ``name``, data and run folder under ``out_dir``."""
    _, assigner, init = VARIANTS[NAMES.index(name)]
    out_dir = Path(out_dir)
    return apply_overrides(tiny_teaching(), [
        f"data.root={out_dir / 'data'}", f"train.out_dir={out_dir / name}",
        f"model.assigner={assigner}", f"model.paa_init={init}", "train.device=cpu",
        *overrides])


def train_one(out: Path, name: str, overrides: list[str]) -> None:
    """Train (or resume) one variant in this process; write ``done.json`` when finished."""
    cfg = teaching_config(name, out, overrides)
    run_dir = Path(cfg.train.out_dir)
    if (run_dir / DONE).is_file():
        print(f"[teaching] {name}: already trained", flush=True)
        return
    resume = (run_dir / CHECKPOINT_NAME).is_file()
    print(f"[teaching] {name}: {'resuming' if resume else 'training'}", flush=True)
    start = time.perf_counter()
    # No checkpoint yet but a log of an interrupted first epoch: start over (it is moved aside).
    train(cfg, resume=resume, restart=not resume, progress=False)
    seconds = time.perf_counter() - start
    sessions_path = run_dir / "sessions.json"  # one entry per (resumed) session
    sessions = json.loads(sessions_path.read_text()) if sessions_path.is_file() else []
    sessions.append({"seconds": seconds, "resumed": resume})
    sessions_path.write_text(json.dumps(sessions, indent=1))
    (run_dir / DONE).write_text(json.dumps({"train_seconds": sum(s["seconds"]
                                                                 for s in sessions)}))
    print(f"[teaching] {name}: done in {seconds:.0f} s", flush=True)


def train_all(out: Path, names: list[str], jobs: int, overrides: list[str]) -> None:
    """Run :func:`train_one` for every name, ``jobs`` child processes at a time."""
    # write the data once, before the runs start side by side
    build_dataset(teaching_config(names[0], out, overrides), "train", train=True)
    pending, running = list(names), []
    while pending or running:
        while pending and len(running) < jobs:
            name = pending.pop(0)
            log_dir = out / name
            log_dir.mkdir(parents=True, exist_ok=True)
            log = open(log_dir / "train.log", "a")
            cmd = [sys.executable, __file__, "--out", str(out), "--child", name,
                   *(f"--set={o}" for o in overrides)]
            running.append((name, subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT),
                            log))
            print(f"[teaching] started {name} (pid {running[-1][1].pid})", flush=True)
        time.sleep(5)
        for item in list(running):
            name, proc, log = item
            if proc.poll() is not None:
                log.close()
                running.remove(item)
                status = "finished" if proc.returncode == 0 else f"FAILED ({proc.returncode})"
                print(f"[teaching] {name} {status}; see {out / name / 'train.log'}",
                      flush=True)


# ---- converting finished runs into the shipped files --------------------------------------
def _summary(metrics: dict, num_images: int) -> dict:
    return {"AP50": float(metrics["AP50"]), "AP75": float(metrics["AP75"]),
            "mAP": float(metrics["mAP"]), "num_images": num_images,
            "per_class_AP50": [float(a) for a in metrics["per_class_AP50"]],
            "num_gts": [int(n) for n in metrics["num_gts"]]}


def evaluation_sets(cfg: Config, out_dir: Path) -> dict:
    """``val``, ``unseen_seed`` (the val split of a set drawn with :data:`UNSEEN_SEED`) and
    ``val_check`` (the first :data:`CHECK_IMAGES` val images)."""
    val = build_dataset(cfg, "val", train=False)
    unseen_root = out_dir / f"data_seed{UNSEEN_SEED}"
    write_synthetic_dataset(unseen_root, cfg.data.synthetic, seed=UNSEEN_SEED, progress=False)
    unseen_cfg = replace(cfg, data=replace(cfg.data, root=str(unseen_root), synthetic=None))
    return {"val": val, "unseen_seed": build_dataset(unseen_cfg, "val", train=False),
            "val_check": Subset(val, range(min(CHECK_IMAGES, len(val))))}


def evaluate_sets(model, datasets: dict) -> dict:
    """:func:`paa_edu.engine.inference.evaluate` on each named dataset, summarised."""
    return {key: _summary(evaluate(model, ds), len(ds)) for key, ds in datasets.items()}


def export(run_dir: Path, name: str, dest: Path, command: str, train_seconds: float,
           out_dir: Path) -> dict:
    """Write ``dest/<name>.pt`` from the run's ``last.pth`` (fp16) with its metrics: those of
    the fp16 weights, i.e. of what :func:`paa_edu.pretrained.load` returns."""
    path = run_dir / CHECKPOINT_NAME
    state = torch.load(path, map_location="cpu", weights_only=False)  # our own file (RNG states)
    cfg = config_from_dict(state["config"])
    model = RotatedPAADetector(cfg.model, load_backbone_weights=False).eval()
    load_state_into(model, state["model"], path)
    half = {k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()}
    model.load_state_dict({k: v.float() if v.is_floating_point() else v
                           for k, v in half.items()})
    start = time.perf_counter()
    metrics = evaluate_sets(model, evaluation_sets(cfg, out_dir))
    shipped = apply_overrides(cfg, ["data.root=data/synthetic_tiny",
                                    f"train.out_dir=work_dirs/tiny_teaching_{name}"])
    record = {"format": FORMAT, "name": name, "config": shipped.to_dict(), "model": half,
              "metrics": metrics, "unseen_seed": UNSEEN_SEED, "command": command,
              "train_seconds": float(train_seconds), "eval_seconds": time.perf_counter() - start,
              "created": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    dest.mkdir(parents=True, exist_ok=True)
    torch.save(record, dest / f"{name}.pt")
    return record


def verify(out_dir: Path, names: list[str] = NAMES, tol: float = 1e-6) -> list[str]:
    """Re-evaluate the shipped files with this code; one line per metric that moved."""
    moved = []
    for name in names:
        model, cfg = load(name)
        recorded = info(name)["metrics"]
        cfg = apply_overrides(cfg, [f"data.root={Path(out_dir) / 'data'}"])
        now = evaluate_sets(model, evaluation_sets(cfg, Path(out_dir)))
        moved += [f"{name} {split} {key}: recorded {recorded[split][key]:.6f}, now "
                  f"{now[split][key]:.6f}" for split in now for key in ("AP50", "AP75", "mAP")
                  if abs(now[split][key] - recorded[split][key]) > tol]
    return moved


def thin_snapshots(run_dir: Path, every: int = SHIPPED_SNAPSHOT_EVERY) -> list[dict]:
    """The run's snapshots every ``every`` iterations (and the last), own assigner only."""
    snaps = load_snapshots(run_dir)
    kept = [s for i, s in enumerate(snaps) if s["iteration"] % every == 0 or i == len(snaps) - 1]
    return [{**s, "assigners": {s["trained_with"]: s["assigners"][s["trained_with"]]}}
            for s in kept]


def export_all(out_dir: Path, names: list[str], dest: Path, overrides: list[str] = (),
               command: str = "") -> None:
    """:func:`export` every finished run and write the thinned snapshots to ``snapshots.pt``."""
    histories = {}
    for name in names:
        run_dir = Path(teaching_config(name, out_dir, overrides).train.out_dir)
        done = run_dir / DONE
        if not done.is_file():
            print(f"[teaching] {name}: not finished, not exported", flush=True)
            continue
        record = export(run_dir, name, dest, command,
                        json.loads(done.read_text())["train_seconds"], out_dir)
        m = record["metrics"]
        print(f"[teaching] {name}: val AP50 {100 * m['val']['AP50']:.2f}, unseen seed AP50 "
              f"{100 * m['unseen_seed']['AP50']:.2f} -> {dest / f'{name}.pt'}", flush=True)
        histories[name] = thin_snapshots(run_dir)
        export_log(run_dir, name, dest)
    if histories:
        path = dest / SNAPSHOTS_FILE
        old = torch.load(path, weights_only=True) if path.is_file() else {}
        torch.save({**old, **histories}, path)


def export_log(run_dir: Path, name: str, dest: Path) -> Path:
    """Every ``LOG_EVERY``-th row of the run's ``log.csv`` (and the last), numbers to 5
    significant digits, as ``dest/<name>_log.csv``."""
    rows = (run_dir / "log.csv").read_text().splitlines()
    header, body = rows[0], [r.split(",") for r in rows[1:]]
    kept = [r for i, r in enumerate(body) if int(r[1]) % LOG_EVERY == 0 or i == len(body) - 1]

    def short(value: str) -> str:
        try:
            return value if float(value).is_integer() else f"{float(value):.5g}"
        except ValueError:
            return value
    path = dest / f"{name}_log.csv"
    path.write_text("\n".join([header, *(",".join(map(short, r)) for r in kept)]) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("teaching_runs"),
                        help="run folders and data (outside git)")
    parser.add_argument("--names", nargs="+", default=list(NAMES), choices=NAMES)
    parser.add_argument("--jobs", type=int, default=2, help="runs side by side")
    parser.add_argument("--dest", type=Path, default=DATA_DIR)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override the tiny_teaching preset (smoke tests only)")
    parser.add_argument("--skip-convert", action="store_true")
    parser.add_argument("--convert-only", action="store_true")
    parser.add_argument("--verify", action="store_true")
    parser.add_argument("--logs-only", action="store_true")
    parser.add_argument("--child", choices=NAMES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    out = args.out.resolve()
    if args.child:
        train_one(out, args.child, args.set)
        return 0
    if args.verify:
        moved = verify(out, args.names)
        print("\n".join(moved) or "[teaching] every recorded AP reproduces", flush=True)
        return 1 if moved else 0
    if args.logs_only:
        for name in args.names:
            run_dir = Path(teaching_config(name, out, args.set).train.out_dir)
            print(f"[teaching] {name}: {export_log(run_dir, name, args.dest)}", flush=True)
        return 0
    if not args.convert_only:
        train_all(out, args.names, args.jobs, args.set)
    if not args.skip_convert:
        given = [a for a in (argv or sys.argv[1:]) if a != "--convert-only"]
        export_all(out, args.names, args.dest, args.set, command=" ".join(
            ["python", "scripts/make_teaching_checkpoints.py", *given]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
