"""classify_detections / failure_cases / describe on a hand-made image: one object found
(and hit again by a duplicate), one missed under a box of the wrong class, one missed under a
shifted box, and a box on the background. Axis-aligned squares, so every IoU is worked by hand:
a 10 x 10 square shifted by 1 px overlaps 90 / 110 = 0.82, shifted by 5 px 50 / 150 = 1/3."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from paa_edu.evaluation.failures import (
    BACKGROUND_IOU,
    FailureCase,
    aspect_ratios,
    classify_detections,
    describe,
    failure_cases,
)

NAMES = ["car", "ship"]


def _scene(difficult=False):
    gt = {"boxes": torch.tensor([[20.0, 20, 10, 10, 0], [60, 20, 10, 10, 0],
                                 [20, 60, 10, 10, 0]]),
          "labels": torch.tensor([0, 1, 0]),
          "difficult": torch.tensor([difficult, False, False])}
    det = {"boxes": torch.tensor([[20.0, 20, 10, 10, 0],    # d0 on g0, its class: TP
                                  [21, 20, 10, 10, 0],      # d1 on g0 again, IoU 0.82
                                  [60, 20, 10, 10, 0],      # d2 on g1 (a ship) as a car
                                  [25, 60, 10, 10, 0],      # d3 on g2, shifted: IoU 1/3
                                  [90, 90, 10, 10, 0]]),    # d4 nowhere
           "scores": torch.tensor([0.9, 0.8, 0.7, 0.6, 0.95]),
           "labels": torch.tensor([0, 0, 0, 0, 1])}
    return det, gt


def test_each_detection_gets_its_reason_and_each_miss_its_best_overlap():
    det, gt = _scene()
    c = classify_detections(det, gt)
    assert list(c["reason"]) == ["TP", "duplicate", "wrong class", "poor localisation",
                                 "background"]
    assert c["found"].tolist() == [True, False, False]
    assert c["gt_index"][:4].tolist() == [0, 0, 1, 2]
    np.testing.assert_allclose(c["gt_iou"], [1.0, 90 / 110, 1.0, 1 / 3, 0.0], atol=1e-5)
    assert c["best_det"].tolist() == [0, 2, 3]
    np.testing.assert_allclose(c["best_iou"], [1.0, 1.0, 1 / 3], atol=1e-5)


def test_hits_on_a_difficult_object_are_ignored_not_false_positives():
    det, gt = _scene(difficult=True)
    c = classify_detections(det, gt)
    assert list(c["reason"][:2]) == ["ignored", "ignored"]
    cases = failure_cases([det], [gt])
    assert [case.reason for case in cases["false positive"]] == ["background", "wrong class",
                                                                 "poor localisation"]
    assert [case.label for case in cases["missed"]] == [1, 0]  # the difficult g0 is no miss


def test_a_stricter_threshold_turns_the_duplicate_into_poor_localisation():
    det, gt = _scene()
    assert classify_detections(det, gt, iou_threshold=0.9)["reason"][1] == "poor localisation"
    assert classify_detections(det, gt, background_iou=0.4)["reason"][3] == "background"


def test_failure_cases_lists_misses_in_image_order_and_fps_by_score():
    det, gt = _scene()
    out = failure_cases([det, det], [gt, gt], max_missed=3, max_fp=5)
    assert [(c.image, c.label) for c in out["missed"]] == [(0, 1), (0, 0), (1, 1)]
    fps = out["false positive"]
    assert [(c.image, c.reason, round(c.score, 6)) for c in fps] == [
        (0, "background", 0.95), (1, "background", 0.95), (0, "duplicate", 0.8),
        (1, "duplicate", 0.8), (0, "wrong class", 0.7)]
    assert out["counts"] == {"missed": 4, "background": 2, "duplicate": 2, "wrong class": 2,
                             "poor localisation": 2}
    assert out["missed_by_class"] == {1: 2, 0: 2} and out["missed_unseen"] == 0
    assert failure_cases([det], [gt], count_score_thr=0.75)["counts"] == {
        "missed": 2, "background": 1, "duplicate": 1}


def test_a_miss_keeps_its_nearest_detection_and_a_fp_its_nearest_gt():
    det, gt = _scene()
    out = failure_cases([det], [gt])
    ship, car = out["missed"]
    assert ship.partner_label == 0 and ship.iou == pytest.approx(1.0) and not ship.partner_ok
    assert car.iou == pytest.approx(1 / 3) and car.partner_score == pytest.approx(0.6)
    dup = out["false positive"][1]
    assert dup.reason == "duplicate" and dup.partner_ok  # g0 was found (by d0)
    np.testing.assert_allclose(dup.partner_box, gt["boxes"][0].numpy())
    background = out["false positive"][0]
    assert background.partner_box is None and background.iou == 0.0


def test_an_object_without_any_overlapping_detection_is_unseen():
    det, gt = _scene()
    far = {k: v[4:] for k, v in det.items()}  # only the background box
    out = failure_cases([far], [gt])
    assert out["missed_unseen"] == 3 and all(c.partner_box is None for c in out["missed"])
    assert describe(out["missed"][0], NAMES) == "missed car 10x10\nno detection\noverlaps it"


def test_describe_names_class_size_and_reason():
    det, gt = _scene()
    out = failure_cases([det], [gt])
    assert describe(out["missed"][0], NAMES) == ("missed ship 10x10\nbest IoU 1.00 by a\n"
                                                 "car, score 0.70")
    assert [describe(c, NAMES) for c in out["false positive"]] == [
        f"FP ship 0.95, 10x10\nbackground:\nIoU < {BACKGROUND_IOU} with all GT",
        "FP car 0.80, 10x10\nduplicate: IoU 0.82\nwith car",
        "FP car 0.70, 10x10\nwrong class: IoU 1.00\nwith ship",
        "FP car 0.60, 10x10\npoor fit: IoU 0.33\nwith car"]
    assert describe(out["false positive"][1]).startswith("FP 0 0.80")  # no names: labels


def test_empty_images_and_bad_inputs():
    det, gt = _scene()
    empty_det = {"boxes": torch.zeros(0, 5), "scores": torch.zeros(0),
                 "labels": torch.zeros(0, dtype=torch.long)}
    c = classify_detections(empty_det, gt)
    assert c["found"].tolist() == [False] * 3 and c["best_det"].tolist() == [-1] * 3
    empty_gt = {"boxes": torch.zeros(0, 5), "labels": torch.zeros(0, dtype=torch.long)}
    assert set(classify_detections(det, empty_gt)["reason"]) == {"background"}
    with pytest.raises(ValueError, match="background_iou <= iou_threshold"):
        classify_detections(det, gt, iou_threshold=0.3, background_iou=0.4)
    with pytest.raises(ValueError, match="detections has 2 images but ground_truths has 1"):
        failure_cases([det, det], [gt])
    with pytest.raises(ValueError, match="max_missed and max_fp must be >= 0"):
        failure_cases([det], [gt], max_fp=-1)
    with pytest.raises(ValueError, match=r"detections\[0\]\['boxes'\] must have shape"):
        failure_cases([{**det, "boxes": det["boxes"][:, :4]}], [gt])
    with pytest.raises(ValueError, match=r"detections\[0\]\['scores'\] has 4 entries for 5"):
        failure_cases([{**det, "scores": det["scores"][:4]}], [gt])
    assert isinstance(failure_cases([det], [gt])["missed"][0], FailureCase)


def test_aspect_ratios_of_cases_and_partners():
    square = FailureCase("false positive", 0, np.array([0, 0, 10, 10, 0.0]), 0, "background",
                         0.0, score=0.5)
    thin = FailureCase("false positive", 0, np.array([0, 0, 6, 12, 0.0]), 0,
                       "poor localisation", 0.3, score=0.5,
                       partner_box=np.array([0, 0, 12, 4, 0.0]), partner_label=0)
    boxes, partners = aspect_ratios([square, thin])
    assert boxes.tolist() == [1.0, 2.0]
    assert np.isnan(partners[0]) and partners[1] == 3.0
