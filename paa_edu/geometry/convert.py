"""Convert between rotated boxes ``(cx, cy, w, h, theta)`` and 4-corner polygons.

``obb2poly`` builds the corners of :mod:`paa_edu.geometry`'s convention. ``poly2obb`` goes the
other way for any 4 points (a DOTA label is a quadrilateral, usually not a perfect rectangle). It
returns the *minimum-area enclosing rectangle* of the 4 points, then writes it in the requested
angle version. The key fact behind the algorithm: a minimum-area enclosing rectangle always has
one side collinear with an edge of the convex hull of the points. Every hull edge of 4 points
joins 2 of them, so trying the 6 directions "point i -> point j" and keeping the smallest
rectangle gives the exact minimum, without building the hull and whatever the order of the points
(convex, non-convex or self-intersecting quadrilaterals all work).
"""
from __future__ import annotations

import torch
from torch import Tensor

from paa_edu.geometry.angles import DEFAULT_ANGLE_VERSION, check_version, regularized
from paa_edu.geometry.checks import check_boxes, check_float_rows

# The 6 unordered pairs of the 4 points: candidate directions for a side of the rectangle.
_PAIRS_I = (0, 0, 0, 1, 1, 2)
_PAIRS_J = (1, 2, 3, 2, 3, 3)


def full_precision(values: Tensor) -> Tensor:
    """Half-precision predictions (AMP's float16/bfloat16) as float32; float32 and float64 as
    they are: box decoding, IoUs and losses run at least in float32."""
    return values.to(torch.promote_types(values.dtype, torch.float32))


def obb2poly(boxes: Tensor) -> Tensor:
    """Corners of rotated boxes (..., 5) as (..., 8) x1, y1, ..., x4, y4, in the order c-u-v,
    c+u-v, c+u+v, c-u+v."""
    check_boxes(boxes, "boxes")
    return box_corners(boxes).flatten(-2)  # (..., 8)


def obb2hbb(boxes: Tensor) -> Tensor:
    """Axis-aligned boxes enclosing rotated boxes (..., 5), as rotated boxes ``(cx, cy, W, H, 0)``
    with W = |w cos| + |h sin| and H = |w sin| + |h cos| (mmrotate's ``assign_by_circumhbbox``).
    """
    check_boxes(boxes, "boxes")
    corners = box_corners(boxes)  # (..., 4, 2)
    low, high = corners.amin(dim=-2), corners.amax(dim=-2)  # (..., 2) each
    zero = torch.zeros_like(low[..., :1])
    return torch.cat([(low + high) / 2, high - low, zero], dim=-1)  # (..., 5)


def box_corners(boxes: Tensor) -> Tensor:
    """Corners of rotated boxes as points: (..., 5) -> (..., 4, 2). No input validation."""
    ctr, w, h, theta = boxes[..., 0:2], boxes[..., 2:3], boxes[..., 3:4], boxes[..., 4:5]
    cos, sin = torch.cos(theta), torch.sin(theta)
    u = torch.cat([cos, sin], dim=-1) * (w / 2)  # (..., 2) half of the w side
    v = torch.cat([-sin, cos], dim=-1) * (h / 2)  # (..., 2) half of the h side
    corners = [ctr - u - v, ctr + u - v, ctr + u + v, ctr - u + v]
    return torch.stack(corners, dim=-2)  # (..., 4, 2)


