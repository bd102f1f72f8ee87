"""Tests for obb2poly / poly2obb against hand values and shapely's minimum rotated rectangle."""
from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
import torch
from geometry_oracles import DEVICES, corners_np, random_boxes
from hypothesis import given, settings
from hypothesis import strategies as st

from paa_edu.geometry import ANGLE_VERSIONS, obb2poly, poly2obb, regularize_boxes

RANGES = {"oc": (0.0, math.pi / 2), "le135": (-math.pi / 4, 3 * math.pi / 4),
          "le90": (-math.pi / 2, math.pi / 2)}


def test_obb2poly_hand_values():
    boxes = torch.tensor([[10.0, 20.0, 4.0, 2.0, 0.0], [0.0, 0.0, 4.0, 2.0, math.pi / 2]])
    polys = obb2poly(boxes)
    assert polys.shape == (2, 8)
    assert torch.allclose(polys[0], torch.tensor([8.0, 19, 12, 19, 12, 21, 8, 21]))
    # +90 degrees is clockwise on screen (y down): the w side now points along +y.
    assert torch.allclose(polys[1], torch.tensor([1.0, -2, 1, 2, -1, 2, -1, -2]), atol=1e-6)


def test_obb2poly_matches_independent_corners_and_batch_shape():
    boxes = random_boxes(30, 0).reshape(5, 6, 5)
    polys = obb2poly(boxes)
    assert polys.shape == (5, 6, 8)
    expected = corners_np(boxes.reshape(-1, 5)).reshape(-1, 8)
    assert np.allclose(polys.reshape(-1, 8).numpy(), expected)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("version", ANGLE_VERSIONS)
def test_round_trip(device, dtype, version):
    boxes = random_boxes(200, 1, dtype=dtype).to(device)
    out = poly2obb(obb2poly(boxes), version)
    ref = regularize_boxes(boxes, version)
    tol = 1e-9 if dtype == torch.float64 else 2e-3
    same_corners = torch.allclose(obb2poly(out), obb2poly(ref), atol=tol * 100)
    assert out.device.type == device and out.dtype == dtype
    assert torch.allclose(out[:, :4], ref[:, :4], atol=tol * 100, rtol=tol)
    assert same_corners or torch.allclose(  # the corner order may start elsewhere
        torch.sort(obb2poly(out).reshape(-1, 4, 2)[..., 0], 1)[0],
        torch.sort(obb2poly(ref).reshape(-1, 4, 2)[..., 0], 1)[0], atol=tol * 100)
    # Away from the range boundary (where theta and theta +- pi/2 or pi are one box) every
    # angle itself must agree, not only the rectangles.
    lo, hi = RANGES[version]
    away = torch.minimum((ref[:, 4] - lo).abs(), (ref[:, 4] - hi).abs()) > 1e-3
    assert int(away.sum()) > 190  # nearly all 200 random boxes are tested
    angle_tol = 1e-12 if dtype == torch.float64 else 1e-5
    assert (out[away, 4] - ref[away, 4]).abs().max().item() < angle_tol


@settings(max_examples=60, deadline=None)
@given(st.floats(-1e4, 1e4), st.floats(-1e4, 1e4), st.floats(0.5, 500), st.floats(0.5, 500),
       st.floats(-10, 10), st.sampled_from(ANGLE_VERSIONS))
def test_round_trip_property(cx, cy, w, h, theta, version):
    box = torch.tensor([[cx, cy, w, h, theta]], dtype=torch.float64)
    out = poly2obb(obb2poly(box), version)
    ref = regularize_boxes(box, version)
    lo, hi = RANGES[version]
    on_boundary = min(abs(ref[0, 4].item() - lo), abs(ref[0, 4].item() - hi)) < 1e-6
    if version == "oc":  # w and h swap at the boundary too
        on_boundary |= min(abs(ref[0, 4].item()), abs(ref[0, 4].item() - math.pi / 2)) < 1e-6
    on_boundary |= abs(w - h) < 1e-6 * max(w, h)  # a square is the same box turned by pi/2
    if not on_boundary:
        assert torch.allclose(out, ref, atol=1e-7)
    # Always the same rectangle: equal corner sets.
    a = np.sort(np.round(obb2poly(out).reshape(4, 2).numpy(), 5), axis=0)
    b = np.sort(np.round(obb2poly(ref).reshape(4, 2).numpy(), 5), axis=0)
    assert np.allclose(a, b, atol=1e-4)


