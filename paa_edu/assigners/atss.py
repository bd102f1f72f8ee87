"""ATSS: Adaptive Training Sample Selection (Zhang et al., CVPR 2020), for rotated boxes.

For every GT, all at once (no Python loop over GTs):

1. the distance between every GT centre and every anchor centre;
2. on each FPN level, the ``topk`` anchors whose centres are nearest the GT centre (fewer when a
   level has fewer anchors; equal distances go to the lower anchor index, :func:`k_nearest`)
   are the GT's candidates (at most ``L * topk``); the rotated IoU is computed for these
   (GT, candidate) pairs only -- nothing else can become positive, so the (G, A) IoU matrix of
   mmdetection's version is never needed;
3. the GT's IoU threshold is ``mean + std`` of its candidates' IoUs (unbiased std, as torch;
   with a single candidate the std is taken as 0 instead of NaN);
4. a candidate is positive when its IoU ``>= threshold`` and its centre lies inside the *rotated*
   GT, at least ``eps`` = 0.01 px from every side;
5. an anchor that is positive for several GTs goes to the GT with the highest IoU (first GT on
   ties); all other anchors are negative. ATSS never ignores anchors.

Read as written, steps 1-2 and 5 hold a (G, A) distance matrix and a (G, A) score table: that is
the reference (``use_grid=False``). With ``use_grid=True`` (the default) and anchors on a regular
grid (:func:`anchor_grid`), steps 1-2 look only at a window of cells around each GT centre
(:func:`nearest_in_window`) and step 5 reduces over the (G, Kc) candidates with
``scatter_reduce``: no (G, A) tensor, the same candidates and the same assignment.

``max_overlaps`` of the result is therefore the IoU with the assigned GT for positives and 0 for
every other anchor (mmdetection stores -inf there), not the largest IoU with any GT.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from paa_edu.assigners.result import AssignResult
from paa_edu.assigners.windows import anchor_grid, first_index, k_nearest, nearest_in_window
from paa_edu.geometry.iou import aligned_iou
from paa_edu.geometry.points import center_distances, points_in_rboxes


class ATSSAssigner:
    """Rotated ATSS: ``topk`` nearest anchors per level and GT, ``eps`` px margin of the centre
    test, ``use_grid``: search windows of the anchor grid (False = the dense reference)."""
    def __init__(self, topk: int = 9, eps: float = 0.01, use_grid: bool = True) -> None:
        if not isinstance(topk, int) or topk < 1:
            raise ValueError(f"topk must be an int >= 1, got {topk!r}")
        self.topk, self.eps, self.use_grid = topk, float(eps), use_grid

    def __repr__(self) -> str:
        return f"ATSSAssigner(topk={self.topk}, eps={self.eps})"

    def assign(self, anchors: Tensor, gt_boxes: Tensor, gt_labels: Tensor,
               num_level_anchors: list[int]) -> AssignResult:
        """Assign anchors (A, 5), concatenated level-major, to GTs (G, 5) with labels (G,)."""
        if num_level_anchors is None:
            raise ValueError("ATSSAssigner.assign needs num_level_anchors (anchors per level)")
        G, A = gt_boxes.shape[0], anchors.shape[0]
        if G == 0 or A == 0:
            return AssignResult.all_negative(A, G, anchors.device, anchors.dtype)
        cand, cand_ious, thr, inside = self.candidates(anchors, gt_boxes, num_level_anchors)
        is_pos = (cand_ious >= thr[:, None]) & inside  # (G, Kc)
        # 5. Each anchor to its highest-IoU GT among those that selected it.
        score = torch.where(is_pos, cand_ious, -math.inf)  # (G, Kc)
        best_gt = _best_gt_sparse if self.use_grid else _best_gt_dense
        best_iou, best_gt = best_gt(cand, score, A)  # (A,) each
        assigned = best_iou > -math.inf  # (A,)
        gt_inds = torch.where(assigned, best_gt + 1, 0)  # (A,)
        labels = torch.where(assigned, gt_labels.long()[best_gt], -1)  # (A,)
        max_overlaps = torch.where(assigned, best_iou, 0.0)  # (A,) IoU with the assigned GT
        return AssignResult(gt_inds, labels, max_overlaps, G)

    def candidates(self, anchors: Tensor, gt_boxes: Tensor, num_level_anchors: list[int]):
        """Steps 1-4 for every GT (at least one GT and one anchor): candidate anchor indices (G,
        Kc), their IoUs with the GT (G, Kc), the threshold ``mean + std`` (G,) and whether each
        centre lies inside the rotated GT (G, Kc); positives are ``(ious >= thr) & inside``."""
        # 1-2. Candidates: topk nearest per level, from windows or from all distances.
        grid = anchor_grid(anchors, num_level_anchors) if self.use_grid else None
        if grid is None:
            dist = center_distances(anchors[:, :2], gt_boxes)  # (G, A)
            cand = self._nearest_per_level(dist, num_level_anchors)  # (G, Kc) anchor indices
        else:
            cand = self._nearest_in_windows(grid, anchors, gt_boxes, num_level_anchors)
        cand_anchors = anchors[cand.reshape(-1)]  # (G * Kc, 5)
        boxes = gt_boxes[:, None, :].expand(-1, cand.shape[1], -1).reshape(-1, 5)  # (G * Kc, 5)
        cand_ious = aligned_iou(boxes, cand_anchors).view_as(cand)  # (G, Kc)
        # 3. Adaptive IoU threshold per GT.
        thr = cand_ious.mean(1) + _unbiased_std(cand_ious)  # (G,)
        # 4. Centre inside the rotated GT.
        inside = points_in_rboxes(cand_anchors[:, :2], boxes, self.eps, aligned=True)
        return cand, cand_ious, thr, inside.view_as(cand)

    def _nearest_per_level(self, dist: Tensor, num_level_anchors: list[int]) -> Tensor:
        """(G, Kc) indices of the min(topk, A_l) nearest anchors of every level, concatenated."""
        cands, start = [], 0
        for n in num_level_anchors:  # loop over the L levels, not over GTs
            if n > 0:
                inds = torch.arange(start, start + n, device=dist.device)  # (n,)
                cands.append(k_nearest(dist[:, start:start + n], inds, min(self.topk, n))[1])
            start += n
        return torch.cat(cands, dim=1)

    def _nearest_in_windows(self, grid: list, anchors: Tensor, gt_boxes: Tensor,
                            num_level_anchors: list[int]) -> Tensor:
        """As :meth:`_nearest_per_level`, searching a window of cells per GT and level; a GT whose
        window may miss one of its nearest anchors gets its row from the dense reference."""
        cands, ok = [], torch.ones(gt_boxes.shape[0], dtype=torch.bool, device=anchors.device)
        for level in grid:  # loop over the L levels, not over GTs
            k = min(self.topk, level.num_anchors)
            found = nearest_in_window(level, anchors, gt_boxes, k)  # (G, k), (G,)
            if found is None:  # the window holds fewer than k anchors: search the level
                stop = level.start + level.num_anchors
                dist = center_distances(anchors[level.start:stop, :2], gt_boxes)  # (G, A_l)
                inds = torch.arange(level.start, stop, device=anchors.device)  # (A_l,)
                found = k_nearest(dist, inds, k)[1], ok
            cands.append(found[0])
            ok = ok & found[1]
        cand = torch.cat(cands, dim=1)  # (G, Kc)
        if not bool(ok.all()):  # one host-device sync
            rows = (~ok).nonzero().squeeze(1)  # (F,) GTs to redo, few
            dist = center_distances(anchors[:, :2], gt_boxes[rows])  # (F, A)
            cand[rows] = self._nearest_per_level(dist, num_level_anchors)
        return cand


def _best_gt_dense(cand: Tensor, score: Tensor, num_anchors: int) -> tuple[Tensor, Tensor]:
    """Step 5, reference: each anchor's best score (A,) over the GTs of ``cand`` (G, Kc) (IoU at
    positives, -inf elsewhere) and that GT, the first one of a tie (``max``'s rule)."""
    scored = score.new_full((cand.shape[0], num_anchors), -math.inf)  # (G, A)
    scored.scatter_(1, cand, score)
    return scored.max(dim=0)  # (A,) each


def _best_gt_sparse(cand: Tensor, score: Tensor, num_anchors: int) -> tuple[Tensor, Tensor]:
    """Step 5 as :func:`_best_gt_dense`, reducing over the (G, Kc) pairs with ``scatter_reduce``;
    an anchor no pair reaches gets GT 0, as the dense ``max`` of -infs."""
    flat_anchor, flat_score = cand.reshape(-1), score.reshape(-1)  # (G * Kc,)
    gt = torch.arange(cand.shape[0], device=cand.device)[:, None].expand_as(cand).reshape(-1)
    best = score.new_full((num_anchors,), -math.inf)
    best = best.scatter_reduce(0, flat_anchor, flat_score, reduce="amax")  # (A,)
    at_best = (flat_score == best[flat_anchor]) & (flat_score > -math.inf)  # (G * Kc,)
    return best, first_index(flat_anchor, gt, at_best, num_anchors)  # (A,) each


def _unbiased_std(x: Tensor) -> Tensor:
    """(G,) unbiased std of each row of (G, K); 0 when K == 1 (torch would give NaN)."""
    if x.shape[1] < 2:
        return torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
    return x.std(dim=1, unbiased=True)
