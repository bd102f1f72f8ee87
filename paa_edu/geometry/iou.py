"""Exact, differentiable IoU of rotated boxes by convex polygon clipping, in pure PyTorch.

The intersection of two rectangles A and B is a convex polygon. Each of its vertices is one of

1. a corner of A that lies inside B,
2. a corner of B that lies inside A,
3. a point where an edge of A crosses an edge of B.

So we collect these 4 + 4 + 16 = 24 candidate points for every pair of boxes, mark which ones are
real, sort the real ones by angle around their mean, and measure the polygon with the shoelace
formula. Everything is a fixed-size tensor, so all pairs are processed at once, and autograd
differentiates through the point coordinates (the sort order is locally constant, like a ``max``).

Numerical care (the known failure modes of rotated-IoU kernels):

* **Relative frame.** Each pair is expressed in the frame of its thinner box (centre at the
  origin, w side along x). Only *differences* of centres and angles enter, so boxes at x = 1e5
  are as accurate as at x = 0, and identical boxes have bit-identical corners (IoU exactly 1).
  The thin box is axis-aligned there, so candidate points can be clamped into it exactly, which
  keeps float32 accurate for boxes only 1e-3 px wide.
* **Signed distances instead of line-line intersections.** A point's 4 signed distances to a
  box's edge lines are >= 0 inside. An edge p0 -> p1 crosses a line where its end distances
  d0, d1 change sign, at ``p0 + d0 / (d0 - d1) * (p1 - p0)``: a convex combination, on the
  segment even for nearly parallel edges. With a tolerance on every inside test, every true
  vertex is a candidate: coincident edges, touching and identical boxes are all exact.
* **Pruning.** Pairs whose enclosing circles or axis-aligned boxes do not meet have IoU 0 and
  never reach the clipping. Aligned pairs (the training losses) are all clipped and the
  ruled-out ones set to 0 afterwards: no data-dependent indexing, no host-device sync.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from paa_edu.geometry.checks import check_boxes
from paa_edu.geometry.convert import box_corners

PAIR_CHUNK = 1 << 14  # pairs clipped per step: bounds memory, keeps tensors in cache
_ROW_CHUNK_ELEMS = 1 << 22  # N*M entries tested per step by the cheap overlap test


def box_iou_rotated(boxes1: Tensor, boxes2: Tensor, mode: str = "iou", aligned: bool = False,
                    eps: float = 1e-6) -> Tensor:
    """IoU (or IoF) in [0, 1] of rotated boxes (N, 5) and (M, 5) (same dtype and device), exact up
    to float rounding, differentiable: (N, M), or (N,) row against row when ``aligned`` (N == M).
    ``mode``: ``"iou"`` = inter / union, ``"iof"`` = inter / area of the box from ``boxes1``;
    ``eps``: lower bound of the denominator (avoids 0/0 for empty boxes)."""
    _check_iou_inputs(boxes1, boxes2, mode, aligned)
    if aligned:
        return aligned_iou(boxes1, boxes2, mode, eps)
    rows, cols = overlap_candidates(boxes1, boxes2)  # (P,), (P,)
    values = pair_overlaps(boxes1[rows], boxes2[cols], mode, eps)  # (P,)
    out = boxes1.new_zeros(boxes1.shape[0], boxes2.shape[0])
    return out.index_put((rows, cols), values)  # (N, M)


def aligned_iou(boxes1: Tensor, boxes2: Tensor, mode: str = "iou", eps: float = 1e-6
                ) -> Tensor:
    """IoU of aligned pairs, (P, 5) x (P, 5) -> (P,), unchecked, pruned without a sync."""
    return torch.where(may_overlap(boxes1, boxes2), pair_overlaps(boxes1, boxes2, mode, eps), 0.0)


def pair_overlaps(boxes1: Tensor, boxes2: Tensor, mode: str = "iou",
                  eps: float = 1e-6) -> Tensor:
    """IoU or IoF of aligned pairs, (P, 5) x (P, 5) -> (P,); no pruning, no validation."""
    inter = pair_intersection_area(boxes1, boxes2)  # (P,)
    area1, area2 = boxes1[:, 2] * boxes1[:, 3], boxes2[:, 2] * boxes2[:, 3]  # (P,)
    inter = torch.minimum(inter, torch.minimum(area1, area2))  # rounding never exceeds a box
    denom = area1 if mode == "iof" else area1 + area2 - inter
    return inter / denom.clamp_min(eps)  # (P,)


def pair_intersection_area(boxes1: Tensor, boxes2: Tensor) -> Tensor:
    """Intersection areas of aligned pairs (P, 5) x (P, 5) -> (P,), in chunks; no checks."""
    if boxes1.shape[0] <= PAIR_CHUNK:
        return _intersection(boxes1, boxes2)
    return torch.cat([_intersection(a, b) for a, b in
                      zip(boxes1.split(PAIR_CHUNK), boxes2.split(PAIR_CHUNK))])  # (P,)


def _intersection(boxes1: Tensor, boxes2: Tensor) -> Tensor:
    """The algorithm of the module docstring on aligned pairs (P, 5) x (P, 5) -> (P,)."""
    # 1. Work in the frame of the thinner box ("box 1" from here on): w side along x.
    swap = (boxes2[:, 2:4].amin(1) < boxes1[:, 2:4].amin(1))[:, None]  # (P, 1)
    boxes1, boxes2 = torch.where(swap, boxes2, boxes1), torch.where(swap, boxes1, boxes2)
    local1, local2 = _to_frame_of_first(boxes1, boxes2)  # (P, 5) each
    corners1, corners2 = box_corners(local1), box_corners(local2)  # (P, 4, 2) each
    tol = _tolerance(local1, local2)  # (P, 1, 1)
    # 2. Each box's corners in the other box's frame, and their distances to its edge lines.
    coords12 = _local_coords(corners1, local2)  # 2 x (P, 4): corners of 1 in the frame of 2
    coords21 = corners2[..., 0], corners2[..., 1]  # box 1's frame is the identity
    dist12 = _edge_distances(*coords12, local2)  # (P, 4 corners of 1, 4 lines of 2)
    dist21 = _edge_distances(*coords21, local1)  # (P, 4 corners of 2, 4 lines of 1)
    # 3. Candidate vertices: corners inside the other box, and edge crossings.
    points, valid = intersection_candidates(corners1, corners2, dist12, dist21, tol)
    # Points accepted within the tolerance may stick out of box 1 by ulps: clamp (module doc).
    half = local1[:, None, 2:4] / 2  # (P, 1, 2)
    points = torch.maximum(torch.minimum(points, half), -half)  # (P, 24, 2)
    # 4. Area of the convex polygon spanned by the valid points.
    return convex_area(points, valid)  # (P,)


def intersection_candidates(corners1: Tensor, corners2: Tensor, dist12: Tensor, dist21: Tensor,
                            tol: Tensor) -> tuple[Tensor, Tensor]:
    """Step 3 for convex polygons 1 (P, K, 2) and 2 (P, L, 2) (vertices in order), from the signed
    distances (>= 0 inside, slack ``tol`` (P, 1, 1)) of the corners of 1 to the edge lines of 2
    (P, K, L) and the converse (P, L, K): points (P, K + L + K * L, 2) and their validity, the
    corners of each polygon inside the other, then the crossings of the edges of 1 with the
    lines of 2. Shared with :func:`paa_edu.geometry.polygon_iou.box_poly_iou`."""
    inside1 = (dist12 >= -tol).all(dim=-1)  # (P, K)
    inside2 = (dist21 >= -tol).all(dim=-1)  # (P, L)
    cross_pts, cross_ok = _edge_crossings(corners1, dist12, tol)  # (P, K * L, ..)
    points = torch.cat([corners1, corners2, cross_pts], dim=1)  # (P, K + L + K * L, 2)
    valid = torch.cat([inside1, inside2, cross_ok], dim=1)  # (P, K + L + K * L)
    return points, valid


def _to_frame_of_first(boxes1: Tensor, boxes2: Tensor) -> tuple[Tensor, Tensor]:
    """Both boxes (P, 5) in box 1's frame: box 1 becomes ``(0, 0, w1, h1, 0)``; box 2 keeps its
    size, its centre difference is rotated by -theta1 and its angle is ``theta2 - theta1``."""
    theta1 = boxes1[:, 4:5]  # (P, 1)
    cos, sin = torch.cos(theta1), torch.sin(theta1)
    d = boxes2[:, :2] - boxes1[:, :2]  # (P, 2)
    d_local = torch.cat([d[:, :1] * cos + d[:, 1:] * sin,
                         d[:, 1:] * cos - d[:, :1] * sin], dim=1)  # (P, 2)
    zeros = torch.zeros_like(d)  # (P, 2)
    local1 = torch.cat([zeros, boxes1[:, 2:4], zeros[:, :1]], dim=1)  # (P, 5)
    local2 = torch.cat([d_local, boxes2[:, 2:4], boxes2[:, 4:5] - theta1], dim=1)  # (P, 5)
    return local1, local2


def _tolerance(local1: Tensor, local2: Tensor) -> Tensor:
    """Inside-test slack: a few float ulps of the largest corner coordinate, (P, 1, 1)."""
    half_diagonal = torch.maximum(local1[:, 2:4].detach().norm(dim=1),
                                  local2[:, 2:4].detach().norm(dim=1)) / 2  # (P,)
    scale = local2[:, :2].detach().abs().amax(1) + half_diagonal  # (P,)
    return (4 * torch.finfo(local1.dtype).eps * scale)[:, None, None]


def _local_coords(points: Tensor, boxes: Tensor) -> tuple[Tensor, Tensor]:
    """Coordinates (P, K) x 2 of points (P, K, 2) along the w and h sides of boxes (P, 5)."""
    rel = points - boxes[:, None, :2]  # (P, K, 2)
    theta = boxes[:, None, 4]  # (P, 1)
    cos, sin = torch.cos(theta), torch.sin(theta)
    along_u = rel[..., 0] * cos + rel[..., 1] * sin  # (P, K)
    along_v = rel[..., 1] * cos - rel[..., 0] * sin  # (P, K)
    return along_u, along_v


def _edge_distances(along_u: Tensor, along_v: Tensor, boxes: Tensor) -> Tensor:
    """Signed distances to the 4 edge lines of a box (positive inside), (P, K) -> (P, K, 4)."""
    half_w, half_h = boxes[:, None, 2] / 2, boxes[:, None, 3] / 2  # (P, 1)
    return torch.stack([half_w - along_u, half_h - along_v,
                        half_w + along_u, half_h + along_v], dim=-1)  # (P, K, 4)


def _edge_crossings(corners: Tensor, dist: Tensor, tol: Tensor) -> tuple[Tensor, Tensor]:
    """Points where the edges of polygon 1 cross the edge lines of polygon 2, kept if inside 2:
    along edge i (corner i to i+1) the signed distance to line j changes linearly from d0 to d1,
    so it crosses the line at ``t = d0 / (d0 - d1)`` when d0 and d1 have strictly opposite signs.
    The distances of that point to the *other* lines are interpolated the same way: the inside
    test without a second projection. corners: (P, K, 2); dist: (P, K, L); returns points
    (P, K * L, 2) ordered (edge i, line j) and their validity (P, K * L)."""
    d0, d1 = dist, dist.roll(-1, dims=1)  # (P, K edges, L lines)
    crosses = ((d0 > 0) & (d1 < 0)) | ((d0 < 0) & (d1 > 0))  # (P, K, L) strict sign change
    gap = torch.where(crosses, d0 - d1, torch.ones_like(d0))  # never 0: safe for autograd
    t = torch.where(crosses, d0 / gap, torch.zeros_like(d0))[..., None]  # (P, K, L, 1)
    p0 = corners[:, :, None]  # (P, K, 1, 2)
    points = p0 + t * (corners.roll(-1, dims=1)[:, :, None] - p0)  # (P, K, L, 2)
    # distance of crossing (i, j) to line k: (P, K, L crossing lines j, L lines k)
    at_t = d0[:, :, None, :] + t * (d1 - d0)[:, :, None, :]
    own_line = torch.eye(dist.shape[2], dtype=torch.bool, device=dist.device)  # (L, L)
    inside = ((at_t >= -tol[..., None]) | own_line).all(dim=-1)  # (P, K, L)
    return points.flatten(1, 2), (crosses & inside).flatten(1)  # (P, K * L, 2), (P, K * L)


def _pseudo_angle(x: Tensor, y: Tensor) -> Tensor:
    """A cheap increasing function of atan2(y, x) in [-1, 3], for sorting: ``r = y / (|x| + |y|)``
    (-1 to 1) on the right half-plane, ``2 - r`` on the left."""
    r = y / (x.abs() + y.abs()).clamp_min(torch.finfo(x.dtype).tiny)
    return torch.where(x >= 0, r, 2 - r)


def convex_area(points: Tensor, valid: Tensor) -> Tensor:
    """Area of the convex hull of the valid points (all of them lie on its boundary).

    1. Move the points to the mean of the valid ones and set the invalid ones to exactly that
       mean (0, 0): a zero vector adds nothing to a cross product.
    2. Sort by angle around the mean, invalid points last.
    3. Triangle fan around the mean: sum of ``cross(p_k, p_k+1)`` over consecutive valid
       points, plus the closing triangle ``cross(p_last, p_first)``.
    Duplicated points (a corner found twice) add zero area. points (P, K, 2), valid (P, K)
    bool -> (P,) areas, 0 where fewer than 3 points are valid."""
    count = valid.sum(dim=1, keepdim=True)  # (P, 1)
    weight = valid.to(points.dtype)  # (P, K)
    x, y = points[..., 0], points[..., 1]  # (P, K) each
    mean_x = (x.detach() * weight).sum(1, keepdim=True) / count.clamp_min(1)  # (P, 1)
    mean_y = (y.detach() * weight).sum(1, keepdim=True) / count.clamp_min(1)  # (P, 1)
    x, y = (x - mean_x) * weight, (y - mean_y) * weight  # (P, K), invalid -> (0, 0)
    with torch.no_grad():
        angle = _pseudo_angle(x, y) + (~valid) * 8.0  # (P, K), invalid sort last
        order = angle.argsort(dim=1)  # (P, K)
    x, y = x.gather(1, order), y.gather(1, order)  # (P, K) in angular order
    fan = (x[:, :-1] * y[:, 1:] - y[:, :-1] * x[:, 1:]).sum(1)  # (P,) invalid tail adds 0
    last = (count - 1).clamp_min(0)  # (P, 1) position of the last valid point
    x_last, y_last = x.gather(1, last)[:, 0], y.gather(1, last)[:, 0]  # (P,)
    area = (fan + x_last * y[:, 0] - y_last * x[:, 0]) / 2  # (P,) counter-clockwise: positive
    return torch.where(count[:, 0] >= 3, area.clamp_min(0), torch.zeros_like(area))


def may_overlap(boxes1: Tensor, boxes2: Tensor) -> Tensor:
    """False for pairs that surely do not overlap: their enclosing circles or their axis-aligned
    boxes do not meet, or one is empty (w * h == 0). (..., 5) x (..., 5) -> (...) bool."""
    b1, b2 = boxes1.detach(), boxes2.detach()
    return bounds_meet(b1, overlap_bounds(b1), b2, overlap_bounds(b2))


def overlap_bounds(boxes: Tensor) -> Tensor:
    """What :func:`may_overlap` needs per box, (..., 5) -> (..., 4): enclosing circle radius,
    half width and half height of the axis-aligned box, 1 if w * h > 0 (else 0)."""
    cos, sin = torch.cos(boxes[..., 4]).abs(), torch.sin(boxes[..., 4]).abs()
    w, h = boxes[..., 2], boxes[..., 3]
    ex, ey = (w * cos + h * sin) / 2, (w * sin + h * cos) / 2  # half sides of the AABB
    non_empty = (w * h > 0).to(boxes.dtype)
    half_diagonal = torch.hypot(w, h) / 2  # enclosing circle radius
    return torch.stack([half_diagonal, ex, ey, non_empty], dim=-1)


def bounds_meet(boxes1: Tensor, bounds1: Tensor, boxes2: Tensor, bounds2: Tensor) -> Tensor:
    """:func:`may_overlap` from the boxes' :func:`overlap_bounds` (the same bits), (...) bool."""
    dx, dy = boxes1[..., 0] - boxes2[..., 0], boxes1[..., 1] - boxes2[..., 1]
    r1, ex1, ey1, full1 = bounds1.unbind(-1)
    r2, ex2, ey2, full2 = bounds2.unbind(-1)
    circles = dx * dx + dy * dy <= (r1 + r2) ** 2
    aabbs = (dx.abs() <= ex1 + ex2) & (dy.abs() <= ey1 + ey2)
    return circles & aabbs & (full1 > 0) & (full2 > 0)


