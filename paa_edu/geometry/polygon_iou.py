"""IoU of rotated boxes with quadrilaterals: the DOTA server's polygon IoU, in pure PyTorch.

DOTA's ground truth is the annotated quadrilateral, and the server (the devkit's
``dota_evaluation_task1.py`` with its ``polyiou`` extension) scores a detection by its IoU with
that quadrilateral, not with a rectangle fitted to it. Per (box, quadrilateral) pair:

1. Work in the box's frame (centre at the origin, w side along x, as
   :func:`paa_edu.geometry.box_iou_rotated`): the box is R = [-w/2, w/2] x [-h/2, h/2].
2. Fan the quadrilateral q0 q1 q2 q3 from q0 into the triangles T1 = (q0, q1, q2) and
   T2 = (q0, q2, q3), with signed (shoelace) areas a1 and a2; the quadrilateral's signed
   area is A = a1 + a2.
3. A triangle is convex, so area(R & T_k) is the convex clipping of
   :mod:`paa_edu.geometry.iou` (:func:`~paa_edu.geometry.iou.intersection_candidates` and
   :func:`~paa_edu.geometry.iou.convex_area`), with T_k turned counter-clockwise first.
4. ``inter = sign(A) * (sign(a1) area(R & T1) + sign(a2) area(R & T2))`` and
   ``IoU = inter / (area(R) + |A| - inter)``, clamped to [0, 1].

Step 4 integrates the quadrilateral's winding number over R. For a simple quadrilateral,
convex or not, that number is 1 inside and 0 outside, so the IoU is exact. **Self-intersecting
quadrilaterals** (a "bow-tie", e.g. two vertices swapped by the annotator) have two lobes that
wind in opposite directions: the lobe that agrees with the sign of A counts +1, the other -1,
and the area is |A| = the difference of the lobe areas. This is the devkit's rule exactly (its
``intersectArea`` sums signed triangle intersections the same way, its ``area`` is the shoelace
formula), except that the devkit can return values outside [0, 1] there; the clamp changes no
match at a threshold in [0, 1).
A quadrilateral or box of zero area has IoU 0 with everything.
"""
from __future__ import annotations

import torch
from torch import Tensor

from paa_edu.geometry.checks import check_boxes
from paa_edu.geometry.convert import box_corners
from paa_edu.geometry.iou import PAIR_CHUNK, convex_area, intersection_candidates, pairs_where


def box_poly_iou(boxes: Tensor, polys: Tensor) -> Tensor:
    """IoU (N, M) of every rotated box (N, 5) with every quadrilateral (M, 8) (vertices in order,
    either direction; same dtype and device), by the rule of the module docstring."""
    check_boxes(boxes, "boxes")
    if boxes.dim() != 2 or polys.dim() != 2 or polys.shape[1] != 8:
        raise ValueError(f"boxes must be (N, 5) and polys (M, 8); got {tuple(boxes.shape)} "
                         f"and {tuple(polys.shape)}")
    if boxes.dtype != polys.dtype or boxes.device != polys.device:
        raise ValueError(f"boxes and polys must share dtype and device; got {boxes.dtype} on "
                         f"{boxes.device} and {polys.dtype} on {polys.device}")
    if not bool(torch.isfinite(polys).all()):
        raise ValueError("polys contains NaN or Inf")
    rows, cols = _bbox_candidates(boxes, polys)  # (P,), (P,)
    values = [pair_box_poly_iou(b, p) for b, p in
              zip(boxes[rows].split(PAIR_CHUNK), polys[cols].split(PAIR_CHUNK))]
    out = boxes.new_zeros(boxes.shape[0], polys.shape[0])
    if values:
        out = out.index_put((rows, cols), torch.cat(values))
    return out  # (N, M)


