"""Tests for paa_edu.geometry.angles: ranges, rectangle preservation and input validation."""
from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
import torch
from geometry_oracles import polygons, random_boxes
from hypothesis import given, settings
from hypothesis import strategies as st

from paa_edu.geometry import (
    ANGLE_VERSIONS,
    DEFAULT_ANGLE_VERSION,
    check_boxes,
    check_version,
    norm_angle,
    regularize_boxes,
)

RANGES = {"oc": (0.0, math.pi / 2), "le135": (-math.pi / 4, 3 * math.pi / 4),
          "le90": (-math.pi / 2, math.pi / 2)}


def test_versions_and_default():
    assert set(ANGLE_VERSIONS) == {"oc", "le135", "le90"}
    assert DEFAULT_ANGLE_VERSION == "le135"
    assert check_version("le90") == "le90"
    with pytest.raises(ValueError, match="unknown angle version"):
        check_version("le180")


@pytest.mark.parametrize("version", ["le135", "le90"])
def test_norm_angle_range_and_period(version):
    theta = torch.linspace(-20, 20, 1001, dtype=torch.float64)
    out = norm_angle(theta, version)
    lo, hi = RANGES[version]
    assert bool((out >= lo).all()) and bool((out < hi).all())
    k = (theta - out) / math.pi  # removed a whole number of half turns
    assert torch.allclose(k, k.round(), atol=1e-9)


def test_norm_angle_oc_is_identity_and_examples():
    theta = torch.tensor([-3.0, 0.5, 7.0])
    assert torch.equal(norm_angle(theta, "oc"), theta)
    assert norm_angle(torch.tensor(math.pi / 2), "le90").item() == pytest.approx(-math.pi / 2)
    assert norm_angle(torch.tensor(-math.pi / 4), "le135").item() == pytest.approx(-math.pi / 4)


def test_worked_example_of_the_docstring():
    tall = torch.tensor([[0.0, 0.0, 10.0, 30.0, 0.0]])
    assert torch.allclose(regularize_boxes(tall, "le135"),
                          torch.tensor([[0.0, 0.0, 30.0, 10.0, math.pi / 2]]))
    assert torch.allclose(regularize_boxes(tall, "le90"),
                          torch.tensor([[0.0, 0.0, 30.0, 10.0, -math.pi / 2]]))


def _same_rectangles(a, b):
    pa, pb = polygons(a), polygons(b)
    diff = shapely.area(shapely.symmetric_difference(pa, pb))
    return np.all(diff <= 1e-9 * np.maximum(shapely.area(pa), 1.0))


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from(ANGLE_VERSIONS))
def test_regularize_keeps_rectangle_and_range(seed, version):
    boxes = random_boxes(16, seed)
    boxes[:, 4] *= 3  # angles far outside every range
    out = regularize_boxes(boxes, version)
    lo, hi = RANGES[version]
    if version == "oc":
        assert bool((out[:, 4] > lo - 1e-12).all()) and bool((out[:, 4] <= hi + 1e-12).all())
    else:
        assert bool((out[:, 4] >= lo).all()) and bool((out[:, 4] < hi).all())
        assert bool((out[:, 2] >= out[:, 3]).all())
    assert _same_rectangles(boxes, out)
    assert torch.allclose(regularize_boxes(out, version), out, atol=1e-12)  # idempotent


def test_regularize_preserves_shape_and_dtype():
    boxes = random_boxes(6, 1, dtype=torch.float32).reshape(2, 3, 5)
    out = regularize_boxes(boxes, "le90")
    assert out.shape == (2, 3, 5) and out.dtype == torch.float32


@pytest.mark.parametrize("bad, match", [
    (torch.zeros(3, 4), "shape"),
    (torch.zeros(3, 5, dtype=torch.long), "floating"),
    (torch.tensor([[0.0, 0.0, -1.0, 1.0, 0.0]]), "negative"),
    (torch.tensor([[0.0, float("nan"), 1.0, 1.0, 0.0]]), "NaN"),
    (torch.tensor([[0.0, 0.0, 1.0, float("inf"), 0.0]]), "NaN or Inf"),
])
def test_check_boxes_errors(bad, match):
    with pytest.raises(ValueError, match=match):
        check_boxes(bad, "gt_boxes")


def test_check_boxes_type_and_empty():
    with pytest.raises(TypeError, match="gt_boxes"):
        check_boxes([[0, 0, 1, 1, 0]], "gt_boxes")
    assert check_boxes(torch.zeros(0, 5)).shape == (0, 5)
    with pytest.raises(ValueError, match="empty"):
        check_boxes(torch.zeros(0, 5), allow_empty=False)
    with pytest.raises(ValueError, match="unknown angle version"):
        regularize_boxes(torch.zeros(1, 5), "le45")


def test_weighted_mean_angle_respects_the_period_pi():
    import math

    from paa_edu.geometry import weighted_mean_angle
    theta = torch.tensor([3 * math.pi / 4 - 0.01, -math.pi / 4 + 0.01, 0.3])
    weights = torch.tensor([[1.0, 1.0, 0.0], [0.0, 0.0, 2.0], [1.0, 0.0, 0.0]])
    mean = weighted_mean_angle(theta, weights, "le135")
    assert mean[0].item() == pytest.approx(-math.pi / 4, abs=1e-6)  # not pi/4
    assert mean[1:].tolist() == pytest.approx([0.3, 3 * math.pi / 4 - 0.01], abs=1e-6)