def poly2obb(polys: Tensor, version: str = DEFAULT_ANGLE_VERSION,
             return_valid: bool = False) -> Tensor | tuple[Tensor, Tensor]:
    """Minimum-area rotated rectangle (..., 5) of each 4-point polygon (..., 8), in ``version``.

    1. Move the points to their mean (keeps float precision for large coordinates).
    2. For each of the 6 directions ``p_j - p_i``: unit axes ``a = dir/|dir|`` and ``b = a`` turned
       by +90 degrees; project the 4 points on both axes; the rectangle is the min/max range of
       the projections, its area is ``(range on a) * (range on b)``.
    3. Keep the direction with the smallest area: ``theta = atan2(a)``, ``w`` = range on ``a``,
       ``h`` = range on ``b``, centre = middle of both ranges. Finally :func:`regularize_boxes`.

    A polygon whose points are all collinear (zero area) has no rectangle: it raises
    ``ValueError`` naming the first such row, or, with ``return_valid=True``, is flagged in a
    returned (...,) bool mask instead."""
    check_version(version)
    check_float_rows(polys, "polys", 8, "x1, y1, ..., x4, y4")
    shape = polys.shape[:-1]
    points = polys.reshape(-1, 4, 2)  # (P, 4, 2)
    if points.shape[0] == 0:
        empty = polys.new_zeros((*shape, 5))
        return (empty, torch.ones(shape, dtype=torch.bool, device=polys.device)) if return_valid \
            else empty
    boxes, valid = _min_area_rect(points)  # (P, 5), (P,)
    if not return_valid and not bool(valid.all()):
        bad = int((~valid).nonzero()[0])
        raise ValueError(f"polys row {bad} is degenerate (its 4 points are collinear, zero area): "
                         f"{polys.reshape(-1, 8)[bad].tolist()}")
    boxes = regularized(boxes, version).reshape(*shape, 5)
    return (boxes, valid.reshape(shape)) if return_valid else boxes


def _min_area_rect(points: Tensor) -> tuple[Tensor, Tensor]:
    """(P, 4, 2) points -> (P, 5) min-area rectangles (unregularised) and (P,) validity."""
    origin = points.mean(dim=1, keepdim=True)  # (P, 1, 2)
    pts = points - origin  # (P, 4, 2)
    direction = pts[:, _PAIRS_J] - pts[:, _PAIRS_I]  # (P, 6, 2)
    length = direction.norm(dim=-1, keepdim=True)  # (P, 6, 1)
    axis_a = direction / length.clamp_min(torch.finfo(points.dtype).tiny)  # (P, 6, 2)
    axis_b = torch.stack([-axis_a[..., 1], axis_a[..., 0]], dim=-1)  # (P, 6, 2)
    proj_a = torch.einsum("pkc,pdc->pdk", pts, axis_a)  # (P, 6, 4)
    proj_b = torch.einsum("pkc,pdc->pdk", pts, axis_b)  # (P, 6, 4)
    lo_a, hi_a = proj_a.amin(-1), proj_a.amax(-1)  # (P, 6)
    lo_b, hi_b = proj_b.amin(-1), proj_b.amax(-1)  # (P, 6)
    area = (hi_a - lo_a) * (hi_b - lo_b)  # (P, 6)
    area = torch.where(length.squeeze(-1) > 0, area, torch.full_like(area, float("inf")))
    best = area.argmin(dim=1, keepdim=True)  # (P, 1) the winning direction

    def pick(t: Tensor) -> Tensor:  # (P, 6) -> (P,)
        return t.gather(1, best).squeeze(1)

    a, b = axis_a.gather(1, best[..., None].expand(-1, 1, 2))[:, 0], axis_b.gather(
        1, best[..., None].expand(-1, 1, 2))[:, 0]  # (P, 2) each
    mid_a, mid_b = (pick(lo_a) + pick(hi_a)) / 2, (pick(lo_b) + pick(hi_b)) / 2  # (P,)
    centre = origin[:, 0] + mid_a[:, None] * a + mid_b[:, None] * b  # (P, 2)
    w, h = pick(hi_a) - pick(lo_a), pick(hi_b) - pick(lo_b)  # (P,)
    theta = torch.atan2(a[:, 1], a[:, 0])  # (P,)
    boxes = torch.cat([centre, w[:, None], h[:, None], theta[:, None]], dim=1)  # (P, 5)
    # Degenerate: zero area up to rounding, relative to the size of the point set.
    extent = direction.norm(dim=-1).amax(dim=1)  # (P,) diameter of the 4 points
    best_area = pick(area)  # (P,) inf when all 4 points coincide
    floor = 16 * torch.finfo(points.dtype).eps * extent ** 2  # (P,) rounding noise of an area
    valid = torch.isfinite(best_area) & (best_area > floor)
    return boxes, valid
