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

:meth:`MaxIoUAssigner.assign_from_ious` applies the rules to the dense (G, A) IoU matrix: the
reference (``use_grid=False``). Almost all of that matrix is 0 at DOTA density, so with
``use_grid=True`` (the default) and anchors on a regular grid, the IoU is computed only for the
(GT, anchor) pairs that can overlap (:func:`~paa_edu.assigners.windows.overlap_ious`) and
:meth:`~MaxIoUAssigner.assign_from_pairs` applies the same rules to these pairs with
``scatter_reduce``, ties included: same result, no (G, A) tensor.
"""
from __future__ import annotations

import torch
from torch import Tensor

from paa_edu.assigners.result import AssignResult
from paa_edu.assigners.windows import anchor_grid, first_index, overlap_ious
from paa_edu.geometry.iou import box_iou_rotated


class MaxIoUAssigner:
    """Steps 1-4 of the module docstring; ``match_low_quality`` enables step 4, ``use_grid``: IoUs
    only where anchors of the grid can overlap (same result; False = the dense reference)."""
    def __init__(self, pos_iou_thr: float, neg_iou_thr: float | tuple[float, float],
                 min_pos_iou: float = 0.0, gt_max_assign_all: bool = True,
                 match_low_quality: bool = True, use_grid: bool = True) -> None:
        lo, hi = (0.0, neg_iou_thr) if isinstance(neg_iou_thr, (int, float)) else neg_iou_thr
        if not 0.0 <= lo <= hi <= pos_iou_thr:
            raise ValueError(f"need 0 <= neg_iou_thr <= pos_iou_thr, got neg_iou_thr="
                             f"{neg_iou_thr}, pos_iou_thr={pos_iou_thr}")
        if min_pos_iou < 0:
            raise ValueError(f"min_pos_iou must be >= 0, got {min_pos_iou}")
        self.pos_iou_thr, self.neg_range = float(pos_iou_thr), (float(lo), float(hi))
        self.min_pos_iou, self.gt_max_assign_all = float(min_pos_iou), gt_max_assign_all
        self.match_low_quality, self.use_grid = match_low_quality, use_grid

    def __repr__(self) -> str:
        return (f"MaxIoUAssigner(pos_iou_thr={self.pos_iou_thr}, neg_iou_thr={self.neg_range}, "
                f"min_pos_iou={self.min_pos_iou}, gt_max_assign_all={self.gt_max_assign_all})")

    def assign(self, anchors: Tensor, gt_boxes: Tensor, gt_labels: Tensor,
               num_level_anchors: list[int] | None = None) -> AssignResult:
        """Assign anchors (A, 5) to GTs (G, 5) with labels (G,); ``num_level_anchors`` only tells
        where the grid of each level starts (``use_grid``)."""
        if gt_boxes.shape[0] == 0 or anchors.shape[0] == 0:
            return AssignResult.all_negative(anchors.shape[0], gt_boxes.shape[0],
                                             anchors.device, anchors.dtype)
        grid = anchor_grid(anchors, num_level_anchors) if self.use_grid else None
        if grid is None:
            ious = box_iou_rotated(gt_boxes, anchors)  # (G, A)
            return self.assign_from_ious(ious, gt_labels)
        gt, anchor, iou = overlap_ious(grid, anchors, gt_boxes)  # (P,) each
        return self.assign_from_pairs(gt, anchor, iou, gt_labels, anchors.shape[0])

    def assign_from_ious(self, ious: Tensor, gt_labels: Tensor) -> AssignResult:
        """Steps 1-4 on a precomputed IoU matrix (G, A), GT in rows; G, A >= 1."""
        max_overlaps, argmax_gt = ious.max(dim=0)  # (A,) best IoU of each anchor, its GT
        claim = self._low_quality_claims(ious) if self.match_low_quality else None  # (A,)
        return self._apply_rules(max_overlaps, argmax_gt, claim, gt_labels)

    def assign_from_pairs(self, gt: Tensor, anchor: Tensor, iou: Tensor, gt_labels: Tensor,
                          num_anchors: int) -> AssignResult:
        """Steps 1-4 on the IoUs of sparse pairs ``gt``, ``anchor`` (P,) (each pair at most once):
        :meth:`assign_from_ious` on the (G, A) matrix holding ``iou`` there and 0 elsewhere."""
        G = gt_labels.shape[0]
        # Each anchor's best IoU (0 without pairs, as a column of zeros) and its first GT.
        max_overlaps = iou.new_zeros(num_anchors).scatter_reduce(0, anchor, iou, reduce="amax")
        at_best = (iou == max_overlaps[anchor]) & (iou > 0)  # (P,) a zero column: GT 0
        argmax_gt = first_index(anchor, gt, at_best, num_anchors)  # (A,)
        claim = None
        if self.match_low_quality:
            claim = self._low_quality_claims_sparse(gt, anchor, iou, G, num_anchors)
        return self._apply_rules(max_overlaps, argmax_gt, claim, gt_labels)

    def _apply_rules(self, max_overlaps: Tensor, argmax_gt: Tensor, claim: Tensor | None,
                     gt_labels: Tensor) -> AssignResult:
        """Steps 1-4 from each anchor's (A,) best IoU, its best GT and the low-quality claims."""
        A = max_overlaps.shape[0]
        # 1. Everyone ignored (torch.where below, not boolean indexing: no GPU sync).
        gt_inds = torch.full((A,), -1, dtype=torch.long, device=max_overlaps.device)
        # 2. Negatives.
        lo, hi = self.neg_range
        gt_inds = torch.where((max_overlaps >= lo) & (max_overlaps < hi), 0, gt_inds)
        # 3. Positives: the best GT.
        gt_inds = torch.where(max_overlaps >= self.pos_iou_thr, argmax_gt + 1, gt_inds)
        # 4. Low-quality matches: each GT's best anchor(s), claim (A,) 1-based GT or 0.
        if claim is not None:
            gt_inds = torch.where(claim > 0, claim, gt_inds)
        labels = torch.where(gt_inds > 0, gt_labels.long()[(gt_inds - 1).clamp(min=0)], -1)
        return AssignResult(gt_inds, labels, max_overlaps, gt_labels.shape[0])

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
        return claim.scatter_reduce(0, gt_argmax, torch.where(allowed, order, 0), reduce="amax")

    def _low_quality_claims_sparse(self, gt: Tensor, anchor: Tensor, iou: Tensor,
                                   num_gts: int, num_anchors: int) -> Tensor:
        """:meth:`_low_quality_claims` from the pairs (an allowed GT claims among its pairs)."""
        gt_best = iou.new_zeros(num_gts).scatter_reduce(0, gt, iou, reduce="amax")  # (G,)
        allowed = (gt_best >= self.min_pos_iou) & (gt_best > 0)  # (G,)
        ties = (iou == gt_best[gt]) & allowed[gt]  # (P,) pairs at their GT's best IoU
        claim = torch.zeros(num_anchors, dtype=torch.long, device=iou.device)
        if self.gt_max_assign_all:  # every tied anchor, the later GT wins
            return claim.scatter_reduce(0, anchor, torch.where(ties, gt + 1, 0), reduce="amax")
        gt_argmax = first_index(gt, anchor, ties, num_gts)  # (G,) first best anchor
        claims = torch.where(allowed, torch.arange(1, num_gts + 1, device=iou.device), 0)
        return claim.scatter_reduce(0, gt_argmax, claims, reduce="amax")

