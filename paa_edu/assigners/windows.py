"""Anchors near each GT, found by index arithmetic on the anchor grid.

:class:`paa_edu.model.anchors.AnchorGenerator` lays level ``l`` out row-major: cell ``(i, j)``
holds ``R`` anchors centred on ``(x0 + j * sx, y0 + i * sy)``, and slot ``r`` of it has index
``start + (i * W + j) * R + r``. :func:`anchor_grid` reads the layout back from the anchors and
checks it (any level that fails makes the answer ``None``: the caller uses its dense reference):

1. ``R`` = how many leading anchors share the first centre; every cell repeats its centre
   exactly ``R`` times;
2. ``W`` = how many cells share the first row's y; the cells fill ``H`` full rows;
3. the strides are the gaps between the first cells; every centre lies within ``1e-3``
   stride of ``(x0 + j * sx, y0 + i * sy)``.

Windows only *choose* anchors; distances and IoUs are computed from the real anchors, and
:attr:`LevelGrid.slack` covers the gap between the formula and the real centres.

* :func:`nearest_in_window` (ATSS): the ``k`` anchors of a level nearest a GT's centre, searched
  in a ``(2h + 1) x (2h + 1)``-cell window around the nearest cell (shifted inwards at the
  borders). If the nearest cell outside the window is strictly farther than the k-th distance
  found, the window holds the k nearest, ties included; otherwise (a GT centre far outside
  the image) the GT's row falls back to the whole level. :func:`k_nearest` chooses either way.
* :func:`overlap_ious` (MaxIoU): the IoU of every (GT, anchor) pair that can overlap. Two boxes
  overlap only if their centres are closer than the sum of their half diagonals, so a GT's
  anchors lie in the cells within ``hypot(w, h) / 2 + radius`` of its centre on each axis;
  those pairs get the same overlap test and exact IoU as ``box_iou_rotated``.
* :func:`first_index`: the sparse form of the index that ``max`` returns, used by both.
"""
from __future__ import annotations

import math
import weakref
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from paa_edu.geometry.iou import may_overlap, pair_overlaps
from paa_edu.geometry.points import center_distances
from paa_edu.geometry.runs import rank_in_runs, repeat_runs

_MAX_DEVIATION = 1e-3  # largest gap between a centre and the grid formula, in strides
_CACHE: dict[int, tuple] = {}  # id(anchors) -> (weakref, version, key, grid)
_CACHE_SIZE = 8
_PAIRS_PER_CHUNK = 1 << 18  # window pairs enumerated at once by overlap_ious: bounds memory


@dataclass(frozen=True)
class LevelGrid:
    """Layout of one FPN level (python numbers, as in the module docstring: ``start``, ``height`` H
    x ``width`` W cells of ``per_cell`` R anchors, ``x0, y0``, ``sx, sy``); ``radius``: largest
    anchor half diagonal; ``slack``: pixels of the grid formula's deviation and float rounding."""
    start: int
    height: int
    width: int
    per_cell: int
    x0: float
    y0: float
    sx: float
    sy: float
    radius: float
    slack: float

    @property
    def num_anchors(self) -> int:
        return self.height * self.width * self.per_cell


def anchor_grid(anchors: Tensor, num_level_anchors: list[int] | None) -> list[LevelGrid] | None:
    """One :class:`LevelGrid` per non-empty level of ``anchors`` (A, 5), or ``None``; cached."""
    if num_level_anchors is None or anchors.shape[0] == 0:
        return None
    key = (tuple(anchors.shape), anchors.dtype, anchors.device, tuple(num_level_anchors))
    hit = _CACHE.get(id(anchors))
    if hit is not None and hit[0]() is anchors and hit[1] == anchors._version and hit[2] == key:
        return hit[3]
    host = anchors.detach().to("cpu", torch.float64).numpy()  # (A, 5), one copy
    starts = np.cumsum([0, *num_level_anchors]).tolist()
    levels = [_infer_level(host[start:start + n], start)  # steps 1-3 for each level
              for start, n in zip(starts, num_level_anchors) if n > 0]
    grid = None if any(level is None for level in levels) else levels
    if len(_CACHE) >= _CACHE_SIZE:
        _CACHE.clear()
    _CACHE[id(anchors)] = (weakref.ref(anchors), anchors._version, key, grid)
    return grid


