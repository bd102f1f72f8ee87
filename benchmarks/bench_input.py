"""How fast can the input pipeline feed a GPU? Images/s of the training loader alone.

Writes (once) ``--images`` DOTA-like 1024 px patches with the synthetic generator (the
``full`` preset's scenes: 10-150 objects, 8-200 px), then iterates the training DataLoader
(decode, random flips, pad, collate; the same options as ``paa-edu train``) for 0, 2 and 4
workers, with uint8 images (what training ships: the model normalises on the device) and,
for comparison, host-normalised float32. Nothing else runs: no model, no copy to a device
unless ``--device cuda`` (then pinned batches are copied too).

    python benchmarks/bench_input.py                       # 24 patches, 0/2/4 workers
    python benchmarks/bench_input.py --workers 0 2 4 8 --device cuda --json out.json
    python benchmarks/bench_input.py --labels 2000         # also: label parse vs cache

Prints a markdown table; ``--step-ms`` adds the verdict "input-bound or not" for a training
step of that length (images per step = ``--batch``).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from paa_edu.data import (
    PRESETS,
    SYNTHETIC_CLASSES,
    DOTADataset,
    TransformConfig,
    write_synthetic_dataset,
)
from paa_edu.data.loader import loader_options


def write_patches(root: Path, num_images: int, size: int = 1024) -> Path:
    """``num_images`` synthetic patches of the ``full`` preset's kind (cached in ``root``)."""
    preset = replace(PRESETS["full"], image_size=size, num_train=num_images, num_val=1)
    workers = min(8, os.cpu_count() or 1)  # drawing 1024 px scenes is the slow part
    return write_synthetic_dataset(root, preset, seed=0, num_workers=workers,
                                   progress=False)["train"]


def loader_rate(split_dir: Path, workers: int, normalize: bool, batch: int, device: str,
                epochs: int) -> float:
    """Images per second over ``epochs`` passes (the first pass, which starts the workers,
    is included once: persistent workers start once per training run)."""
    dataset = DOTADataset(split_dir, SYNTHETIC_CLASSES, train=True,
                          transforms=TransformConfig(normalize=normalize))
    loader = DataLoader(dataset, batch_size=batch, shuffle=True,
                        **loader_options(workers, device))
    start, count = time.perf_counter(), 0
    for _ in range(epochs):
        for images, _targets in loader:
            if device != "cpu":
                images = images.to(device, non_blocking=True)
            count += images.shape[0]
    if device != "cpu":
        torch.cuda.synchronize()
    return count / (time.perf_counter() - start)


def label_times(root: Path, num_files: int) -> dict:
    """Seconds to build a dataset of ``num_files`` label files: parsed, then from the cache."""
    from paa_edu.data import write_label_file
    split = root / f"labels{num_files}"
    if not (split / "labelTxt").is_dir():
        import mmcv
        import numpy as np
        rng = np.random.default_rng(0)
        mmcv.imwrite(np.zeros((8, 8, 3), np.uint8), str(split / "images" / "blank.png"))
        for i in range(num_files):  # 30 objects per file, as a typical DOTA patch
            centre = rng.uniform(50, 950, (30, 1, 2))
            corners = centre + rng.uniform(5, 40, (30, 1, 1)) * np.array(
                [[-1, -1], [1, -1], [1, 1], [-1, 1]])
            write_label_file(split / "labelTxt" / f"p{i:05d}.txt", corners.reshape(30, 8),
                             [SYNTHETIC_CLASSES[j % 7] for j in range(30)])
            if i:
                os.link(split / "images" / "blank.png", split / "images" / f"p{i:05d}.png")
        os.replace(split / "images" / "blank.png", split / "images" / "p00000.png")
    times = {}
    for name, cache in (("parse", False), ("first build (parse + write cache)", True),
                        ("cached", True)):
        start = time.perf_counter()
        DOTADataset(split, SYNTHETIC_CLASSES, cache=cache)
        times[name] = time.perf_counter() - start
    return times


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=24, help="1024 px patches to write")
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2, 4])
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=2, help="passes over the patches")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--float", action="store_true", help="also time float32 batches")
    parser.add_argument("--labels", type=int, default=0, help="also time N label files")
    parser.add_argument("--root", default=None, help="where the patches go (default: a "
                        "temporary folder under $TMPDIR, reused between runs)")
    parser.add_argument("--step-ms", type=float, help="a training step's time for the verdict")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args(argv)
    root = Path(args.root or Path(tempfile.gettempdir()) / "paa_edu_bench_input")
    split_dir = write_patches(root, args.images, args.size)
    modes = [("uint8", False)] + ([("float32", True)] if args.float else [])
    machine = (torch.cuda.get_device_name() if args.device == "cuda" else
               f"CPU {platform.machine()}, {os.cpu_count()} cores")
    print(f"{args.images} synthetic {args.size} px patches, batch {args.batch}, {args.epochs} "
          f"passes, {machine}\n")
    print("| workers | images | images/s |\n|---|---|---|", flush=True)
    rows = []
    for workers in args.workers:  # each row printed when measured (a cut-off run keeps them)
        for mode, normalize in modes:
            rate = loader_rate(split_dir, workers, normalize, args.batch, args.device,
                               args.epochs)
            rows.append({"workers": workers, "images": mode, "img_per_s": rate})
            print(f"| {workers} | {mode} | {rate:.1f} |", flush=True)
    result = {"rows": rows, "machine": machine, "batch": args.batch}
    if args.step_ms:
        need = args.batch / (args.step_ms / 1000)  # images/s the GPU consumes
        best = max(r["img_per_s"] for r in rows)
        result.update(need_img_per_s=need, input_bound=best < need)
        print(f"\nA {args.step_ms:.0f} ms step of {args.batch} images needs {need:.1f} images/s;"
              f" the fastest loader gives {best:.1f}: "
              f"{'INPUT-BOUND' if best < need else 'not input-bound'}.")
    if args.labels:
        result["labels"] = label_times(root, args.labels)
        print(f"\n| {args.labels} label files | s |\n|---|---|")
        for name, seconds in result["labels"].items():
            print(f"| {name} | {seconds:.2f} |")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
