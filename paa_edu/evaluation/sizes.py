"""AP by object size: :func:`~paa_edu.evaluation.rotated_ap.evaluate_rotated` on one size bucket.

The size of a rotated box is ``sqrt(w * h)`` in pixels. For a bucket ``[lo, hi)``, COCO style:

1. ground truths outside the bucket become *difficult*: not counted, and a detection matched
   to one is neither a true nor a false positive (the devkit's rule for difficult objects);
2. a detection outside the bucket is dropped unless it overlaps (IoU > the smallest threshold)
   a ground truth of the bucket and of its class -- a detection of a small object that came
   out slightly too big still counts for the small bucket, but a large false positive does
   not lower the precision of the small objects.

The default buckets split the tiny synthetic set (objects of 10-80 px) in three."""
from __future__ import annotations

import math

import torch

from paa_edu.evaluation.rotated_ap import COCO_IOU_THRESHOLDS, _check_inputs, evaluate_rotated
from paa_edu.geometry import box_iou_rotated

#: name -> [lo, hi) of sqrt(w * h) in pixels.
SIZE_BUCKETS = {"small": (0.0, 24.0), "medium": (24.0, 48.0), "large": (48.0, math.inf)}


def box_sizes(boxes: torch.Tensor) -> torch.Tensor:
    """(N,) ``sqrt(w * h)`` of rotated boxes (N, 5)."""
    boxes = boxes.reshape(-1, 5).double()
    return (boxes[:, 2] * boxes[:, 3]).clamp(min=0).sqrt()


def _restrict(det: dict, gt: dict, lo: float, hi: float, iou_min: float) -> tuple[dict, dict]:
    """Step 1 and 2 for one image."""
    gt_sizes, det_sizes = box_sizes(gt["boxes"]), box_sizes(det["boxes"])
    gt_in = (gt_sizes >= lo) & (gt_sizes < hi)  # (G,)
    difficult = gt.get("difficult", torch.zeros(len(gt_in), dtype=torch.bool)).reshape(-1).bool()
    keep = (det_sizes >= lo) & (det_sizes < hi)  # (D,)
    outside = (~keep).nonzero().squeeze(1)
    if len(outside) and bool(gt_in.any()):
        ious = box_iou_rotated(det["boxes"].reshape(-1, 5)[outside].double(),
                               gt["boxes"].reshape(-1, 5)[gt_in].double())  # (D_out, G_in)
        same = det["labels"].reshape(-1)[outside][:, None] == gt["labels"].reshape(-1)[gt_in]
        keep[outside] = ((ious > iou_min) & same).any(1)
    return ({k: v[keep] for k, v in det.items() if k in ("boxes", "scores", "labels")},
            {**gt, "difficult": difficult | ~gt_in})


def evaluate_by_size(detections: list[dict], ground_truths: list[dict], num_classes: int,
                     buckets: dict[str, tuple[float, float]] | None = None, **kwargs) -> dict:
    """``{bucket: evaluate_rotated(...)}`` with every bucket's objects alone (steps 1-2);
    ``buckets``: name -> [lo, hi) of ``sqrt(w * h)`` (default :data:`SIZE_BUCKETS`), ``kwargs``
    go to :func:`evaluate_rotated` (``iou_thresholds``, ``metric``, ...)."""
    buckets = SIZE_BUCKETS if buckets is None else buckets
    _check_inputs(detections, ground_truths, num_classes)
    iou_min = min(kwargs.get("iou_thresholds", COCO_IOU_THRESHOLDS))
    out = {}
    for name, (lo, hi) in buckets.items():
        if not lo < hi:
            raise ValueError(f"size bucket {name!r} must have lo < hi, got ({lo}, {hi})")
        pairs = [_restrict(d, g, lo, hi, iou_min) for d, g in zip(detections, ground_truths)]
        out[name] = evaluate_rotated([p[0] for p in pairs], [p[1] for p in pairs], num_classes,
                                     **kwargs)
    return out
