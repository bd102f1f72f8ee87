"""The losses of rotated PAA over a batch (per anchor: :mod:`paa_edu.assigners.costs`).

- classification: sigmoid focal loss over all anchors and classes, divided by ``max(num_pos, B)``;
- regression: ``-log(clamp(IoU(pred, gt), 1e-6))`` on the *decoded* boxes of the positives,
  weighted by the IoU target ``t = IoU(pred.detach(), gt)`` and divided by ``sum(t)``;
- IoU branch: BCE-with-logits against ``t`` (a soft target), summed / num_pos, times 0.5.

Under several processes the counts are each rank's own by default, as in the seed (one GPU)
and mmdet's ``PAAHead``; ``average_over_ranks=True`` (``train.reduce_num_pos``) divides by
the mean over ranks of ``num_pos`` and of ``sum(t)`` instead, as the original PAA does.
"""
from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor

from paa_edu.assigners.costs import one_hot_targets, rotated_iou_loss, sigmoid_focal_loss
from paa_edu.geometry import full_precision


def detection_losses(cls_logits: Tensor, labels: Tensor, pos_pred_boxes: Tensor,
                     pos_gt_boxes: Tensor, pos_iou_logits: Tensor | None, num_images: int,
                     reg_weight: float = 1.0, iou_weight: float = 0.5,
                     graph_anchor: Tensor | None = None,
                     average_over_ranks: bool = False) -> dict[str, Tensor]:
    """The module docstring's scalars ``loss_cls``, ``loss_bbox`` and, with IoU logits,
    ``loss_iou``. ``cls_logits`` (N, C) and ``labels`` (N,) (-1 for negatives) cover the anchors
    of all images; the positives' decoded boxes (P, 5) (differentiable), their GT boxes (P, 5)
    and their IoU logits (P,) or None. ``num_images`` B bounds the classification normaliser
    from below. ``graph_anchor`` (e.g. all deltas; default ``pos_pred_boxes``) keeps the
    regression graph alive through ``0 * sum()`` when P = 0. ``average_over_ranks``: every rank
    must call this equally often (it all-reduces, even when P = 0)."""
    num_pos = len(pos_pred_boxes)
    targets = one_hot_targets(labels, cls_logits.shape[1])  # (N, C)
    if num_pos > 0:
        loss_iou_each, ious = rotated_iou_loss(pos_pred_boxes, pos_gt_boxes)  # (P,), (P,)
        iou_targets = ious.detach().clamp(min=1e-12)  # (P,) t: quality of each positive
        pos_norm, target_norm = num_pos, iou_targets.sum()
    else:
        pos_norm, target_norm = 0, cls_logits.new_zeros((), dtype=torch.float32)
    if average_over_ranks:  # kkhoot/PAA: max(mean over ranks, 1) for both normalisers
        pos_norm, target_norm = mean_over_ranks(torch.stack(
            [target_norm.new_tensor(float(pos_norm)), target_norm.float()])).tolist()
        pos_norm, target_norm = max(pos_norm, 1.0), max(target_norm, 1e-12)
    loss_cls = sigmoid_focal_loss(cls_logits, targets).sum() / max(pos_norm, num_images)
    if num_pos == 0:
        zero = 0.0 * (graph_anchor if graph_anchor is not None else pos_pred_boxes).sum()
        losses = {"loss_cls": loss_cls, "loss_bbox": zero}
        if pos_iou_logits is not None:
            losses["loss_iou"] = 0.0 * pos_iou_logits.sum() + zero
        return losses
    loss_bbox = (iou_targets * loss_iou_each).sum() / target_norm
    losses = {"loss_cls": loss_cls, "loss_bbox": reg_weight * loss_bbox}
    if pos_iou_logits is not None:
        bce = F.binary_cross_entropy_with_logits(full_precision(pos_iou_logits), iou_targets,
                                                 reduction="sum")
        losses["loss_iou"] = iou_weight * bce / pos_norm
    return losses


def mean_over_ranks(values: torch.Tensor) -> torch.Tensor:
    """The element-wise mean of ``values`` over ranks (a copy; ``values`` itself on one process);
    not differentiable (all-reduce has no autograd): for logged numbers and normalisers."""
    if not (dist.is_available() and dist.is_initialized()):
        return values
    total = values.detach().clone()
    dist.all_reduce(total)
    return total / dist.get_world_size()
