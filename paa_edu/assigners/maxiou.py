"""MaxIoU assignment (RetinaNet, and PAA's "vanilla" candidate pool), with rotated IoU.

Rules, exactly as mmdetection's ``MaxIoUAssigner`` (the numbers match the code below):

1. every anchor starts ignored (-1);
2. an anchor whose best IoU over all GTs is in ``[0, neg_iou_thr)`` becomes negative (0);
   ``neg_iou_thr`` may also be a range ``(lo, hi)``;
3. an anchor whose best IoU is ``>= pos_iou_thr`` is assigned to that best GT;
4. low-quality matches: every GT whose best IoU is ``>= min_pos_iou`` also claims its best
   anchor(s) (all anchors tied at that IoU when ``gt_max_assign_all``), overwriting step 3.
   GTs are processed in order, so on a tie between GTs the later GT wins (as mmdetection's loop).

Our one deliberate change (the ``min_pos_iou = 0`` pitfall): a GT whose best IoU is 0 overlaps no
anchor at all; in mmdetection it would claim *every* anchor of IoU 0 (the whole image). Here such
a GT gets no low-quality match, so step 4 requires ``best IoU > 0`` as well as ``>= min_pos_iou``.
"""
from __future__ import annotations

import torch
from torch import Tensor

from paa_edu.assigners.result import AssignResult, check_assign_inputs
from paa_edu.geometry.iou import box_iou_rotated


class MaxIoUAssigner:
    """Assign each anchor to the GT it overlaps most, with IoU thresholds.

    Args:
        pos_iou_thr: best IoU at or above which an anchor is positive.
        neg_iou_thr: best IoU below which an anchor is negative, or a range ``(lo, hi)``.
        min_pos_iou: a GT's best IoU must reach this for its low-quality match.
        gt_max_assign_all: low-quality match gives all tied best anchors (else only one).
        match_low_quality: enable step 4.
    """

    def __init__(self, pos_iou_thr: float, neg_iou_thr: float | tuple[float, float],
                 min_pos_iou: float = 0.0, gt_max_assign_all: bool = True,
                 match_low_quality: bool = True) -> None:
        lo, hi = (0.0, neg_iou_thr) if isinstance(neg_iou_thr, (int, float)) else neg_iou_thr
        if not 0.0 <= lo <= hi <= pos_iou_thr:
            raise ValueError(f"need 0 <= neg_iou_thr <= pos_iou_thr, got neg_iou_thr="
                             f"{neg_iou_thr}, pos_iou_thr={pos_iou_thr}")
        if min_pos_iou < 0:
            raise ValueError(f"min_pos_iou must be >= 0, got {min_pos_iou}")
        self.pos_iou_thr, self.neg_range = float(pos_iou_thr), (float(lo), float(hi))
        self.min_pos_iou = float(min_pos_iou)
        self.gt_max_assign_all = gt_max_assign_all
        self.match_low_quality = match_low_quality

    def __repr__(self) -> str:
        return (f"MaxIoUAssigner(pos_iou_thr={self.pos_iou_thr}, neg_iou_thr={self.neg_range}, "
                f"min_pos_iou={self.min_pos_iou}, gt_max_assign_all={self.gt_max_assign_all})")

    def assign(self, anchors: Tensor, gt_boxes: Tensor, gt_labels: Tensor,
               num_level_anchors: list[int] | None = None) -> AssignResult:
        """Assign anchors (A, 5) to GTs (G, 5) with labels (G,). Levels are not used."""
        check_assign_inputs(anchors, gt_boxes, gt_labels, num_level_anchors)
        if gt_boxes.shape[0] == 0 or anchors.shape[0] == 0:
            return AssignResult.all_negative(anchors.shape[0], gt_boxes.shape[0],
                                             anchors.device, anchors.dtype)
        ious = box_iou_rotated(gt_boxes, anchors)  # (G, A)
        return self.assign_from_ious(ious, gt_labels)

    def assign_from_ious(self, ious: Tensor, gt_labels: Tensor) -> AssignResult:
        """Steps 1-4 on a precomputed IoU matrix (G, A), GT in rows; G, A >= 1."""
        G, A = ious.shape
        max_overlaps, argmax_gt = ious.max(dim=0)  # (A,) best IoU of each anchor, its GT
        # 1. Everyone ignored (torch.where below, not boolean indexing: no GPU sync).
        gt_inds = torch.full((A,), -1, dtype=torch.long, device=ious.device)
        # 2. Negatives.
        lo, hi = self.neg_range
        gt_inds = torch.where((max_overlaps >= lo) & (max_overlaps < hi), 0, gt_inds)
        # 3. Positives: the best GT.
        gt_inds = torch.where(max_overlaps >= self.pos_iou_thr, argmax_gt + 1, gt_inds)
        # 4. Low-quality matches: each GT's best anchor(s).
        if self.match_low_quality:
            claim = self._low_quality_claims(ious)  # (A,) 1-based GT or 0
            gt_inds = torch.where(claim > 0, claim, gt_inds)
        labels = torch.where(gt_inds > 0, gt_labels.long()[(gt_inds - 1).clamp(min=0)], -1)
        return AssignResult(gt_inds, labels, max_overlaps, G)

    def _low_quality_claims(self, ious: Tensor) -> Tensor:
        """(A,) 1-based GT claiming each anchor in step 4 (the last such GT), 0 if none."""
        G, A = ious.shape
        gt_best, gt_argmax = ious.max(dim=1)  # (G,)
        allowed = (gt_best >= self.min_pos_iou) & (gt_best > 0)  # (G,) our zero-IoU guard
        order = torch.arange(1, G + 1, device=ious.device)  # (G,) 1-based GT numbers
        if self.gt_max_assign_all:
            ties = (ious == gt_best[:, None]) & allowed[:, None]  # (G, A)
            return (ties.long() * order[:, None]).amax(dim=0)  # (A,) later GT wins
        claim = torch.zeros(A, dtype=torch.long, device=ious.device)
        # A GT that is not allowed claims with 0, which amax ignores.
        return claim.scatter_reduce(0, gt_argmax, torch.where(allowed, order, 0), reduce="amax")
