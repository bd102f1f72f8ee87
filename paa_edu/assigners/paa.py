"""PAA: Probabilistic Anchor Assignment (Kim & Lee, ECCV 2020), rotated, batched over GTs.

Training calls it twice per image:

- :meth:`PAAAssigner.initial_assign` picks a generous *candidate pool* without the model:
  MaxIoU with thresholds 0.1 (the seed's "maxiou" row) or ATSS with topk 9 ("ATSS" row).
- the model scores every candidate, ``score = focal loss summed over classes + (-log IoU)``
  of its decoded box (lower is better), then :meth:`PAAAssigner.reassign` keeps the good ones:

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
from paa_edu.assigners.gmm import GMMFit, gmm_split
from paa_edu.assigners.maxiou import MaxIoUAssigner
from paa_edu.assigners.result import AssignResult, anchor_levels, check_num_level_anchors
from paa_edu.geometry.angles import NonFiniteError
from paa_edu.geometry.value_checks import trusted_values

#: The names ``model.assigner``, ``model.paa_init`` and ``model.paa_fallback`` accept.
ASSIGNERS = ("maxiou", "atss", "paa")
PAA_INITS = ("maxiou", "atss")
PAA_FALLBACKS = ("none", "best", "all")


@dataclass
class PAARecord:
    """What the split saw and decided for one image (CPU tensors, one row per GT).

    Attributes:
        scores: (G, K) candidate scores (0 at padding). valid: (G, K) bool.
        levels: (G, K) FPN level of each candidate (-1 at padding).
        anchor_inds: (G, K) anchor index of each candidate (-1 at padding).
        positives: (G, K) bool, the final positives (fallback included).
        fit: the fitted mixtures (:class:`GMMFit`, rows = GTs).
        fallback: (G,) bool, the split left the GT without a positive, so the fallback rule
            decided its positives (none, its best or all candidates).
    """

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


def _make_initial(init) -> object:
    if init == "maxiou":
        return MaxIoUAssigner(0.1, 0.1, min_pos_iou=0.0)
    if init == "atss":
        return ATSSAssigner(topk=9)
    if hasattr(init, "assign"):
        return init
    raise ValueError(f"init must be 'maxiou', 'atss' or an assigner object, got {init!r}")


class PAAAssigner:
    """Probabilistic anchor assignment (steps 1-4 of the module docstring).

    Args:
        init: ``"maxiou"``, ``"atss"`` or any object with ``.assign(...) -> AssignResult``.
        topk: candidates kept per GT and level before the GMM.
        reg_covar: GMM variance regulariser (1e-5 in the rotated reference heads).
        fallback: ``"none"``, ``"best"`` or ``"all"``: the positives of a GT the split left
            without any (step 3 of the module docstring); ``True``/``False`` (the earlier
            on/off switch) mean ``"best"``/``"none"``.
        record: keep a :class:`PAARecord` per image in ``last_records`` (for plots).
        backend: ``"torch"`` (batched) or ``"sklearn"`` (reference loop) for the GMM.
        tol, max_iter: the GMM's EM stopping rule (defaults: scikit-learn's, as in mmdetection).
    """

    def __init__(self, init="maxiou", topk: int = 9, reg_covar: float = 1e-5,
                 fallback: str = "best", record: bool = False, backend: str = "torch",
                 tol: float = 1e-3, max_iter: int = 100) -> None:
        if not isinstance(topk, int) or topk < 1:
            raise ValueError(f"topk must be an int >= 1, got {topk!r}")
        if backend not in ("torch", "sklearn"):
            raise ValueError(f"backend must be 'torch' or 'sklearn', got {backend!r}")
        if isinstance(fallback, bool):  # the earlier switch: True = ours, False = the seed's
            fallback = "best" if fallback else "none"
        if fallback not in PAA_FALLBACKS:
            raise ValueError(f"fallback must be one of {PAA_FALLBACKS}, got {fallback!r}")
        self.initial_assigner = _make_initial(init)
        self.topk, self.reg_covar, self.backend = topk, float(reg_covar), backend
        self.fallback, self.record = fallback, record
        self.tol, self.max_iter = float(tol), max_iter
        self.last_records: list[PAARecord] = []
        # (num_gts_split, fallback_count): GTs with candidates / left without positive by the
        # split (step 3, any mode), since creation or reset_stats(); see the properties
        self._stats: Tensor | int = 0

    def __repr__(self) -> str:
        return (f"PAAAssigner(init={self.initial_assigner!r}, topk={self.topk}, "
                f"reg_covar={self.reg_covar}, fallback={self.fallback!r}, "
                f"backend={self.backend!r})")

    @property
    def last_record(self) -> PAARecord | None:
        """Record of the last image seen (``record=True`` only)."""
        return self.last_records[-1] if self.last_records else None

    def reset_stats(self) -> None:
        self._stats = 0

    def initial_assign(self, anchors: Tensor, gt_boxes: Tensor, gt_labels: Tensor,
                       num_level_anchors: list[int]) -> AssignResult:
        """The candidate pool: the initial assigner's positives."""
        return self.initial_assigner.assign(anchors, gt_boxes, gt_labels, num_level_anchors)

    def reassign(self, initial: AssignResult, anchor_scores: Tensor,
                 num_level_anchors: list[int]) -> AssignResult:
        """Steps 1-4 for one image. ``anchor_scores`` (A,), read at initial positives only."""
        return self.reassign_many([initial], [anchor_scores], num_level_anchors)[0]

    def reassign_many(self, initials: list[AssignResult], anchor_scores: list[Tensor],
                      num_level_anchors: list[int]) -> list[AssignResult]:
        """Steps 1-4 for a batch of images, all GTs of all images in one GMM fit.

        Host-device syncs for the whole batch: one ``nonzero`` for the candidates, one check
        that their scores are finite, and the GMM's (:func:`fit_gmm_1d`); no per-image ones.
        """
        if len(initials) != len(anchor_scores):
            raise ValueError(f"got {len(initials)} initial results but {len(anchor_scores)} "
                             f"anchor_scores tensors")
        for res, s in zip(initials, anchor_scores):
            _check_scores(res, s, num_level_anchors)
        if not initials:
            return []
        # 1. One (row = GT of some image, K) table of the topk-per-level candidates.
        table = _candidate_table(initials, anchor_scores, num_level_anchors, self.topk)
        scores, valid, levels, anchors = table  # (R, K) each, R = GTs of all images
        if not bool((torch.isfinite(scores) | ~valid).all()):
            raise NonFiniteError("anchor_scores", "anchor_scores has NaN/Inf at an initial "
                                 "positive (candidate) anchor")
        # 2. GMM split, all rows at once (its inputs were just checked).
        with trusted_values():
            positives, fit = gmm_split(scores, valid, self.reg_covar, self.backend,
                                       return_fit=True, tol=self.tol, max_iter=self.max_iter)
        # 3. Fallback for the GTs with candidates but no positive: none, best or all.
        rescued = self._apply_fallback(scores, valid, positives)  # (R,) bool
        # 4. Write back: the selected anchors of every image at once.
        results = _write_back(initials, anchors, positives)
        if self.record:
            stops = torch.tensor([r.num_gts for r in initials]).cumsum(0).tolist()
            self.last_records = [_make_record(table, positives, fit, rescued, a, b)
                                 for a, b in zip([0] + stops[:-1], stops)]
        return results

    @property
    def fallback_count(self) -> int:
        """GTs the split left without positive (step 3, any mode) since creation /
        :meth:`reset_stats`."""
        return 0 if isinstance(self._stats, int) else int(self._stats[1])

    @property
    def num_gts_split(self) -> int:
        """GTs with at least one candidate that went through the split (same period)."""
        return 0 if isinstance(self._stats, int) else int(self._stats[0])

    def _apply_fallback(self, scores: Tensor, valid: Tensor, positives: Tensor) -> Tensor:
        """Step 3 in place on ``positives`` (R, K); returns (R,) the GTs it applied to.

        Counts stay on the device (read as ints through the properties): no sync per batch.
        """
        has_cand = valid.any(1)  # (R,)
        empty = has_cand & ~positives.any(1)  # (R,) GTs the split left without positive
        counts = torch.stack([has_cand.sum(), empty.sum()])  # (2,) on the device
        self._stats = counts if isinstance(self._stats, int) else self._stats + counts
        if self.fallback == "best":
            best = torch.where(valid, scores, torch.inf).argmin(1)  # (R,) best candidate column
            cols = torch.arange(scores.shape[1], device=scores.device)  # (K,)
            positives |= empty[:, None] & (cols[None, :] == best[:, None])  # (R, K)
        elif self.fallback == "all":
            positives |= empty[:, None] & valid  # (R, K) every candidate of those GTs
        return empty