def overlap_candidates(boxes1: Tensor, boxes2: Tensor) -> tuple[Tensor, Tensor]:
    """Index pairs rows (P,), cols (P,) for which :func:`may_overlap` holds, row-major."""
    return pairs_where(lambda rows: may_overlap(boxes1[rows, None], boxes2[None]),
                       boxes1.shape[0], boxes2.shape[0], boxes1.device)


def pairs_where(test: Callable[[slice], Tensor], n: int, m: int, device: torch.device
                ) -> tuple[Tensor, Tensor]:
    """Index pairs rows (P,), cols (P,) where the N x M pairwise ``test`` (a slice of rows ->
    (n, M) bool) holds, row-major; the test runs in row chunks to bound memory."""
    step = max(1, _ROW_CHUNK_ELEMS // max(m, 1))
    rows, cols = [], []
    for start in range(0, n, step):
        r, c = test(slice(start, start + step)).nonzero(as_tuple=True)  # (n_chunk, M) mask
        rows.append(r + start)
        cols.append(c)
    if not rows:
        empty = torch.zeros(0, dtype=torch.long, device=device)
        return empty, empty
    return torch.cat(rows), torch.cat(cols)


def _check_iou_inputs(boxes1: Tensor, boxes2: Tensor, mode: str, aligned: bool) -> None:
    """Clear errors for bad shapes, dtypes, devices, modes or values."""
    check_boxes(boxes1, "boxes1")
    check_boxes(boxes2, "boxes2")
    if boxes1.dim() != 2 or boxes2.dim() != 2:
        raise ValueError(f"boxes1 and boxes2 must be 2-D (N, 5) and (M, 5); "
                         f"got {tuple(boxes1.shape)} and {tuple(boxes2.shape)}")
    if mode not in ("iou", "iof"):
        raise ValueError(f"mode must be 'iou' or 'iof', got {mode!r}")
    if boxes1.dtype != boxes2.dtype or boxes1.device != boxes2.device:
        raise ValueError(f"boxes1 and boxes2 must share dtype and device; got {boxes1.dtype} on "
                         f"{boxes1.device} and {boxes2.dtype} on {boxes2.device}")
    if aligned and boxes1.shape[0] != boxes2.shape[0]:
        raise ValueError(f"aligned=True needs as many boxes1 as boxes2; "
                         f"got {boxes1.shape[0]} and {boxes2.shape[0]}")
