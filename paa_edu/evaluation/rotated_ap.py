"""DOTA Task-1 style evaluation of rotated detections: AP50, AP75 and mAP@[.5:.95].

The matching rule is the DOTA devkit's (``dota_evaluation_task1.py``, ``voc_eval``), per class:

1. Pool the detections of the class over all images and sort them by decreasing score
   (a stable sort: ties keep their input order; the devkit's ``argsort`` leaves them unordered).
2. For each detection take the ground truth of the same image and class with the highest
   rotated IoU (difficult ones included), ``ovmax``. This choice never depends on earlier matches.
3. If ``ovmax > thr`` (strictly greater, as the devkit; mmrotate uses >=): if that GT is
   difficult the detection is ignored (neither TP nor FP); else a TP the first time this GT is
   hit and an FP afterwards. If ``ovmax <= thr`` (or the image has no GT of the class): FP.
4. recall = cumTP / npos (npos = non-difficult GT), precision = cumTP / (cumTP + cumFP).
5. AP: ``"voc07"`` (DEFAULT) is the 11-point VOC2007 AP -- mean over t in {0, 0.1, ..., 1} of
   the best precision at recall >= t -- because the devkit's ``main`` calls ``voc_eval`` with
   ``use_07_metric=True`` and the DOTA server (which produced the seed's table) reports it.
   ``"area"`` is the all-point area under the interpolated PR curve (JDet's local validation).

The IoU (``gt_shape``): with ``"auto"`` (DEFAULT) every ground truth that carries its
annotated quadrilateral (``"polygons"``, (M, 8), as :class:`paa_edu.data.DOTADataset` gives) is
compared as that quadrilateral, as the server does: IoU of the detection's rotated box with the
original polygon (:func:`paa_edu.geometry.box_poly_iou`). ``"box"`` compares with the rectangle
fitted to the GT (:func:`paa_edu.geometry.box_iou_rotated`, mmrotate's local convention); it
reads higher on real DOTA labels, whose quadrilaterals are not rectangles. Ground truth without
``"polygons"`` (e.g. built in memory) is always compared as boxes.

A class with GT but no detection gets AP 0; one without non-difficult GT gets AP = NaN and is
left out of the means (as mmrotate; the devkit gives it AP 0, a case DOTA-v1.0 val and test
never meet). ``mAP`` averages the AP over the IoU thresholds 0.50:0.05:0.95 (COCO style, as
the seed's table; the server's code is not public, we assume the VOC07 AP of each threshold,
as mmrotate 1.x), then over the classes; ``AP50``/``AP75`` are the class means at 0.5, 0.75."""
from __future__ import annotations

import math

import numpy as np
import torch

from paa_edu.geometry import box_iou_rotated, box_poly_iou, check_boxes

COCO_IOU_THRESHOLDS = tuple(round(0.5 + 0.05 * i, 2) for i in range(10))
METRICS = ("voc07", "area")
GT_SHAPES = ("auto", "polygon", "box")


def _check_inputs(detections: list[dict], ground_truths: list[dict],
                  num_classes: int | None = None) -> None:
    """Refuse what would give a silently wrong AP (the message names the image and key)."""
    if len(detections) != len(ground_truths):
        raise ValueError(f"detections has {len(detections)} images but ground_truths has "
                         f"{len(ground_truths)}")
    for i, (det, gt) in enumerate(zip(detections, ground_truths)):
        for name, item in ((f"detections[{i}]", det), (f"ground_truths[{i}]", gt)):
            n = len(check_boxes(item["boxes"], f"{name}['boxes']").reshape(-1, 5))
            for key in ("scores", "labels", "difficult", "polygons"):
                if key in item and len(item[key]) != n:
                    raise ValueError(f"{name}['{key}'] has {len(item[key])} entries for {n} "
                                     f"boxes")
            labels = item["labels"]
            if num_classes and n and not 0 <= labels.min() <= labels.max() < num_classes:
                raise ValueError(f"{name}['labels'] must lie in [0, {num_classes})")
        if not bool(torch.isfinite(det["scores"]).all()):
            raise ValueError(f"detections[{i}]['scores'] contains NaN or Inf")