def pair_box_poly_iou(boxes: Tensor, polys: Tensor) -> Tensor:
    """IoU of aligned pairs, (P, 5) x (P, 8) -> (P,); no pruning, no validation."""
    local = _to_box_frame(boxes, polys.reshape(-1, 4, 2))  # (P, 4, 2)
    rect = box_corners(torch.cat([torch.zeros_like(boxes[:, :2]), boxes[:, 2:4],
                                  torch.zeros_like(boxes[:, 4:])], dim=1))  # (P, 4, 2) CCW
    scale = torch.maximum(local.detach().abs().amax(dim=(1, 2)),
                          boxes[:, 2:4].detach().amax(1))  # (P,)
    tol = (4 * torch.finfo(boxes.dtype).eps * scale)[:, None, None]  # (P, 1, 1)
    half = boxes[:, None, 2:4] / 2  # (P, 1, 2)
    signed, inter = [], torch.zeros_like(boxes[:, 0])  # (P,)
    for k in (1, 2):  # the fan triangles (q0, q_k, q_k+1)
        tri = local[:, [0, k, k + 1]]  # (P, 3, 2)
        area_k = _shoelace(tri)  # (P,) signed
        tri = torch.where((area_k < 0)[:, None, None], tri.flip(1), tri)  # counter-clockwise
        points, valid = intersection_candidates(rect, tri, _line_distances(rect, tri),
                                                _line_distances(tri, rect), tol)
        points = torch.maximum(torch.minimum(points, half), -half)  # inside R, as box IoU
        inter = inter + torch.sign(area_k) * convex_area(points, valid)  # (P,)
        signed.append(area_k)
    poly_area = signed[0] + signed[1]  # (P,) signed area of the quadrilateral
    inter = torch.sign(poly_area) * inter
    box_area = boxes[:, 2] * boxes[:, 3]  # (P,)
    union = box_area + poly_area.abs() - inter
    ok = (box_area > 0) & (poly_area != 0) & (union > 0)
    iou = inter / torch.where(ok, union, torch.ones_like(union))
    return torch.where(ok, iou.clamp(0.0, 1.0), torch.zeros_like(iou))  # (P,)


def _to_box_frame(boxes: Tensor, points: Tensor) -> Tensor:
    """Points in each box's frame (box centre at 0, w side along x), (P, K, 2) -> (P, K, 2)."""
    theta = boxes[:, None, 4]  # (P, 1)
    cos, sin = torch.cos(theta), torch.sin(theta)
    rel = points - boxes[:, None, :2]  # (P, K, 2)
    return torch.stack([rel[..., 0] * cos + rel[..., 1] * sin,
                        rel[..., 1] * cos - rel[..., 0] * sin], dim=-1)


def _shoelace(poly: Tensor) -> Tensor:
    """Signed area of polygons, (P, K, 2) -> (P,); positive counter-clockwise (x right, y up)."""
    x, y = poly[..., 0], poly[..., 1]
    return (x * y.roll(-1, dims=1) - x.roll(-1, dims=1) * y).sum(1) / 2


def _line_distances(points: Tensor, poly: Tensor) -> Tensor:
    """Signed distances (P, K, L) of points (P, K, 2) to the edge lines of counter-clockwise convex
    polygons (P, L, 2), >= 0 on the inner side (0 for a zero-length edge)."""
    edge = poly.roll(-1, dims=1) - poly  # (P, L, 2)
    length = edge.norm(dim=-1).clamp_min(torch.finfo(poly.dtype).tiny)  # (P, L)
    rel = points[:, :, None] - poly[:, None]  # (P, K, L, 2)
    cross = edge[:, None, :, 0] * rel[..., 1] - edge[:, None, :, 1] * rel[..., 0]  # (P, K, L)
    return cross / length[:, None]


def _bbox_candidates(boxes: Tensor, polys: Tensor) -> tuple[Tensor, Tensor]:
    """Index pairs whose axis-aligned bounding boxes meet (others have IoU 0), row-major."""
    corners = box_corners(boxes.detach())  # (N, 4, 2)
    lo1, hi1 = corners.amin(1), corners.amax(1)  # (N, 2)
    pts = polys.detach().reshape(-1, 4, 2)
    lo2, hi2 = pts.amin(1), pts.amax(1)  # (M, 2)
    return pairs_where(lambda rows: ((lo1[rows, None] <= hi2[None]) &
                                     (lo2[None] <= hi1[rows, None])).all(-1),  # (n, M)
                       boxes.shape[0], polys.shape[0], boxes.device)
