"""PAA: Probabilistic Anchor Assignment (Kim & Lee, ECCV 2020), rotated, batched over GTs.

Training calls it twice per image:

- :meth:`PAAAssigner.initial_assign` picks a generous *candidate pool* without the model:
  MaxIoU with thresholds 0.1 (the seed's "maxiou" row) or ATSS with topk 9 ("ATSS" row).
- :func:`paa_scores` scores every candidate with the current predictions,
  ``score = focal loss summed over classes + (-log IoU)`` of its decoded box (lower is
  better: the anchor's own training loss), then :meth:`PAAAssigner.reassign` keeps the good ones:

1. per GT and per FPN level keep the ``topk`` (9) lowest-score candidates (at most ``L * topk``);
2. fit a two-component 1-D GMM to each GT's kept scores and split them (:func:`gmm_split`);
3. fallback: a GT with candidates but no positive after step 2 -- it had a single candidate,
   or the low-score component came out empty -- gets, by ``fallback``:
   ``"none"`` no positive (the seed's rotated heads and mmdetection: the GT is trained as
   background), ``"best"`` its best candidate (ours, the default: tiny DOTA objects often have
   one candidate) or ``"all"`` all its candidates (the original PAA). ``fallback_count``
   counts such GTs whatever the mode;
4. write back: initial positives not selected become negatives; ignores stay ignored; the
   selected anchors keep the GT of the initial assignment.

Every step works on all GTs of all images at once (a padded ``(G, K)`` table), so the only
Python loops are over FPN levels and images.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from paa_edu.assigners.atss import ATSSAssigner
from paa_edu.assigners.costs import anchor_costs
from paa_edu.assigners.gmm import GMMFit, gmm_split
from paa_edu.assigners.maxiou import MaxIoUAssigner
from paa_edu.assigners.result import (
    AssignResult,
    DenseOutputs,
    anchor_levels,
    batch_positives,
    positive_pairs,
)
from paa_edu.geometry import NonFiniteError

#: The names ``model.assigner``, ``model.paa_init`` and ``model.paa_fallback`` accept.
ASSIGNERS = ("maxiou", "atss", "paa")
PAA_INITS = ("maxiou", "atss")
PAA_FALLBACKS = ("none", "best", "all")


@torch.no_grad()
def paa_scores(dense: DenseOutputs, targets: list[dict], initials: list[AssignResult]
               ) -> Tensor:
    """PAA's score of every candidate (initial positive) of every image, (B, A), inf elsewhere,
    from the current predictions, detached, decoding only the candidates."""
    image, anchor, pred_boxes, gt_boxes = positive_pairs(dense, targets, initials)  # (P,), (P, 5)
    labels = torch.stack([r.labels for r in initials])[image, anchor]  # (P,)
    values = anchor_costs(dense.cls_logits.detach()[image, anchor], labels, pred_boxes,
                          gt_boxes)  # (P,)
    scores = torch.full(dense.cls_logits.shape[:2], float("inf"), dtype=values.dtype,
                        device=values.device)  # (B, A)
    scores[image, anchor] = values
    return scores


@dataclass
class PAARecord:
    """What the split saw and decided for one image (CPU tensors, one row per GT): the
    candidates' ``scores`` (0 at padding), ``valid``, FPN ``levels`` and ``anchor_inds`` (-1 at
    padding), the final ``positives`` (fallback included), all (G, K); the mixtures ``fit``;
    ``fallback`` (G,): the fallback rule decided the GT's positives."""
    scores: Tensor
    valid: Tensor
    levels: Tensor
    anchor_inds: Tensor
    positives: Tensor
    fit: GMMFit
    fallback: Tensor

    @property
    def num_gts(self) -> int:
        return self.scores.shape[0]

    def thresholds(self) -> Tensor:
        """(G,) the split threshold: largest positive score per GT (NaN without positives)."""
        pos_scores = torch.where(self.positives, self.scores.double(), -torch.inf).amax(1)
        return torch.where(self.positives.any(1), pos_scores, torch.nan)