def _check_scores(initial: AssignResult, scores: Tensor, num_level_anchors: list[int]) -> None:
    """Types and shapes (free); the values are checked once per batch in the table."""
    if not isinstance(initial, AssignResult):
        raise TypeError(f"initial must be an AssignResult, got {type(initial)}")
    check_num_level_anchors(num_level_anchors, initial.num_anchors)
    if not isinstance(scores, Tensor) or scores.shape != (initial.num_anchors,) \
            or not scores.is_floating_point():
        raise ValueError(f"anchor_scores must be a float tensor of shape ({initial.num_anchors},)"
                         f", got {getattr(scores, 'shape', type(scores))}")


def _run_starts(sorted_keys: Tensor) -> Tensor:
    """(N,) index of the first element of each element's run of equal keys (keys sorted).

    A running maximum of the run starts: no ``unique_consecutive``, whose output size would
    need a host-device sync.
    """
    pos = torch.arange(sorted_keys.numel(), device=sorted_keys.device)  # (N,)
    if sorted_keys.numel() == 0:
        return pos
    starts = torch.ones_like(sorted_keys, dtype=torch.bool)  # (N,) first element of a run
    starts[1:] = sorted_keys[1:] != sorted_keys[:-1]
    return torch.cummax(torch.where(starts, pos, 0), 0).values


