"""Benchmark: rotated IoU (20000 x 200) and rotated NMS (20000 boxes) on CPU.

Compares ``paa_edu.geometry`` with shapely 2 + STRtree (and mmcv.ops when it is importable) on the
same DOTA-like random boxes: centres uniform in a 1024 x 1024 image, sides uniform in [8, 200] px,
angles uniform in [-pi/2, pi/2). Prints a markdown table with times, speed-ups and the max abs
error against shapely (float32 inputs for paa_edu, float64 polygons for shapely).

shapely is single-threaded, so paa_edu is timed with 1 torch thread (the fair comparison) and
with each other thread count given by ``--threads``.

Run:  .venv/bin/python benchmarks/bench_geometry.py [--repeat 5] [--threads 1 2]
"""
from __future__ import annotations

import argparse
import math
import time

import numpy as np
import shapely
import torch

from paa_edu.geometry import box_iou_rotated, nms_rotated, obb2poly


def random_boxes(n: int, generator: torch.Generator, image: float = 1024.0) -> torch.Tensor:
    """(n, 5) float64 DOTA-like boxes."""
    ctr = torch.rand(n, 2, generator=generator, dtype=torch.float64) * image
    wh = 8 + torch.rand(n, 2, generator=generator, dtype=torch.float64) * 192
    theta = (torch.rand(n, 1, generator=generator, dtype=torch.float64) - 0.5) * math.pi
    return torch.cat([ctr, wh, theta], dim=1)


def shapely_polygons(boxes: torch.Tensor) -> np.ndarray:
    return shapely.polygons(obb2poly(boxes.double()).reshape(-1, 4, 2).numpy())


def shapely_iou(polys1: np.ndarray, polys2: np.ndarray) -> np.ndarray:
    """(N, M) IoU with an STRtree on polys2 and vectorised intersections of the candidates."""
    tree = shapely.STRtree(polys2)
    rows, cols = tree.query(polys1, predicate="intersects")
    inter = shapely.area(shapely.intersection(polys1[rows], polys2[cols]))
    area1, area2 = shapely.area(polys1), shapely.area(polys2)
    out = np.zeros((len(polys1), len(polys2)))
    out[rows, cols] = inter / (area1[rows] + area2[cols] - inter)
    return out


def shapely_nms(polys: np.ndarray, scores: np.ndarray, thr: float) -> list[int]:
    """Greedy NMS: for each kept box, query the STRtree and suppress overlapping boxes."""
    tree = shapely.STRtree(polys)
    areas = shapely.area(polys)
    suppressed = np.zeros(len(polys), dtype=bool)
    keep = []
    for i in np.argsort(-scores, kind="stable"):
        if suppressed[i]:
            continue
        keep.append(int(i))
        cand = tree.query(polys[i], predicate="intersects")
        cand = cand[~suppressed[cand] & (cand != i)]
        inter = shapely.area(shapely.intersection(polys[i], polys[cand]))
        suppressed[cand[inter / (areas[i] + areas[cand] - inter) > thr]] = True
    return keep


def timed(fn, repeat: int):
    """(best wall time in seconds, result of the last call)."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def try_mmcv():
    try:
        from mmcv import ops  # noqa: F401
        return ops
    except (ImportError, OSError):
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, torch.get_num_threads()])
    parser.add_argument("--nms-thr", type=float, default=0.1)
    args = parser.parse_args()
    gen = torch.Generator().manual_seed(0)
    boxes1, boxes2 = random_boxes(20000, gen), random_boxes(200, gen)
    scores = torch.rand(20000, generator=gen, dtype=torch.float64)
    b1, b2, s32 = boxes1.float(), boxes2.float(), scores.float()
    p1, p2 = shapely_polygons(boxes1), shapely_polygons(boxes2)
    rows = []

    t_ref, ref = timed(lambda: shapely_iou(p1, p2), args.repeat)
    pairs = int((ref > 0).sum())
    rows.append(("IoU 20000x200", "shapely 2 + STRtree", t_ref, 1.0, 0.0, f"{pairs} overlapping"))
    for threads in sorted(set(args.threads)):
        torch.set_num_threads(threads)
        t_ours, ours = timed(lambda: box_iou_rotated(b1, b2), args.repeat)
        err = float(np.abs(ours.double().numpy() - ref).max())
        rows.append(("IoU 20000x200", f"paa_edu float32, {threads} thread(s)", t_ours,
                     t_ref / t_ours, err, ""))

    t_nref, keep_ref = timed(lambda: shapely_nms(p1, scores.numpy(), args.nms_thr), args.repeat)
    name = f"NMS 20000 (thr {args.nms_thr})"
    rows.append((name, "shapely 2 + STRtree greedy", t_nref, 1.0, 0.0, f"{len(keep_ref)} kept"))
    for threads in sorted(set(args.threads)):
        torch.set_num_threads(threads)
        for dtype_name, b, s in (("float32", b1, s32), ("float64", boxes1, scores)):
            t_nms, keep = timed(lambda: nms_rotated(b, s, args.nms_thr), args.repeat)
            same = "same keep as shapely" if keep.tolist() == keep_ref else "keep differs"
            rows.append((name, f"paa_edu {dtype_name}, {threads} thread(s)", t_nms,
                         t_nref / t_nms, float("nan"), same))

    ops = try_mmcv()
    if ops is not None and hasattr(ops, "box_iou_rotated"):
        t_mm, mm = timed(lambda: ops.box_iou_rotated(b1, b2), args.repeat)
        err_mm = float(np.abs(mm.double().numpy() - ref).max())
        rows.append(("IoU 20000x200", "mmcv.ops", t_mm, t_ref / t_mm, err_mm, ""))
        t_mmn, _ = timed(lambda: ops.nms_rotated(b1, s32, args.nms_thr), args.repeat)
        rows.append((name, "mmcv.ops", t_mmn, t_nref / t_mmn, float("nan"), ""))
    else:
        print("mmcv.ops not importable: mmcv rows skipped")

    print(f"torch {torch.__version__}, shapely {shapely.__version__}, best of {args.repeat}\n")
    print("| task | implementation | time (s) | speed-up vs shapely | max abs err vs shapely "
          "| note |")
    print("|---|---|---|---|---|---|")
    for task, impl, t, speed, e, note in rows:
        err_txt = "-" if math.isnan(e) else f"{e:.1e}"
        print(f"| {task} | {impl} | {t:.3f} | {speed:.1f}x | {err_txt} | {note} |")


if __name__ == "__main__":
    main()
