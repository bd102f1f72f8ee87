"""Rotated anchors on the FPN grid (one square, upright anchor per location in the seed configs).

For level ``l`` with stride ``s`` the anchor at feature cell ``(i, j)`` (row, column) is centred
on ``((j + center_offset) * s, (i + center_offset) * s)`` (mmdetection's default
``center_offset = 0`` puts the first anchor on the image corner); the anchor side is
``octave_base_scale * s * 2**(k / scales_per_octave)`` scaled by the aspect ratio, and every
anchor has ``theta = angle`` (0 in the seed configs, as mmrotate 0.x: the paper's "correct"
regularised anchors lowered mAP there, see mmrotate#151).

Order of the flattened anchors of a level: row-major over (i, j), then the ``R`` anchors of one
location. That is exactly the order of a head output permuted from ``(B, R*C, H, W)`` to
``(B, H*W*R, C)``, so anchor ``a`` and prediction ``a`` always belong together.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor


class AnchorGenerator:
    """Rotated anchors for FPN levels of ``strides`` pixels: one anchor per (scale, ratio h/w)
    pair at every location, in the layout of the module docstring."""
    def __init__(self, strides=(8, 16, 32, 64, 128), octave_base_scale: float = 4,
                 scales_per_octave: int = 1, ratios=(1.0,), angle: float = 0.0,
                 center_offset: float = 0.0):
        if not strides or min(strides) <= 0 or not ratios or min(ratios) <= 0 \
                or octave_base_scale <= 0 or scales_per_octave < 1 \
                or not math.isfinite(angle) or not 0.0 <= center_offset < 1.0:
            raise ValueError(f"need positive strides {strides} and ratios {ratios}, "
                             f"octave_base_scale {octave_base_scale} > 0, scales_per_octave "
                             f"{scales_per_octave} >= 1, a finite angle {angle} and "
                             f"center_offset {center_offset} in [0, 1)")
        self.strides, self.ratios, self.angle = tuple(strides), tuple(ratios), float(angle)
        self.octave_base_scale, self.scales_per_octave = octave_base_scale, scales_per_octave
        self.center_offset = float(center_offset)

    @property
    def num_anchors_per_location(self) -> int:
        return self.scales_per_octave * len(self.ratios)

    def base_sizes(self, stride: float) -> Tensor:
        """(R, 2) anchor (w, h) at one location of a level, scales outer and ratios inner."""
        sizes = []
        for k in range(self.scales_per_octave):
            side = self.octave_base_scale * stride * 2 ** (k / self.scales_per_octave)
            for ratio in self.ratios:  # ratio = h / w at constant area side**2
                sizes.append((side / math.sqrt(ratio), side * math.sqrt(ratio)))
        return torch.tensor(sizes, dtype=torch.float64)  # (R, 2)

    def num_level_anchors(self, feature_sizes: list[tuple[int, int]]) -> list[int]:
        """Number of anchors of each level, ``H_l * W_l * R``."""
        return [h * w * self.num_anchors_per_location for h, w in feature_sizes]

    def grid_anchors(self, feature_sizes: list[tuple[int, int]], device=None,
                     dtype: torch.dtype = torch.float32) -> list[Tensor]:
        """L tensors (H_l * W_l * R, 5) of anchors, one per stride, for L sizes (H_l, W_l)."""
        if len(feature_sizes) != len(self.strides):
            raise ValueError(f"got {len(feature_sizes)} feature sizes for {len(self.strides)} "
                             f"strides {self.strides}")
        return [self._level_anchors(size, stride, device, dtype)
                for size, stride in zip(feature_sizes, self.strides)]

    def anchors_for_image(self, image_size: tuple[int, int], device=None,
                          dtype: torch.dtype = torch.float32):
        """Per-level anchors and feature sizes ``(ceil(H / s), ceil(W / s))`` of (H, W) images."""
        height, width = image_size
        sizes = [(math.ceil(height / s), math.ceil(width / s)) for s in self.strides]
        return self.grid_anchors(sizes, device=device, dtype=dtype), sizes

    def _level_anchors(self, size, stride, device, dtype) -> Tensor:
        height, width = size
        ys = (torch.arange(height, dtype=torch.float64) + self.center_offset) * stride  # (H,)
        xs = (torch.arange(width, dtype=torch.float64) + self.center_offset) * stride  # (W,)
        cy, cx = torch.meshgrid(ys, xs, indexing="ij")  # (H, W) each
        num_cells, num_per_cell = height * width, self.num_anchors_per_location
        centers = torch.stack([cx, cy], dim=-1).reshape(num_cells, 1, 2)  # (H*W, 1, 2)
        centers = centers.expand(num_cells, num_per_cell, 2)  # (H*W, R, 2)
        wh = self.base_sizes(stride).expand(num_cells, num_per_cell, 2)  # (H*W, R, 2)
        angle = torch.full((num_cells, num_per_cell, 1), self.angle, dtype=torch.float64)
        anchors = torch.cat([centers, wh, angle], dim=-1).reshape(-1, 5)  # (H*W*R, 5)
        return anchors.to(device=device, dtype=dtype)  # (H*W*R, 5)
