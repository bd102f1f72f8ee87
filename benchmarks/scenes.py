"""Scenes of DOTA density for the benchmarks and the equality tests of the fast paths.

* :func:`random_gts`: rotated boxes of any size and angle anywhere in the image;
* :func:`parking_lot`: small vehicles (about 10 x 5 px) parked side by side in rows;
* :func:`parking_scene`: ``num`` vehicles in lots of 400 spread over the image (a 1024 px
  DOTA patch of a car park holds 1000-2000 of them);
* :func:`clustered_detections`: raw detector output for the NMS benchmark and tests.
"""
from __future__ import annotations

import math

import torch


def random_gts(num: int, size: int, seed: int = 0) -> torch.Tensor:
    """(num, 5) rotated boxes (20-120 x 8-48 px, any angle) inside a ``size`` px image."""
    g = torch.Generator().manual_seed(seed)
    u = torch.rand(num, 5, generator=g)
    return torch.stack([u[:, 0] * size, u[:, 1] * size, 20 + 100 * u[:, 2], 8 + 40 * u[:, 3],
                        (u[:, 4] - 0.5) * torch.pi], dim=1)


def parking_lot(rows: int, cols: int, origin=(20.0, 30.0), angle: float = 0.3,
                seed: int = 0) -> torch.Tensor:
    """(rows * cols, 5) vehicles of about 10 x 5 px, 6 px apart in a row, rows 12 px apart."""
    g = torch.Generator().manual_seed(seed)
    i, j = torch.meshgrid(torch.arange(rows), torch.arange(cols), indexing="ij")
    u, v = j.reshape(-1) * 6.0, i.reshape(-1) * 12.0  # along a row, across the rows
    c, s = math.cos(angle), math.sin(angle)
    jitter = torch.rand(rows * cols, 5, generator=g) - 0.5
    cx = origin[0] + u * c - v * s + jitter[:, 0]
    cy = origin[1] + u * s + v * c + jitter[:, 1]
    w, h = 10 + 2 * jitter[:, 2], 5 + jitter[:, 3]
    theta = angle + math.pi / 2 + 0.1 * jitter[:, 4]
    return torch.stack([cx, cy, w, h, theta], dim=1)


def parking_scene(num: int, size: int, seed: int = 0) -> torch.Tensor:
    """(num, 5) vehicles in lots of 10 rows x 40 (240 x 120 px) at random places and angles."""
    g = torch.Generator().manual_seed(seed)
    lots = []
    for lot in range(math.ceil(num / 400)):
        origin = (torch.rand(2, generator=g) * (size - 240) + 60).tolist()
        angle = float(torch.rand(1, generator=g) - 0.5)
        lots.append(parking_lot(10, 40, origin, angle, seed + lot))
    return torch.cat(lots)[:num]


def clustered_detections(num: int, seed: int = 0, image: float = 1024.0, per_cluster: int = 20):
    """Raw detections: ``num`` boxes in clusters of about ``per_cluster`` jittered copies of an
    object (4-64 px, any angle), with scores (num,) and labels (num,) of 15 classes."""
    g = torch.Generator().manual_seed(seed)
    k = max(1, num // per_cluster)
    centres, sizes = torch.rand(k, 2, generator=g) * image, 4 + torch.rand(k, 2, generator=g) * 60
    angles = (torch.rand(k, generator=g) - 0.5) * math.pi
    idx = torch.randint(0, k, (num,), generator=g)
    jit = torch.randn(num, 5, generator=g)
    ctr = centres[idx] + jit[:, :2] * sizes[idx] * 0.15
    wh = (sizes[idx] * (1 + 0.1 * jit[:, 2:4])).abs() + 0.5
    boxes = torch.cat([ctr, wh, (angles[idx] + 0.05 * jit[:, 4])[:, None]], dim=1)
    return boxes, torch.rand(num, generator=g), torch.randint(0, 15, (num,), generator=g)
