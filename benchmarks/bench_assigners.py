"""How long does each assigner take on one image at DOTA density?

An R50-FPN anchor grid (strides 8-128, one anchor per location) on a 1024 px image, ``--num-gts``
random rotated GTs (20-120 x 8-48 px, any angle), one torch thread by default. Times one
``assign`` call per assigner (median of ``--repeat``); PAA's own work (scoring + GMM split) is in
``bench_train_step.py``, since it needs the network's predictions.

    python benchmarks/bench_assigners.py --num-gts 300
"""
from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch

from paa_edu.anchors import AnchorGenerator
from paa_edu.assigners import ATSSAssigner, MaxIoUAssigner

STRIDES = (8, 16, 32, 64, 128)


def random_gts(num: int, size: int, seed: int = 0) -> torch.Tensor:
    """(num, 5) rotated boxes inside a ``size`` px image."""
    g = torch.Generator().manual_seed(seed)
    u = torch.rand(num, 5, generator=g)
    return torch.stack([u[:, 0] * size, u[:, 1] * size, 20 + 100 * u[:, 2], 8 + 40 * u[:, 3],
                        (u[:, 4] - 0.5) * torch.pi], dim=1)


def median_ms(fn, repeat: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--num-gts", type=int, nargs="+", default=[30, 300])
    parser.add_argument("--image-size", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="0 = torch's default")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    sizes = [(args.image_size // s, args.image_size // s) for s in STRIDES]
    levels = AnchorGenerator(strides=STRIDES, octave_base_scale=4.0).grid_anchors(sizes, device)
    anchors, counts = torch.cat(levels), [len(a) for a in levels]  # (A, 5)
    assigners = {"MaxIoU 0.5/0.4": MaxIoUAssigner(0.5, 0.4),
                 "MaxIoU 0.1 (PAA init)": MaxIoUAssigner(0.1, (0.0, 0.1)),
                 "ATSS (also PAA init)": ATSSAssigner(9)}
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    print(f"{len(anchors)} anchors, {args.image_size} px, {device}, {torch.get_num_threads()} "
          f"thread(s), {platform.machine()}, torch {torch.__version__}\n")
    print("| assigner | " + " | ".join(f"{n} GTs (ms)" for n in args.num_gts) + " |")
    print("|---|" + "---|" * len(args.num_gts))
    for name, assigner in assigners.items():
        cells = []
        for n in args.num_gts:
            gts = random_gts(n, args.image_size).to(device)
            labels = torch.zeros(n, dtype=torch.long, device=device)

            def run():
                assigner.assign(anchors, gts, labels, counts)
                sync()
            cells.append(f"{median_ms(run, args.repeat):.1f}")
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
