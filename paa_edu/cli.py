"""The ``paa-edu`` command line: train, eval, predict, split, synth, check-data and demo.

Examples::

    paa-edu demo                                   # the README's one command (CPU, < 10 min)
    paa-edu synth --root data/synthetic_tiny --preset tiny
    paa-edu train --config tiny_synthetic --set model.assigner=atss --set train.epochs=2
    paa-edu train --config tiny_synthetic --resume  # continue from <out_dir>/last.pth
    paa-edu train --config tiny_synthetic --restart # start over (old files to old_runs/)
    paa-edu eval --checkpoint work_dirs/tiny_synthetic/last.pth
    paa-edu predict --checkpoint work_dirs/tiny_synthetic/last.pth --input some/images --out preds
    paa-edu predict --checkpoint X.pth --input DOTA/split/test/images --merge --out submission
    paa-edu split --src DOTA/train --dst data/dota_split/train
    paa-edu check-data data/dota_split            # every image and label; exit 1 on errors

Several GPUs: ``torchrun --nproc_per_node 4 -m paa_edu train --config r50_dota_1x`` runs the
same ``train`` once per GPU (see :mod:`paa_edu.engine.distributed`); only rank 0 prints progress
and results (an error or an interrupt is printed by every rank, tagged with it). ``eval``
runs under torchrun too (each GPU predicts a share of the images); the other commands do not.
"""
from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from paa_edu.config import apply_overrides
from paa_edu.data import (
    DOTA_CLASSES,
    SYNTHETIC_CLASSES,
    DOTADataset,
    TransformConfig,
    split_dataset,
    write_synthetic_dataset,
)
from paa_edu.data import PRESETS as DATA_PRESETS
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
from paa_edu.evaluation.report import (
    format_per_class_table,
    format_results_table,
    local_eval_note,
    table_row,
)
from paa_edu.predict import predict_paths
from paa_edu.presets import PRESETS, get_config


def _add_config_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default="tiny_synthetic", choices=sorted(PRESETS),
                        help="preset config (default: tiny_synthetic)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="override a field, e.g. train.lr=0.01")
    parser.add_argument("--out-dir", help="shortcut for --set train.out_dir=...")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"),
                        help="shortcut for --set train.device=...")


def _config_from_args(args: argparse.Namespace):
    overrides = list(args.overrides)
    if args.out_dir:
        overrides.append(f"train.out_dir={args.out_dir!r}")
    if args.device:
        overrides.append(f"train.device={args.device}")
    cfg = apply_overrides(get_config(args.config), overrides)
    _folder_arg(cfg.train.out_dir, "--out-dir")
    return cfg


def _folder_arg(path: str | Path, flag: str) -> None:
    """Refuse an existing file where a folder will be written."""
    if Path(path).exists() and not Path(path).is_dir():
        raise ValueError(f"{flag} {path}: is a file, not a folder")


def cmd_train(args: argparse.Namespace) -> None:
    cfg = _config_from_args(args)
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
            print(format_results_table([table_row(cfg, metrics)]))
            print(local_eval_note(str(Path(cfg.data.root) / "val")))


def cmd_eval(args: argparse.Namespace) -> None:
    # under torchrun each process predicts its share of the images; rank 0 scores and prints
    model, cfg = load_model(args.checkpoint, init_from_env(resolve_device(args.device)))
    split_dir = (Path(args.data) if args.data else Path(cfg.data.root) / "val").absolute()
    if not (split_dir / "images").is_dir() or not (split_dir / "labelTxt").is_dir():
        source = "--data" if args.data else f"the checkpoint's data.root {cfg.data.root!r}"
        raise FileNotFoundError(f"{split_dir} must hold images/ and labelTxt/ ({source}); "
                                f"pass --data <a split folder with images/ and labelTxt/>")
    dataset = DOTADataset(split_dir, class_names(cfg), cfg.model.angle_version,
                          TransformConfig(max_size=cfg.data.max_size, hflip_prob=0.0,
                                          vflip_prob=0.0, normalize=False), train=False)
    metrics = evaluate(model, dataset, batch_size=args.batch_size,
                       progress=not args.no_progress, num_workers=cfg.data.num_workers)
    if is_main():
        print(format_results_table([table_row(cfg, metrics, split_dir.name)]))
        print()
        print(format_per_class_table(metrics, class_names(cfg)))
        print(local_eval_note(str(split_dir)))


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
        stats = split_dataset(args.src, args.dst, patch_size=args.patch_size,
                              overlap=args.overlap, iof_thr=args.iof_thr,
                              progress=not args.no_progress, overwrite=args.overwrite)
    except KeyboardInterrupt as err:  # the manifest stays unfinished: readers refuse it
        raise KeyboardInterrupt(f"{err or 'SIGINT'}: {args.dst} holds an incomplete split; "
                                f"redo it with --overwrite") from None
    print(f"{stats.summary()}; written to {args.dst}")


