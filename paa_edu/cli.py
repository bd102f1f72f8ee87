"""The ``paa-edu`` command line: train, eval, predict, split, synth, check-data and demo.

Examples::

    paa-edu demo                                   # the README's one command (CPU, < 10 min)
    paa-edu train --config tiny_synthetic --set model.assigner=atss --set train.epochs=2
    paa-edu eval --checkpoint work_dirs/tiny_synthetic/last.pth
    paa-edu predict --checkpoint X.pth --input DOTA/split/test/images --merge --out submission
    paa-edu check-data data/dota_split            # every image and label; exit 1 on errors

``train`` and ``eval`` also run under torchrun, once per GPU (``torchrun --nproc_per_node 4 -m
paa_edu train ...``, see :mod:`paa_edu.engine.distributed`); only rank 0 prints results."""
from __future__ import annotations

import argparse
import signal
import sys
import threading
from dataclasses import replace
from pathlib import Path

from paa_edu import data
from paa_edu.config import apply_overrides
from paa_edu.data.build import build_dataset, class_names
from paa_edu.data.check import check_folder
from paa_edu.data.files import describe_os_error
from paa_edu.data.workers import raise_interrupt
from paa_edu.demo import run_demo
from paa_edu.engine import distributed
from paa_edu.engine.checkpoint import load_model
from paa_edu.engine.distributed import init_from_env, is_main
from paa_edu.engine.inference import evaluate
from paa_edu.engine.train import resolve_device, train
from paa_edu.evaluation import report
from paa_edu.predict import predict_paths
from paa_edu.presets import PRESETS, get_config


def _folder_arg(path: str | Path, flag: str) -> None:
    """Refuse an existing file where a folder will be written."""
    if Path(path).exists() and not Path(path).is_dir():
        raise ValueError(f"{flag} {path}: is a file, not a folder")


def cmd_train(args: argparse.Namespace) -> None:
    overrides = list(args.overrides)
    if args.out_dir:
        overrides.append(f"train.out_dir={args.out_dir!r}")
    if args.device:
        overrides.append(f"train.device={args.device}")
    cfg = apply_overrides(get_config(args.config), overrides)
    _folder_arg(cfg.train.out_dir, "--out-dir")
    result = train(cfg, resume=args.resume, progress=not args.no_progress, restart=args.restart,
                   need_val=args.eval)
    if is_main():
        print(f"checkpoint: {result['checkpoint']}")
        for line in result["warnings"]:  # a diverging loss is said again at the end
            print(line, file=sys.stderr)
    if args.eval:  # under torchrun: every rank predicts its share, rank 0 scores
        metrics = evaluate(result["model"], build_dataset(cfg, "val", train=False),
                           num_workers=cfg.data.num_workers)
        if is_main():
            print(report.format_results_table([report.table_row(cfg, metrics)]))
            print(report.local_eval_note(str(Path(cfg.data.root) / "val")))


def cmd_eval(args: argparse.Namespace) -> None:
    model, cfg = load_model(args.checkpoint, init_from_env(resolve_device(args.device)))
    split_dir = (Path(args.data) if args.data else Path(cfg.data.root) / "val").absolute()
    if not (split_dir / "images").is_dir() or not (split_dir / "labelTxt").is_dir():
        source = "--data" if args.data else f"the checkpoint's data.root {cfg.data.root!r}"
        raise FileNotFoundError(f"{split_dir} must hold images/ and labelTxt/ ({source}); "
                                f"pass --data <a split folder with images/ and labelTxt/>")
    transforms = data.TransformConfig(max_size=cfg.data.max_size, hflip_prob=0.0,
                                      vflip_prob=0.0, normalize=False)
    dataset = data.DOTADataset(split_dir, class_names(cfg), cfg.model.angle_version, transforms,
                               train=False)
    metrics = evaluate(model, dataset, batch_size=args.batch_size,
                       progress=not args.no_progress, num_workers=cfg.data.num_workers)
    if is_main():
        print(report.format_results_table([report.table_row(cfg, metrics, split_dir.name)]))
        print()
        print(report.format_per_class_table(metrics, class_names(cfg)))
        print(report.local_eval_note(str(split_dir)))


