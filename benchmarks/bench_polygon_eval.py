"""How much does comparing with the GT rectangle instead of the GT quadrilateral change AP?

The DOTA server compares a detection with the annotated quadrilateral; ``gt_shape="box"``
compares it with the rectangle fitted to that quadrilateral. This script builds simulated
detections of a labelTxt folder and evaluates them both ways:

* each GT's fitted rectangle, jittered (centre sigma 7 % of sqrt(area), sides x exp(N(0, 0.12)),
  angle sigma 4 degrees), score Beta(4, 2); 15 % of GT missed, 10 % get a second, lower-score
  copy, 5 % a copy of a wrong class;
* per image 10 % + 5 random false positives, score U(0, 1).

``--labels`` is a DOTA labelTxt folder, e.g. the 7 files of the DOTA devkit's
``example/labelTxt`` (github.com/CAPTAIN-WHU/DOTA_devkit). Without it, a synthetic DOTA-like set
with jittered-quadrilateral GT is used. ``--polyiou-lib`` optionally names a shared library
exporting ``double iou_poly_c(const double *p, const double *q)`` (two 4-point polygons), e.g.
the devkit's ``polyiou.cpp`` compiled with a 4-line ``extern "C"`` wrapper: every overlapping
(detection, GT) pair is then compared with :func:`paa_edu.geometry.box_poly_iou`.

    python benchmarks/bench_polygon_eval.py --labels DOTA_devkit/example/labelTxt
"""
from __future__ import annotations

import argparse
import ctypes
import math
from pathlib import Path

import numpy as np
import torch

from paa_edu.data import DOTA_CLASSES, SYNTHETIC_CLASSES, read_label_file
from paa_edu.evaluation.rotated_ap import evaluate_rotated
from paa_edu.geometry import box_poly_iou, obb2poly


def read_folder(folder: Path, classes: tuple[str, ...] = DOTA_CLASSES) -> list[dict]:
    """Ground truth of every ``*.txt`` in ``folder``: boxes, polygons, labels, difficult."""
    gts = []
    for path in sorted(folder.glob("*.txt")):
        target = read_label_file(path, classes)
        gts.append({"boxes": target["boxes"].double(), "polygons": target["polys"].double(),
                    "labels": target["labels"], "difficult": target["difficult"]})
    if not gts:
        raise SystemExit(f"{folder}: no label files")
    return gts


def synthetic_gts(seed: int, images: int = 6, per_image: int = 80) -> list[dict]:
    """DOTA-like GT: random rectangles whose corners move by up to 10 % of the sides."""
    from paa_edu.geometry import poly2obb
    rng = np.random.default_rng(seed)
    gts = []
    for _ in range(images):
        n = per_image
        boxes = np.column_stack([rng.uniform(0, 2000, (n, 2)), rng.uniform(10, 120, (n, 2)),
                                 rng.uniform(-math.pi / 2, math.pi / 2, n)])
        quads = obb2poly(torch.from_numpy(boxes)).numpy().reshape(n, 4, 2)
        quads = quads + rng.uniform(-0.05, 0.05, (n, 4, 2)) * boxes[:, None, 2:4]
        polys = torch.from_numpy(quads.reshape(n, 8))
        gts.append({"boxes": poly2obb(polys), "polygons": polys,
                    "labels": torch.from_numpy(rng.integers(0, 15, n)),
                    "difficult": torch.from_numpy(rng.random(n) < 0.05)})
    return gts