def cmd_synth(args: argparse.Namespace) -> None:
    from dataclasses import replace

    _folder_arg(args.root, "--root")
    preset = DATA_PRESETS[args.preset]
    changes = {"image_size": args.size, "num_train": args.num_train, "num_val": args.num_val}
    for key, value in changes.items():
        if value is not None and value < (32 if key == "image_size" else 1):
            raise ValueError(f"--{key.replace('_', '-')} is too small: {value}")
    preset = replace(preset, **{k: v for k, v in changes.items() if v is not None})
    dirs = write_synthetic_dataset(args.root, preset, seed=args.seed, num_workers=args.workers,
                                   progress=not args.no_progress)
    print("\n".join(f"{split}: {path}" for split, path in dirs.items()))


def cmd_check_data(args: argparse.Namespace) -> int:
    names = {"dota": DOTA_CLASSES, "synthetic": SYNTHETIC_CLASSES}[args.classes]
    report = check_folder(args.dir, names, progress=not args.no_progress,
                          use_cache=not args.no_cache, labels=not args.no_labels)
    print(report.format())
    return 1 if report.errors else 0


def cmd_demo(args: argparse.Namespace) -> None:
    _folder_arg(args.out, "--out")
    if args.workers is not None and args.workers < 1:
        raise ValueError(f"--workers must be >= 1, got {args.workers}")
    run_demo(args.out, device=args.device or "auto", epochs=args.epochs,
             overrides=args.overrides, progress=not args.no_progress, workers=args.workers)