class PAAAssigner:
    """Steps 1-4 of the module docstring. ``init``: ``"maxiou"``, ``"atss"`` or any object with
    ``.assign(...) -> AssignResult``;
    ``topk``: candidates kept per GT and level; ``reg_covar`` (1e-5 in the rotated heads),
    ``backend``, ``tol`` and ``max_iter``: the GMM's (:func:`gmm_split`); ``fallback``: step 3;
    ``record``: keep a :class:`PAARecord` per image in ``last_records`` (for plots).
    """
    def __init__(self, init="maxiou", topk: int = 9, reg_covar: float = 1e-5,
                 fallback: str = "best", record: bool = False, backend: str = "torch",
                 tol: float = 1e-3, max_iter: int = 100) -> None:
        if not isinstance(topk, int) or topk < 1:
            raise ValueError(f"topk must be an int >= 1, got {topk!r}")
        if backend not in ("torch", "sklearn"):
            raise ValueError(f"backend must be 'torch' or 'sklearn', got {backend!r}")
        if fallback not in PAA_FALLBACKS:
            raise ValueError(f"fallback must be one of {PAA_FALLBACKS}, got {fallback!r}")
        if init == "maxiou":
            init = MaxIoUAssigner(0.1, 0.1, min_pos_iou=0.0)
        elif init == "atss":
            init = ATSSAssigner(topk=9)
        elif not hasattr(init, "assign"):
            raise ValueError(f"init must be 'maxiou', 'atss' or an assigner object, got {init!r}")
        self.initial_assigner, self.topk, self.backend = init, topk, backend
        self.reg_covar, self.tol, self.max_iter = float(reg_covar), float(tol), max_iter
        self.fallback, self.record = fallback, record
        self.last_records: list[PAARecord] = []
        # (num_gts_split, fallback_count) on the device, since creation or reset_stats()
        self._stats: Tensor | int = 0

    def __repr__(self) -> str:
        return (f"PAAAssigner(init={self.initial_assigner!r}, topk={self.topk}, reg_covar="
                f"{self.reg_covar}, fallback={self.fallback!r}, backend={self.backend!r})")

    @property
    def last_record(self) -> PAARecord | None:
        """Record of the last image seen (``record=True`` only)."""
        return self.last_records[-1] if self.last_records else None

    def reset_stats(self) -> None:
        self._stats = 0

    def initial_assign(self, anchors: Tensor, gt_boxes: Tensor, gt_labels: Tensor,
                       num_level_anchors: list[int]) -> AssignResult:
        """The candidate pool of one image: the initial assigner's positives."""
        return self.initial_assigner.assign(anchors, gt_boxes, gt_labels, num_level_anchors)

    def reassign(self, initials: list[AssignResult], anchor_scores: Tensor,
                 num_level_anchors: list[int]) -> list[AssignResult]:
        """Steps 1-4 for B initial results and their ``anchor_scores`` (B, A) (or B tensors
        (A,)), read at the initial positives only (:func:`paa_scores`): B results."""
        if not initials:
            return []
        # 1. One (row = GT of some image, K) table of the topk-per-level candidates.
        table = _candidate_table(initials, anchor_scores, num_level_anchors, self.topk)
        scores, valid, levels, anchors = table  # (R, K) each, R = GTs of all images
        if not bool((torch.isfinite(scores) | ~valid).all()):
            raise NonFiniteError("anchor_scores", "anchor_scores has NaN/Inf at an initial "
                                 "positive (candidate) anchor")
        # 2. GMM split, all rows at once.
        positives, fit = gmm_split(scores, valid, self.reg_covar, self.backend,
                                   return_fit=True, tol=self.tol, max_iter=self.max_iter)
        # 3. Fallback for the GTs with candidates but no positive: none, best or all.
        rescued = self._apply_fallback(scores, valid, positives)  # (R,) bool
        # 4. Write back: the selected anchors of every image at once.
        results = _write_back(initials, anchors, positives)
        if self.record:
            stops = torch.tensor([r.num_gts for r in initials]).cumsum(0).tolist()
            self.last_records = [
                PAARecord(*(t[start:stop].cpu() for t in (*table, positives)),
                          GMMFit(*(t[start:stop].cpu() for t in vars(fit).values())),
                          rescued[start:stop].cpu())
                for start, stop in zip([0] + stops[:-1], stops)]
        return results

    @property
    def fallback_count(self) -> int:
        """GTs the split left without positive (step 3, any mode) since :meth:`reset_stats`."""
        return 0 if isinstance(self._stats, int) else int(self._stats[1])

    @property
    def num_gts_split(self) -> int:
        """GTs with at least one candidate that went through the split (same period)."""
        return 0 if isinstance(self._stats, int) else int(self._stats[0])

    def _apply_fallback(self, scores: Tensor, valid: Tensor, positives: Tensor) -> Tensor:
        """Step 3 in place on ``positives`` (R, K); returns (R,) the GTs it applied to."""
        has_cand = valid.any(1)  # (R,)
        empty = has_cand & ~positives.any(1)  # (R,) GTs the split left without positive
        counts = torch.stack([has_cand.sum(), empty.sum()])  # (2,) stays on the device
        self._stats = counts if isinstance(self._stats, int) else self._stats + counts
        if self.fallback == "best":
            best = torch.where(valid, scores, torch.inf).argmin(1)  # (R,) best candidate column
            cols = torch.arange(scores.shape[1], device=scores.device)  # (K,)
            positives |= empty[:, None] & (cols[None, :] == best[:, None])  # (R, K)
        elif self.fallback == "all":
            positives |= empty[:, None] & valid  # (R, K) every candidate of those GTs
        return empty


