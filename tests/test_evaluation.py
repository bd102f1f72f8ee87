"""evaluate_rotated: hand-computed cases, difficult GT, and a brute-force devkit-style oracle."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from shapely.geometry import Polygon

from paa_edu.evaluation.rotated_ap import COCO_IOU_THRESHOLDS, average_precision, evaluate_rotated


def _boxes(rows):
    return torch.tensor(rows, dtype=torch.float64).reshape(-1, 5)


def _det(rows, scores, labels):
    return {"boxes": _boxes(rows), "scores": torch.tensor(scores, dtype=torch.float64),
            "labels": torch.tensor(labels, dtype=torch.long)}


def _gt(rows, labels, difficult=None):
    gt = {"boxes": _boxes(rows), "labels": torch.tensor(labels, dtype=torch.long)}
    if difficult is not None:
        gt["difficult"] = torch.tensor(difficult, dtype=torch.bool)
    return gt


G1, G2 = [0, 0, 10, 10, 0], [50, 50, 10, 10, 0]
SHIFTED = [2, 0, 10, 10, 0]  # IoU with G1 = 80 / 120 = 2/3


def test_hand_computed_case():
    # scores 0.9: exact G1 (TP), 0.8: G1 again (duplicate -> FP), 0.7: G2 shifted (IoU 2/3)
    dets = [_det([G1, G1, [52, 50, 10, 10, 0]], [0.9, 0.8, 0.7], [0, 0, 0])]
    gts = [_gt([G1, G2], [0, 0])]
    result = evaluate_rotated(dets, gts, num_classes=1)
    # IoU thr < 2/3: rec (.5, .5, 1), prec (1, .5, 2/3): 11-pt AP = (6 * 1 + 5 * 2/3) / 11
    ap_low = (6 + 5 * 2 / 3) / 11
    # IoU thr > 2/3: third is FP: rec (.5, .5, .5): 6 of 11 points reach precision 1
    ap_high = 6 / 11
    expected = [ap_low if thr < 2 / 3 else ap_high for thr in COCO_IOU_THRESHOLDS]
    np.testing.assert_allclose(result["per_class_AP"][:, 0], expected, atol=1e-9)
    assert result["AP50"] == pytest.approx(ap_low) and result["AP75"] == pytest.approx(ap_high)
    assert result["mAP"] == pytest.approx(np.mean(expected))
    assert result["per_class_AP50"] == pytest.approx([ap_low])
    curve = result["curves"][(0, 0.5)]
    np.testing.assert_allclose(curve["recall"], [0.5, 0.5, 1.0])
    np.testing.assert_allclose(curve["precision"], [1.0, 0.5, 2 / 3])
    area = evaluate_rotated(dets, gts, 1, iou_thresholds=(0.5,), metric="area")
    assert area["AP50"] == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)


def test_difficult_ground_truth_is_ignored_not_counted():
    dets = [_det([G1, G2, [90, 90, 4, 4, 0]], [0.9, 0.8, 0.1], [0, 0, 0])]
    hard = evaluate_rotated(dets, [_gt([G1, G2], [0, 0], [True, False])], 1, (0.5,))
    # the hit on the difficult G1 is neither TP nor FP: TP (G2) then FP -> AP = 1
    assert hard["AP50"] == pytest.approx(1.0) and hard["num_gts"] == [1]
    easy = evaluate_rotated(dets, [_gt([G1, G2], [0, 0])], 1, (0.5,))
    assert easy["AP50"] == pytest.approx(1.0) and easy["num_gts"] == [2]
    # a difficult GT never counts as missed either
    only_g2 = evaluate_rotated([_det([G2], [0.5], [0])],
                               [_gt([G1, G2], [0, 0], [True, False])], 1, (0.5,))
    assert only_g2["AP50"] == pytest.approx(1.0)


def test_threshold_is_strict_and_classes_are_separate():
    dets = [_det([SHIFTED, G2], [0.9, 0.8], [0, 1])]
    gts = [_gt([G1, G2], [0, 0])]  # the class-1 detection cannot match a class-0 GT
    result = evaluate_rotated(dets, gts, 3, iou_thresholds=(0.5, 2 / 3 + 1e-6, 0.75))
    assert result["per_class_AP"][:, 0].tolist() == pytest.approx([6 / 11, 0.0, 0.0])
    assert math.isnan(result["per_class_AP50"][1]) and math.isnan(result["per_class_AP50"][2])
    assert result["mAP"] == pytest.approx(2 / 11)  # classes without GT are left out


def _random_case(seed, num_images=4, num_classes=3):
    rng = np.random.default_rng(seed)
    dets, gts = [], []
    for _ in range(num_images):
        m = int(rng.integers(0, 7))
        boxes = np.column_stack([rng.uniform(0, 200, (m, 2)), rng.uniform(8, 40, (m, 2)),
                                 rng.uniform(-np.pi, np.pi, m)])
        labels = rng.integers(0, num_classes, m)
        gts.append(_gt(boxes.tolist(), labels.tolist(), (rng.random(m) < 0.2).tolist()))
        # jittered copies (half of them twice), 10% with a wrong class, plus random FPs
        found = rng.random(m) < 0.8
        copies, copy_labels = boxes[found], labels[found]
        half = len(copies) // 2
        copies = np.concatenate([copies, copies[:half]])
        copy_labels = np.concatenate([copy_labels, copy_labels[:half]])
        wrong = rng.random(len(copies)) < 0.1
        copy_labels = np.where(wrong, rng.integers(0, num_classes, len(copies)), copy_labels)
        jitter = rng.normal(0, [3, 3, 2, 2, 0.15], copies.shape)
        noise = np.column_stack([rng.uniform(0, 200, (3, 2)), rng.uniform(8, 40, (3, 2)),
                                 rng.uniform(-np.pi, np.pi, 3)])
        det_boxes = np.concatenate([copies + jitter, noise])
        det_boxes[:, 2:4] = np.abs(det_boxes[:, 2:4]) + 1
        det_labels = np.concatenate([copy_labels, rng.integers(0, num_classes, 3)])
        dets.append(_det(det_boxes.tolist(), rng.random(len(det_boxes)).tolist(),
                         det_labels.tolist()))
    return dets, gts


def _corners(box):
    """Independent corner formula (x right, y down, theta clockwise on screen)."""
    cx, cy, w, h, t = box
    u = (w / 2 * math.cos(t), w / 2 * math.sin(t))
    v = (-h / 2 * math.sin(t), h / 2 * math.cos(t))
    return [(cx - u[0] - v[0], cy - u[1] - v[1]), (cx + u[0] - v[0], cy + u[1] - v[1]),
            (cx + u[0] + v[0], cy + u[1] + v[1]), (cx - u[0] + v[0], cy - u[1] + v[1])]


def _oracle_ap(dets, gts, cls, thr, use_07):
    """Plain-loop transcription of the DOTA devkit's voc_eval / voc_ap."""
    records, npos = [], 0
    for image, gt in enumerate(gts):
        shapes = ([list(zip(q[0::2], q[1::2])) for q in gt["polygons"].tolist()]
                  if "polygons" in gt else [_corners(b) for b in gt["boxes"].tolist()])
        polys = [Polygon(q) for q, c in zip(shapes, gt["labels"].tolist()) if c == cls]
        diff = [bool(d) for d, c in zip(gt.get("difficult", torch.zeros(len(gt["labels"]))),
                                        gt["labels"].tolist()) if c == cls]
        npos += sum(not d for d in diff)
        records.append({"polys": polys, "difficult": diff, "det": [False] * len(polys)})
    flat = [(s, i, b) for i, d in enumerate(dets)
            for b, s, c in zip(d["boxes"].tolist(), d["scores"].tolist(), d["labels"].tolist())
            if c == cls]
    flat.sort(key=lambda item: -item[0])  # Python's sort is stable: ties keep input order
    tp, fp = [], []
    for _, image, b in flat:
        rec, shape = records[image], Polygon(_corners(b))
        ovmax, jmax = -1.0, -1
        for j, g in enumerate(rec["polys"]):
            inter = shape.intersection(g).area
            iou = inter / (shape.area + g.area - inter)
            if iou > ovmax:
                ovmax, jmax = iou, j
        t, f = 0, 0
        if ovmax > thr:
            if not rec["difficult"][jmax]:
                if not rec["det"][jmax]:
                    t, rec["det"][jmax] = 1, True
                else:
                    f = 1
        else:
            f = 1
        tp.append(t)
        fp.append(f)
    if npos == 0:
        return math.nan
    ctp, cfp = np.cumsum(tp), np.cumsum(fp)
    rec = ctp / npos
    prec = ctp / np.maximum(ctp + cfp, np.finfo(np.float64).eps)
    if use_07:
        total = 0.0
        for t in np.arange(0.0, 1.1, 0.1):
            total += (np.max(prec[rec >= t]) if np.sum(rec >= t) > 0 else 0) / 11
        return total
    mrec, mpre = np.concatenate(([0.0], rec, [1.0])), np.concatenate(([0.0], prec, [0.0]))
    for i in range(len(mpre) - 1, 0, -1):
        mpre[i - 1] = max(mpre[i - 1], mpre[i])
    idx = np.where(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[idx + 1] - mrec[idx]) * mpre[idx + 1]))


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("metric", ["voc07", "area"])
def test_agrees_with_a_brute_force_devkit_oracle(seed, metric):
    dets, gts = _random_case(seed)
    thresholds = (0.3, 0.5, 0.75)
    result = evaluate_rotated(dets, gts, 3, iou_thresholds=thresholds, metric=metric)
    for t, thr in enumerate(thresholds):
        for cls in range(3):
            expected = _oracle_ap(dets, gts, cls, thr, metric == "voc07")
            got = result["per_class_AP"][t, cls]
            assert (math.isnan(expected) and math.isnan(got)) or got == pytest.approx(expected)
    assert 0.0 < result["AP50"] < 1.0  # the cases are neither trivial nor hopeless


