"""Greedy non-maximum suppression (NMS) for rotated boxes, with the exact IoU of ``iou.py``.

Greedy NMS visits the boxes from the highest score down; a box is kept unless a box kept before
it overlaps it with IoU > ``iou_threshold``. Most boxes of a dense scene are suppressed early and
never need to be compared again, so ``method="blocks"`` (the reference) does not compute the IoU
of *all* pairs first but walks the ranks block by block (``method="graph"``, the default, gets
the same keep set from one sparse IoU pass and parallel rounds: :mod:`.nms_graph`):

1. Sort the boxes by decreasing score (stable: ties keep their input order) and mark all alive.
2. Take the next block of ``_BLOCK`` ranks and drop the boxes that are no longer alive.
3. Inside the block, run the greedy rule exactly on the IoUs of the block's pairs.
4. The boxes kept in the block suppress every later alive box they overlap with IoU > thr:
   one batched IoU call between "kept in this block" and "alive after this block".
5. Repeat from 2. The kept boxes of all blocks, in rank order, are the answer.

Only pairs that pass two exact, cheap tests reach the polygon clipping: the overlap test of
:func:`~paa_edu.geometry.iou.may_overlap`, and the area test ``min(area) / max(area) > thr``
(IoU never exceeds that ratio: inter <= min(area) and union >= max(area)).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from paa_edu.geometry.checks import check_boxes
from paa_edu.geometry.iou import overlap_candidates, pair_overlaps
from paa_edu.geometry.nms_graph import graph_nms

_BLOCK = 512  # ranks handled per greedy step


def nms_rotated(boxes: Tensor, scores: Tensor, iou_threshold: float,
                method: str = "graph") -> Tensor:
    """Greedy rotated NMS: (K,) int64 indices of the kept boxes (N, 5), by decreasing score (N,);
    a box is suppressed when its IoU with a kept box is > ``iou_threshold``. ``method``:
    ``"blocks"`` (the reference) or ``"graph"`` (module docstring)."""
    _check_nms_inputs(boxes, scores, iou_threshold, method)
    return _greedy_nms(boxes, scores, float(iou_threshold), None, method)


def batched_nms_rotated(boxes: Tensor, scores: Tensor, labels: Tensor,
                        iou_threshold: float, method: str = "graph") -> Tensor:
    """Class-wise rotated NMS (``labels`` (N,) integer): one NMS on all boxes, candidate pairs
    with different labels dropped before any IoU (shifting each class far away, as mmcv does,
    would cost float32 precision)."""
    _check_nms_inputs(boxes, scores, iou_threshold, method)
    if not isinstance(labels, Tensor) or labels.shape != scores.shape:
        got = tuple(labels.shape) if isinstance(labels, Tensor) else type(labels)
        raise ValueError(f"labels must be a tensor of shape {tuple(scores.shape)}, got {got}")
    if labels.is_floating_point() or labels.is_complex():
        raise ValueError(f"labels must be an integer tensor, got {labels.dtype}")
    return _greedy_nms(boxes, scores, float(iou_threshold), labels.to(boxes.device), method)


def _greedy_nms(boxes: Tensor, scores: Tensor, thr: float, labels: Tensor | None,
                method: str) -> Tensor:
    """Steps 1-5 of the module docstring; pairs with different ``labels`` never suppress."""
    order = scores.detach().argsort(descending=True, stable=True)  # (N,) rank -> index
    ranked = boxes.detach()[order]  # (N, 5) best first
    ranked_labels = None if labels is None else labels[order]  # (N,)
    if method == "graph":
        kept_ranks = graph_nms(ranked, ranked_labels, thr)  # (K,), None: too dense
        if kept_ranks is not None:
            return order[kept_ranks]
    alive = torch.ones(ranked.shape[0], dtype=torch.bool, device=boxes.device)  # (N,)
    kept = []
    for start in range(0, ranked.shape[0], _BLOCK):
        stop = start + _BLOCK
        block = start + alive[start:stop].nonzero().squeeze(1)  # (B,) alive ranks
        block = block[_greedy_in_block(ranked, ranked_labels, block, thr)]  # (K_b,) kept
        kept.append(block)
        later = stop + alive[stop:].nonzero().squeeze(1)  # (L,) alive ranks after the block
        if block.numel() and later.numel():  # the later ranks a kept box overlaps by > thr
            _, hit = _suppression_pairs(ranked[block], ranked[later],
                                        None if labels is None else ranked_labels[block],
                                        None if labels is None else ranked_labels[later], thr)
            alive[later[hit]] = False
    return order[torch.cat(kept)] if kept else order  # (K,)


def _greedy_in_block(ranked: Tensor, labels: Tensor | None, block: Tensor, thr: float) -> Tensor:
    """Step 3: the positions (into ``block``) that greedy NMS keeps inside the block."""
    boxes = ranked[block]  # (B, 5)
    block_labels = None if labels is None else labels[block]  # (B,)
    i, j = _suppression_pairs(boxes, boxes, block_labels, block_labels, thr, upper=True)
    first, second = i.cpu().numpy(), j.cpu().numpy()  # (E,) each, first < second, sorted
    suppressed = np.zeros(block.numel(), dtype=bool)
    starts = np.searchsorted(first, np.arange(block.numel() + 1))  # CSR row pointers
    keep = []
    for pos in range(block.numel()):
        if not suppressed[pos]:
            keep.append(pos)
            suppressed[second[starts[pos]:starts[pos + 1]]] = True
    return torch.as_tensor(keep, dtype=torch.long, device=block.device)


def _suppression_pairs(boxes1: Tensor, boxes2: Tensor, labels1: Tensor | None,
                       labels2: Tensor | None, thr: float, upper: bool = False):
    """Pairs (i, j), row-major, with IoU(boxes1[i], boxes2[j]) > thr (and equal labels);
    ``upper=True`` (for ``boxes1 is boxes2``) keeps only i < j: each pair once, no self-pairs."""
    i, j = overlap_candidates(boxes1, boxes2)  # (P,), (P,) pairs that may overlap
    if upper:
        i, j = i[i < j], j[i < j]
    area1, area2 = boxes1[i, 2] * boxes1[i, 3], boxes2[j, 2] * boxes2[j, 3]  # (P,)
    possible = torch.minimum(area1, area2) > thr * torch.maximum(area1, area2)
    if labels1 is not None:
        possible &= labels1[i] == labels2[j]
    i, j = i[possible], j[possible]
    hit = pair_overlaps(boxes1[i], boxes2[j]) > thr  # (P',) exact IoU
    return i[hit], j[hit]


def _check_nms_inputs(boxes: Tensor, scores: Tensor, iou_threshold: float,
                      method: str = "graph") -> None:
    """Raise a clear ``ValueError`` for bad boxes, scores, threshold or method."""
    if method not in ("graph", "blocks"):
        raise ValueError(f"method must be 'graph' or 'blocks', got {method!r}")
    check_boxes(boxes, "boxes")
    if boxes.dim() != 2:
        raise ValueError(f"boxes must have shape (N, 5), got {tuple(boxes.shape)}")
    if not isinstance(scores, Tensor) or scores.shape != boxes.shape[:1]:
        got = tuple(scores.shape) if isinstance(scores, Tensor) else type(scores)
        raise ValueError(f"scores must be a tensor of shape ({boxes.shape[0]},), got {got}")
    if not scores.is_floating_point():
        raise ValueError(f"scores must be a floating tensor, got {scores.dtype}")
    if bool(torch.isnan(scores).any()):
        raise ValueError("scores contains NaN")
    if scores.device != boxes.device:
        raise ValueError(f"scores is on {scores.device} but boxes on {boxes.device}")
    if isinstance(iou_threshold, bool) or not isinstance(iou_threshold, (int, float)) \
            or not 0.0 <= float(iou_threshold) <= 1.0:
        raise ValueError(f"iou_threshold must be a number in [0, 1], got {iou_threshold!r}")
