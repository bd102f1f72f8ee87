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

from paa_edu.geometry.checks import check_boxes

ANGLE_VERSIONS = ("oc", "le135", "le90")
DEFAULT_ANGLE_VERSION = "le135"

# Start of the half-open period of each long-edge convention: theta in [start, start + pi).
_LONG_EDGE_START = {"le135": -math.pi / 4, "le90": -math.pi / 2}


def check_version(version: str) -> str:
    """Return ``version`` if it is a known angle version, else raise ``ValueError``."""
    if version not in ANGLE_VERSIONS:
        raise ValueError(f"unknown angle version {version!r}; expected one of {ANGLE_VERSIONS}")
    return version


def norm_angle(theta: Tensor, version: str) -> Tensor:
    """Wrap angles (any shape) into ``version``'s period modulo pi (mmrotate's ``norm_angle``).
    ``oc`` is the identity, as in mmrotate: an oc angle only means something with the w/h swap of
    :func:`regularize_boxes`."""
    check_version(version)
    if version == "oc":
        return theta
    start = _LONG_EDGE_START[version]
    return torch.remainder(theta - start, math.pi) + start


def weighted_mean_angle(theta: Tensor, weights: Tensor, version: str) -> Tensor:
    """Weighted means (K,) of box angles theta (N,) with weights (K, N), wrapped into ``version``.
    Angles are axial (``theta`` and ``theta + pi`` are one box): a linear mean of 3pi/4 - eps and
    -pi/4, nearly the same long-edge box, would be pi/4. Averaging the unit vectors
    ``(cos 2t, sin 2t)`` and halving the result's angle respects the period pi."""
    cos2 = weights @ torch.cos(2 * theta)  # (K,)
    sin2 = weights @ torch.sin(2 * theta)  # (K,)
    return norm_angle(torch.atan2(sin2, cos2) / 2, version)


def regularize_boxes(boxes: Tensor, version: str = DEFAULT_ANGLE_VERSION) -> Tensor:
    """The boxes (..., 5) in the canonical form of ``version``; the rectangles do not change."""
    check_version(version)
    return regularized(check_boxes(boxes, "boxes"), version)


def regularized(boxes: Tensor, version: str) -> Tensor:
    """:func:`regularize_boxes` without input checks (for boxes the library built itself)."""
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