def _add_inference_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                        help="default: auto (CUDA when available)")
    parser.add_argument("--batch-size", type=_positive_int, default=4,
                        help="images per forward pass (default: 4)")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of every sub-command."""
    parser = argparse.ArgumentParser(prog="paa-edu", description="Rotated PAA detection: "
                                     "train, eval, predict, split, synth and demo.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train", help="train a detector")
    _add_config_args(p)
    p.add_argument("--resume", action="store_true", help="continue from <out_dir>/last.pth")
    p.add_argument("--restart", action="store_true", help="start over in an out-dir that "
                   "holds a run (its files are moved to <out_dir>/old_runs/<time>/)")
    p.add_argument("--eval", action="store_true", help="evaluate on val/ and print the table")
    p.set_defaults(func=cmd_train)
    p = sub.add_parser("eval", help="evaluate a checkpoint and print the seed-style table")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--data", help="split folder with images/ and labelTxt/ (default: val)")
    _add_inference_args(p)
    p.set_defaults(func=cmd_eval)
    p = sub.add_parser("predict", help="image or folder -> DOTA Task1 files + annotated PNGs")
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
    _add_inference_args(p)
    p.set_defaults(func=cmd_predict)
    p = sub.add_parser("split", help="cut DOTA images into overlapping patches")
    p.add_argument("--src", required=True, help="folder with images/ (+ labelTxt/)")
    p.add_argument("--dst", required=True)
    p.add_argument("--patch-size", type=int, default=1024)
    p.add_argument("--overlap", type=int, default=200)
    p.add_argument("--iof-thr", type=float, default=0.7)
    p.add_argument("--overwrite", action="store_true",
                   help="replace an earlier split in --dst (removes only the files it wrote)")
    p.set_defaults(func=cmd_split)
    p = sub.add_parser("synth", help="write the synthetic DOTA-format dataset")
    p.add_argument("--root", required=True)
    p.add_argument("--preset", default="tiny", choices=("tiny", "full", "gpu"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=0)
    p.add_argument("--size", type=int, help="image side (default: the preset's)")
    p.add_argument("--num-train", type=int, help="train images (default: the preset's)")
    p.add_argument("--num-val", type=int, help="val images (default: the preset's)")
    p.set_defaults(func=cmd_synth)
    p = sub.add_parser("check-data", help="check a DOTA-format folder; exit 1 on errors")
    p.add_argument("dir", help="a split folder (images/, labelTxt/) or a folder of them")
    p.add_argument("--classes", default="dota", choices=("dota", "synthetic"))
    p.add_argument("--no-cache", action="store_true", help="re-check every file")
    p.add_argument("--no-labels", action="store_true", help="an unlabelled set (a test "
                   "split): check the images only (else a missing labelTxt/ is an error)")
    p.set_defaults(func=cmd_check_data)
    p = sub.add_parser("demo", help="train and compare the 4 assigners on the tiny set")
    p.add_argument("--out", default="paa_demo", help="output folder (default: paa_demo)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"))
    p.add_argument("--epochs", type=int, help="epochs per model (default: the tiny preset's)")
    p.add_argument("--workers", type=int, help="trainings side by side (default: one per CPU "
                   "core, at most 4; 1 on a GPU); the results do not depend on it")
    p.add_argument("--set", dest="overrides", action="append", default=[],
                   metavar="KEY=VALUE", help="override a tiny_synthetic field")
    p.set_defaults(func=cmd_demo)
    for p in sub.choices.values():
        p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    return parser


def _rank_tag() -> str:
    """``"[rank r] "`` under torchrun (every rank prints its own error), else ``""``."""
    return f"[rank {distributed.rank()}] " if distributed.world_size() > 1 else ""


def _interrupt_on_sigterm():
    """SIGTERM (``timeout``, ``kill``, a job scheduler) raises ``KeyboardInterrupt`` as Ctrl-C
    does, so that every command cleans up (its worker processes included), says so in one line
    and exits 130 (``train`` handles both signals itself while it trains: it saves
    ``last.pth`` first). Returns the previous handler, or None when nothing was changed."""
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return None
    return signal.signal(signal.SIGTERM, raise_interrupt)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``paa-edu`` and ``python -m paa_edu``; returns the exit status.

    A user's mistake is one line ``paa-edu <command>: error: ...`` and exit 2; a file system
    that refuses a write or a read (full, read-only, no permission) is one line naming the
    path and the cause, exit 1. Under torchrun an error is printed by every rank that hits
    it, tagged with its rank.
    """
    args = build_parser().parse_args(argv)
    previous_sigterm = _interrupt_on_sigterm()
    try:
        if distributed.launched_by_torchrun() and args.command not in ("train", "eval"):
            raise ValueError("only train and eval run under torchrun; start this command "
                             "without it")
        status = args.func(args)
    except (FileNotFoundError, ValueError, FloatingPointError) as err:
        print(f"paa-edu {args.command}: error: {_rank_tag()}{err}", file=sys.stderr)
        return 2
    except OSError as err:  # the disk, not the user: full, read-only, no permission, ...
        print(f"paa-edu {args.command}: error: {_rank_tag()}{describe_os_error(err)}",
              file=sys.stderr)
        return 1
    except KeyboardInterrupt as err:  # Ctrl-C / SIGTERM (train saved its checkpoint first)
        print(f"paa-edu {args.command}: interrupted" + (f": {_rank_tag()}{err}" if str(err)
                                                         else ""), file=sys.stderr)
        return 130
    finally:
        distributed.shutdown()
        if previous_sigterm is not None:
            signal.signal(signal.SIGTERM, previous_sigterm)
    return status or 0


if __name__ == "__main__":
    sys.exit(main())