def _use_polygons(ground_truths: list[dict], gt_shape: str) -> bool:
    if gt_shape not in GT_SHAPES:
        raise ValueError(f"gt_shape must be one of {GT_SHAPES}, got {gt_shape!r}")
    lacking = sum("polygons" not in gt for gt in ground_truths)
    if gt_shape == "box" or (gt_shape == "auto" and lacking == len(ground_truths)):
        return False
    if lacking:
        raise ValueError(f"gt_shape={gt_shape!r} but {lacking} of {len(ground_truths)} "
                         f"ground_truths lack 'polygons' (give them to all images or none, "
                         f"or pass gt_shape='box')")
    return True


def average_precision(recall: np.ndarray, precision: np.ndarray, metric: str = "voc07"
                      ) -> float:
    """Step 5: the AP in [0, 1] of a PR curve (points in decreasing-score order; 0 if empty)."""
    if metric == "voc07":
        # np.arange(0, 1.1, 0.1) exactly as the devkit (its 0.3 is 0.30000000000000004).
        points = [precision[recall >= t].max() if (recall >= t).any() else 0.0
                  for t in np.arange(0.0, 1.1, 0.1)]
        return float(np.mean(points))
    if metric != "area":
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    rec = np.concatenate([[0.0], recall, [1.0]])
    prec = np.concatenate([[0.0], precision, [0.0]])
    prec = np.maximum.accumulate(prec[::-1])[::-1]  # precision envelope (non-increasing)
    steps = np.nonzero(rec[1:] != rec[:-1])[0]  # where recall changes
    return float(np.sum((rec[steps + 1] - rec[steps]) * prec[steps + 1]))


def _on_cpu(item: dict) -> dict:
    return {k: v.detach().cpu() if isinstance(v, torch.Tensor) else v for k, v in item.items()}


def iou_matrix(det: dict, gt: dict, polygons: bool) -> torch.Tensor:
    """(D, G) float64 IoU of every detection box with every GT (``gt["polygons"]`` when
    ``polygons``, else ``gt["boxes"]``), whatever their classes."""
    d_boxes, g_boxes = det["boxes"].reshape(-1, 5).double(), gt["boxes"].reshape(-1, 5).double()
    if not len(d_boxes) or not len(g_boxes):
        return torch.zeros(len(d_boxes), len(g_boxes), dtype=torch.float64)
    if polygons:
        return box_poly_iou(d_boxes, gt["polygons"].double())
    return box_iou_rotated(d_boxes, g_boxes)


def _best_gt_per_detection(detections: list[dict], ground_truths: list[dict],
                           polygons: bool) -> dict:
    """Step 2 for all classes at once (one IoU matrix per image, other classes masked out): per
    detection (images concatenated) ``labels``, ``scores``, ``ovmax`` (-inf without a GT of its
    class), ``gt_key`` (that GT's id over all images, -1 without), ``gt_difficult``; per GT
    ``gt_labels``, ``gt_difficult_all``."""
    out = {k: [] for k in ("labels", "scores", "ovmax", "gt_key", "gt_difficult",
                           "gt_labels", "gt_difficult_all")}
    key_offset = 0
    for det, gt in zip(detections, ground_truths):
        d_labels, g_labels = det["labels"].reshape(-1), gt["labels"].reshape(-1)
        g_diff = gt.get("difficult", torch.zeros(len(g_labels), dtype=torch.bool))
        g_diff = g_diff.reshape(-1).bool().numpy()  # (G,)
        ovmax = np.full(len(d_labels), -np.inf)
        best_j = np.zeros(len(d_labels), dtype=np.int64)
        if len(g_labels) and len(d_labels):
            ious = iou_matrix(det, gt, polygons)  # (D_i, G_i)
            same_class = d_labels[:, None] == g_labels[None, :]  # (D_i, G_i)
            ious = torch.where(same_class, ious, torch.full_like(ious, -math.inf))
            best, best_j_t = ious.max(dim=1)  # (D_i,)
            ovmax, best_j = best.numpy(), best_j_t.numpy()
        has_gt = np.isfinite(ovmax)  # (D_i,)
        out["labels"].append(d_labels.numpy())
        out["scores"].append(det["scores"].reshape(-1).double().numpy())
        out["ovmax"].append(ovmax)
        out["gt_key"].append(np.where(has_gt, best_j + key_offset, -1))
        out["gt_difficult"].append(has_gt & g_diff[best_j] if len(g_diff) else has_gt)
        out["gt_labels"].append(g_labels.numpy())
        out["gt_difficult_all"].append(g_diff)
        key_offset += len(g_labels)
    return {k: np.concatenate(v) if v else np.zeros(0) for k, v in out.items()}