def _rank_in_groups(sorted_keys: Tensor) -> Tensor:
    """(N,) position of each element inside its run of equal keys (keys sorted)."""
    return torch.arange(sorted_keys.numel(), device=sorted_keys.device) - _run_starts(sorted_keys)


def _candidate_table(initials, anchor_scores, num_level_anchors, topk):
    """Step 1: padded (R, K) table of the candidates of every GT row R (all images).

    K = L * topk, the most a row can hold (columns past a row's candidates are padding), so the
    table's size never waits for the data.
    """
    L = len(num_level_anchors)
    device = anchor_scores[0].device
    level_of_anchor = anchor_levels(num_level_anchors, device)  # (A,)
    # 1a. Every candidate of every image (one nonzero): its global GT row, level, score, anchor.
    gt_inds = torch.stack([res.gt_inds for res in initials]).to(device)  # (B, A)
    offsets = torch.tensor([0] + [r.num_gts for r in initials[:-1]]).cumsum(0).to(device)
    image, anchor = (gt_inds > 0).nonzero(as_tuple=True)  # (P,) each, image-major
    row = gt_inds[image, anchor] - 1 + offsets[image]
    level = level_of_anchor[anchor]
    score = torch.stack([s.detach() for s in anchor_scores])[image, anchor]
    # 1b. Sort by score, then (stably) by (row, level): ascending scores inside each group.
    order = torch.argsort(score, stable=True)
    key = (row * L + level)[order]
    order = order[torch.argsort(key, stable=True)]  # (P,)
    # 1c. The topk best of each (row, level) group; column = how many kept ones precede it in
    #     its row (a cumulative count instead of compacting the kept ones, which would sync).
    kept = _rank_in_groups((row * L + level)[order]) < topk  # (P,) in `order`
    before = kept.long().cumsum(0) - kept.long()  # (P,) kept candidates before this one
    rank = before - before[_run_starts(row[order])]  # (P,) ... in the same row
    R, K = sum(r.num_gts for r in initials), L * topk
    table_scores = torch.zeros(R, K + 1, dtype=score.dtype, device=device)
    table_valid = torch.zeros(R, K + 1, dtype=torch.bool, device=device)
    table_levels = torch.full((R, K + 1), -1, dtype=torch.long, device=device)
    table_anchors = torch.full((R, K + 1), -1, dtype=torch.long, device=device)
    # Dropped candidates go to the spare column K (removed below): no boolean indexing.
    idx = (row[order], torch.where(kept, rank, K))
    table_scores.index_put_(idx, torch.where(kept, score[order], 0.0))
    table_valid.index_put_(idx, kept)
    table_levels.index_put_(idx, torch.where(kept, level[order], -1))
    table_anchors.index_put_(idx, torch.where(kept, anchor[order], -1))
    return (table_scores[:, :K], table_valid[:, :K], table_levels[:, :K],
            table_anchors[:, :K])


def _write_back(initials: list[AssignResult], anchors: Tensor, positives: Tensor
                ) -> list[AssignResult]:
    """Step 4: initial positives not selected become negatives (every image at once).

    Args:
        initials: the B initial results. anchors: (R, K) anchor index of each candidate
            (-1 at padding). positives: (R, K) bool, the selected candidates.
    """
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


def _make_record(table, positives, fit: GMMFit, rescued, a: int, b: int) -> PAARecord:
    scores, valid, levels, anchors = table
    fit_rows = GMMFit(*(t[a:b].cpu() for t in (fit.weights, fit.means, fit.variances,
                                                fit.converged, fit.n_iter, fit.fitted)))
    return PAARecord(scores[a:b].cpu(), valid[a:b].cpu(), levels[a:b].cpu(),
                     anchors[a:b].cpu(), positives[a:b].cpu(), fit_rows, rescued[a:b].cpu())
