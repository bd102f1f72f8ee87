"""Independent oracles for the geometry tests: shapely polygons and a plain greedy NMS loop.

Corners are built here with numpy from the written convention (not with ``obb2poly``), so the
oracle shares no code with the implementation under test.
"""
from __future__ import annotations

import numpy as np
import pytest
import shapely
import torch

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
device_params = pytest.mark.parametrize("device", DEVICES)


def corners_np(boxes) -> np.ndarray:
    """(N, 5) boxes -> (N, 4, 2) float64 corners c-u-v, c+u-v, c+u+v, c-u+v."""
    b = np.asarray(torch.as_tensor(boxes).detach().cpu().double())
    c, w, h, t = b[:, None, 0:2], b[:, 2, None], b[:, 3, None], b[:, 4]
    u = np.stack([np.cos(t), np.sin(t)], -1)[:, None] * (w[..., None] / 2)  # (N, 1, 2)
    v = np.stack([-np.sin(t), np.cos(t)], -1)[:, None] * (h[..., None] / 2)
    return np.concatenate([c - u - v, c + u - v, c + u + v, c - u + v], axis=1)


def polygons(boxes) -> np.ndarray:
    return shapely.polygons(corners_np(boxes))


def shapely_overlaps(boxes1, boxes2, mode: str = "iou") -> np.ndarray:
    """(N, M) IoU or IoF from shapely intersection areas, float64."""
    p1, p2 = polygons(boxes1), polygons(boxes2)
    inter = shapely.area(shapely.intersection(p1[:, None], p2[None]))
    a1, a2 = shapely.area(p1)[:, None], shapely.area(p2)[None]
    denom = a1 if mode == "iof" else a1 + a2 - inter
    return inter / np.maximum(denom, 1e-6)


def shapely_overlaps_aligned(boxes1, boxes2, mode: str = "iou") -> np.ndarray:
    """(N,) IoU or IoF of row i with row i, from shapely, float64."""
    p1, p2 = polygons(boxes1), polygons(boxes2)
    inter = shapely.area(shapely.intersection(p1, p2))
    a1, a2 = shapely.area(p1), shapely.area(p2)
    denom = a1 if mode == "iof" else a1 + a2 - inter
    return inter / np.maximum(denom, 1e-6)


def greedy_nms_reference(boxes, scores, thr: float) -> list[int]:
    """Textbook greedy NMS over shapely IoUs: visit by score, suppress IoU > thr."""
    iou = shapely_overlaps(boxes, boxes)
    order = np.argsort(-np.asarray(scores.detach().cpu().double()), kind="stable")
    suppressed = np.zeros(len(order), dtype=bool)
    keep = []
    for i in order:
        if not suppressed[i]:
            keep.append(int(i))
            suppressed |= iou[i] > thr
    return keep


def random_boxes(n: int, seed: int, image: float = 256.0, size=(4.0, 80.0),
                 dtype=torch.float64) -> torch.Tensor:
    """(n, 5) random boxes, centres in [0, image)^2, sides in ``size``, any angle."""
    g = torch.Generator().manual_seed(seed)
    ctr = torch.rand(n, 2, generator=g, dtype=torch.float64) * image
    wh = size[0] + torch.rand(n, 2, generator=g, dtype=torch.float64) * (size[1] - size[0])
    theta = (torch.rand(n, 1, generator=g, dtype=torch.float64) - 0.5) * 2 * np.pi
    return torch.cat([ctr, wh, theta], dim=1).to(dtype)


def _signed_area(points) -> float:
    x, y = np.asarray(points, dtype=np.float64).T
    return float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y) / 2)


def winding_rule_iou(quad_a, quad_b) -> float:
    """IoU of two quadrilaterals (4, 2) by the DOTA devkit's polyiou rule, as it is stated.

    Each polygon is oriented to a positive signed area and fanned into the triangles
    (origin, p_i, p_i+1), each with the sign of its own orientation. The intersection is the
    sum over all triangle pairs of sign_i * sign_j * area(T_i & U_j) (shapely clips the
    triangles, which are always valid); the union is |area_a| + |area_b| - intersection. For
    simple polygons this is the usual IoU; for self-intersecting ones it weights each lobe by
    its winding number.
    """
    def fan(quad):
        quad = np.asarray(quad, dtype=np.float64)
        if _signed_area(quad) < 0:
            quad = quad[::-1]
        tris = [np.array([[0.0, 0.0], quad[i], quad[(i + 1) % 4]]) for i in range(4)]
        return [(np.sign(_signed_area(t)), shapely.Polygon(t)) for t in tris
                if _signed_area(t) != 0]

    inter = sum(sa * sb * sha.intersection(shb).area
                for sa, sha in fan(quad_a) for sb, shb in fan(quad_b))
    union = abs(_signed_area(quad_a)) + abs(_signed_area(quad_b)) - inter
    return inter / union
