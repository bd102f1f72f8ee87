"""How do the assigners scale with the number of GTs at DOTA density, against a baseline?

The R50-FPN anchor grid (strides 8-128, one anchor per location) of a ``--image-size`` px
image, G = ``--num-gts`` GTs of a ``--scene``: ``parking`` (small vehicles in lots, see
``scenes.py``) or ``random`` (20-120 x 8-48 px, any angle). For each assigner and G it times one
image's assignment (median of ``--repeat``, one torch thread) with the working tree's code and,
interleaved in the same process, with the code of git revision ``--baseline`` (e.g. ``main``),
checks that both give the same ``gt_inds`` and ``max_overlaps``, and prints the ratio.
PAA = ``initial_assign`` + ``reassign`` with fixed random anchor scores (the GMM split included).

``--memory`` adds the peak memory of each call: the largest total size of the CPU tensors
allocated during the call and alive at the same time (from the torch profiler's memory events).

    python benchmarks/bench_assigners.py --num-gts 10 100 300 1000 2000 --baseline main --memory
"""
from __future__ import annotations

import argparse
import importlib
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from baseline import load_baseline  # noqa: E402
from scenes import parking_scene, random_gts  # noqa: E402

STRIDES = (8, 16, 32, 64, 128)
ASSIGNERS = ("MaxIoU 0.5/0.4", "ATSS", "PAA (ATSS init)", "PAA (MaxIoU init)")


def package(rev: str | None):
    """The working tree's ``paa_edu`` (``rev`` None) or that of a git revision."""
    if rev is None:
        import paa_edu
        return paa_edu
    return load_baseline(rev)


def make_case(pkg, num_gts: int, scene: str, image_size: int):
    """(anchors (A, 5), num_level_anchors, gts (G, 5), labels (G,), scores (A,))."""
    try:
        anchors_mod = importlib.import_module(pkg.__name__ + ".model.anchors")
    except ModuleNotFoundError:  # a baseline revision from before the layered layout
        anchors_mod = importlib.import_module(pkg.__name__ + ".anchors")
    gen = anchors_mod.AnchorGenerator(strides=STRIDES, octave_base_scale=4.0)
    levels, _ = gen.anchors_for_image((image_size, image_size))
    anchors = torch.cat(levels)
    gts = (parking_scene if scene == "parking" else random_gts)(num_gts, image_size)
    labels = torch.arange(num_gts) % 15
    scores = torch.rand(len(anchors), generator=torch.Generator().manual_seed(1))
    return anchors, [len(a) for a in levels], gts, labels, scores


def make_run(pkg, name: str, case):
    """A function that assigns the case once with ``name`` of package ``pkg``."""
    mod = importlib.import_module(pkg.__name__ + ".assigners")
    anchors, counts, gts, labels, scores = case
    if name.startswith("PAA"):
        paa = mod.PAAAssigner(init="atss" if "ATSS" in name else "maxiou")

        batched = hasattr(mod, "DenseOutputs")  # reassign takes lists since the layered layout

        def run():
            initial = paa.initial_assign(anchors, gts, labels, counts)
            if batched:
                return paa.reassign([initial], [scores], counts)[0]
            return paa.reassign(initial, scores, counts)
        return run
    assigner = mod.ATSSAssigner(9) if name == "ATSS" else mod.MaxIoUAssigner(0.5, 0.4)
    return lambda: assigner.assign(anchors, gts, labels, counts)


def time_pair(runs: list, repeat: int) -> list[float]:
    """Median seconds of each run, the runs interleaved (same load for all)."""
    for run in runs:
        run()  # warm-up (and the grid check of the anchors)
    times = [[] for _ in runs]
    for _ in range(repeat):
        for run, t in zip(runs, times):
            start = time.perf_counter()
            run()
            t.append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]


def peak_mib(run) -> float:
    """Peak of the CPU tensor memory allocated during one call, MiB (torch profiler events)."""
    from torch.profiler import profile
    with profile(profile_memory=True) as prof:
        run()
    events = sorted((e.start_ns(), e.nbytes()) for e in prof.profiler.kineto_results.events()
                    if e.name() == "[memory]")
    live = peak = 0
    for _, nbytes in events:  # allocations (+) and frees (-) in time order
        live += nbytes
        peak = max(peak, live)
    return peak / 2**20


def same(a, b) -> bool:
    return torch.equal(a.gt_inds, b.gt_inds) and torch.equal(a.max_overlaps, b.max_overlaps)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--num-gts", type=int, nargs="+", default=[30, 300])
    parser.add_argument("--scene", choices=("parking", "random"), default="parking")
    parser.add_argument("--assigners", nargs="+", default=list(ASSIGNERS), choices=ASSIGNERS)
    parser.add_argument("--image-size", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--baseline", default=None, help="git revision to compare with")
    parser.add_argument("--memory", action="store_true", help="peak memory per call too")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    revs = [None] + ([args.baseline] if args.baseline else [])
    pkgs = [package(rev) for rev in revs]
    print(f"{args.image_size} px, scene {args.scene}, 1 thread, {platform.machine()}, "
          f"torch {torch.__version__}, baseline {args.baseline}\n")
    head = "| assigner | G | new ms | " + ("base ms | ratio | same | " if args.baseline else "")
    head += "new MiB | base MiB |" if args.memory and args.baseline else \
        ("new MiB |" if args.memory else "")
    print(head + "\n|" + "---|" * (head.count("|") - 1))
    rows = []
    for name in args.assigners:
        for n in args.num_gts:
            runs = [make_run(p, name, make_case(p, n, args.scene, args.image_size))
                    for p in pkgs]
            times = time_pair(runs, args.repeat)
            row = {"assigner": name, "G": n, "new_ms": 1000 * times[0]}
            cells = [name, str(n), f"{row['new_ms']:.1f}"]
            if args.baseline:
                row.update(base_ms=1000 * times[1], ratio=times[1] / times[0],
                           same=same(runs[0](), runs[1]()))
                cells += [f"{row['base_ms']:.1f}", f"{row['ratio']:.1f}x",
                          "yes" if row["same"] else "NO"]
            if args.memory:
                for run, key in zip(runs, ("new_mib", "base_mib")):
                    row[key] = peak_mib(run)
                    cells.append(f"{row[key]:.0f}")
            print("| " + " | ".join(cells) + " |", flush=True)
            rows.append(row)
    return rows


if __name__ == "__main__":
    main()
