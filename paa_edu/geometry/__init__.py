"""Rotated-box geometry shared by anchors, assigners, losses, NMS and evaluation.

Every ``(..., 5)`` tensor is ``(cx, cy, w, h, theta)``: pixels and radians, image coordinates
(x right, y down), positive theta turns the box clockwise on screen (mmcv/mmrotate convention).
The corners are ``c -/+ u -/+ v`` with ``u = (w/2)(cos t, sin t)`` and
``v = (h/2)(-sin t, cos t)``.
"""
from paa_edu.geometry.angles import (
    ANGLE_VERSIONS,
    DEFAULT_ANGLE_VERSION,
    check_version,
    norm_angle,
    regularize_boxes,
    weighted_mean_angle,
)
from paa_edu.geometry.checks import NonFiniteError, check_boxes
from paa_edu.geometry.convert import full_precision, obb2hbb, obb2poly, poly2obb
from paa_edu.geometry.iou import box_iou_rotated
from paa_edu.geometry.nms import batched_nms_rotated, nms_rotated
from paa_edu.geometry.points import center_distances, points_in_rboxes
from paa_edu.geometry.polygon_iou import box_poly_iou

__all__ = ["ANGLE_VERSIONS", "DEFAULT_ANGLE_VERSION", "NonFiniteError", "check_boxes",
           "check_version", "norm_angle", "regularize_boxes", "weighted_mean_angle",
           "full_precision", "obb2hbb", "obb2poly", "poly2obb", "box_iou_rotated",
           "box_poly_iou", "nms_rotated", "batched_nms_rotated", "center_distances",
           "points_in_rboxes"]
