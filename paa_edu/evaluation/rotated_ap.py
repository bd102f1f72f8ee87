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
original polygon (:func:`paa_edu.geometry.box_poly_iou`; exact for convex and concave
quadrilaterals, the devkit's winding rule for self-intersecting ones). ``"box"`` compares with
the rectangle fitted to the GT (:func:`paa_edu.geometry.box_iou_rotated`, mmrotate's local
convention); it reads higher on real DOTA labels, whose quadrilaterals are not rectangles
(measured in ``docs/benchmarks.md``). Ground truth
without ``"polygons"`` (e.g. built in memory) is always compared as boxes.

Classes: a class with non-difficult GT but no detection gets AP 0 (the devkit crashes on an
empty result file, ``dota_evaluation_task1.py:179``). A class without non-difficult GT gets
AP = NaN and is left out of the means (as mmrotate); the devkit gives it AP 0 (after a 0/0
warning) and its ``main`` still divides the sum by all 15 classes. On DOTA-v1.0 val and test
every class has GT, so the two agree there.

``mAP`` averages the AP over the IoU thresholds 0.50:0.05:0.95 (COCO style, as the seed's table),
then over the classes that have GT; ``AP50``/``AP75`` are the class means at 0.5 and 0.75.
(The server's "COCO style" code is not public; we assume it averages the same VOC07 AP over
the ten thresholds, as mmrotate 1.x does with ``iou_thrs=[0.5, ..., 0.95]``.)

Cost: one IoU matrix per image (detections x GT, other classes masked out), then steps 1-5
are vectorised numpy per class and threshold.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from paa_edu.geometry import box_iou_rotated, box_poly_iou, check_boxes

COCO_IOU_THRESHOLDS = tuple(round(0.5 + 0.05 * i, 2) for i in range(10))
METRICS = ("voc07", "area")
GT_SHAPES = ("auto", "polygon", "box")


DETECTION_KEYS, GROUND_TRUTH_KEYS = ("boxes", "scores", "labels"), ("boxes", "labels")


def check_entries(item: dict, keys: tuple[str, ...], name: str) -> int:
    """Refuse a per-image dict that lacks one of ``keys``, whose ``boxes`` are not (N, 5), or
    whose other entries (and ``difficult``, if present) are not N long; return N.

    Args:
        item: one image's detections or ground truth.
        keys: :data:`DETECTION_KEYS` or :data:`GROUND_TRUTH_KEYS`.
        name: how the error names the dict, e.g. ``"detections[3]"``.
    """
    missing = [k for k in keys if k not in item]
    if missing:
        raise ValueError(f"{name} lacks {missing}")
    check_boxes(item["boxes"], f"{name}['boxes']")
    n = item["boxes"].reshape(-1, 5).shape[0]
    for key in keys[1:] + (("difficult",) if "difficult" in item else ()):
        if item[key].reshape(-1).shape[0] != n:
            raise ValueError(f"{name}['{key}'] has {item[key].numel()} entries for {n} boxes")
    return n


def _check_inputs(detections: list[dict], ground_truths: list[dict], num_classes: int) -> None:
    """Validate the per-image dicts; raise ``ValueError`` naming the image and key."""
    if len(detections) != len(ground_truths):
        raise ValueError(f"detections has {len(detections)} images but ground_truths has "
                         f"{len(ground_truths)}")
    for i, (det, gt) in enumerate(zip(detections, ground_truths)):
        for name, item, keys in (("detections", det, DETECTION_KEYS),
                                 ("ground_truths", gt, GROUND_TRUTH_KEYS)):
            n = check_entries(item, keys, f"{name}[{i}]")
            labels = item["labels"].reshape(-1)
            if n and (labels.min() < 0 or labels.max() >= num_classes):
                raise ValueError(f"{name}[{i}]['labels'] must lie in [0, {num_classes})")
        if det["scores"].numel() and not bool(torch.isfinite(det["scores"]).all()):
            raise ValueError(f"detections[{i}]['scores'] contains NaN or Inf")
        if "polygons" in gt and tuple(gt["polygons"].shape) != (gt["boxes"].shape[0], 8):
            raise ValueError(f"ground_truths[{i}]['polygons'] must be ({gt['boxes'].shape[0]}, "
                             f"8), got {tuple(gt['polygons'].shape)}")


def _use_polygons(ground_truths: list[dict], gt_shape: str) -> bool:
    """Whether the GT is compared as quadrilaterals (see ``gt_shape`` in the docstring)."""
    if gt_shape not in GT_SHAPES:
        raise ValueError(f"gt_shape must be one of {GT_SHAPES}, got {gt_shape!r}")
    with_polygons = sum("polygons" in gt for gt in ground_truths)
    if gt_shape == "box":
        return False
    if gt_shape == "polygon" and with_polygons < len(ground_truths):
        raise ValueError(f"gt_shape='polygon' but {len(ground_truths) - with_polygons} of "
                         f"{len(ground_truths)} ground_truths lack 'polygons'")
    if 0 < with_polygons < len(ground_truths):
        raise ValueError(f"{len(ground_truths) - with_polygons} of {len(ground_truths)} "
                         f"ground_truths lack 'polygons' (give them to all images or none, "
                         f"or pass gt_shape='box')")
    return with_polygons > 0


def average_precision(recall: np.ndarray, precision: np.ndarray, metric: str = "voc07"
                      ) -> float:
    """AP from a PR curve (points in decreasing-score order).

    Args:
        recall: (N,) cumulative recall.
        precision: (N,) cumulative precision.
        metric: ``"voc07"`` (11 points) or ``"area"`` (all points).
    Returns:
        the AP in [0, 1]; 0 for an empty curve.
    """
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
    """The tensors of a detection / ground-truth dict, detached and on the CPU."""
    return {k: v.detach().cpu() if isinstance(v, torch.Tensor) else v for k, v in item.items()}


def iou_matrix(det: dict, gt: dict, polygons: bool) -> torch.Tensor:
    """(D, G) float64 IoU of every detection box with every GT, whatever their classes.

    ``polygons``: with ``gt["polygons"]`` (the quadrilaterals, :func:`box_poly_iou`) instead of
    ``gt["boxes"]`` (:func:`box_iou_rotated`); (D, 0) or (0, G) when either side is empty.
    """
    d_boxes, g_boxes = det["boxes"].reshape(-1, 5).double(), gt["boxes"].reshape(-1, 5).double()
    if not len(d_boxes) or not len(g_boxes):
        return torch.zeros(len(d_boxes), len(g_boxes), dtype=torch.float64)
    if polygons:
        return box_poly_iou(d_boxes, gt["polygons"].double())
    return box_iou_rotated(d_boxes, g_boxes)


def _best_gt_per_detection(detections: list[dict], ground_truths: list[dict],
                           polygons: bool = False) -> dict:
    """Step 2 for all classes at once: one IoU matrix per image, other classes masked out.

    ``polygons``: compare with ``gt["polygons"]`` (quadrilaterals) instead of ``gt["boxes"]``.

    Returns:
        dict of arrays over all D detections (images concatenated): ``labels``, ``scores``,
        ``ovmax`` (-inf without a GT of its class), ``gt_key`` (a unique id of that GT over
        all images, -1 without), ``gt_difficult``; plus ``gt_labels`` and ``gt_difficult_all``
        over all GT (to count npos).
    """
    out = {k: [] for k in ("labels", "scores", "ovmax", "gt_key", "gt_difficult",
                           "gt_labels", "gt_difficult_all")}
    key_offset = 0
    for det, gt in zip(detections, ground_truths):
        d_boxes, g_boxes = det["boxes"].reshape(-1, 5), gt["boxes"].reshape(-1, 5)
        d_labels, g_labels = det["labels"].reshape(-1), gt["labels"].reshape(-1)
        g_diff = gt.get("difficult", torch.zeros(len(g_labels), dtype=torch.bool))
        g_diff = g_diff.reshape(-1).bool().numpy()  # (G,)
        ovmax = np.full(len(d_boxes), -np.inf)
        best_j = np.zeros(len(d_boxes), dtype=np.int64)
        if len(g_boxes) and len(d_boxes):
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
        key_offset += len(g_boxes)
    return {k: np.concatenate(v) if v else np.zeros(0) for k, v in out.items()}


def _select_class(matched_all: dict, cls: int) -> dict:
    """Steps 1-2 for one class: its detections sorted by score (stable) and its npos."""
    mask = matched_all["labels"] == cls
    order = np.argsort(-matched_all["scores"][mask], kind="stable")  # step 1
    selected = {k: matched_all[k][mask][order]
                for k in ("scores", "ovmax", "gt_key", "gt_difficult")}
    gt_mask = matched_all["gt_labels"] == cls
    selected["npos"] = int((~matched_all["gt_difficult_all"][gt_mask].astype(bool)).sum())
    return selected


def _pr_curve(matched: dict, thr: float) -> tuple[np.ndarray, np.ndarray]:
    """Step 3-4, vectorised: TP/FP flags at one IoU threshold -> (recall, precision)."""
    hit = matched["ovmax"] > thr  # (D,) strictly above, as the devkit
    counted = hit & ~matched["gt_difficult"]  # hits on a non-difficult GT
    first = np.zeros_like(hit)
    idx = np.nonzero(counted)[0]
    _, first_pos = np.unique(matched["gt_key"][idx], return_index=True)
    first[idx[first_pos]] = True  # the first (highest-score) hit of each GT is the TP
    tp = first
    fp = ~hit | (counted & ~first)  # misses and duplicates; difficult hits are neither
    cum_tp, cum_fp = np.cumsum(tp), np.cumsum(fp)
    recall = cum_tp / max(matched["npos"], 1)
    precision = cum_tp / np.maximum(cum_tp + cum_fp, np.finfo(np.float64).eps)
    return recall, precision


def _nanmean(values: list[float] | np.ndarray) -> float:
    values = np.asarray(values, dtype=np.float64)
    return float(values[~np.isnan(values)].mean()) if (~np.isnan(values)).any() else math.nan


@torch.no_grad()
def evaluate_rotated(
    detections: list[dict],
    ground_truths: list[dict],
    num_classes: int,
    iou_thresholds: tuple[float, ...] = COCO_IOU_THRESHOLDS,
    metric: str = "voc07",
    gt_shape: str = "auto",
) -> dict:
    """Evaluate rotated detections with the DOTA devkit's rule (see the module docstring).

    Args:
        detections: per image, dict ``boxes`` (N, 5), ``scores`` (N,), ``labels`` (N,) long.
        ground_truths: per image (same order), dict ``boxes`` (M, 5), ``labels`` (M,) long,
            optional ``difficult`` (M,) bool (missing = none difficult), optional
            ``polygons`` (M, 8) the annotated quadrilaterals x1, y1, ..., x4, y4.
        num_classes: C; labels lie in [0, C).
        iou_thresholds: IoU thresholds (a match needs IoU > thr); the default is 0.50:0.05:0.95.
        metric: ``"voc07"`` (default, the DOTA server's) or ``"area"``.
        gt_shape: ``"auto"`` (polygons when the GT has them, else boxes), ``"polygon"``
            (required) or ``"box"`` (fitted rectangles); see the module docstring.
    Returns:
        dict with ``AP50``, ``AP75`` (when 0.5 / 0.75 are among the thresholds), ``mAP``
        (float, NaN when no class has GT), ``per_class_AP50`` (list of C floats, NaN for classes
        without GT), ``per_class_AP`` (T, C) ndarray, ``AP_per_threshold`` {thr: class mean},
        ``num_gts`` (list of C non-difficult GT counts), ``iou_thresholds``, ``metric``,
        ``gt_shape`` (``"polygon"`` or ``"box"``, the one used) and ``curves``
        {(cls, thr): {"recall", "precision", "scores"}} for PR plots.
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    if not iou_thresholds or not all(0.0 <= t < 1.0 for t in iou_thresholds):
        raise ValueError(f"iou_thresholds must be non-empty values in [0, 1), "
                         f"got {iou_thresholds}")
    _check_inputs(detections, ground_truths, num_classes)
    polygons = _use_polygons(ground_truths, gt_shape)
    detections = [_on_cpu(det) for det in detections]
    ground_truths = [_on_cpu(gt) for gt in ground_truths]
    thresholds = tuple(float(t) for t in iou_thresholds)
    per_class_ap = np.full((len(thresholds), num_classes), np.nan)  # (T, C)
    curves, num_gts = {}, []
    matched_all = _best_gt_per_detection(detections, ground_truths, polygons)
    for cls in range(num_classes):
        matched = _select_class(matched_all, cls)
        num_gts.append(matched["npos"])
        for t, thr in enumerate(thresholds):
            recall, precision = _pr_curve(matched, thr)
            curves[(cls, thr)] = {"recall": recall, "precision": precision,
                                  "scores": matched["scores"]}
            if matched["npos"] > 0:
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
    """Predicted vs true IoU of every detection, to check PAA's IoU branch.

    The true IoU of a detection is its highest rotated IoU with a ground truth of the same
    image and class (step 2 of the matching above), 0 when there is none.

    Args:
        detections: per image dicts with ``boxes``, ``scores``, ``labels`` and ``pred_ious``
            (the IoU branch's output, see :func:`paa_edu.model.postprocess.postprocess_image`).
        ground_truths: per image dicts with ``boxes`` and ``labels``.
        num_classes: C.
        gt_shape: as in :func:`evaluate_rotated`.
    Returns:
        predicted (D,) and true (D,) IoUs, images concatenated in order.
    """
    detections = [_on_cpu(d) for d in detections]
    ground_truths = [_on_cpu(g) for g in ground_truths]
    _check_inputs(detections, ground_truths, num_classes)
    for i, det in enumerate(detections):
        if "pred_ious" not in det:
            raise ValueError(f"detections[{i}] has no 'pred_ious' (train with the IoU branch on)")
    matched = _best_gt_per_detection(detections, ground_truths,
                                     _use_polygons(ground_truths, gt_shape))
    true_ious = np.where(np.isfinite(matched["ovmax"]), matched["ovmax"], 0.0)
    predicted = np.concatenate([d["pred_ious"].reshape(-1).double().numpy() for d in detections])
    return predicted, true_ious


def match_detections(detection: dict, ground_truth: dict, iou_threshold: float = 0.5,
                     gt_shape: str = "auto") -> tuple[np.ndarray, np.ndarray]:
    """True / false positives of one image under the rule above (for figures).

    Args:
        detection: dict ``boxes`` (D, 5), ``scores`` (D,), ``labels`` (D,).
        ground_truth: dict ``boxes`` (G, 5), ``labels`` (G,), optional ``difficult`` and
            ``polygons``.
        iou_threshold: a match needs IoU > this.
        gt_shape: as in :func:`evaluate_rotated`.
    Returns:
        ``is_tp`` (D,) bool (False = FP, or ignored on a difficult GT) and ``found`` (G,)
        bool, the GTs some detection matched.
    """
    det, gt = _on_cpu(detection), _on_cpu(ground_truth)
    matched = _best_gt_per_detection([det], [gt], _use_polygons([gt], gt_shape))
    order = np.argsort(-matched["scores"], kind="stable")  # step 1, one image
    hit = matched["ovmax"][order] > iou_threshold
    counted = hit & ~matched["gt_difficult"][order].astype(bool)
    idx = np.nonzero(counted)[0]
    _, first = np.unique(matched["gt_key"][order][idx], return_index=True)
    is_tp = np.zeros(len(order), dtype=bool)
    is_tp[order[idx[first]]] = True  # the highest-score hit of each GT
    found = np.zeros(len(gt["boxes"].reshape(-1, 5)), dtype=bool)
    found[matched["gt_key"][is_tp]] = True
    return is_tp, found
