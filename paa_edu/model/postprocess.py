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


def score_voting(det_boxes: Tensor, det_labels: Tensor, cand_boxes: Tensor, cand_scores: Tensor,
                 cand_labels: Tensor, version: str) -> Tensor:
    """PAA's score voting, made angle-aware: each kept box (K, 5) becomes the weighted mean of the
    same-class pre-NMS candidates (N, 5) with IoU > 0.01, weights ``exp(-(1 - IoU)^2 / 0.025) *
    score``. Centres and sizes are averaged linearly, the angle on the doubled-angle circle
    (a long-edge box is the same at ``t`` and ``t + pi``). Scores are unchanged.
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
    """Detections of one image from its cls_logits (A, C), deltas (A, 5), iou_logits (A,) or None
    and anchors (A, 5) (``num_level_anchors`` per level), with ``cfg``'s inference settings:
    ``boxes`` (K, 5), ``scores`` (K,), ``labels`` (K,) long and ``pred_ious`` (K,) or none."""
    scores = torch.sigmoid(full_precision(cls_logits))  # (A, C)
    pred_ious = None if iou_logits is None else torch.sigmoid(full_precision(iou_logits))  # (A,)
    if pred_ious is not None:
        scores = torch.sqrt(scores * pred_ious[:, None])  # (A, C)
    boxes, labels, kept_scores, anchor_inds = [], [], [], []
    starts = [0, *torch.tensor(num_level_anchors).cumsum(0).tolist()]
    for start, stop in zip(starts[:-1], starts[1:]):  # per level (module docstring)
        flat = scores[start:stop].flatten()  # (A_l * C,) (anchor, class) pairs
        keep = (flat > cfg.score_thr).nonzero()[:, 0]  # (K0,)
        if len(keep) > cfg.nms_pre:
            keep = keep[flat[keep].topk(cfg.nms_pre).indices]
        idx = start + keep // scores.shape[1]  # (K_l,) index into all A anchors
        boxes.append(coder.decode(anchors[idx], deltas[idx]))  # (K_l, 5)
        labels.append(keep % scores.shape[1])
        kept_scores.append(flat[keep])
        anchor_inds.append(idx)
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
