"""DeltaXYWHA box coder: rotated boxes <-> regression deltas relative to rotated anchors.

Encoding of a ground truth ``g`` against an anchor ``p`` (mmrotate's ``DeltaXYWHAOBBoxCoder``,
means 0 and stds 1 as in the seed configs)::

    dx = ( cos(pt)(gx - px) + sin(pt)(gy - py)) / pw      # centre offset in the anchor's frame
    dy = (-sin(pt)(gx - px) + cos(pt)(gy - py)) / ph
    dw = log(gw / pw),  dh = log(gh / ph)
    dt = norm(gt - pt) / pi                                # le135: wrapped, divided by pi

The three angle versions use the settings of the mmrotate DOTA RetinaNet configs:

=========  =======  =========  ===========  =============================================
version    proj_xy  edge_swap  norm_factor  angle delta
=========  =======  =========  ===========  =============================================
le135      yes      no         1            norm_le135(gt - pt) / pi
le90       yes      yes        none         the smaller of norm(gt - pt), norm(gt - pt + pi/2)
oc         no       no         none         gt - pt (no wrap; oc angles live in (0, pi/2])
=========  =======  =========  ===========  =============================================

``decode`` applies the inverse and returns the box regularised in the coder's version, so
``decode(p, encode(p, g)) == regularize_boxes(g, version)`` (up to float error, for boxes whose
size ratio to the anchor is inside the ``wh_ratio_clip`` range).
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from paa_edu.geometry import check_boxes, check_version, full_precision, norm_angle
from paa_edu.geometry.angles import regularized

# (proj_xy, edge_swap, norm_factor) per angle version.
_VERSION_SETTINGS = {"le135": (True, False, 1.0), "le90": (True, True, None),
                     "oc": (False, False, None)}


class DeltaXYWHACoder:
    """Encode/decode boxes of angle ``version`` as deltas normalised as ``(d - means) / stds``;
    decoded ``dw, dh`` are clamped to ``+-|log(wh_ratio_clip)|``."""
    def __init__(self, version: str = "le135", means=(0.0,) * 5, stds=(1.0,) * 5,
                 wh_ratio_clip: float = 16 / 1000):
        self.version = check_version(version)
        if len(means) != 5 or len(stds) != 5 or any(s <= 0 for s in stds):
            raise ValueError(f"means and stds need 5 values (stds > 0), got {means}, {stds}")
        if not 0 < wh_ratio_clip < 1:
            raise ValueError(f"wh_ratio_clip must be in (0, 1), got {wh_ratio_clip}")
        self.means, self.stds = tuple(means), tuple(stds)
        self.max_log_ratio = abs(math.log(wh_ratio_clip))
        self.proj_xy, self.edge_swap, self.norm_factor = _VERSION_SETTINGS[version]

    def encode(self, anchors: Tensor, gt_boxes: Tensor) -> Tensor:
        """(..., 5) normalised deltas that turn ``anchors`` (..., 5) (w, h > 0) into
        ``gt_boxes`` (..., 5), regularised to the coder's version first."""
        check_boxes(anchors, "anchors")
        self._check_shapes(anchors, check_boxes(gt_boxes, "gt_boxes"), "gt_boxes")
        gt_boxes = regularized(gt_boxes, self.version)
        px, py, pw, ph, pt = anchors.unbind(-1)
        gx, gy, gw, gh, gt = gt_boxes.unbind(-1)
        dx, dy = self._rotate(gx - px, gy - py, pt, -1.0)  # into the anchor's frame
        dx, dy = dx / pw, dy / ph
        dt = norm_angle(gt - pt, self.version)
        if self.edge_swap:  # use the edge pairing that needs the smaller rotation
            dt_swapped = norm_angle(gt - pt + math.pi / 2, self.version)
            swap = dt.abs() >= dt_swapped.abs()
            gw, gh = torch.where(swap, gh, gw), torch.where(swap, gw, gh)
            dt = torch.where(swap, dt_swapped, dt)
        if self.norm_factor is not None:
            dt = dt / (self.norm_factor * math.pi)
        deltas = torch.stack([dx, dy, torch.log(gw / pw), torch.log(gh / ph), dt], -1)
        return (deltas - deltas.new_tensor(self.means)) / deltas.new_tensor(self.stds)

    def decode(self, anchors: Tensor, deltas: Tensor, max_shape=None) -> Tensor:
        """Apply ``deltas`` (..., 5) to ``anchors`` (..., 5): boxes regularised in the coder's
        version, differentiable w.r.t. ``deltas``. ``max_shape`` (H, W) clamps the centres."""
        self._check_shapes(anchors, deltas, "deltas")
        deltas = full_precision(deltas)
        deltas = deltas * deltas.new_tensor(self.stds) + deltas.new_tensor(self.means)
        dx, dy, dw, dh, dt = deltas.unbind(-1)
        px, py, pw, ph, pt = anchors.unbind(-1)
        dw = dw.clamp(-self.max_log_ratio, self.max_log_ratio)
        dh = dh.clamp(-self.max_log_ratio, self.max_log_ratio)
        ox, oy = self._rotate(dx * pw, dy * ph, pt, 1.0)  # back to the image frame
        gx, gy = px + ox, py + oy
        if max_shape is not None:
            gx, gy = gx.clamp(0, max_shape[1]), gy.clamp(0, max_shape[0])
        if self.norm_factor is not None:
            dt = dt * self.norm_factor * math.pi
        boxes = torch.stack([gx, gy, pw * dw.exp(), ph * dh.exp(), pt + dt], -1)
        return regularized(boxes, self.version)

    def _rotate(self, ox: Tensor, oy: Tensor, pt: Tensor, sign: float):
        """The offset (ox, oy) turned by ``sign * pt`` (identity without ``proj_xy``)."""
        if not self.proj_xy:
            return ox, oy
        cos, sin = torch.cos(pt), sign * torch.sin(pt)
        return cos * ox - sin * oy, sin * ox + cos * oy

    @staticmethod
    def _check_shapes(anchors: Tensor, other: Tensor, name: str) -> None:
        """Free layout checks (no values: decoding runs inside every training step)."""
        if not isinstance(other, Tensor) or anchors.shape[-1:] != (5,) \
                or other.shape != anchors.shape:
            shape = tuple(other.shape) if isinstance(other, Tensor) else type(other)
            raise ValueError(f"anchors (..., 5) and {name} must have the same shape, got "
                             f"{tuple(anchors.shape)} and {shape}")
