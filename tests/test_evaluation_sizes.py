"""AP by object size and per-image TP/FP matching, on hand-worked cases."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from paa_edu.evaluation.rotated_ap import match_detections
from paa_edu.evaluation.sizes import box_sizes, evaluate_by_size


def _box(cx, cy, w, h):
    return [float(cx), float(cy), float(w), float(h), 0.0]


def test_match_detections_first_hit_is_tp_duplicates_and_wrong_class_are_fp():
    gt = {"boxes": torch.tensor([_box(20, 20, 10, 10), _box(60, 60, 10, 10)]),
          "labels": torch.tensor([0, 0])}
    det = {"boxes": torch.tensor([_box(20, 20, 10, 8), _box(20, 20, 10, 10),
                                  _box(60, 60, 10, 10), _box(100, 100, 5, 5)]),
           "scores": torch.tensor([0.8, 0.9, 0.7, 0.95]), "labels": torch.tensor([0, 0, 1, 0])}
    is_tp, found = match_detections(det, gt, 0.5)
    # the 0.9 box is the first hit of GT 0; the 0.8 one a duplicate; class 1 and the far box FP
    assert is_tp.tolist() == [False, True, False, False]
    assert found.tolist() == [True, False]


def test_box_sizes():
    assert box_sizes(torch.tensor([_box(0, 0, 4, 9)])).tolist() == [6.0]


def test_each_bucket_sees_only_its_objects():
    small, large = _box(20, 20, 10, 10), _box(100, 100, 60, 60)
    gt = {"boxes": torch.tensor([small, large]), "labels": torch.tensor([0, 0])}
    big_fp = _box(200, 200, 60, 60)
    det = {"boxes": torch.tensor([small, large, big_fp]),
           "scores": torch.tensor([0.5, 0.6, 0.9]), "labels": torch.tensor([0, 0, 0])}
    buckets = {"small": (0.0, 30.0), "large": (30.0, math.inf)}
    out = evaluate_by_size([det], [gt], 1, buckets, iou_thresholds=(0.5,))
    assert out["small"]["AP50"] == pytest.approx(1.0)  # the large boxes are not its business
    assert out["small"]["num_gts"] == [1] and out["large"]["num_gts"] == [1]
    # large: FP (0.9) then TP (0.6): precision 0.5 at recall 1 -> VOC07 AP = 0.5
    assert out["large"]["AP50"] == pytest.approx(0.5)


def test_a_slightly_too_big_detection_of_a_small_object_counts_for_its_bucket():
    gt = {"boxes": torch.tensor([_box(20, 20, 28, 28)]), "labels": torch.tensor([0])}
    det = {"boxes": torch.tensor([_box(20, 20, 31, 31)]), "scores": torch.tensor([0.9]),
           "labels": torch.tensor([0])}
    out = evaluate_by_size([det], [gt], 1, {"small": (0.0, 30.0)}, iou_thresholds=(0.5,))
    assert out["small"]["AP50"] == pytest.approx(1.0)  # IoU 784/961 > 0.5: kept
    far = {**det, "boxes": torch.tensor([_box(80, 80, 31, 31)])}
    out = evaluate_by_size([far], [gt], 1, {"small": (0.0, 30.0)}, iou_thresholds=(0.5,))
    assert out["small"]["AP50"] == pytest.approx(0.0)  # dropped, so the GT is missed


def test_bad_bucket_is_refused():
    gt = {"boxes": torch.zeros(0, 5), "labels": torch.zeros(0, dtype=torch.long)}
    det = {"boxes": torch.zeros(0, 5), "scores": torch.zeros(0),
           "labels": torch.zeros(0, dtype=torch.long)}
    with pytest.raises(ValueError, match="bucket 'x'"):
        evaluate_by_size([det], [gt], 1, {"x": (5.0, 5.0)})
    assert np.isnan(evaluate_by_size([det], [gt], 1)["small"]["mAP"])