def _by_score(matched_all: dict, mask: np.ndarray) -> tuple[np.ndarray, dict]:
    """Step 1: the detections in ``mask`` by decreasing score (stable), and their step-2 data."""
    index = np.nonzero(mask)[0]
    index = index[np.argsort(-matched_all["scores"][index], kind="stable")]
    return index, {k: matched_all[k][index] for k in ("ovmax", "gt_key", "gt_difficult")}


def _true_positives(matched: dict, thr: float) -> tuple[np.ndarray, np.ndarray]:
    """Step 3 on detections sorted by decreasing score: (D,) TP flags and (D,) FP flags. The first
    hit of each GT is its TP. Example: the counted hits have ``gt_key`` [4, 7, 4, 9];
    ``np.unique(..., return_index=True)`` gives keys [4, 7, 9] at first positions [0, 1, 3], so
    position 2 (GT 4 again) is a duplicate: an FP."""
    hit = matched["ovmax"] > thr  # (D,) strictly above, as the devkit
    counted = hit & ~matched["gt_difficult"].astype(bool)  # hits on a non-difficult GT
    idx = np.nonzero(counted)[0]
    _, first = np.unique(matched["gt_key"][idx], return_index=True)
    tp = np.zeros_like(hit)
    tp[idx[first]] = True
    return tp, ~hit | (counted & ~tp)  # FP: misses and duplicates; difficult hits are neither


def _nanmean(values: list[float] | np.ndarray) -> float:
    values = np.asarray(values, dtype=np.float64)
    return float(values[~np.isnan(values)].mean()) if (~np.isnan(values)).any() else math.nan


