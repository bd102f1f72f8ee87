"""Angle conventions for rotated boxes: ``oc``, ``le135`` and ``le90`` (as mmrotate).

A rotated box ``(cx, cy, w, h, theta)`` describes the same rectangle as
``(cx, cy, h, w, theta + pi/2)`` and as ``(cx, cy, w, h, theta + pi)``. An *angle version* picks
one representative of each rectangle so that a network regresses a unique target:

=========  ====================  =================  ========================================
version    theta range           w >= h enforced?   used by
=========  ====================  =================  ========================================
``oc``     (0, pi/2]             no                 mmrotate 0.x "opencv" boxes
``le135``  [-pi/4, 3pi/4)        yes (long edge)    the seed's "v2" configs (our default)
``le90``   [-pi/2, pi/2)         yes (long edge)    mmrotate's most common configs
=========  ====================  =================  ========================================

Worked example (le135): ``(0, 0, 10, 30, 0)`` is a tall box. Its long side is ``h``, so it becomes
``(0, 0, 30, 10, pi/2)``, which is inside [-pi/4, 3pi/4). Under le90 the same box becomes
``(0, 0, 30, 10, -pi/2)`` because pi/2 wraps to -pi/2.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from paa_edu.geometry.value_checks import value_checks_enabled

ANGLE_VERSIONS = ("oc", "le135", "le90")
DEFAULT_ANGLE_VERSION = "le135"

# Start of the half-open period of each long-edge convention: theta in [start, start + pi).
_LONG_EDGE_START = {"le135": -math.pi / 4, "le90": -math.pi / 2}


class NonFiniteError(ValueError):
    """A tensor holds NaN or Inf. During training this means divergence: the training step turns
    it into its ``non-finite loss at epoch E iter I (term: name)`` error.

    Attributes:
        name: the tensor's name (``"boxes"``, ``"anchor_scores"``, ...).
    """

    def __init__(self, name: str, message: str):
        super().__init__(message)
        self.name = name


def check_version(version: str) -> str:
    """Return ``version`` if it is a known angle version, else raise ``ValueError``."""
    if version not in ANGLE_VERSIONS:
        raise ValueError(f"unknown angle version {version!r}; expected one of {ANGLE_VERSIONS}")
    return version


def norm_angle(theta: Tensor, version: str) -> Tensor:
    """Wrap angles into the period of ``version`` (as mmrotate's ``norm_angle``).

    ``le135`` wraps into [-pi/4, 3pi/4) and ``le90`` into [-pi/2, pi/2), both modulo pi.
    ``oc`` is the identity, as in mmrotate: an oc angle is only meaningful together with the
    w/h swap that :func:`regularize_boxes` performs.

    Args:
        theta: angles in radians, any shape.
        version: one of :data:`ANGLE_VERSIONS`.
    Returns:
        wrapped angles, same shape and dtype as ``theta``.
    """
    check_version(version)
    if version == "oc":
        return theta
    start = _LONG_EDGE_START[version]
    return torch.remainder(theta - start, math.pi) + start


def weighted_mean_angle(theta: Tensor, weights: Tensor, version: str) -> Tensor:
    """Weighted mean of box angles, which are axial (``theta`` and ``theta + pi`` are one box).

    A linear mean fails across the wrap: 3pi/4 - eps and -pi/4 are nearly the same long-edge
    box, yet their average is pi/4. Averaging the unit vectors ``(cos 2t, sin 2t)`` on the
    doubled-angle circle and halving the result's angle respects the period pi.

    Args:
        theta: (N,) angles in radians.
        weights: (K, N) non-negative weights, one row per mean.
        version: angle version of the result.
    Returns:
        (K,) mean angles wrapped into ``version``'s range.
    """
    cos2 = weights @ torch.cos(2 * theta)  # (K,)
    sin2 = weights @ torch.sin(2 * theta)  # (K,)
    return norm_angle(torch.atan2(sin2, cos2) / 2, version)


def regularize_boxes(boxes: Tensor, version: str = DEFAULT_ANGLE_VERSION) -> Tensor:
    """Rewrite rotated boxes in the canonical form of ``version``; the rectangles do not change.

    Args:
        boxes: (..., 5) cx, cy, w, h, theta.
        version: one of :data:`ANGLE_VERSIONS`.
    Returns:
        (..., 5) the same rectangles with theta in the version's range (and w >= h for le*).
    """
    check_version(version)
    check_boxes(boxes, "boxes")
    cx, cy, w, h, theta = boxes.unbind(-1)
    if version == "oc":
        # 1. Shift theta by k quarter turns into (0, pi/2]; each quarter turn swaps w and h.
        k = torch.ceil(theta / (math.pi / 2)) - 1  # number of quarter turns to remove
        theta = theta - k * (math.pi / 2)
        # Rounding can leave theta a hair outside (0, pi/2]; fold it back.
        k = torch.where(theta <= 0, k - 1, torch.where(theta > math.pi / 2, k + 1, k))
        theta = torch.where(theta <= 0, theta + math.pi / 2, theta)
        theta = torch.where(theta > math.pi / 2, theta - math.pi / 2, theta)
        odd = torch.remainder(k, 2) == 1
        w, h = torch.where(odd, h, w), torch.where(odd, w, h)
    else:
        # 1. Long edge first: a box with w < h is the same as (h, w, theta + pi/2).
        swap = w < h
        w, h = torch.where(swap, h, w), torch.where(swap, w, h)
        theta = torch.where(swap, theta + math.pi / 2, theta)
        # 2. Wrap theta into the version's period of length pi.
        theta = norm_angle(theta, version)
    return torch.stack([cx, cy, w, h, theta], dim=-1)


def check_boxes(boxes: Tensor, name: str = "boxes", allow_empty: bool = True) -> Tensor:
    """Validate a rotated-box tensor and return it; raise a clear ``ValueError`` otherwise.

    Checks: a floating tensor of shape (..., 5), every value finite, w >= 0 and h >= 0 (the
    last two are skipped inside :func:`paa_edu.geometry.value_checks.trusted_values`).
    """
    check_float_rows(boxes, name, 5, "cx, cy, w, h, theta")
    if boxes.numel() == 0:
        if not allow_empty:
            raise ValueError(f"{name} is empty")
        return boxes
    if not value_checks_enabled():
        return boxes
    negative = (boxes[..., 2:4] < 0).any(-1)
    if bool(negative.any()):
        bad = int(negative.flatten().nonzero()[0])
        raise ValueError(f"{name} has a negative width or height (first at flat row {bad}: "
                         f"{boxes.reshape(-1, 5)[bad].tolist()})")
    return boxes


def check_float_rows(values: Tensor, name: str, size: int, layout: str) -> Tensor:
    """Raise ``TypeError``/``ValueError`` unless ``values`` is a finite float (..., size) tensor.

    ``layout`` names the columns in the message, e.g. ``"x1, y1, ..., x4, y4"``.
    """
    if not isinstance(values, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (..., {size}), "
                        f"got {type(values)}")
    if values.dim() == 0 or values.shape[-1] != size:
        raise ValueError(f"{name} must have shape (..., {size}) = {layout}; "
                         f"got {tuple(values.shape)}")
    if not values.is_floating_point():
        raise ValueError(f"{name} must be a floating tensor, got {values.dtype}")
    if values.numel() and value_checks_enabled():
        finite = torch.isfinite(values).all(-1).flatten()
        if not bool(finite.all()):
            bad = int((~finite).nonzero()[0])
            raise NonFiniteError(name, f"{name} contains NaN or Inf (first at flat row {bad})")
    return values