def _with_polygons(gts, seed):
    """The GT as annotated convex quadrilaterals: corners moved by up to 12% of the box."""
    rng = np.random.default_rng(seed)
    out = []
    for gt in gts:
        corners = np.array([_corners(b) for b in gt["boxes"].tolist()]).reshape(-1, 4, 2)
        scale = gt["boxes"][:, None, 2:4].numpy()
        quads = corners + rng.uniform(-0.06, 0.06, corners.shape) * scale
        out.append({**gt, "polygons": torch.from_numpy(quads.reshape(-1, 8))})
    return out


@pytest.mark.parametrize("seed", range(3))
def test_polygon_ground_truth_agrees_with_the_oracle_on_quadrilaterals(seed):
    dets, gts = _random_case(seed)
    quads = _with_polygons(gts, seed)
    assert all(Polygon(list(zip(q[0::2], q[1::2]))).is_valid
               for gt in quads for q in gt["polygons"].tolist())
    thresholds = (0.5, 0.6, 0.75)
    by_polygon = evaluate_rotated(dets, quads, 3, iou_thresholds=thresholds)
    by_box = evaluate_rotated(dets, quads, 3, iou_thresholds=thresholds, gt_shape="box")
    assert by_polygon["gt_shape"] == "polygon" and by_box["gt_shape"] == "box"
    for t, thr in enumerate(thresholds):
        for cls in range(3):
            for result, gt_list in ((by_polygon, quads), (by_box, gts)):
                expected = _oracle_ap(dets, gt_list, cls, thr, True)
                got = result["per_class_AP"][t, cls]
                assert (math.isnan(expected) and math.isnan(got)) or got == pytest.approx(expected)
    assert not np.allclose(by_polygon["per_class_AP"], by_box["per_class_AP"], equal_nan=True)