def _infer_level(boxes: np.ndarray, start: int) -> LevelGrid | None:
    """Steps 1-3 of the module docstring for one level's (n, 5) anchors (float64)."""
    centers = boxes[:, :2]  # (n, 2)
    n = centers.shape[0]
    per_cell = _leading_run(centers)
    if n % per_cell or not (centers.reshape(-1, per_cell, 2)
                            == centers[::per_cell, None]).all():
        return None
    cells = centers[::per_cell]  # (H*W, 2)
    width = _leading_run(cells[:, 1:])
    if cells.shape[0] % width:
        return None
    height = cells.shape[0] // width
    sx = float(cells[1, 0] - cells[0, 0]) if width > 1 else None
    sy = float(cells[width, 1] - cells[0, 1]) if height > 1 else None
    sx, sy = sx or sy or 1.0, sy or sx or 1.0  # a single row or column: any positive stride
    if not (sx > 0 and sy > 0 and math.isfinite(sx) and math.isfinite(sy)):
        return None
    x0, y0 = float(cells[0, 0]), float(cells[0, 1])
    rows, cols = np.divmod(np.arange(height * width), width)  # (H*W,) each
    dev_x = float(np.abs(cells[:, 0] - (x0 + cols * sx)).max())
    dev_y = float(np.abs(cells[:, 1] - (y0 + rows * sy)).max())
    if dev_x > _MAX_DEVIATION * sx or dev_y > _MAX_DEVIATION * sy:
        return None
    radius = float(np.hypot(boxes[:, 2], boxes[:, 3]).max()) / 2
    scale = float(np.abs(centers).max()) + radius + max(sx, sy)
    slack = max(dev_x, dev_y) + 1e-4 * max(sx, sy) + 1e-5 * scale  # float32 rounding included
    return LevelGrid(start, height, width, per_cell, x0, y0, sx, sy, radius, slack)


def _leading_run(values: np.ndarray) -> int:
    """How many leading rows of (n, d) ``values`` equal the first row (at least 1)."""
    differs = np.flatnonzero((values != values[0]).any(1))
    return int(differs[0]) if differs.size else values.shape[0]