def _shapely_min_rect_area(polys: np.ndarray) -> np.ndarray:
    points = shapely.multipoints(polys.reshape(-1, 4, 2))
    return shapely.area(shapely.minimum_rotated_rectangle(points))


@pytest.mark.parametrize("version", ANGLE_VERSIONS)
def test_general_quadrilaterals_match_shapely_min_area_rect(version):
    g = torch.Generator().manual_seed(3)
    polys = torch.rand(300, 8, generator=g, dtype=torch.float64) * 100  # any order, any shape
    boxes = poly2obb(polys, version)
    area = (boxes[:, 2] * boxes[:, 3]).numpy()
    assert np.allclose(area, _shapely_min_rect_area(polys.numpy()), rtol=1e-9, atol=1e-9)
    # The rectangle encloses the 4 points (shapely covers with a small buffer).
    rects = shapely.polygons(corners_np(boxes)).tolist()
    pts = shapely.points(polys.reshape(-1, 4, 2).numpy())
    for rect, p in zip(rects, pts):
        assert shapely.covers(shapely.buffer(rect, 1e-7), p).all()


def test_point_order_does_not_matter():
    box = torch.tensor([[50.0, 40.0, 30.0, 10.0, 0.4]], dtype=torch.float64)
    poly = obb2poly(box).reshape(4, 2)
    for perm in ([0, 2, 1, 3], [3, 2, 1, 0], [1, 0, 2, 3]):  # self-intersecting and reversed
        out = poly2obb(poly[perm].reshape(1, 8))
        assert torch.allclose(out, regularize_boxes(box), atol=1e-9)


def test_degenerate_polygons():
    polys = torch.tensor([[0.0, 0, 10, 10, 20, 20, 30, 30],  # collinear
                          [0.0, 0, 4, 0, 4, 2, 0, 2],
                          [5.0, 5, 5, 5, 5, 5, 5, 5]])  # one point
    with pytest.raises(ValueError, match="row 0"):
        poly2obb(polys)
    boxes, valid = poly2obb(polys, return_valid=True)
    assert valid.tolist() == [False, True, False]
    assert torch.allclose(boxes[1], torch.tensor([2.0, 1.0, 4.0, 2.0, 0.0]))
    tiny = torch.tensor([[0.0, 0, 1e-3, 0, 1e-3, 1e-3, 0, 1e-3]], dtype=torch.float64)
    assert poly2obb(tiny)[0, 2].item() == pytest.approx(1e-3)  # small but not degenerate


def test_shapes_and_errors():
    assert poly2obb(torch.zeros(0, 8)).shape == (0, 5)
    assert poly2obb(obb2poly(random_boxes(6, 2)).reshape(2, 3, 8)).shape == (2, 3, 5)
    with pytest.raises(ValueError, match=r"\(\.\.\., 8\)"):
        poly2obb(torch.zeros(3, 6))
    with pytest.raises(ValueError, match="unknown angle version"):
        poly2obb(torch.zeros(1, 8), "v2")
    with pytest.raises(ValueError, match="NaN"):
        poly2obb(torch.full((1, 8), float("nan")))
    with pytest.raises(ValueError, match="floating"):
        poly2obb(torch.zeros(1, 8, dtype=torch.int64))
    with pytest.raises(TypeError):
        poly2obb(np.zeros((1, 8)))
    with pytest.raises(ValueError, match="negative"):
        obb2poly(torch.tensor([[0.0, 0, -1, 1, 0]]))


def test_obb2hbb_encloses_the_rotated_box_tightly():
    import math

    from paa_edu.geometry import obb2hbb
    boxes = torch.tensor([[10.0, 20.0, 60.0, 6.0, math.pi / 6], [0.0, 0.0, 4.0, 2.0, 0.0]])
    hbb = obb2hbb(boxes)
    expected_w = 60 * math.cos(math.pi / 6) + 6 * math.sin(math.pi / 6)
    expected_h = 60 * math.sin(math.pi / 6) + 6 * math.cos(math.pi / 6)
    assert hbb[0].tolist() == pytest.approx([10.0, 20.0, expected_w, expected_h, 0.0], abs=1e-4)
    assert hbb[1].tolist() == pytest.approx(boxes[1].tolist())
