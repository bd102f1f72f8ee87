"""The grid paths of ATSS and MaxIoU (windows, sparse pairs) equal their dense references.

Every case runs each assigner twice, ``use_grid=True`` and ``use_grid=False``, and requires the
same ``gt_inds``, ``labels`` and ``max_overlaps`` bit for bit: random scenes (hypothesis),
parking lots of small vehicles, and adversarial ones (GTs on borders, outside the image, tiny,
huge, duplicated, centred on anchor centres or between them, angles at +-pi/2).
"""
from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from script_loader import load_script

from paa_edu.assigners import ATSSAssigner, MaxIoUAssigner, PAAAssigner
from paa_edu.assigners.windows import anchor_grid, k_nearest
from paa_edu.model.anchors import AnchorGenerator

STRIDES = (8, 16, 32, 64, 128)


def _anchors(image=(256, 256), **kwargs):
    gen = AnchorGenerator(strides=STRIDES, **{"octave_base_scale": 4.0, **kwargs})
    levels, _ = gen.anchors_for_image(image)
    return torch.cat(levels), [len(a) for a in levels]


def _settings():
    return [ATSSAssigner(9), ATSSAssigner(3), MaxIoUAssigner(0.5, 0.4),
            MaxIoUAssigner(0.1, 0.1), MaxIoUAssigner(0.5, (0.1, 0.4), min_pos_iou=0.2),
            MaxIoUAssigner(0.5, 0.4, gt_max_assign_all=False),
            MaxIoUAssigner(0.6, 0.3, match_low_quality=False)]


def _assert_grid_equals_dense(anchors, counts, gts, labels=None):
    labels = torch.arange(len(gts)) % 15 if labels is None else labels
    for assigner in _settings():
        assigner.use_grid = True
        fast = assigner.assign(anchors, gts, labels, counts)
        assigner.use_grid = False
        ref = assigner.assign(anchors, gts, labels, counts)
        for name in ("gt_inds", "labels", "max_overlaps"):
            assert torch.equal(getattr(fast, name), getattr(ref, name)), (assigner, name)


def parking_lot(rows: int, cols: int, origin=(20.0, 30.0), angle=0.3, seed=0):
    return load_script("benchmarks/scenes.py").parking_lot(rows, cols, origin, angle, seed)


@given(st.integers(1, 60), st.integers(0, 2**31 - 1), st.sampled_from([(256, 256), (200, 333)]))
@settings(max_examples=25, deadline=None)
def test_random_scenes(num, seed, image):
    anchors, counts = _anchors(image)
    g = torch.Generator().manual_seed(seed)
    u = torch.rand(num, 5, generator=g)
    gts = torch.stack([u[:, 0] * 300 - 20, u[:, 1] * 300 - 20, 2 + 150 * u[:, 2] ** 2,
                       2 + 60 * u[:, 3] ** 2, (u[:, 4] - 0.5) * math.pi], dim=1)
    _assert_grid_equals_dense(anchors, counts, gts)


def test_parking_lots():
    anchors, counts = _anchors()
    gts = torch.cat([parking_lot(8, 30), parking_lot(5, 20, (150, 20), -1.2, seed=1)])
    _assert_grid_equals_dense(anchors, counts, gts)


def test_gts_centred_on_anchor_centres_and_between_them():
    """Integer and half-stride centres: many equal distances at the k-th candidate."""
    anchors, counts = _anchors()
    pts = torch.tensor([[0.0, 0.0], [8.0, 8.0], [64.0, 64.0], [4.0, 4.0], [12.0, 8.0],
                        [32.0, 48.0], [128.0, 128.0], [248.0, 248.0], [252.0, 100.0],
                        [96.0, 16.0], [100.0, 20.0]])
    wh = torch.tensor([[16.0, 16.0], [32.0, 32.0], [8.0, 24.0]])
    gts = torch.cat([torch.cat([pts, s.expand(len(pts), 2), torch.zeros(len(pts), 1)], 1)
                     for s in wh])
    _assert_grid_equals_dense(anchors, counts, gts)
    _assert_grid_equals_dense(anchors, counts, torch.cat([gts, gts]))  # duplicated GTs


