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

``--skip-convert`` stops after step 1, ``--convert-only`` skips it. ``--verify`` trains nothing
and writes nothing: it re-evaluates the shipped files with the current code and lists every AP
that moved (exit status 1), e.g. after a change to the model or the evaluation; then run
``--convert-only`` again on the same ``--out`` to record the new figures.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing

from paa_edu.pretrained import NAMES, teaching_config  # noqa: E402

DONE = "done.json"


def train_one(out: Path, name: str, overrides: list[str]) -> None:
    """Train (or resume) one variant in this process; write ``done.json`` when finished."""
    from paa_edu.engine.checkpoint import CHECKPOINT_NAME
    from paa_edu.engine.train import train

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
    from paa_edu.data.build import build_dataset

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("teaching_runs"),
                        help="run folders and data (outside git)")
    parser.add_argument("--names", nargs="+", default=list(NAMES), choices=NAMES)
    parser.add_argument("--jobs", type=int, default=2, help="runs side by side")
    parser.add_argument("--dest", type=Path, default=REPO / "paa_edu" / "pretrained_data")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override the tiny_teaching preset (smoke tests only)")
    parser.add_argument("--skip-convert", action="store_true")
    parser.add_argument("--convert-only", action="store_true")
    parser.add_argument("--verify", action="store_true")
    parser.add_argument("--child", choices=NAMES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    out = args.out.resolve()
    if args.child:
        train_one(out, args.child, args.set)
        return 0
    if args.verify:
        from paa_edu.pretrained import verify
        moved = verify(out, args.names)
        print("\n".join(moved) or "[teaching] every recorded AP reproduces", flush=True)
        return 1 if moved else 0
    if not args.convert_only:
        train_all(out, args.names, args.jobs, args.set)
    if not args.skip_convert:
        from paa_edu.pretrained import export_all
        given = [a for a in (argv or sys.argv[1:]) if a != "--convert-only"]
        export_all(out, args.names, args.dest, args.set, command=" ".join(
            ["python", "scripts/make_teaching_checkpoints.py", *given]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
