"""Inference: head outputs of one image -> rotated detections (the seed's ``test_cfg``).

Per level: score = sigmoid(cls), or sqrt(sigmoid(cls) * sigmoid(iou)) with PAA's IoU branch;
keep (anchor, class) pairs above ``score_thr`` and at most ``nms_pre`` of them; decode.
Then class-wise rotated NMS over all levels, optional score voting, and ``max_per_img``.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from paa_edu.geometry import (
    batched_nms_rotated,
    box_iou_rotated,
    full_precision,
    weighted_mean_angle,
)

VOTING_SIGMA = 0.025  # PAA's score-voting bandwidth on (1 - IoU)^2
VOTING_MIN_IOU = 0.01


def _select_level(scores: Tensor, score_thr: float, nms_pre: int) -> tuple[Tensor, Tensor,
                                                                             Tensor]:
    """Top ``nms_pre`` (anchor, class) pairs with score > thr.

    Args:
        scores: (M, C) final scores of one level.
    Returns:
        anchor indices (K,), labels (K,), scores (K,).
    """
    flat = scores.flatten()  # (M*C,)
    keep = (flat > score_thr).nonzero()[:, 0]  # (K0,)
    if len(keep) > nms_pre:
        keep = keep[flat[keep].topk(nms_pre).indices]
    num_classes = scores.shape[1]
    return keep // num_classes, keep % num_classes, flat[keep]


def score_voting(det_boxes: Tensor, det_labels: Tensor, cand_boxes: Tensor, cand_scores: Tensor,
                 cand_labels: Tensor, version: str) -> Tensor:
    """PAA's score voting, made angle-aware: refine each kept box by its neighbours.

    Weights ``w_i = exp(-(1 - IoU_i)^2 / 0.025) * s_i`` over same-class candidates with
    IoU > 0.01. Centres and sizes are averaged linearly; the angle is averaged on the
    doubled-angle circle (mean of ``(cos 2t, sin 2t)``), because a long-edge box is the same
    at ``t`` and ``t + pi``: a linear mean of 3pi/4 - eps and -pi/4 would give a wrong box.

    Args:
        det_boxes: (K, 5) boxes kept by NMS; det_labels (K,).
        cand_boxes, cand_scores, cand_labels: (N, 5), (N,), (N,) all pre-NMS candidates.
        version: angle version of the boxes.
    Returns:
        (K, 5) voted boxes (scores are unchanged).
    """
    if len(det_boxes) == 0:
        return det_boxes
    ious = box_iou_rotated(det_boxes, cand_boxes)  # (K, N)
    same = det_labels[:, None] == cand_labels[None, :]  # (K, N)
    weights = torch.exp(-(1 - ious) ** 2 / VOTING_SIGMA) * cand_scores[None, :]  # (K, N)
    weights = weights * (same & (ious > VOTING_MIN_IOU))  # (K, N), the box itself has IoU 1
    weights = weights / weights.sum(dim=1, keepdim=True).clamp(min=1e-12)
    xywh = weights @ cand_boxes[:, :4]  # (K, 4)
    theta = weighted_mean_angle(cand_boxes[:, 4], weights, version)  # (K,)
    return torch.cat([xywh, theta[:, None]], dim=1)


@torch.no_grad()
def postprocess_image(cls_logits: Tensor, deltas: Tensor, iou_logits: Tensor | None,
                      anchors: Tensor, num_level_anchors: list[int], coder, cfg) -> dict:
    """Detections of one image.

    Args:
        cls_logits: (A, C); deltas: (A, 5); iou_logits: (A,) or None.
        anchors: (A, 5) all levels concatenated; num_level_anchors: A_l per level.
        coder: a :class:`paa_edu.model.coder.DeltaXYWHACoder`.
        cfg: a :class:`paa_edu.config.ModelConfig` (score_thr, nms_pre, nms_iou,
            max_per_img, score_voting, angle_version).
    Returns:
        dict ``boxes`` (K, 5), ``scores`` (K,), ``labels`` (K,) long, in input-image pixels,
        and ``pred_ious`` (K,), the IoU branch's estimate for each box (when the branch is on).
    """
    scores = torch.sigmoid(full_precision(cls_logits))  # (A, C)
    pred_ious = None if iou_logits is None else torch.sigmoid(full_precision(iou_logits))  # (A,)
    if pred_ious is not None:
        scores = torch.sqrt(scores * pred_ious[:, None])  # (A, C)
    boxes, labels, kept_scores, anchor_inds = [], [], [], []
    offsets = [0, *torch.tensor(num_level_anchors).cumsum(0).tolist()]
    for level, (lvl_scores, lvl_deltas, lvl_anchors) in enumerate(zip(
            scores.split(num_level_anchors), deltas.split(num_level_anchors),
            anchors.split(num_level_anchors))):
        idx, lvl_labels, lvl_kept = _select_level(lvl_scores, cfg.score_thr, cfg.nms_pre)
        boxes.append(coder.decode(lvl_anchors[idx], lvl_deltas[idx]))  # (K_l, 5)
        labels.append(lvl_labels)
        kept_scores.append(lvl_kept)
        anchor_inds.append(idx + offsets[level])  # (K_l,) index into all A anchors
    boxes, labels, kept_scores = torch.cat(boxes), torch.cat(labels), torch.cat(kept_scores)
    keep = batched_nms_rotated(boxes, kept_scores, labels, cfg.nms_iou)[:cfg.max_per_img]
    det_boxes = boxes[keep]  # (K, 5)
    if cfg.score_voting:
        det_boxes = score_voting(det_boxes, labels[keep], boxes, kept_scores, labels,
                                 cfg.angle_version)
    det = {"boxes": det_boxes, "scores": kept_scores[keep], "labels": labels[keep]}
    if pred_ious is not None:
        det["pred_ious"] = pred_ious[torch.cat(anchor_inds)[keep]]  # (K,)
    return det


def rescale_detections(det: dict, scale_factor: float) -> dict:
    """Map boxes from the resized input back to original image pixels (theta unchanged)."""
    if not math.isfinite(scale_factor) or scale_factor <= 0:
        raise ValueError(f"scale_factor must be a positive number, got {scale_factor}")
    boxes = det["boxes"].clone()
    boxes[:, :4] = boxes[:, :4] / scale_factor
    return {**det, "boxes": boxes}
