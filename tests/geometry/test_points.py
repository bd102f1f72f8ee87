"""points_in_rboxes / center_distances against shapely and torch.cdist (hypothesis)."""
from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Point, Polygon

from paa_edu.geometry import center_distances, obb2poly, points_in_rboxes

coord = st.floats(-50, 50, allow_nan=False)
size = st.floats(0.5, 40, allow_nan=False)
angle = st.floats(-math.pi, math.pi, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(cx=coord, cy=coord, w=size, h=size, t=angle, px=coord, py=coord,
       eps=st.sampled_from([0.0, 0.01, 1.0]))
def test_matches_shapely_distance_to_boundary(cx, cy, w, h, t, px, py, eps):
    box = torch.tensor([[cx, cy, w, h, t]], dtype=torch.float64)
    poly = Polygon(obb2poly(box).view(4, 2).tolist())
    p = Point(px, py)
    margin = poly.exterior.distance(p) if poly.contains(p) else -poly.exterior.distance(p)
    if abs(margin - eps) < 1e-6:  # on the decision boundary: rounding decides
        return
    got = points_in_rboxes(torch.tensor([[px, py]], dtype=torch.float64), box, eps=eps)
    assert bool(got[0, 0]) == (margin > eps)


def test_shapes_aligned_and_errors():
    boxes = torch.tensor([[0.0, 0, 10, 4, 0.5], [20, 0, 4, 4, 0]])
    pts = torch.tensor([[0.0, 0], [20, 0], [100, 100]])
    full = points_in_rboxes(pts, boxes)
    assert full.shape == (2, 3) and full.tolist() == [[True, False, False], [False, True, False]]
    assert points_in_rboxes(pts[:2], boxes, aligned=True).tolist() == [True, True]
    torch.testing.assert_close(center_distances(pts, boxes), torch.cdist(boxes[:, :2], pts))
    with pytest.raises(ValueError, match="aligned"):
        points_in_rboxes(pts, boxes, aligned=True)
    with pytest.raises(ValueError, match="points"):
        points_in_rboxes(pts[:, :1], boxes)
    assert points_in_rboxes(torch.zeros(0, 2), boxes).shape == (2, 0)