def _candidate_table_reference(initials, anchor_scores, num_level_anchors, topk):
    """Step 1 as a loop over the GTs: what :func:`_candidate_table` computes without one."""
    level_of_anchor = anchor_levels(num_level_anchors)  # (A,)
    rows = []  # (scores, levels, anchors) of each GT row
    for initial, scores in zip(initials, anchor_scores):
        for g in range(initial.num_gts):
            cand = (initial.gt_inds == g + 1).nonzero()[:, 0]  # (n,) this GT's candidates
            kept = []
            for level in range(len(num_level_anchors)):  # the topk best of every level
                here = cand[level_of_anchor[cand] == level]  # ascending anchor index
                kept.append(here[torch.argsort(scores[here], stable=True)[:topk]])
            kept = torch.cat(kept)  # level by level, the best first
            rows.append((scores[kept], level_of_anchor[kept], kept))
    RK = (len(rows), len(num_level_anchors) * topk)
    table = (torch.zeros(RK, dtype=anchor_scores[0].dtype), torch.zeros(RK, dtype=torch.bool),
             torch.full(RK, -1), torch.full(RK, -1))  # (R, K) scores, valid, levels, anchors
    for r, (scores, levels, anchors) in enumerate(rows):
        for column, value in zip(table, (scores, True, levels, anchors)):
            column[r, :len(anchors)] = value
    return table