def cmd_predict(args: argparse.Namespace) -> None:
    _folder_arg(args.out, "--out")
    paths = predict_paths(args.checkpoint, args.input, args.out, device=args.device,
                          score_thr=args.score_thr, max_png=args.max_png, merge=args.merge,
                          batch_size=args.batch_size, num_workers=args.workers,
                          progress=not args.no_progress, overwrite=args.overwrite)
    print(f"wrote {len(paths)} files to {args.out}")
    if args.merge:
        print(f"submission: cd {args.out} && zip ../submission.zip Task1_*.txt")


def cmd_split(args: argparse.Namespace) -> None:
    if not (Path(args.src) / "images").is_dir():
        raise FileNotFoundError(f"{args.src}/images does not exist")
    _folder_arg(args.dst, "--dst")
    try:
        stats = data.split_dataset(args.src, args.dst, patch_size=args.patch_size,
                                   overlap=args.overlap, iof_thr=args.iof_thr,
                                   progress=not args.no_progress, overwrite=args.overwrite)
    except KeyboardInterrupt as err:  # the manifest stays unfinished: readers refuse it
        raise KeyboardInterrupt(f"{err or 'SIGINT'}: {args.dst} holds an incomplete split; "
                                f"redo it with --overwrite") from None
    print(f"{stats.summary()}; written to {args.dst}")


def cmd_synth(args: argparse.Namespace) -> None:
    _folder_arg(args.root, "--root")
    for flag, value, least in (("--size", args.size, 32), ("--num-train", args.num_train, 1),
                               ("--num-val", args.num_val, 1)):
        if value is not None and value < least:
            raise ValueError(f"{flag} is too small: {value}")
    changes = {"image_size": args.size, "num_train": args.num_train, "num_val": args.num_val}
    preset = replace(data.PRESETS[args.preset], **{k: v for k, v in changes.items() if v})
    dirs = data.write_synthetic_dataset(args.root, preset, seed=args.seed,
                                        num_workers=args.workers, progress=not args.no_progress)
    print("\n".join(f"{split}: {path}" for split, path in dirs.items()))


def cmd_check_data(args: argparse.Namespace) -> int:
    names = {"dota": data.DOTA_CLASSES, "synthetic": data.SYNTHETIC_CLASSES}[args.classes]
    checked = check_folder(args.dir, names, progress=not args.no_progress,
                           use_cache=not args.no_cache, labels=not args.no_labels)
    print(checked.format())
    return 1 if checked.errors else 0


def cmd_demo(args: argparse.Namespace) -> None:
    _folder_arg(args.out, "--out")
    run_demo(args.out, device=args.device or "auto", epochs=args.epochs,
             overrides=args.overrides, progress=not args.no_progress, workers=args.workers)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


