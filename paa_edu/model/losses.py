"""Losses of rotated PAA and the per-anchor score that drives PAA's assignment.

paa_spec.md, step 2 (anchor score) and step 7 (losses):

- classification: sigmoid focal loss (alpha 0.25, gamma 2) over all anchors and classes,
  divided by ``max(num_pos, B)``;
- regression: ``-log(clamp(IoU(pred, gt), 1e-6))`` on the *decoded* boxes of the positives,
  weighted by the IoU target ``t = IoU(pred.detach(), gt)`` and divided by ``sum(t)``
  (the rotated PAA heads use -log IoU where horizontal PAA uses GIoU);
- IoU branch: BCE-with-logits against ``t`` (a soft target), summed / num_pos, times 0.5.

Under several processes the counts are each rank's own by default, as in the seed (one GPU)
and mmdet's ``PAAHead``; ``average_over_ranks=True`` (``train.reduce_num_pos``) divides by
the mean over ranks of ``num_pos`` and of ``sum(t)`` instead, as the original PAA does.

IoUs come from :func:`paa_edu.geometry.box_iou_rotated` (exact and differentiable).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor

from paa_edu.geometry import box_iou_rotated, full_precision

if TYPE_CHECKING:
    from paa_edu.assigners import AssignResult

IOU_EPS = 1e-6  # -log(1e-6) = 13.8 caps the loss of a box that misses its GT


def sigmoid_focal_loss(logits: Tensor, targets: Tensor, alpha: float = 0.25,
                       gamma: float = 2.0) -> Tensor:
    """Unreduced focal loss (Lin et al. 2017, eq. 5) on independent sigmoids.

    Args:
        logits: (..., C) float.
        targets: (..., C) one-hot (float, 0/1).
    Returns:
        (..., C) loss per element.
    """
    logits = full_precision(logits)
    p = torch.sigmoid(logits)
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)  # probability of the true outcome
    alpha_t = alpha * targets + (1 - alpha) * (1 - targets)
    return alpha_t * (1 - p_t) ** gamma * ce


def one_hot_targets(labels: Tensor, num_classes: int) -> Tensor:
    """labels (N,) long with -1 (or >= C) = background -> (N, C) float one-hot.

    Built with a scatter into a spare background column: no data-dependent indexing, so no
    host-device sync on a GPU.
    """
    valid = (labels >= 0) & (labels < num_classes)
    column = torch.where(valid, labels, num_classes)  # (N,) background -> the spare column C
    targets = torch.zeros(len(labels), num_classes + 1, device=labels.device)
    return targets.scatter_(1, column[:, None], 1.0)[:, :num_classes]


def rotated_iou_loss(pred_boxes: Tensor, target_boxes: Tensor) -> tuple[Tensor, Tensor]:
    """``-log(clamp(IoU))`` of aligned box pairs, and the IoU itself.

    Args:
        pred_boxes: (P, 5) decoded predictions (gradients flow through them).
        target_boxes: (P, 5) assigned GT boxes.
    Returns:
        loss (P,), ious (P,) (both differentiable w.r.t. ``pred_boxes``).
    """
    dtype = torch.promote_types(pred_boxes.dtype, torch.float32)  # half -> float32; keeps f64
    ious = box_iou_rotated(pred_boxes.to(dtype), target_boxes.to(dtype), aligned=True)  # (P,)
    return -torch.log(ious.clamp(min=IOU_EPS)), ious


@torch.no_grad()
def candidate_scores(cls_logits: Tensor, labels: Tensor, pred_boxes: Tensor,
                     gt_boxes: Tensor) -> Tensor:
    """PAA's score of candidate anchors (paa_spec step 2), lower = better.

    score = sum over classes of the focal loss with the assigned label + (-log IoU(box, GT)).

    Args:
        cls_logits: (P, C) logits of the candidates. labels: (P,) their GTs' classes.
        pred_boxes: (P, 5) their decoded boxes. gt_boxes: (P, 5) their GTs.
    Returns:
        (P,) float scores.
    """
    targets = one_hot_targets(labels, cls_logits.shape[1])  # (P, C)
    cls_score = sigmoid_focal_loss(cls_logits, targets).sum(dim=1)  # (P,)
    loc_score, _ = rotated_iou_loss(pred_boxes, gt_boxes)  # (P,)
    return cls_score + loc_score


@torch.no_grad()
def paa_anchor_scores(cls_logits: Tensor, pred_boxes: Tensor, assign: AssignResult,
                      gt_boxes: Tensor) -> Tensor:
    """:func:`candidate_scores` of one image at its initial positives, ``inf`` elsewhere.

    Args:
        cls_logits: (A, C) classification logits of one image.
        pred_boxes: (A, 5) decoded predicted boxes (only rows of positives are read).
        assign: the initial assignment (``gt_inds`` 1-based, ``labels``).
        gt_boxes: (G, 5).
    Returns:
        (A,) float scores; ``inf`` for anchors that are not initial positives.
    """
    if cls_logits.dim() != 2 or pred_boxes.shape != (cls_logits.shape[0], 5):
        raise ValueError(f"cls_logits must be (A, C) and pred_boxes (A, 5); got "
                         f"{tuple(cls_logits.shape)} and {tuple(pred_boxes.shape)}")
    scores = torch.full((cls_logits.shape[0],), float("inf"), device=cls_logits.device,
                        dtype=full_precision(pred_boxes).dtype)  # (A,)
    pos = assign.pos_mask.nonzero()[:, 0]  # (P,)
    if len(pos) == 0:
        return scores
    scores[pos] = candidate_scores(cls_logits[pos], assign.labels[pos], pred_boxes[pos],
                                   gt_boxes[assign.gt_inds[pos] - 1])
    return scores


def detection_losses(cls_logits: Tensor, labels: Tensor, pos_pred_boxes: Tensor,
                     pos_gt_boxes: Tensor, pos_iou_logits: Tensor | None, num_images: int,
                     reg_weight: float = 1.0, iou_weight: float = 0.5,
                     graph_anchor: Tensor | None = None,
                     average_over_ranks: bool = False) -> dict[str, Tensor]:
    """The three PAA losses over a whole batch (paa_spec step 7).

    Args:
        cls_logits: (N, C) logits of all anchors of all images.
        labels: (N,) long, class of each positive, -1 for negatives.
        pos_pred_boxes: (P, 5) decoded boxes of the positives (differentiable).
        pos_gt_boxes: (P, 5) their GT boxes.
        pos_iou_logits: (P,) IoU-branch logits of the positives, or None (no IoU branch).
        num_images: B, the lower bound of the classification normaliser.
        reg_weight, iou_weight: loss weights (1.0 and 0.5 in rotated PAA).
        graph_anchor: a tensor whose ``0 * sum()`` keeps the regression graph alive when P=0
            (e.g. all deltas); defaults to ``pos_pred_boxes``.
        average_over_ranks: normalise by the mean over processes of ``num_pos`` and of
            ``sum(t)`` (original PAA) instead of this process's own (seed, mmdet). Every rank
            must call this the same number of times (it all-reduces, even when P = 0).
    Returns:
        dict ``loss_cls``, ``loss_bbox`` and (with the IoU branch) ``loss_iou``, scalars.
    """
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
    """The element-wise mean of ``values`` over ranks (a copy; ``values`` itself on one process).

    Not differentiable (all-reduce has no autograd): use it for logged numbers and normalisers.
    """
    if not (dist.is_available() and dist.is_initialized()):
        return values
    total = values.detach().clone()
    dist.all_reduce(total)
    return total / dist.get_world_size()