def _candidate_table(initials, anchor_scores, num_level_anchors, topk):
    """Step 1: the padded (R, K) table of the candidates of every GT row R (all images).

    K = L * topk, the most a row can hold (columns past a row's candidates are padding). Same
    table as :func:`_candidate_table_reference`: a row's candidates, level by level, best first.

    Example, one image, 2 levels, topk 2. GT 1 has candidates at anchors 3 (score 0.5),
    5 (0.1), 7 (0.9) on level 0 and anchor 12 (0.4) on level 1; GT 2 one candidate, anchor 8
    (0.2), on level 0. Rows and groups after the two sorts (1b)::

        order:       5    3    7    12   8          row:  0  0  0  0  1
        (row, lvl): (0,0)(0,0)(0,0)(0,1)(1,0)      kept: T  T  F  T  T  (rank < topk)
        kept_before: 0    1    2    2    3          column: 0  1  K  2  0

    so row 0 = [0.1, 0.5, 0.4, pad], row 1 = [0.2, pad, pad, pad]; anchor 7 went to the spare
    column K, which is sliced off.
    """
    L = len(num_level_anchors)
    device = anchor_scores[0].device
    level_of_anchor = anchor_levels(num_level_anchors, device)  # (A,)
    # 1a. Every candidate of every image (one nonzero): its GT row, level, score, anchor.
    image, anchor, row = batch_positives(initials)  # (P,) each, image-major
    level = level_of_anchor[anchor]
    score = torch.stack([s.detach() for s in anchor_scores])[image, anchor]
    # 1b. Sort by score, then (stably) by (row, level): ascending scores inside each group.
    order = torch.argsort(score, stable=True)
    order = order[torch.argsort((row * L + level)[order], stable=True)]  # (P,)
    key = (row * L + level)[order]  # (P,) sorted
    # 1c. The topk best of each (row, level) group; column = kept candidates before it in its row.
    rank = torch.arange(order.numel(), device=device) - _run_starts(key)  # (P,) in its group
    kept = rank < topk  # (P,) in `order`
    kept_before = kept.long().cumsum(0) - kept.long()  # (P,) kept candidates before this one
    column = kept_before - kept_before[_run_starts(row[order])]  # (P,) ... in the same row
    R, K = sum(r.num_gts for r in initials), L * topk
    # Dropped candidates go to the spare column K (removed below): no boolean indexing.
    idx = (row[order], torch.where(kept, column, K))
    values = (score[order], kept, level[order], anchor[order])  # (P,) each
    return tuple(torch.full((R, K + 1), pad, dtype=v.dtype, device=device)
                 .index_put_(idx, torch.where(kept, v, pad))[:, :K]  # scores, valid, levels,
                 for v, pad in zip(values, (0.0, False, -1, -1)))  # anchors: (R, K) each


def _run_starts(sorted_keys: Tensor) -> Tensor:
    """(N,) index of the first element of each element's run of equal keys (keys sorted): a
    running maximum of the run starts (``unique_consecutive``'s output size would sync)."""
    pos = torch.arange(sorted_keys.numel(), device=sorted_keys.device)  # (N,)
    if sorted_keys.numel() == 0:
        return pos
    starts = torch.ones_like(sorted_keys, dtype=torch.bool)  # (N,) first element of a run
    starts[1:] = sorted_keys[1:] != sorted_keys[:-1]
    return torch.cummax(torch.where(starts, pos, 0), 0).values


def _write_back(initials: list[AssignResult], anchors: Tensor, positives: Tensor
                ) -> list[AssignResult]:
    """Step 4, every image at once: initial positives not among the selected candidates
    ``positives`` (R, K) (``anchors`` (R, K), -1 at padding) become negatives."""
    A = initials[0].num_anchors
    image_of_row = torch.tensor([b for b, r in enumerate(initials) for _ in range(r.num_gts)],
                                dtype=torch.long, device=anchors.device)  # (R,)
    flat = image_of_row[:, None] * A + anchors.clamp(min=0)  # (R, K) index into (B * A)
    hits = torch.zeros(len(initials) * A, dtype=torch.long, device=anchors.device)
    hits.index_put_((flat.reshape(-1),), (positives & (anchors >= 0)).long().reshape(-1),
                    accumulate=True)
    keep = hits.view(len(initials), A) > 0  # (B, A) selected anchors
    results = []
    for initial, keep_b in zip(initials, keep):
        gt_inds = torch.where(initial.pos_mask & ~keep_b, 0, initial.gt_inds)  # (A,)
        labels = torch.where(gt_inds > 0, initial.labels, -1)  # (A,)
        results.append(AssignResult(gt_inds, labels, initial.max_overlaps, initial.num_gts))
    return results
