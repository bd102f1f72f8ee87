"""The anchor grid behind a flat anchor tensor, so that assigners can find anchors by index.

:class:`paa_edu.model.anchors.AnchorGenerator` lays level ``l`` out row-major: cell ``(i, j)``
holds ``R`` anchors centred on ``(x0 + j * sx, y0 + i * sy)``, and slot ``r`` of it has index
``start + (i * W + j) * R + r``. :func:`anchor_grid` reads the layout back from the anchors and
checks it:

1. ``R`` = how many leading anchors share the first centre; every cell repeats its centre
   exactly ``R`` times;
2. ``W`` = how many cells share the first row's y; the cells fill ``H`` full rows;
3. the strides are the gaps between the first cells; every centre lies within ``1e-3``
   stride of ``(x0 + j * sx, y0 + i * sy)``.

Any level that fails makes the answer ``None``: the caller uses its dense reference. Windows
only *choose* anchors; distances and IoUs are computed from the real anchors, and
:attr:`LevelGrid.slack` covers the gap between the formula and the real centres. The answer is
cached per anchor tensor (the detector reuses its anchors).
"""
from __future__ import annotations

import math
import weakref
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

_MAX_DEVIATION = 1e-3  # largest gap between a centre and the grid formula, in strides
_CACHE: dict[int, tuple] = {}  # id(anchors) -> (weakref, version, key, grid)
_CACHE_SIZE = 8


@dataclass(frozen=True)
class LevelGrid:
    """Layout of one FPN level (python numbers, no tensors).

    Attributes:
        start: index of the level's first anchor in the flat anchors.
        height, width: H and W cells; per_cell: R anchors per cell.
        x0, y0: centre of cell (0, 0); sx, sy: strides along x and y (> 0).
        radius: largest half diagonal ``hypot(w, h) / 2`` of the level's anchors.
        slack: tolerance in pixels for the grid formula (deviation + float rounding).
    """

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


def anchor_grid(anchors: Tensor, num_level_anchors: list[int] | None
                ) -> list[LevelGrid] | None:
    """One :class:`LevelGrid` per non-empty level of ``anchors`` (A, 5), or ``None`` when they are
    not such a grid (or ``num_level_anchors`` is None).
    """
    if num_level_anchors is None or anchors.shape[0] == 0:
        return None
    key = (tuple(anchors.shape), anchors.dtype, anchors.device, tuple(num_level_anchors))
    hit = _CACHE.get(id(anchors))
    if hit is not None and hit[0]() is anchors and hit[1] == anchors._version and hit[2] == key:
        return hit[3]
    grid = _infer_grid(anchors, num_level_anchors)
    if len(_CACHE) >= _CACHE_SIZE:
        _CACHE.clear()
    _CACHE[id(anchors)] = (weakref.ref(anchors), anchors._version, key, grid)
    return grid


def _infer_grid(anchors: Tensor, num_level_anchors: list[int]) -> list[LevelGrid] | None:
    """The checks of the module docstring, on one host copy of the anchors (numpy)."""
    host = anchors.detach().to("cpu", torch.float64).numpy()  # (A, 5), one copy
    levels, start = [], 0
    for n in num_level_anchors:
        if n > 0:
            level = _infer_level(host[start:start + n], start)
            if level is None:
                return None
            levels.append(level)
        start += n
    return levels


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
