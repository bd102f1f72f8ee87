"""How does rotated NMS scale with the number of clustered detections, against a baseline?

Raw detections in clusters (``scenes.clustered_detections``: 20 jittered copies of an object of
4-64 px, 15 classes) on a 1024 px image, threshold ``--thr``, one torch thread, float32. For
each N it times, interleaved in one process (median of ``--repeat``):

* single-class NMS: ``nms_rotated`` (default method), the block walk (``method="blocks"``),
  the code of git revision ``--baseline`` and a greedy shapely 2 + STRtree loop;
* class-wise NMS over 15 classes: ``batched_nms_rotated`` (default), the block walk and the
  baseline;

checks that all keep sets are equal, counts the ATen calls and the syncing ones of the
class-wise call (``bench_train_step.OpCounter``; ``.tolist()`` is not an op and is not counted)
and fits the growth exponent of each column between the smallest and the largest N.

    python benchmarks/bench_nms.py --num-boxes 2000 10000 50000 --baseline main
"""
from __future__ import annotations

import argparse
import importlib
import math
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from baseline import load_baseline  # noqa: E402
from bench_geometry import shapely_nms, shapely_polygons  # noqa: E402
from bench_train_step import OpCounter  # noqa: E402
from scenes import clustered_detections  # noqa: E402

from paa_edu.geometry import batched_nms_rotated, nms_rotated  # noqa: E402


def interleaved(fns: dict, repeat: int) -> tuple[dict, dict]:
    """Median seconds and the last result of each function, run in turns."""
    times, results = {k: [] for k in fns}, {}
    for _ in range(repeat):
        for name, fn in fns.items():
            start = time.perf_counter()
            results[name] = fn()
            times[name].append(time.perf_counter() - start)
    return {k: statistics.median(v) for k, v in times.items()}, results


def keep_list(keep) -> list[int]:
    return keep.tolist() if isinstance(keep, torch.Tensor) else list(keep)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--num-boxes", type=int, nargs="+", default=[2000, 10000])
    parser.add_argument("--thr", type=float, default=0.1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--baseline", default=None, help="git revision to compare with")
    parser.add_argument("--no-shapely", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    base = None
    if args.baseline:
        load_baseline(args.baseline)
        base = importlib.import_module(load_baseline(args.baseline).__name__ + ".geometry")
    table = {}
    print(f"clustered detections, thr {args.thr}, 1 thread, float32, baseline {args.baseline}\n")
    print("| N | single: default s | blocks s | base s | shapely s | default vs shapely | "
          "class-wise: default s | blocks s | base s | default vs base | same keep | "
          "ops | syncing ops |\n|" + "---|" * 13)
    for n in args.num_boxes:
        boxes, scores, labels = clustered_detections(n)
        polys, np_scores = shapely_polygons(boxes.double()), scores.double().numpy()
        single = {"default": lambda: nms_rotated(boxes, scores, args.thr),
                  "blocks": lambda: nms_rotated(boxes, scores, args.thr, method="blocks")}
        wise = {"default": lambda: batched_nms_rotated(boxes, scores, labels, args.thr),
                "blocks": lambda: batched_nms_rotated(boxes, scores, labels, args.thr,
                                                      method="blocks")}
        if base is not None:
            single["base"] = lambda: base.nms_rotated(boxes, scores, args.thr)
            wise["base"] = lambda: base.batched_nms_rotated(boxes, scores, labels, args.thr)
        if not args.no_shapely:
            single["shapely"] = lambda: shapely_nms(polys, np_scores, args.thr)
        t_single, r_single = interleaved(single, args.repeat)
        t_wise, r_wise = interleaved(wise, args.repeat)
        same = all(keep_list(r) == keep_list(r_single["default"]) for r in r_single.values()) \
            and all(keep_list(r) == keep_list(r_wise["default"]) for r in r_wise.values())
        with OpCounter() as counter:
            batched_nms_rotated(boxes, scores, labels, args.thr)
        table[n] = {"single": t_single, "wise": t_wise, "same": same,
                    "ops": counter.calls, "syncs": counter.syncs}
        cell = lambda t, k: f"{t[k]:.3f}" if k in t else "-"  # noqa: E731
        ratio = lambda t, a, b: f"{t[b] / t[a]:.1f}x" if b in t else "-"  # noqa: E731
        print(f"| {n} | {cell(t_single, 'default')} | {cell(t_single, 'blocks')} | "
              f"{cell(t_single, 'base')} | {cell(t_single, 'shapely')} | "
              f"{ratio(t_single, 'default', 'shapely')} | {cell(t_wise, 'default')} | "
              f"{cell(t_wise, 'blocks')} | {cell(t_wise, 'base')} | "
              f"{ratio(t_wise, 'default', 'base')} | {'yes' if same else 'NO'} | "
              f"{counter.calls} | {counter.syncs} |", flush=True)
    if len(args.num_boxes) > 1:
        lo, hi = min(args.num_boxes), max(args.num_boxes)
        for kind in ("single", "wise"):
            for name in table[lo][kind]:
                slope = math.log(table[hi][kind][name] / table[lo][kind][name]) / math.log(hi / lo)
                print(f"growth exponent {kind} {name}: {slope:.2f}")
    return table


if __name__ == "__main__":
    main()