def simulate_detections(gts: list[dict], seed: int, num_classes: int = 15) -> list[dict]:
    """The detections described in the module docstring, one dict per image."""
    rng = np.random.default_rng(seed)
    dets = []
    for gt in gts:
        boxes, labels = gt["boxes"].numpy(), gt["labels"].numpy()
        rows, scores, classes = [], [], []
        for box, label in zip(boxes, labels):
            if rng.random() < 0.15:
                continue
            copies = 2 if rng.random() < 0.10 else 1
            for k in range(copies):
                rows.append(_jitter(box, rng))
                scores.append(rng.beta(4, 2) * (0.7 if k else 1.0))
                classes.append(label)
            if rng.random() < 0.05:
                rows.append(_jitter(box, rng))
                scores.append(rng.beta(4, 2))
                classes.append((label + rng.integers(1, num_classes)) % num_classes)
        extent = boxes[:, :2].max(0) + 50 if len(boxes) else np.array([1024.0, 1024.0])
        for _ in range(int(0.1 * len(boxes)) + 5):
            rows.append([*(rng.random(2) * extent), *rng.uniform(10, 100, 2),
                         rng.uniform(-math.pi / 2, math.pi / 2)])
            scores.append(rng.random())
            classes.append(rng.integers(0, num_classes))
        dets.append({"boxes": torch.tensor(np.array(rows), dtype=torch.float64).reshape(-1, 5),
                     "scores": torch.tensor(scores, dtype=torch.float64),
                     "labels": torch.tensor(np.array(classes), dtype=torch.long)})
    return dets


def _jitter(box: np.ndarray, rng: np.random.Generator) -> list[float]:
    cx, cy, w, h, t = box
    sigma = 0.07 * math.sqrt(w * h)
    return [cx + rng.normal(0, sigma), cy + rng.normal(0, sigma),
            w * math.exp(rng.normal(0, 0.12)), h * math.exp(rng.normal(0, 0.12)),
            t + rng.normal(0, math.radians(4))]


def devkit_difference(dets: list[dict], gts: list[dict], lib_path: str) -> tuple[float, int]:
    """Largest |box_poly_iou - iou_poly| over every overlapping (detection, GT) pair."""
    lib = ctypes.CDLL(lib_path)
    lib.iou_poly_c.restype = ctypes.c_double
    ptr = ctypes.POINTER(ctypes.c_double)
    worst, pairs = 0.0, 0
    for det, gt in zip(dets, gts):
        ours = box_poly_iou(det["boxes"], gt["polygons"]).numpy()  # (D, G)
        det_polys = obb2poly(det["boxes"]).numpy()  # (D, 8)
        gt_polys = np.ascontiguousarray(gt["polygons"].numpy())
        for i, j in zip(*np.nonzero(ours > 0)):
            p, q = np.ascontiguousarray(det_polys[i]), np.ascontiguousarray(gt_polys[j])
            theirs = lib.iou_poly_c(p.ctypes.data_as(ptr), q.ctypes.data_as(ptr))
            worst = max(worst, abs(ours[i, j] - min(max(theirs, 0.0), 1.0)))
            pairs += 1
    return worst, pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=Path, help="a DOTA labelTxt folder")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--classes", choices=("dota", "synthetic"), default="dota",
                        help="class list of --labels (synthetic: a `paa-edu synth` folder)")
    parser.add_argument("--polyiou-lib", help="shared library with iou_poly_c (optional)")
    args = parser.parse_args()
    classes = DOTA_CLASSES if args.classes == "dota" else SYNTHETIC_CLASSES
    gts = read_folder(args.labels, classes) if args.labels else synthetic_gts(args.seed)
    dets = simulate_detections(gts, args.seed, len(classes))
    print(f"{len(gts)} images, {sum(len(g['labels']) for g in gts)} GT, "
          f"{sum(len(d['labels']) for d in dets)} detections, seed {args.seed}")
    results = {shape: evaluate_rotated(dets, gts, len(classes), gt_shape=shape)
               for shape in ("polygon", "box")}
    print("| GT compared as | AP50 | AP75 | mAP(.5:.95) |\n|---|---|---|---|")
    for shape, r in results.items():
        print(f"| {shape} | {r['AP50']:.4f} | {r['AP75']:.4f} | {r['mAP']:.4f} |")
    gap = {k: results["box"][k] - results["polygon"][k] for k in ("AP50", "AP75", "mAP")}
    print(f"| box - polygon | {gap['AP50']:+.4f} | {gap['AP75']:+.4f} | {gap['mAP']:+.4f} |")
    if args.polyiou_lib:
        worst, pairs = devkit_difference(dets, gts, args.polyiou_lib)
        print(f"box_poly_iou vs the devkit's iou_poly: max |diff| {worst:.2e} over {pairs} pairs")


if __name__ == "__main__":
    main()
