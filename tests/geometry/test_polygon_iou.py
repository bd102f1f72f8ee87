"""box_poly_iou against shapely (convex and concave quadrilaterals), the devkit's winding rule
(self-intersecting ones) and hand-computed cases."""
from __future__ import annotations

import numpy as np
import pytest
import shapely
import torch
from geometry_oracles import corners_np, device_params, random_boxes, winding_rule_iou

from paa_edu.geometry import box_iou_rotated, box_poly_iou


def _random_quads(n: int, seed: int, convex: bool) -> torch.Tensor:
    """(n, 8) simple quadrilaterals: jittered box corners (convex), or box corners with one
    corner pulled through the centre (a concave "dart"); shapely confirms which."""
    boxes = random_boxes(4 * n, seed, size=(10.0, 80.0))
    rng = np.random.default_rng(seed)
    quads = corners_np(boxes) + rng.normal(0, 0.05, (4 * n, 4, 2)) * boxes[:, None, 2:4].numpy()
    if not convex:
        centre = boxes[:, None, :2].numpy()
        alpha = rng.uniform(-0.7, -0.2, (4 * n, 1))
        quads[:, 0] = centre[:, 0] + alpha * (quads[:, 0] - centre[:, 0])
    shapes = shapely.polygons(quads)
    is_convex = np.isclose(shapely.area(shapes), shapely.area(shapely.convex_hull(shapes)))
    keep = shapely.is_valid(shapes) & (is_convex == convex)
    assert keep.sum() >= n
    return torch.from_numpy(quads[keep][:n].reshape(n, 8))


def _shapely_box_poly_iou(boxes, polys) -> np.ndarray:
    a = shapely.polygons(corners_np(boxes))
    b = shapely.polygons(polys.reshape(-1, 4, 2).numpy())
    inter = shapely.area(shapely.intersection(a[:, None], b[None]))
    return inter / (shapely.area(a)[:, None] + shapely.area(b)[None] - inter)


@device_params
@pytest.mark.parametrize("convex", [True, False])
def test_simple_quadrilaterals_match_shapely(device, convex):
    boxes, quads = random_boxes(150, 0), _random_quads(120, 1, convex)
    out = box_poly_iou(boxes.to(device), quads.to(device)).cpu().numpy()  # (150, 120)
    ref = _shapely_box_poly_iou(boxes, quads)
    assert (ref > 0).sum() > 300  # many overlapping pairs
    assert np.abs(out - ref).max() < 1e-9
    out32 = box_poly_iou(boxes.float().to(device), quads.float().to(device)).cpu().numpy()
    assert np.abs(out32 - ref).max() < 2e-5


def test_rectangles_as_polygons_equal_box_iou():
    boxes1, boxes2 = random_boxes(80, 2), random_boxes(70, 3)
    polys = torch.from_numpy(corners_np(boxes2).reshape(-1, 8))
    expected = box_iou_rotated(boxes1, boxes2)
    torch.testing.assert_close(box_poly_iou(boxes1, polys), expected, atol=1e-12, rtol=0)
    reversed_order = polys.reshape(-1, 4, 2).flip(1).reshape(-1, 8)  # the other direction
    torch.testing.assert_close(box_poly_iou(boxes1, reversed_order), expected, atol=1e-12,
                               rtol=0)


def test_self_intersecting_quadrilaterals_follow_the_devkit_rule():
    boxes = random_boxes(20, 4, image=128.0, size=(10.0, 80.0))
    quads = corners_np(random_boxes(30, 5, image=128.0, size=(10.0, 80.0)))[:, [0, 2, 1, 3]]
    rng = np.random.default_rng(6)
    quads = quads + rng.normal(0, 3.0, quads.shape)  # bow-ties with unequal lobes
    assert not shapely.is_valid(shapely.polygons(quads)).any()
    out = box_poly_iou(boxes, torch.from_numpy(quads.reshape(-1, 8))).numpy()
    det = corners_np(boxes)
    ref = np.array([[winding_rule_iou(d, q) for q in quads] for d in det]).clip(0, 1)
    assert (ref > 0).sum() > 20
    assert np.abs(out - ref).max() < 1e-9


def _box(x0, y0, x1, y1):
    return [(x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0, 0.0]


BOWTIE = [0, 0, 4, 4, 4, 0, 0, 2]  # lobes 16/3 (right, +1) and 4/3 (left, -1), cross (4/3, 4/3)


@pytest.mark.parametrize("box, poly, expected", [
    (_box(0, 0, 1, 1), [0.5, 0.5, 1.5, 0.5, 1.5, 1.5, 0.5, 1.5], 1 / 7),  # the devkit's example
    (_box(0, 0, 2, 2), [0, 0, 2, 0, 2, 2, 0, 2], 1.0),
    (_box(0, 0, 2, 2), [0, 0, 2, 0, 1, 1, 0, 2], 0.5),  # a concave "dart" of area 2
    (_box(3, 0, 5, 2), [0, 0, 2, 0, 2, 2, 0, 2], 0.0),
    (_box(0, 0, 4, 4), BOWTIE, 0.25),  # inter 16/3 - 4/3 = 4, union 16 + 4 - 4
    (_box(4 / 3, 0, 4, 4), BOWTIE, 4 / 7),  # inter 16/3, union 32/3 + 4 - 16/3
    (_box(0, 0, 4 / 3, 2), BOWTIE, 0.0),  # only the negative lobe: clamped to 0
    (_box(0, 0, 2, 2), [0, 0, 2, 2, 2, 0, 0, 2], 0.0),  # symmetric bow-tie: zero signed area
    (_box(0, 0, 2, 2), [0, 0, 1, 1, 2, 2, 3, 3], 0.0),  # collinear: no area
])
def test_hand_made_cases(box, poly, expected):
    out = box_poly_iou(torch.tensor([box], dtype=torch.float64),
                       torch.tensor([poly], dtype=torch.float64))
    assert out.item() == pytest.approx(expected, abs=1e-12)


def test_large_coordinates_float32():
    boxes, quads = random_boxes(50, 7), _random_quads(50, 8, True)
    ref = box_poly_iou(boxes, quads)
    shift = torch.tensor([5000.0, 7000.0], dtype=torch.float64)
    far_boxes = torch.cat([boxes[:, :2] + shift, boxes[:, 2:]], 1).float()
    far_quads = (quads.reshape(-1, 4, 2) + shift).reshape(-1, 8).float()
    assert (box_poly_iou(far_boxes, far_quads).double() - ref).abs().max() < 1e-3


def test_empty_inputs_degenerate_boxes_and_errors():
    quads = _random_quads(3, 9, True)
    assert box_poly_iou(torch.zeros(0, 5, dtype=torch.float64), quads).shape == (0, 3)
    assert box_poly_iou(random_boxes(2, 0), quads[:0]).shape == (2, 0)
    flat = torch.tensor([[10.0, 10.0, 0.0, 5.0, 0.3]], dtype=torch.float64)  # zero width
    assert box_poly_iou(flat, torch.tensor([[8, 8, 12, 8, 12, 12, 8, 12.0]],
                                           dtype=torch.float64)).item() == 0.0
    with pytest.raises(ValueError, match=r"\(M, 8\)"):
        box_poly_iou(random_boxes(2, 0), torch.zeros(2, 6, dtype=torch.float64))
    with pytest.raises(ValueError, match="share dtype"):
        box_poly_iou(random_boxes(2, 0), quads.float())
    with pytest.raises(ValueError, match="NaN"):
        box_poly_iou(random_boxes(2, 0), torch.full((1, 8), float("nan"), dtype=torch.float64))
