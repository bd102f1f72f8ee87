"""Helpers of the assigner tests: an independent shapely IoU and small anchor grids.

Imported by name (``from assign_helpers import ...``): pytest puts this folder on sys.path.
"""
from __future__ import annotations

import math

import torch
from shapely.geometry import Polygon


def shapely_iou(a, b) -> float:
    """IoU of two rotated boxes (cx, cy, w, h, theta) with shapely (independent oracle)."""
    def poly(box):
        cx, cy, w, h, t = [float(v) for v in box]
        ux, uy = w / 2 * math.cos(t), w / 2 * math.sin(t)
        vx, vy = -h / 2 * math.sin(t), h / 2 * math.cos(t)
        return Polygon([(cx - ux - vx, cy - uy - vy), (cx + ux - vx, cy + uy - vy),
                        (cx + ux + vx, cy + uy + vy), (cx - ux + vx, cy - uy + vy)])
    pa, pb = poly(a), poly(b)
    inter = pa.intersection(pb).area
    return inter / (pa.area + pb.area - inter)


def grid_anchors(size: int, stride: int, n: int) -> torch.Tensor:
    """(n*n, 5) square anchors of side ``size`` centred on an n x n grid of ``stride``."""
    ys, xs = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
    ctr = (torch.stack([xs, ys], -1).reshape(-1, 2).float() + 0.5) * stride
    wh = torch.full((n * n, 2), float(size))
    return torch.cat([ctr, wh, torch.zeros(n * n, 1)], dim=1)


def two_level_anchors():
    """8x8 anchors of side 32 at stride 8 and 4x4 anchors of side 64 at stride 16 (64 px image)."""
    levels = [grid_anchors(32, 8, 8), grid_anchors(64, 16, 4)]
    return torch.cat(levels), [len(a) for a in levels]