def k_nearest(dist: Tensor, anchor_inds: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """The ``k`` nearest anchors of each row, (G, k) distances and indices: nearer first, equal
    distances by anchor index (``anchor_inds`` (G, N) or (N,) increase along each row)."""
    values, order = dist.sort(dim=1, stable=True)  # (G, N) each
    return values[:, :k], anchor_inds.expand_as(dist).gather(1, order[:, :k])


def nearest_in_window(level: LevelGrid, anchors: Tensor, gt_boxes: Tensor, k: int
                      ) -> tuple[Tensor, Tensor] | None:
    """The k nearest anchors (G, k) of one level per GT, searched in a window, and ok (G,) bool
    (False: the window may miss one); None when the window holds fewer than k anchors."""
    # Half size h of a window that holds the k nearest anchors of an inner GT centre: the
    # (2r + 1)^2 cells around the nearest cell hold ceil(k / R) cells within (r + 1/2) sqrt(2)
    # strides, and every cell outside a (2h + 1)-window is at least h + 1/2 strides away.
    r = math.ceil((math.sqrt(math.ceil(k / level.per_cell)) - 1) / 2)
    h = math.floor((r + 0.5) * math.sqrt(2) - 0.5) + 1
    win_w, win_h = min(2 * h + 1, level.width), min(2 * h + 1, level.height)
    if win_w * win_h * level.per_cell < k:
        return None
    cx, cy = gt_boxes[:, 0].detach(), gt_boxes[:, 1].detach()  # (G,)
    j0 = _window_start(cx, level.x0, level.sx, h, level.width - win_w)  # (G,) first column
    i0 = _window_start(cy, level.y0, level.sy, h, level.height - win_h)  # (G,) first row
    # Anchor indices of the window, row-major (increasing anchor index): (G, Kw)
    di = torch.arange(win_h, device=cx.device)[:, None, None]
    dj = torch.arange(win_w, device=cx.device)[None, :, None]
    slot = torch.arange(level.per_cell, device=cx.device)[None, None, :]
    offsets = ((di * level.width + dj) * level.per_cell + slot).reshape(-1)  # (Kw,)
    first = level.start + (i0 * level.width + j0) * level.per_cell  # (G,)
    inds = first[:, None] + offsets[None, :]  # (G, Kw)
    dist = center_distances(anchors[inds, :2], gt_boxes)  # (G, Kw)
    near, cand = k_nearest(dist, inds, k)  # (G, k) each
    outside = _outside_gap(level, cx, cy, i0, j0, win_h, win_w)  # (G,) nearest outside cell
    return cand, near[:, k - 1] < outside - level.slack


def _window_start(center: Tensor, origin: float, stride: float, h: int, last: int) -> Tensor:
    """(G,) first cell of a window of ``2h + 1`` cells around the nearest cell, kept inside."""
    nearest = torch.round((center.double() - origin) / stride)
    return (nearest - h).clamp(0, max(last, 0)).long()


def _outside_gap(level: LevelGrid, cx: Tensor, cy: Tensor, i0: Tensor, j0: Tensor,
                 win_h: int, win_w: int) -> Tensor:
    """(G,) a lower bound of the distance from each GT centre to any cell outside its window."""
    inf = torch.full_like(cx, math.inf, dtype=torch.float64)
    cxd, cyd = cx.double(), cy.double()
    left = torch.where(j0 > 0, cxd - (level.x0 + (j0 - 1) * level.sx), inf)
    right = torch.where(j0 + win_w < level.width, level.x0 + (j0 + win_w) * level.sx - cxd, inf)
    top = torch.where(i0 > 0, cyd - (level.y0 + (i0 - 1) * level.sy), inf)
    bottom = torch.where(i0 + win_h < level.height,
                         level.y0 + (i0 + win_h) * level.sy - cyd, inf)
    gap = torch.minimum(torch.minimum(left, right), torch.minimum(top, bottom))
    return gap.clamp_min(0)  # (G,) float64


def first_index(key: Tensor, value: Tensor, mask: Tensor, size: int) -> Tensor:
    """(size,) smallest ``value`` among the masked pairs (P,) of each ``key``, 0 where there is
    none: the first of tied maxima, as a dense ``max`` returns it (0 for a row of defaults)."""
    none = torch.iinfo(torch.long).max
    first = torch.full((size,), none, dtype=torch.long, device=value.device)
    first = first.scatter_reduce(0, key, torch.where(mask, value, none), reduce="amin")
    return torch.where(first == none, 0, first)  # (size,)


def overlap_ious(levels: list[LevelGrid], anchors: Tensor, gt_boxes: Tensor
                 ) -> tuple[Tensor, Tensor, Tensor]:
    """The pairs of ``box_iou_rotated(gt_boxes, anchors)`` that may be non-zero: gt (P,), anchor
    (P,) int64 and their IoU (P,), the same bits as the matrix (every other entry is 0)."""
    spans = _cell_spans(levels, gt_boxes)  # (G, L) tensors
    sizes = torch.stack([spans["count"].sum(1), spans["rows"].sum(1)])  # (2, G)
    per_gt, rows_per_gt = sizes.tolist()  # pairs and cell rows per GT: the one sync for sizes
    gts, inds, ious, start = [], [], [], 0
    for stop, total in _chunks(per_gt):  # GTs in chunks of at most _PAIRS_PER_CHUNK pairs
        gt, anchor = _enumerate_pairs(levels, {k: v[start:stop] for k, v in spans.items()},
                                      sum(rows_per_gt[start:stop]), total)
        gt = gt + start
        pair_gts, pair_anchors = gt_boxes[gt], anchors[anchor]  # (P, 5) each, gathered once
        keep = may_overlap(pair_gts, pair_anchors).nonzero().squeeze(1)  # (P',)
        gts.append(gt[keep])
        inds.append(anchor[keep])
        ious.append(pair_overlaps(pair_gts[keep], pair_anchors[keep]))  # (P',)
        start = stop
    return torch.cat(gts), torch.cat(inds), torch.cat(ious)


def _chunks(per_gt: list[int]):
    """(stop, pairs) of consecutive GT ranges of at most ``_PAIRS_PER_CHUNK`` pairs (or 1 GT)."""
    total = 0
    for g, n in enumerate(per_gt):
        if total and total + n > _PAIRS_PER_CHUNK:
            yield g, total
            total = 0
        total += n
    yield len(per_gt), total


def _cell_spans(levels: list[LevelGrid], gt_boxes: Tensor) -> dict[str, Tensor]:
    """First row and column, row and column counts, and pair count of each (GT, level), (G, L)."""
    boxes = gt_boxes.detach().double()  # (G, 5)
    half_diag = torch.hypot(boxes[:, 2], boxes[:, 3]) / 2  # (G,)
    spans = []  # L x (i0, j0, rows, cols): first row and column, counts of the cells in reach
    for lv in levels:
        reach = half_diag + lv.radius + lv.slack  # (G,)
        j0, cols = _axis_span(boxes[:, 0], reach, lv.x0, lv.sx, lv.width)
        i0, rows = _axis_span(boxes[:, 1], reach, lv.y0, lv.sy, lv.height)
        spans.append((i0, j0, rows, cols))
    i0, j0, rows, cols = (torch.stack(t, 1) for t in zip(*spans))  # (G, L) each
    per_cell = torch.tensor([lv.per_cell for lv in levels], device=boxes.device)  # (L,)
    return {"i0": i0, "j0": j0, "rows": rows, "cols": cols, "count": rows * cols * per_cell}


def _enumerate_pairs(levels: list[LevelGrid], spans: dict[str, Tensor], num_rows: int,
                     total: int) -> tuple[Tensor, Tensor]:
    """Every (GT, anchor) pair of the cell rectangles of ``spans`` ((g, L) tensors): local GT (P,)
    and anchor (P,), grouped by GT then level, by two expansions of runs (rows, then anchors)."""
    device = spans["count"].device
    L = len(levels)
    i0, j0, rows, cols = (spans[k].reshape(-1) for k in ("i0", "j0", "rows", "cols"))
    level_of = torch.arange(L, device=device).repeat(i0.shape[0] // L)  # (g*L,)
    per_cell = torch.tensor([lv.per_cell for lv in levels], device=device)[level_of]  # (g*L,)
    width = torch.tensor([lv.width for lv in levels], device=device)[level_of]
    first = torch.tensor([lv.start for lv in levels], device=device)[level_of]
    # 1. One entry per row of each rectangle: its first anchor and its length.
    group = repeat_runs(rows, num_rows)  # (Rw,)
    row = i0[group] + rank_in_runs(rows, group)  # (Rw,) grid row
    row_first = first[group] + (row * width[group] + j0[group]) * per_cell[group]  # (Rw,)
    row_len = (cols * per_cell)[group]  # (Rw,)
    # 2. One entry per anchor of each row.
    entry = repeat_runs(row_len, total)  # (P,)
    anchor = row_first[entry] + rank_in_runs(row_len, entry)  # (P,)
    return (group // L)[entry], anchor


def _axis_span(center: Tensor, reach: Tensor, origin: float, stride: float, size: int):
    first = torch.ceil((center - reach - origin) / stride).clamp(0, size)
    last = torch.floor((center + reach - origin) / stride).clamp(-1, size - 1)
    return first.long(), (last - first + 1).clamp_min(0).long()