def test_borders_outside_tiny_huge_duplicated_and_edge_angles():
    anchors, counts = _anchors((200, 333))
    gts = torch.tensor([
        [0.0, 0.0, 20.0, 10.0, 0.0], [333.0, 200.0, 20.0, 10.0, 0.5],  # image corners
        [-40.0, 100.0, 30.0, 30.0, 0.2], [400.0, -50.0, 50.0, 20.0, 1.0],  # outside
        [-3000.0, 5000.0, 10.0, 10.0, 0.0],  # far outside: window check falls back
        [100.0, 100.0, 0.5, 0.3, 0.1], [101.0, 60.0, 0.01, 40.0, 0.0],  # tiny, needle
        [160.0, 100.0, 2000.0, 900.0, 0.3],  # larger than the image
        [50.0, 50.0, 30.0, 12.0, math.pi / 2], [50.0, 50.0, 30.0, 12.0, -math.pi / 2],
        [80.0, 120.0, 30.0, 12.0, math.pi / 4], [80.0, 120.0, 30.0, 12.0, math.pi / 4],
        [200.0, 150.0, 0.0, 10.0, 0.0],  # empty box
    ])
    _assert_grid_equals_dense(anchors, counts, gts)


@pytest.mark.parametrize("image, kwargs", [((160, 96), {"ratios": (0.5, 1.0, 2.0)}),
                                           ((160, 96), {"scales_per_octave": 3, "angle": 0.4}),
                                           ((160, 96), {"center_offset": 0.5}),
                                           ((16, 600), {})])  # windows smaller than topk
def test_other_anchor_layouts(image, kwargs):
    anchors, counts = _anchors(image, **kwargs)
    assert anchor_grid(anchors, counts) is not None
    gts = torch.cat([parking_lot(3, 10, (10, 10)), torch.tensor([[80.0, 48.0, 70.0, 40.0, 0.3],
                                                                 [0.0, 96.0, 5.0, 5.0, 0.0]])])
    _assert_grid_equals_dense(anchors, counts, gts)


def test_grid_is_read_back_and_checked():
    anchors, counts = _anchors((200, 333))
    grid = anchor_grid(anchors, counts)
    assert [(lv.height, lv.width, lv.per_cell, lv.sx) for lv in grid] == \
        [(math.ceil(200 / s), math.ceil(333 / s), 1, s) for s in STRIDES]
    assert anchor_grid(anchors, None) is None
    shuffled = anchors[torch.randperm(len(anchors), generator=torch.Generator().manual_seed(0))]
    assert anchor_grid(shuffled, counts) is None  # not a grid: the dense path is used
    moved = anchors.clone()
    moved[5, 0] += 3.0
    assert anchor_grid(moved, counts) is None
    anchors.add_(0.0)  # an in-place change bumps the version: the cache checks again
    assert anchor_grid(anchors, counts) is not None


def test_arbitrary_anchors_use_the_dense_path():
    g = torch.Generator().manual_seed(3)
    anchors = torch.cat([torch.rand(50, 2, generator=g) * 100, torch.full((50, 2), 16.0),
                         torch.zeros(50, 1)], 1)
    gts = torch.tensor([[30.0, 30.0, 20.0, 10.0, 0.3], [70.0, 60.0, 40.0, 30.0, -0.5]])
    _assert_grid_equals_dense(anchors, [30, 20], gts)


def test_k_nearest_breaks_ties_by_anchor_index():
    dist = torch.tensor([[2.0, 1.0, 2.0, 1.0, 2.0]])
    values, inds = k_nearest(dist, torch.arange(10, 15), 3)
    assert inds.tolist() == [[11, 13, 10]] and values.tolist() == [[1.0, 1.0, 2.0]]


def test_paa_reassignment_equal_on_both_paths():
    anchors, counts = _anchors()
    gts = parking_lot(6, 25)
    labels = torch.zeros(len(gts), dtype=torch.long)
    scores = torch.rand(len(anchors), generator=torch.Generator().manual_seed(0))
    for init in ("atss", "maxiou"):
        results = []
        for use_grid in (True, False):
            paa = PAAAssigner(init=init)
            paa.initial_assigner.use_grid = use_grid
            initial = paa.initial_assign(anchors, gts, labels, counts)
            results.append(paa.reassign([initial], [scores], counts)[0])
        assert torch.equal(results[0].gt_inds, results[1].gt_inds)