@torch.no_grad()
def evaluate_rotated(detections: list[dict], ground_truths: list[dict], num_classes: int,
                     iou_thresholds: tuple[float, ...] = COCO_IOU_THRESHOLDS,
                     metric: str = "voc07", gt_shape: str = "auto") -> dict:
    """Evaluate rotated detections with the DOTA devkit's rule (see the module docstring).
    ``detections``: per image ``boxes`` (N, 5), ``scores`` (N,), ``labels`` (N,) in [0,
    ``num_classes``). ``ground_truths``: per image ``boxes`` (M, 5), ``labels`` (M,), optional
    ``difficult`` (M,) and ``polygons`` (M, 8). Returns ``AP50``, ``AP75`` (when among the
    thresholds), ``mAP`` (NaN when no class has GT), ``per_class_AP50`` (C,), ``per_class_AP`` (T,
    C), ``AP_per_threshold``, ``num_gts`` (C,) non-difficult, the settings used and PR ``curves``
    {(cls, thr): {"recall", "precision", "scores"}}."""
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    if not iou_thresholds or not all(0.0 <= t < 1.0 for t in iou_thresholds):
        raise ValueError(f"iou_thresholds must be non-empty values in [0, 1), "
                         f"got {iou_thresholds}")
    _check_inputs(detections, ground_truths, num_classes)
    polygons = _use_polygons(ground_truths, gt_shape)
    matched_all = _best_gt_per_detection([_on_cpu(d) for d in detections],
                                         [_on_cpu(g) for g in ground_truths], polygons)
    thresholds = tuple(float(t) for t in iou_thresholds)
    per_class_ap = np.full((len(thresholds), num_classes), np.nan)  # (T, C)
    curves, num_gts = {}, []
    for cls in range(num_classes):
        index, matched = _by_score(matched_all, matched_all["labels"] == cls)
        is_gt = matched_all["gt_labels"] == cls
        npos = int((~matched_all["gt_difficult_all"][is_gt].astype(bool)).sum())
        num_gts.append(npos)
        for t, thr in enumerate(thresholds):
            tp, fp = _true_positives(matched, thr)
            cum_tp, cum_fp = np.cumsum(tp), np.cumsum(fp)  # step 4
            recall = cum_tp / max(npos, 1)
            precision = cum_tp / np.maximum(cum_tp + cum_fp, np.finfo(np.float64).eps)
            curves[(cls, thr)] = {"recall": recall, "precision": precision,
                                  "scores": matched_all["scores"][index]}
            if npos > 0:
                per_class_ap[t, cls] = average_precision(recall, precision, metric)
    result = {
        "mAP": _nanmean(per_class_ap.mean(axis=0)),  # over thresholds, then classes with GT
        "AP_per_threshold": {thr: _nanmean(per_class_ap[t]) for t, thr in enumerate(thresholds)},
        "per_class_AP": per_class_ap, "num_gts": num_gts, "iou_thresholds": thresholds,
        "metric": metric, "gt_shape": "polygon" if polygons else "box", "curves": curves,
    }
    for name, value in (("AP50", 0.5), ("AP75", 0.75)):
        matches = [t for t, thr in enumerate(thresholds) if math.isclose(thr, value)]
        if matches:
            result[name] = result["AP_per_threshold"][thresholds[matches[0]]]
            if value == 0.5:
                result["per_class_AP50"] = per_class_ap[matches[0]].tolist()
    return result


def iou_calibration(detections: list[dict], ground_truths: list[dict], num_classes: int,
                    gt_shape: str = "auto") -> tuple[np.ndarray, np.ndarray]:
    """Predicted (the IoU branch's ``pred_ious``) and true (step 2's ``ovmax``, 0 without a GT)
    (D,) IoU of every detection (images concatenated), to check PAA's IoU branch."""
    _check_inputs(detections, ground_truths, num_classes)
    for i, det in enumerate(detections):
        if "pred_ious" not in det:
            raise ValueError(f"detections[{i}] has no 'pred_ious' (train with the IoU branch on)")
    detections = [_on_cpu(d) for d in detections]
    matched = _best_gt_per_detection(detections, [_on_cpu(g) for g in ground_truths],
                                     _use_polygons(ground_truths, gt_shape))
    true_ious = np.where(np.isfinite(matched["ovmax"]), matched["ovmax"], 0.0)
    predicted = np.concatenate([d["pred_ious"].reshape(-1).double().numpy() for d in detections])
    return predicted, true_ious


def match_detections(detection: dict, ground_truth: dict, iou_threshold: float = 0.5,
                     gt_shape: str = "auto") -> tuple[np.ndarray, np.ndarray]:
    """One image under the rule above: ``is_tp`` (D,) bool and ``found`` (G,) bool. All classes
    sort together: a GT's first hit (of its own class) is the same as in a per-class sort."""
    det, gt = _on_cpu(detection), _on_cpu(ground_truth)
    matched = _best_gt_per_detection([det], [gt], _use_polygons([gt], gt_shape))
    index, ordered = _by_score(matched, np.ones(len(matched["scores"]), dtype=bool))
    is_tp = np.zeros(len(index), dtype=bool)
    is_tp[index[_true_positives(ordered, iou_threshold)[0]]] = True
    found = np.zeros(len(gt["labels"].reshape(-1)), dtype=bool)
    found[matched["gt_key"][is_tp]] = True
    return is_tp, found