def test_polygon_requests_are_checked():
    gt = {**_gt([G1], [0]), "polygons": torch.tensor([[-5.0, -5, 5, -5, 5, 5, -5, 5]])}
    det = _det([G1], [0.5], [0])
    assert evaluate_rotated([det], [gt], 1, (0.5,))["AP50"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="1 of 2 ground_truths lack 'polygons'"):
        evaluate_rotated([det, det], [gt, _gt([G1], [0])], 1)
    assert evaluate_rotated([det, det], [gt, _gt([G1], [0])], 1, gt_shape="box")["AP50"] == 1.0
    with pytest.raises(ValueError, match="gt_shape='polygon'"):
        evaluate_rotated([det], [_gt([G1], [0])], 1, gt_shape="polygon")
    with pytest.raises(ValueError, match="gt_shape must be"):
        evaluate_rotated([det], [gt], 1, gt_shape="quad")
    with pytest.raises(ValueError, match=r"\['polygons'\] has 2 entries for 1 boxes"):
        evaluate_rotated([det], [{**gt, "polygons": torch.zeros(2, 8)}], 1)


def test_tied_scores_keep_input_order():
    far = [90, 90, 4, 4, 0]  # overlaps nothing: a false positive
    gts = [_gt([G1], [0]), _gt([G2], [0])]
    # one pool over the images, in image order: FP (image 0) before TP (image 1), same score
    fp_first = evaluate_rotated([_det([far], [0.5], [0]), _det([G2], [0.5], [0])], gts, 1,
                                (0.5,))
    # recall 0.5 at precision 0.5 only: 6 of the 11 points see precision 0.5
    assert fp_first["AP50"] == pytest.approx(6 * 0.5 / 11)
    tp_first = evaluate_rotated([_det([G1, far], [0.5, 0.5], [0, 0]), _det([], [], [])], gts,
                                1, (0.5,))
    assert tp_first["AP50"] == pytest.approx(6 / 11)  # TP then FP: precision 1 at recall 0.5
    # rounded scores make many ties: the stable-sort oracle agrees everywhere
    for seed in range(3):
        dets, gts = _random_case(seed + 20)
        dets = [{**d, "scores": (d["scores"] * 4).round() / 4} for d in dets]
        result = evaluate_rotated(dets, gts, 3, iou_thresholds=(0.5, 0.75))
        for t, thr in enumerate((0.5, 0.75)):
            for cls in range(3):
                expected = _oracle_ap(dets, gts, cls, thr, True)
                got = result["per_class_AP"][t, cls]
                assert (math.isnan(expected) and math.isnan(got)) or got == pytest.approx(expected)


