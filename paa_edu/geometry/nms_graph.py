"""Greedy rotated NMS over a sparse graph of candidate pairs, decided in parallel rounds.

Greedy NMS keeps box ``j`` (boxes ranked by decreasing score) unless an earlier *kept* box
``i < j`` overlaps it with IoU > thr. Only pairs that can overlap matter, and only the IoUs of
pairs whose first box is kept are ever needed:

1. **Pairs that can overlap.** Boxes go into square cells keyed by ``(label, cell row, cell
   column)``; each box finds the smaller boxes in the cells within its reach (:func:`near_pairs`;
   labels in the key make class-wise NMS one call). The pairs pass the cheap exact filters of
   the block-wise reference (:func:`~paa_edu.geometry.iou.may_overlap`, area ratio, equal
   labels): a pair ``(i, j)``, ``i < j``, is *pending* until ``i`` is decided.
2. **Rounds.** Every box starts open. In each round the open boxes without a pending pair are
   *kept*; the exact IoU of their pairs is computed (higher-ranked box first, the same bits as
   the reference) and their partners with IoU > thr are *suppressed*; pairs whose first box is
   decided are no longer pending. The earliest open box is kept in every round.

The keep set is the greedy one: a box is kept exactly when every earlier candidate is
suppressed or kept without overlapping it by more than thr. Too dense a pair set (many
neighbours per box in one class): :func:`graph_nms` declines and the caller walks the ranks.
"""
from __future__ import annotations

import torch
from torch import Tensor

from paa_edu.geometry.iou import bounds_meet, overlap_bounds, pair_overlaps
from paa_edu.geometry.runs import rank_in_runs, repeat_runs

_MAX_CELLS = 1 << 20  # cells per axis, so that the int64 keys never overflow
_MAX_PAIRS_PER_BOX = 64  # denser than this (and than N / 512 per box): walk the blocks
_FILTER_CHUNK = 1 << 20  # near pairs filtered at once: bounds memory
_MAX_REACH = 64  # rings of cells the largest box searches (larger cells beyond that)


def graph_nms(ranked: Tensor, labels: Tensor | None, thr: float) -> Tensor | None:
    """Kept ranks (K,), increasing, of boxes (N, 5) ranked best first, ``labels`` (N,) or None;
    None when there are more than ``max(_MAX_PAIRS_PER_BOX, N / 512)`` neighbours per box."""
    n = ranked.shape[0]
    pairs = candidate_pairs(ranked, labels, thr)  # (P,) each, i < j, pending
    if pairs is None:
        return None
    i, j = pairs
    state = torch.zeros(n, dtype=torch.int8, device=ranked.device)  # 0 open, 1 kept, 2 supp.
    while True:
        pending = torch.zeros(n, dtype=torch.long, device=ranked.device)
        pending.index_add_(0, j, torch.ones_like(j))  # (N,) undecided earlier candidates
        kept = (state == 0) & (pending == 0)  # (N,) kept in this round
        state = torch.where(kept, 1, state).to(torch.int8)
        sel = _at(kept, i).nonzero().squeeze(1)  # pairs whose first box was just kept
        first, second = _at(i, sel), _at(j, sel)  # (S,) each
        hit = pair_overlaps(_at(ranked, first), _at(ranked, second)) > thr  # exact IoU
        state = state.index_fill(0, second[hit], 2)  # their partners are suppressed
        if not bool((state == 0).any()):
            return (state == 1).nonzero().squeeze(1)
        live = ((_at(state, i) == 0) & (_at(state, j) == 0)).nonzero().squeeze(1)  # pending
        i, j = _at(i, live), _at(j, live)