DEVICE = ("auto", "cpu", "cuda")
SET = {"dest": "overrides", "action": "append", "default": [], "metavar": "KEY=VALUE"}


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of every sub-command."""
    parser = argparse.ArgumentParser(prog="paa-edu", description="Rotated PAA detection: "
                                     "train, eval, predict, split, synth and demo.")
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, func, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help)
        p.set_defaults(func=func)
        return p

    def inference_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--device", choices=DEVICE, default="auto",
                       help="default: auto (CUDA when available)")
        p.add_argument("--batch-size", type=_positive_int, default=4,
                       help="images per forward pass (default: 4)")

    p = command("train", cmd_train, "train a detector")
    p.add_argument("--config", default="tiny_synthetic", choices=sorted(PRESETS),
                   help="preset config (default: tiny_synthetic)")
    p.add_argument("--set", **SET, help="override a field, e.g. train.lr=0.01")
    p.add_argument("--out-dir", help="shortcut for --set train.out_dir=...")
    p.add_argument("--device", choices=DEVICE, help="shortcut for --set train.device=...")
    p.add_argument("--resume", action="store_true", help="continue from <out_dir>/last.pth")
    p.add_argument("--restart", action="store_true", help="start over in an out-dir that "
                   "holds a run (its files are moved to <out_dir>/old_runs/<time>/)")
    p.add_argument("--eval", action="store_true", help="evaluate on val/ and print the table")
    p = command("eval", cmd_eval, "evaluate a checkpoint and print the seed-style table")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--data", help="split folder with images/ and labelTxt/ (default: val)")
    inference_args(p)
    p = command("predict", cmd_predict, "image or folder -> DOTA Task1 files + annotated PNGs")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--input", required=True, help="an image file or a folder of images")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--merge", action="store_true", help="the inputs are patches from "
                   "`paa-edu split`: merge them into their images and write <out>/Task1_*.txt")
    p.add_argument("--score-thr", type=float, default=0.3, help="drawing threshold")
    p.add_argument("--max-png", type=int, default=20, help="annotate at most this many images")
    p.add_argument("--workers", type=int, default=0, help="DataLoader workers (default: 0)")
    p.add_argument("--overwrite", action="store_true", help="replace the Task1_*.txt files "
                   "of an earlier run in --out (those this run does not write are removed)")
    inference_args(p)
    p = command("split", cmd_split, "cut DOTA images into overlapping patches")
    p.add_argument("--src", required=True, help="folder with images/ (+ labelTxt/)")
    p.add_argument("--dst", required=True)
    p.add_argument("--patch-size", type=int, default=1024)
    p.add_argument("--overlap", type=int, default=200)
    p.add_argument("--iof-thr", type=float, default=0.7)
    p.add_argument("--overwrite", action="store_true",
                   help="replace an earlier split in --dst (removes only the files it wrote)")
    p = command("synth", cmd_synth, "write the synthetic DOTA-format dataset")
    p.add_argument("--root", required=True)
    p.add_argument("--preset", default="tiny", choices=("tiny", "full", "gpu"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=0)
    p.add_argument("--size", type=int, help="image side (default: the preset's)")
    p.add_argument("--num-train", type=int, help="train images (default: the preset's)")
    p.add_argument("--num-val", type=int, help="val images (default: the preset's)")
    p = command("check-data", cmd_check_data, "check a DOTA-format folder; exit 1 on errors")
    p.add_argument("dir", help="a split folder (images/, labelTxt/) or a folder of them")
    p.add_argument("--classes", default="dota", choices=("dota", "synthetic"))
    p.add_argument("--no-cache", action="store_true", help="re-check every file")
    p.add_argument("--no-labels", action="store_true", help="an unlabelled set (a test "
                   "split): check the images only (else a missing labelTxt/ is an error)")
    p = command("demo", cmd_demo, "train and compare the 4 assigners on the tiny set")
    p.add_argument("--out", default="paa_demo", help="output folder (default: paa_demo)")
    p.add_argument("--device", choices=DEVICE)
    p.add_argument("--epochs", type=int, help="epochs per model (default: the tiny preset's)")
    p.add_argument("--workers", type=_positive_int, help="trainings side by side (default: one "
                   "per CPU core, at most 4; 1 on a GPU); the results do not depend on it")
    p.add_argument("--set", **SET, help="override a tiny_synthetic field")
    for p in sub.choices.values():
        p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``paa-edu`` and ``python -m paa_edu``; returns the exit status. A user's
    mistake is one line ``paa-edu <command>: error: ...`` and exit 2; a file system that refuses a
    write or a read (full, read-only, no permission) is one line naming the path and the cause,
    exit 1; Ctrl-C or SIGTERM is one line, exit 130 (``train`` saves ``last.pth`` first). Under
    torchrun every rank prints its own error, tagged with its rank."""
    args = build_parser().parse_args(argv)

    def rank_tag() -> str:
        return f"[rank {distributed.rank()}] " if distributed.world_size() > 1 else ""

    previous_sigterm = None  # SIGTERM interrupts as Ctrl-C does, unless someone handles it
    if threading.current_thread() is threading.main_thread() and \
            signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        previous_sigterm = signal.signal(signal.SIGTERM, raise_interrupt)
    try:
        if distributed.launched_by_torchrun() and args.command not in ("train", "eval"):
            raise ValueError("only train and eval run under torchrun; start this command "
                             "without it")
        status = args.func(args)
    except (FileNotFoundError, ValueError, FloatingPointError) as err:
        print(f"paa-edu {args.command}: error: {rank_tag()}{err}", file=sys.stderr)
        return 2
    except OSError as err:  # the disk, not the user: full, read-only, no permission, ...
        print(f"paa-edu {args.command}: error: {rank_tag()}{describe_os_error(err)}",
              file=sys.stderr)
        return 1
    except KeyboardInterrupt as err:
        print(f"paa-edu {args.command}: interrupted" + (f": {rank_tag()}{err}" if str(err)
                                                         else ""), file=sys.stderr)
        return 130
    finally:
        distributed.shutdown()
        if previous_sigterm is not None:
            signal.signal(signal.SIGTERM, previous_sigterm)
    return status or 0