def test_class_with_gt_but_no_detection_is_zero_and_class_without_gt_is_nan():
    gts = [_gt([G1, G2], [0, 1])]
    result = evaluate_rotated([_det([G1], [0.9], [0])], gts, 3, (0.5,))
    assert result["per_class_AP50"][:2] == [1.0, 0.0]  # class 1: GT, no detection -> 0
    assert math.isnan(result["per_class_AP50"][2])  # class 2: no GT -> NaN, left out
    assert result["AP50"] == pytest.approx(0.5)


def test_perfect_and_empty_detectors():
    _, gts = _random_case(11, num_images=5)
    perfect = [{"boxes": g["boxes"], "scores": torch.rand(len(g["labels"]), dtype=torch.float64),
                "labels": g["labels"]} for g in gts]
    result = evaluate_rotated(perfect, gts, 3)
    assert result["AP50"] == result["AP75"] == result["mAP"] == pytest.approx(1.0)
    empty = [_det([], [], []) for _ in gts]
    for metric in ("voc07", "area"):
        result = evaluate_rotated(empty, gts, 3, metric=metric)
        assert result["AP50"] == result["AP75"] == result["mAP"] == 0.0
    nothing = evaluate_rotated([_det([], [], [])], [_gt([], [])], 2)
    assert math.isnan(nothing["mAP"])


def test_average_precision_direct():
    assert average_precision(np.array([]), np.array([])) == 0.0
    assert average_precision(np.array([1.0]), np.array([1.0]), "area") == 1.0
    with pytest.raises(ValueError, match="metric"):
        average_precision(np.array([1.0]), np.array([1.0]), "coco")


def test_bad_inputs_raise():
    gt = _gt([G1], [0])
    with pytest.raises(ValueError, match="2 images"):
        evaluate_rotated([_det([G1], [0.5], [0])] * 2, [gt], 1)
    with pytest.raises(ValueError, match="labels"):
        evaluate_rotated([_det([G1], [0.5], [3])], [gt], 1)
    with pytest.raises(ValueError, match=r"detections\[0\]\['scores'\] has 2 entries for 1"):
        evaluate_rotated([_det([G1], [0.5, 0.2], [0])], [gt], 1)
    with pytest.raises(ValueError, match="NaN"):
        evaluate_rotated([_det([G1], [float("nan")], [0])], [gt], 1)
    with pytest.raises(ValueError, match="metric"):
        evaluate_rotated([_det([G1], [0.5], [0])], [gt], 1, metric="coco")
    with pytest.raises(ValueError, match="iou_thresholds"):
        evaluate_rotated([_det([G1], [0.5], [0])], [gt], 1, iou_thresholds=(1.5,))


def test_iou_calibration_pairs_predicted_and_true_ious():
    from paa_edu.evaluation.rotated_ap import iou_calibration
    gt = {"boxes": torch.tensor([[50.0, 50.0, 40.0, 20.0, 0.0]]), "labels": torch.tensor([1])}
    det = {"boxes": torch.tensor([[50.0, 50.0, 40.0, 20.0, 0.0], [60.0, 50.0, 40.0, 20.0, 0.0],
                                  [50.0, 50.0, 40.0, 20.0, 0.0]]),
           "scores": torch.tensor([0.9, 0.8, 0.7]), "labels": torch.tensor([1, 1, 0]),
           "pred_ious": torch.tensor([0.95, 0.5, 0.9])}
    predicted, true = iou_calibration([det], [gt], num_classes=2)
    assert predicted.tolist() == pytest.approx([0.95, 0.5, 0.9])
    # 10 px shift of a 40 x 20 box: overlap 30 x 20 = 600, union 1000; other class: no GT -> 0
    assert true.tolist() == pytest.approx([1.0, 0.6, 0.0])
    with pytest.raises(ValueError, match="pred_ious"):
        iou_calibration([{k: v for k, v in det.items() if k != "pred_ious"}], [gt], 2)