def candidate_pairs(ranked: Tensor, labels: Tensor | None, thr: float
                    ) -> tuple[Tensor, Tensor] | None:
    """Step 1: rank pairs (i < j), (P,) each, past the reference's cheap filters; None: dense."""
    b = ranked.detach()
    bounds = overlap_bounds(b)  # (N, 4), once per box
    pairs = near_pairs(b, bounds, labels)  # (Q,) each
    if pairs is None:
        return None
    area = b[:, 2] * b[:, 3]  # (N,)
    kept = []
    for i, j in zip(pairs[0].split(_FILTER_CHUNK), pairs[1].split(_FILTER_CHUNK)):
        meet = bounds_meet(_at(b, i), _at(bounds, i), _at(b, j), _at(bounds, j))  # may_overlap
        area1, area2 = _at(area, i), _at(area, j)
        possible = meet & (torch.minimum(area1, area2) > thr * torch.maximum(area1, area2))
        if labels is not None:
            possible &= _at(labels, i) == _at(labels, j)
        keep = possible.nonzero().squeeze(1)
        kept.append((_at(i, keep), _at(j, keep)))
    return torch.cat([i for i, _ in kept]), torch.cat([j for _, j in kept])


def near_pairs(boxes: Tensor, bounds: Tensor, labels: Tensor | None
               ) -> tuple[Tensor, Tensor] | None:
    """Index pairs (i < j), (Q,) each, including every pair whose axis-aligned boxes meet (and
    labels are equal); None beyond ``_MAX_PAIRS_PER_BOX`` per box. Cells are as large as the median
    extent; each box looks for the smaller boxes in the cells within ``ceil(extent / cell)`` of
    its own: their centres are at most one extent away on each axis."""
    n = boxes.shape[0]
    empty = torch.zeros(0, dtype=torch.long, device=boxes.device)
    if n < 2:
        return empty, empty
    extent = 2 * torch.maximum(bounds[:, 1], bounds[:, 2])  # (N,) larger side of the AABB
    low = boxes[:, :2].double().amin(0)  # (2,) corner of the cell grid
    stats = torch.cat([extent.double().median().reshape(1), extent.double().max().reshape(1),
                       boxes[:, :2].double().amax(0) - low]).tolist()  # one sync
    # slightly larger cells than the extents cover the float32 rounding of the test
    cell = max(stats[0], stats[1] / _MAX_REACH, max(stats[2:]) / _MAX_CELLS, 1e-6) * (1 + 1e-4)
    reach = (extent.double() / cell).ceil().long().clamp_min(1)  # (N,) rings of cells
    border = int(stats[1] / cell) + 2  # at least the largest reach
    cols, rows = (int(v / cell) + 1 + 2 * border for v in stats[2:])
    cx, cy = (((boxes[:, :2].double() - low) / cell).floor().long() + border).unbind(1)
    lab = torch.zeros_like(cx) if labels is None else labels.long() - labels.min()
    row = lab * rows + cy  # (N,) global cell row (each label is a band of rows)
    sorted_key, order = (row * cols + cx).sort()  # (N,) each
    # One query per (box, row of its neighbourhood): a run of the sorted keys.
    span = 2 * reach + 1  # (N,) rows of cells each box searches
    query = repeat_runs(span, int(span.sum()))  # (Qr,)
    r = _at(reach, query)  # (Qr,)
    dy = rank_in_runs(span, query) - r  # (Qr,) -reach .. reach
    base = (_at(row, query) + dy) * cols + _at(cx, query)
    lo = torch.searchsorted(sorted_key, base - r)
    counts = torch.searchsorted(sorted_key, base + r, right=True) - lo  # (Qr,)
    total = int(counts.sum())
    if total > 2 * max(_MAX_PAIRS_PER_BOX, n // 512) * n:  # each pair is seen from both sides
        return None
    run = repeat_runs(counts, total)  # (Q,)
    i = _at(query, run)  # (Q,)
    j = _at(order, _at(lo, run) + rank_in_runs(counts, run))  # (Q,)
    size_rank = torch.empty_like(order)
    size_rank[torch.argsort(extent, stable=True)] = torch.arange(n, device=boxes.device)
    smaller = (_at(size_rank, j) < _at(size_rank, i)).nonzero().squeeze(1)  # pair once
    i, j = _at(i, smaller), _at(j, smaller)
    return torch.minimum(i, j), torch.maximum(i, j)


def _at(values: Tensor, index: Tensor) -> Tensor:
    """``values[index]`` along dim 0 (``index_select``: much faster than ``[]`` on the CPU)."""
    return values.index_select(0, index)
