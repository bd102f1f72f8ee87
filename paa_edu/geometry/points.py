"""Points against rotated boxes: centre distances and the point-in-rotated-box test (ATSS)."""
from __future__ import annotations

import torch
from torch import Tensor


def center_distances(points: Tensor, boxes: Tensor) -> Tensor:
    """Distance from every box centre (G, 5) to every point (A, 2), or to its own points (G, K, 2):
    (G, A) or (G, K), GT in rows; both forms give the same bits for the same (box, point)."""
    dx = boxes[:, 0:1] - points[..., 0]  # (G, A) or (G, K)
    dy = boxes[:, 1:2] - points[..., 1]  # (G, A) or (G, K)
    return (dx * dx + dy * dy).sqrt()  # no (G, A, 2) temporary


def points_in_rboxes(points: Tensor, boxes: Tensor, eps: float = 0.01,
                     aligned: bool = False) -> Tensor:
    """Is each point inside each rotated box, at least ``eps`` pixels from every side?

    1. Move the point into the box frame: ``d = p - c``, ``lx = d . u``, ``ly = d . v`` with the
       unit axes ``u = (cos t, sin t)`` and ``v = (-sin t, cos t)`` (clockwise-positive theta).
    2. Its smallest distance to a side is ``min(w/2 - |lx|, h/2 - |ly|)``;
    3. inside when that is ``> eps`` (mmdetection's ATSS margin, 0.01).
    Points (A, 2) and boxes (G, 5) give (G, A) bool; with ``aligned``, point i against box i only.
    """
    if not isinstance(points, Tensor) or points.dim() < 1 or points.shape[-1] != 2 \
            or not points.is_floating_point():
        raise ValueError(f"points must be a floating tensor of shape (..., 2), got "
                         f"{getattr(points, 'shape', type(points))}")
    if aligned:
        if points.shape[0] != boxes.shape[0]:
            raise ValueError(f"aligned=True needs as many points as boxes, got "
                             f"{points.shape[0]} and {boxes.shape[0]}")
        b, p = boxes, points  # (N, 5), (N, 2)
    else:
        b, p = boxes[:, None, :], points[None, :, :]  # (G, 1, 5), (1, A, 2)
    cos, sin = torch.cos(b[..., 4]), torch.sin(b[..., 4])
    dx, dy = p[..., 0] - b[..., 0], p[..., 1] - b[..., 1]
    lx = dx * cos + dy * sin
    ly = -dx * sin + dy * cos
    # 2. Smallest distance to a side, 3. compared with the margin.
    margin = torch.minimum(b[..., 2] / 2 - lx.abs(), b[..., 3] / 2 - ly.abs())
    return margin > eps
