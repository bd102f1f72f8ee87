"""The per-anchor losses of training, which are also PAA's anchor score (lower = better).

- classification: sigmoid focal loss (alpha 0.25, gamma 2) against the one-hot class;
- localisation: ``-log(clamp(IoU(pred, gt), 1e-6))`` on the decoded box (the rotated PAA heads
  use -log IoU where horizontal PAA uses GIoU).

:mod:`paa_edu.model.losses` reduces them over a batch; :func:`anchor_costs` adds them per
candidate, as PAA scores its candidates (:func:`paa_edu.assigners.paa.paa_scores`).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from paa_edu.geometry import full_precision
from paa_edu.geometry.iou import aligned_iou

IOU_EPS = 1e-6  # -log(1e-6) = 13.8 caps the loss of a box that misses its GT


def sigmoid_focal_loss(logits: Tensor, targets: Tensor, alpha: float = 0.25,
                       gamma: float = 2.0) -> Tensor:
    """Unreduced focal loss (Lin et al. 2017, eq. 5) on independent sigmoids: logits (..., C)
    and one-hot float targets (..., C) -> (..., C) loss per element."""
    logits = full_precision(logits)
    p = torch.sigmoid(logits)
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)  # probability of the true outcome
    alpha_t = alpha * targets + (1 - alpha) * (1 - targets)
    return alpha_t * (1 - p_t) ** gamma * ce


def one_hot_targets(labels: Tensor, num_classes: int) -> Tensor:
    """labels (N,) long with -1 (or >= C) = background -> (N, C) float one-hot, without a sync."""
    valid = (labels >= 0) & (labels < num_classes)
    column = torch.where(valid, labels, num_classes)  # (N,) background -> the spare column C
    targets = torch.zeros(len(labels), num_classes + 1, device=labels.device)
    return targets.scatter_(1, column[:, None], 1.0)[:, :num_classes]


def rotated_iou_loss(pred_boxes: Tensor, target_boxes: Tensor) -> tuple[Tensor, Tensor]:
    """``-log(clamp(IoU))`` of aligned box pairs (P, 5) x (P, 5), and the IoU itself, (P,)
    each, both differentiable w.r.t. ``pred_boxes``."""
    dtype = torch.promote_types(pred_boxes.dtype, torch.float32)  # half -> float32; keeps f64
    ious = aligned_iou(pred_boxes.to(dtype), target_boxes.to(dtype))  # (P,)
    return -torch.log(ious.clamp(min=IOU_EPS)), ious


def anchor_costs(cls_logits: Tensor, labels: Tensor, pred_boxes: Tensor,
                 gt_boxes: Tensor) -> Tensor:
    """PAA's score (P,) of candidate anchors, lower = better: focal loss summed over classes
    + (-log IoU), from logits (P, C), GT classes (P,), decoded boxes (P, 5) and GT boxes (P, 5)."""
    targets = one_hot_targets(labels, cls_logits.shape[1])  # (P, C)
    cls_score = sigmoid_focal_loss(cls_logits, targets).sum(dim=1)  # (P,)
    loc_score, _ = rotated_iou_loss(pred_boxes, gt_boxes)  # (P,)
    return cls_score + loc_score
