"""Tests for box_iou_rotated against shapely, hand-made edge cases, properties and gradcheck."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from geometry_oracles import (
    device_params,
    random_boxes,
    shapely_overlaps,
    shapely_overlaps_aligned,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from paa_edu.geometry import box_iou_rotated

T = torch.tensor


def _f64(rows):
    return torch.tensor(rows, dtype=torch.float64)


@device_params
@pytest.mark.parametrize("mode", ["iou", "iof"])
def test_random_boxes_match_shapely_float64(device, mode):
    b1, b2 = random_boxes(120, 0), random_boxes(90, 1)
    out = box_iou_rotated(b1.to(device), b2.to(device), mode=mode)
    assert out.shape == (120, 90) and out.dtype == torch.float64
    ref = shapely_overlaps(b1, b2, mode)
    assert (ref > 0).sum() > 500  # the test really exercises overlapping pairs
    assert np.abs(out.cpu().numpy() - ref).max() < 1e-9


@device_params
def test_random_boxes_match_shapely_float32(device):
    b1, b2 = random_boxes(150, 2, image=1024, size=(8, 200)), random_boxes(100, 3, image=1024)
    out = box_iou_rotated(b1.float().to(device), b2.float().to(device))
    assert out.dtype == torch.float32
    assert np.abs(out.double().cpu().numpy() - shapely_overlaps(b1, b2)).max() < 2e-5


@device_params
def test_aligned_matches_diagonal(device):
    b1, b2 = random_boxes(200, 4, image=60), random_boxes(200, 5, image=60)
    aligned = box_iou_rotated(b1.to(device), b2.to(device), aligned=True)
    assert aligned.shape == (200,)
    assert np.allclose(aligned.cpu().numpy(), shapely_overlaps_aligned(b1, b2), atol=1e-9)
    iof = box_iou_rotated(b1.to(device), b2.to(device), mode="iof", aligned=True)
    assert np.allclose(iof.cpu().numpy(), shapely_overlaps_aligned(b1, b2, "iof"), atol=1e-9)


HAND_CASES = [  # (box1, box2, expected IoU)
    ([0, 0, 2, 2, 0], [2, 0, 2, 2, 0], 0.0),  # touching along an edge
    ([0, 0, 2, 2, 0], [2, 2, 2, 2, 0], 0.0),  # touching at a corner
    ([0, 0, 2, 2, 0], [1, 0, 2, 2, 0], 1 / 3),  # half overlap, two coincident edges
    ([0, 0, 2, 2, 0], [0, 0, 2, 2, math.pi / 2], 1.0),  # same square, other representation
    ([0, 0, 4, 2, 0], [0, 0, 2, 4, math.pi / 2], 1.0),  # (w, h, t) == (h, w, t + pi/2)
    ([0, 0, 4, 4, 0], [0, 0, 2, 2, 0.3], 0.25),  # nested
    ([0, 0, 4, 4, 0], [1, 1, 2, 2, 0], 0.25),  # nested, sharing two edges
    ([0, 0, 4, 2, 0], [0, 0, 2, 4, 0], 4 / 12),  # cross: inter 2 x 2 = 4, union 8 + 8 - 4
    ([5, 5, 1e-3, 10, 0.2], [5, 5, 10, 10, 0.2], 1e-4),  # near-degenerate, nested
    ([0, 0, 0, 3, 0], [0, 0, 3, 3, 0], 0.0),  # zero width: empty
]


@device_params
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("case", HAND_CASES)
def test_hand_made_cases(device, dtype, case):
    b1, b2, expected = case
    boxes1, boxes2 = T([b1], dtype=dtype, device=device), T([b2], dtype=dtype, device=device)
    tol = 1e-12 if dtype == torch.float64 else 1e-6
    assert box_iou_rotated(boxes1, boxes2).item() == pytest.approx(expected, abs=tol)
    assert box_iou_rotated(boxes2, boxes1).item() == pytest.approx(expected, abs=tol)
    assert shapely_overlaps(_f64([b1]), _f64([b2]))[0, 0] == pytest.approx(expected, abs=1e-9)


def _grid_boxes(n, seed):
    """Integer boxes with theta in {0, pi/2, pi, 3pi/2}: many coincident and touching edges."""
    g = torch.Generator().manual_seed(seed)
    ctr = torch.randint(0, 12, (n, 2), generator=g).double()
    wh = torch.randint(1, 8, (n, 2), generator=g).double()
    quarter = torch.randint(0, 4, (n, 1), generator=g)
    return torch.cat([ctr, wh, quarter.double() * math.pi / 2], dim=1), quarter[:, 0]


def _interval_iou(boxes, quarter):
    """Independent oracle for axis-parallel boxes: products of 1-D interval overlaps."""
    odd = (quarter % 2 == 1)[:, None]
    half = torch.where(odd, boxes[:, [3, 2]], boxes[:, [2, 3]]) / 2  # (N, 2) x / y half sizes
    lo, hi = boxes[:, :2] - half, boxes[:, :2] + half  # (N, 2)
    side = (torch.minimum(hi[:, None], hi[None]) - torch.maximum(lo[:, None], lo[None]))
    inter = side.clamp_min(0).prod(-1)  # (N, N)
    area = boxes[:, 2] * boxes[:, 3]
    return inter / (area[:, None] + area[None] - inter)


@device_params
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_coincident_edges_on_integer_grid(device, dtype):
    boxes, quarter = _grid_boxes(150, 0)
    expected = _interval_iou(boxes, quarter)
    assert ((expected > 0) & (expected < 1)).sum() > 1000
    out = box_iou_rotated(boxes.to(device, dtype), boxes.to(device, dtype)).cpu().double()
    assert (out - expected).abs().max().item() < (1e-12 if dtype == torch.float64 else 1e-6)
    # The same scene rotated and moved far away: compare with shapely (general position now).
    moved = _rotate_scene(boxes, 0.7, (-300.0, 200.0))
    out = box_iou_rotated(moved.to(device, dtype), moved.to(device, dtype)).cpu().double()
    tol = 1e-9 if dtype == torch.float64 else 1e-4
    assert (out - expected).abs().max().item() < tol
    assert np.abs(shapely_overlaps(moved, moved) - expected.numpy()).max() < 1e-9


def test_nested_iof_and_coincident_edges_rotated_together():
    big, small = _f64([[0, 0, 4, 4, 0]]), _f64([[1, 1, 2, 2, 0]])
    assert box_iou_rotated(small, big, mode="iof").item() == pytest.approx(1.0, abs=1e-12)
    assert box_iou_rotated(big, small, mode="iof").item() == pytest.approx(0.25, abs=1e-12)
    for phi in (0.1, math.pi / 4, 1.0, math.pi / 2, 2.5):  # rotate the whole scene
        a, b = _rotate_scene(big, phi, (3.0, -2.0)), _rotate_scene(small, phi, (3.0, -2.0))
        assert box_iou_rotated(a, b).item() == pytest.approx(0.25, abs=1e-12)
        left = _rotate_scene(_f64([[0, 0, 2, 2, 0]]), phi, (3.0, -2.0))
        right = _rotate_scene(_f64([[1, 0, 2, 2, 0]]), phi, (3.0, -2.0))
        assert box_iou_rotated(left, right).item() == pytest.approx(1 / 3, abs=1e-12)


def _rotate_scene(boxes, phi, pivot):
    """Rotate boxes (clockwise on screen, as theta) by phi around ``pivot``."""
    c, s = math.cos(phi), math.sin(phi)
    x, y = boxes[:, 0] - pivot[0], boxes[:, 1] - pivot[1]
    out = boxes.clone()
    out[:, 0], out[:, 1] = pivot[0] + c * x - s * y, pivot[1] + s * x + c * y
    out[:, 4] = boxes[:, 4] + phi
    return out


@device_params
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_identical_boxes_give_one(device, dtype):
    boxes = random_boxes(300, 6, dtype=dtype).to(device)
    boxes[:10, 4] = 0.0  # axis-aligned, like the anchors
    boxes[10:20, 2:4] = T([1e-3, 50.0], dtype=dtype)  # thin
    ones = box_iou_rotated(boxes, boxes, aligned=True)
    assert (ones - 1).abs().max().item() <= 1e-6
    assert (torch.diagonal(box_iou_rotated(boxes, boxes)) - 1).abs().max().item() <= 1e-6


@pytest.mark.parametrize("offset", [1e4, 1e5])
def test_large_coordinates_float32(offset):
    b1, b2 = random_boxes(60, 7, image=80), random_boxes(60, 8, image=80)
    near = box_iou_rotated(b1, b2)  # float64 at the origin: the reference
    shift = T([offset, -offset, 0, 0, 0], dtype=torch.float64)
    far1, far2 = (b1 + shift).float(), (b2 + shift).float()
    far = box_iou_rotated(far1, far2)
    # The float32 rounding of the *inputs* moves boxes by up to offset * 6e-8 ...
    assert (far.double() - near).abs().max().item() < 2 * offset * 6e-8
    # ... but the computation itself adds no error that grows with the offset.
    exact = box_iou_rotated(far1.double(), far2.double())
    assert (far.double() - exact).abs().max().item() < 1e-5


@pytest.mark.parametrize("delta", [0.0, 1e-7, 1e-5, 1e-3])
def test_thin_nearly_parallel_boxes(delta):
    """Long thin boxes slid along each other and turned by ~delta: nearly coincident edges."""
    g = torch.Generator().manual_seed(11)
    boxes1 = random_boxes(500, 12, image=500, size=(1e-3, 200))
    boxes2 = boxes1.clone()
    boxes2[:, 4] += delta * torch.randn(500, generator=g, dtype=torch.float64)
    slide = torch.randn(500, generator=g, dtype=torch.float64) * boxes1[:, 2] * 0.3
    boxes2[:, 0] += slide * torch.cos(boxes1[:, 4])
    boxes2[:, 1] += slide * torch.sin(boxes1[:, 4])
    boxes2[::2, 3] *= 0.5
    out64 = box_iou_rotated(boxes1, boxes2, aligned=True)
    assert np.abs(out64.numpy() - shapely_overlaps_aligned(boxes1, boxes2)).max() < 1e-9
    b1, b2 = boxes1.float(), boxes2.float()  # float32: compare with float64 on the same inputs
    out32 = box_iou_rotated(b1, b2, aligned=True).double()
    exact = box_iou_rotated(b1.double(), b2.double(), aligned=True)
    assert (out32 - exact).abs().max().item() < 2e-4


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.floats(-math.pi, math.pi), st.floats(-500, 500),
       st.floats(-500, 500))
def test_properties(seed, phi, tx, ty):
    b1, b2 = random_boxes(12, seed, image=50), random_boxes(9, seed + 1, image=50)
    iou = box_iou_rotated(b1, b2)
    assert bool(((iou >= 0) & (iou <= 1)).all())
    assert torch.allclose(box_iou_rotated(b2, b1), iou.T, atol=1e-12)  # symmetry
    moved = box_iou_rotated(_rotate_scene(b1, phi, (tx, ty)), _rotate_scene(b2, phi, (tx, ty)))
    assert torch.allclose(moved, iou, atol=1e-9)  # rigid motions do not change IoU
    swapped = b2[:, [0, 1, 3, 2, 4]] + T([0, 0, 0, 0, math.pi / 2], dtype=torch.float64)
    assert torch.allclose(box_iou_rotated(b1, swapped), iou, atol=1e-9)  # representation
    flipped = b2 + T([0, 0, 0, 0, math.pi], dtype=torch.float64)
    assert torch.allclose(box_iou_rotated(b1, flipped), iou, atol=1e-9)
    iof = box_iou_rotated(b1, b2, mode="iof")
    assert bool((iof >= iou - 1e-12).all())  # inter / area1 >= inter / union


def test_gradcheck_aligned_general_position():
    b1 = random_boxes(6, 9, image=20, size=(8, 20))
    b2 = b1 + torch.randn(6, 5, generator=torch.Generator().manual_seed(0),
                          dtype=torch.float64) * T([2, 2, 2, 2, 0.3], dtype=torch.float64)
    b2[:, 2:4] = b2[:, 2:4].abs()
    assert (box_iou_rotated(b1, b2, aligned=True) > 0).all()
    inputs = (b1.clone().requires_grad_(), b2.clone().requires_grad_())
    assert torch.autograd.gradcheck(lambda x, y: box_iou_rotated(x, y, aligned=True), inputs)
    assert torch.autograd.gradcheck(lambda x, y: box_iou_rotated(x, y, mode="iof"), inputs)


@device_params
def test_gradients_finite_in_degenerate_configurations(device):
    b1 = _f64([[0, 0, 2, 2, 0], [0, 0, 2, 2, 0], [0, 0, 2, 2, 0], [0, 0, 4, 4, 0], [0, 0, 0, 2, 0],
               [0, 0, 2, 2, 0]]).to(device).requires_grad_()
    b2 = _f64([[0, 0, 2, 2, 0], [1, 0, 2, 2, 0], [2, 0, 2, 2, 0], [1, 1, 2, 2, 0], [0, 0, 2, 2, 0],
               [0, 0, 2, 2, math.pi / 2]]).to(device).requires_grad_()
    iou = box_iou_rotated(b1, b2, aligned=True)
    (iou.sum() + box_iou_rotated(b1, b2).sum()).backward()
    assert torch.isfinite(b1.grad).all() and torch.isfinite(b2.grad).all()
    # Shifting a box to the side from the half-overlap lowers IoU: d IoU / d x2 < 0 there.
    assert b2.grad[1, 0].item() < 0


def test_empty_inputs_and_no_overlap():
    assert box_iou_rotated(torch.zeros(0, 5), torch.zeros(3, 5)).shape == (0, 3)
    assert box_iou_rotated(torch.zeros(4, 5), torch.zeros(0, 5)).shape == (4, 0)
    assert box_iou_rotated(torch.zeros(0, 5), torch.zeros(0, 5), aligned=True).shape == (0,)
    far = box_iou_rotated(_f64([[0, 0, 1, 1, 0]]), _f64([[100, 0, 1, 1, 0]]))
    assert far.item() == 0.0


@pytest.mark.parametrize("args, kwargs, match", [
    ((torch.zeros(2, 4), torch.zeros(2, 5)), {}, "boxes1"),
    ((torch.zeros(2, 5), torch.zeros(2, 5, 1)), {}, "boxes2"),
    ((torch.zeros(2, 1, 5), torch.zeros(2, 5)), {}, "2-D"),
    ((torch.zeros(2, 5), torch.zeros(2, 5)), {"mode": "giou"}, "mode"),
    ((torch.zeros(2, 5), torch.zeros(3, 5)), {"aligned": True}, "aligned"),
    ((torch.zeros(2, 5), torch.zeros(2, 5, dtype=torch.float64)), {}, "dtype"),
    ((T([[0.0, 0, -1, 1, 0]]), torch.zeros(1, 5)), {}, "negative"),
    ((T([[0.0, 0, float("nan"), 1, 0]]), torch.zeros(1, 5)), {}, "NaN"),
])
def test_errors(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        box_iou_rotated(*args, **kwargs)


def test_against_mmcv_ops_when_available():
    ops = pytest.importorskip("mmcv.ops", reason="mmcv.ops (compiled mmcv) is not installed",
                              exc_type=ImportError)
    b1, b2 = random_boxes(100, 10).float(), random_boxes(80, 11).float()
    ours = box_iou_rotated(b1, b2)
    theirs = ops.box_iou_rotated(b1, b2)
    assert (ours - theirs).abs().max().item() < 1e-4
