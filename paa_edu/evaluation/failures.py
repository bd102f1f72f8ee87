"""Why a detection is a false positive, and how close a missed object came to being found.

:func:`classify_detections` adds to :func:`~paa_edu.evaluation.rotated_ap.match_detections` *why* a
detection is no TP, with the error types of TIDE (Bolya et al., ECCV 2020), in order:

1. ``"duplicate"``: IoU > threshold with a GT of its own class that a higher-scoring detection
   already took;
2. ``"wrong class"``: IoU > threshold with a GT of another class;
3. ``"poor localisation"``: best IoU with any GT in ``[background_iou, threshold]``;
4. ``"background"``: IoU < ``background_iou`` (0.1, TIDE's) with every GT.

A hit on a *difficult* GT is ``"ignored"``, as in the AP."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import torch

from paa_edu.evaluation.rotated_ap import (
    _check_inputs,
    _on_cpu,
    _use_polygons,
    iou_matrix,
    match_detections,
)

FP_REASONS = ("duplicate", "wrong class", "poor localisation", "background")
BACKGROUND_IOU = 0.1


@torch.no_grad()
def classify_detections(detection: dict, ground_truth: dict, iou_threshold: float = 0.5,
                        background_iou: float = BACKGROUND_IOU, gt_shape: str = "auto") -> dict:
    """One image: ``reason`` (D,) ``"TP"``, ``"ignored"`` or one of :data:`FP_REASONS`;
    ``gt_index``/``gt_iou`` (D,) the GT of highest IoU (any class; -1 without) and that IoU;
    ``found``, ``difficult`` (G,); ``best_det``/``best_iou`` (G,) likewise per GT."""
    if not 0.0 <= background_iou <= iou_threshold < 1.0:
        raise ValueError(f"need 0 <= background_iou <= iou_threshold < 1, got "
                         f"{background_iou} and {iou_threshold}")
    det, gt = _on_cpu(detection), _on_cpu(ground_truth)
    is_tp, found = match_detections(det, gt, iou_threshold, gt_shape)
    ious = iou_matrix(det, gt, _use_polygons([gt], gt_shape)).numpy()  # (D, G)
    d_labels, g_labels = det["labels"].reshape(-1).numpy(), gt["labels"].reshape(-1).numpy()
    difficult = gt.get("difficult", torch.zeros(len(g_labels))).reshape(-1).bool().numpy()
    D, G = ious.shape
    same = np.where(d_labels[:, None] == g_labels[None, :], ious, -1.0)  # (D, G)
    best_same = same.max(1, initial=-1.0)  # (D,)
    gt_index = ious.argmax(1) if G else np.full(D, -1)
    gt_iou = ious.max(1) if G else np.zeros(D)
    reason = np.full(D, "background", dtype=object)
    reason[gt_iou >= background_iou] = "poor localisation"
    reason[gt_iou > iou_threshold] = "wrong class"
    hit_own = best_same > iou_threshold  # (D,)
    reason[hit_own] = "duplicate"
    if G:
        reason[hit_own & difficult[same.argmax(1)]] = "ignored"
    reason[is_tp] = "TP"
    return {"reason": reason, "gt_index": gt_index, "gt_iou": gt_iou, "found": found,
            "difficult": difficult, "best_det": ious.argmax(0) if D else np.full(G, -1),
            "best_iou": ious.max(0) if D else np.zeros(G)}


@dataclass
class FailureCase:
    """One crop of the gallery: ``"missed"`` (``box``/``label`` a GT, ``partner`` the detection
    that overlaps it most) or ``"false positive"`` (``box``/``label``/``score`` a detection,
    ``partner`` the GT it overlaps most). ``partner_ok``: a TP (missed) / a found GT (FP)."""
    kind: str
    image: int
    box: np.ndarray  # (5,)
    label: int
    reason: str  # "missed" or one of FP_REASONS
    iou: float  # with the partner; 0 without one
    score: float | None = None
    partner_box: np.ndarray | None = None  # (5,)
    partner_label: int | None = None
    partner_score: float | None = None
    partner_ok: bool = False


def failure_cases(detections: list[dict], ground_truths: list[dict], max_missed: int = 8,
                  max_fp: int = 8, iou_threshold: float = 0.5, count_score_thr: float = 0.3
                  ) -> dict:
    """The crops of a failure gallery over a dataset (a miss: no detection finds it, whatever its
    score): the first ``max_missed`` ``"missed"`` in image order, the ``max_fp`` highest-scoring
    ``"false positive"``; ``"counts"`` by reason (false positives from ``count_score_thr`` on),
    ``"missed_by_class"``, ``"missed_unseen"`` (no IoU >= :data:`BACKGROUND_IOU`)."""
    _check_inputs(detections, ground_truths)
    if max_missed < 0 or max_fp < 0:
        raise ValueError(f"max_missed and max_fp must be >= 0, got {max_missed}, {max_fp}")
    missed, fps = [], []
    for i, (det, gt) in enumerate(zip(detections, ground_truths)):
        det, gt = _on_cpu(det), _on_cpu(gt)
        c = classify_detections(det, gt, iou_threshold)
        for g in np.nonzero(~c["found"] & ~c["difficult"])[0]:
            d = int(c["best_det"][g])
            near = d >= 0 and c["best_iou"][g] > 0
            missed.append(FailureCase(
                "missed", i, gt["boxes"][g].numpy(), int(gt["labels"][g]), "missed",
                float(c["best_iou"][g]) if near else 0.0,
                partner_box=det["boxes"][d].numpy() if near else None,
                partner_label=int(det["labels"][d]) if near else None,
                partner_score=float(det["scores"][d]) if near else None,
                partner_ok=bool(near and c["reason"][d] == "TP")))
        for d in np.nonzero(np.isin(c["reason"], FP_REASONS))[0]:
            g = int(c["gt_index"][d])
            near = g >= 0 and c["gt_iou"][d] > 0
            fps.append(FailureCase(
                "false positive", i, det["boxes"][d].numpy(), int(det["labels"][d]),
                str(c["reason"][d]), float(c["gt_iou"][d]) if near else 0.0,
                score=float(det["scores"][d]),
                partner_box=gt["boxes"][g].numpy() if near else None,
                partner_label=int(gt["labels"][g]) if near else None,
                partner_ok=bool(near and c["found"][g])))
    counts = Counter([case.reason for case in missed]
                     + [case.reason for case in fps if case.score >= count_score_thr])
    fps = sorted(fps, key=lambda case: -case.score)  # stable: ties keep image order
    return {"missed": missed[:max_missed], "false positive": fps[:max_fp], "counts": counts,
            "missed_by_class": Counter(case.label for case in missed),
            "missed_unseen": sum(case.iou < BACKGROUND_IOU for case in missed)}


def aspect_ratios(cases: list[FailureCase]) -> tuple[np.ndarray, np.ndarray]:
    """(N,) long / short side of each case's box, and of its partner's (NaN without one)."""
    def ratio(box):
        if box is None:
            return np.nan
        w, h = abs(float(box[2])), abs(float(box[3]))
        return max(w, h) / min(w, h) if min(w, h) > 0 else np.inf

    return (np.array([ratio(c.box) for c in cases], dtype=float),
            np.array([ratio(c.partner_box) for c in cases], dtype=float))


def describe(case: FailureCase, class_names: list[str] | None = None) -> str:
    """The title of a crop on three lines: what it is (class, w x h) and why it failed, e.g.
    ``"missed ship 24x7\\nbest IoU 0.41 by a\\nship, score 0.12"`` or
    ``"FP ship 0.87, 24x7\\nwrong class: IoU 0.71\\nwith large-vehicle"``."""
    def name(label):
        return str(label) if class_names is None else class_names[int(label)]

    size = f"{float(case.box[2]):.0f}x{float(case.box[3]):.0f}"
    if case.kind == "missed":
        head = f"missed {name(case.label)} {size}"
        if case.partner_box is None:
            return f"{head}\nno detection\noverlaps it"
        return (f"{head}\nbest IoU {case.iou:.2f} by a\n{name(case.partner_label)}, "
                f"score {case.partner_score:.2f}")
    head = f"FP {name(case.label)} {case.score:.2f}, {size}"
    if case.reason == "background":
        return f"{head}\nbackground:\nIoU < {BACKGROUND_IOU} with all GT"
    short = {"duplicate": "duplicate", "wrong class": "wrong class",
             "poor localisation": "poor fit"}[case.reason]
    return f"{head}\n{short}: IoU {case.iou:.2f}\nwith {name(case.partner_label)}"
