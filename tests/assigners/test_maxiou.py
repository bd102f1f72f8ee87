"""MaxIoUAssigner on hand-made scenes (expected answers from geometry / shapely)."""
from __future__ import annotations

import math

import pytest
import torch
from assign_helpers import grid_anchors, shapely_iou

from paa_edu.assigners import AssignResult, MaxIoUAssigner

ROW = torch.tensor([[0.0, 0, 10, 10, 0], [10, 0, 10, 10, 0], [20, 0, 10, 10, 0]])  # 3 anchors


def test_thin_gt_gets_only_its_low_quality_match():
    # A 10x2 GT on the middle anchor: IoU 0.2 there and 0 elsewhere (shared edges only).
    gt = torch.tensor([[10.0, 0, 10, 2, 0]])
    res = MaxIoUAssigner(0.5, 0.4).assign(ROW, gt, torch.tensor([3]))
    assert res.gt_inds.tolist() == [0, 1, 0]
    assert res.labels.tolist() == [-1, 3, -1]
    torch.testing.assert_close(res.max_overlaps, torch.tensor([0.0, 0.2, 0.0]))
    # min_pos_iou above its best IoU: no low-quality match, the anchor is a plain negative.
    res = MaxIoUAssigner(0.5, 0.4, min_pos_iou=0.3).assign(ROW, gt, torch.tensor([3]))
    assert res.gt_inds.tolist() == [0, 0, 0]


def test_thin_rotated_gt_barely_matched():
    anchors = grid_anchors(32, 16, 6)  # (36, 5)
    gt = torch.tensor([[49.0, 46.5, 60.0, 4.0, math.radians(35)]])  # off-centre: one best
    expected = torch.tensor([shapely_iou(gt[0], a) for a in anchors])
    assert 0 < expected.max() < 0.2  # every anchor overlaps it poorly
    res = MaxIoUAssigner(0.5, 0.4, min_pos_iou=0.0).assign(anchors, gt, torch.tensor([0]))
    best = (expected >= expected.max() - 1e-5).nonzero().squeeze(1)
    assert res.pos_inds().tolist() == best.tolist()
    torch.testing.assert_close(res.max_overlaps, expected, atol=1e-5, rtol=1e-5)


def test_two_gts_compete_for_one_anchor():
    anchors = torch.tensor([[0.0, 0, 10, 10, 0], [100, 100, 10, 10, 0]])
    gts = torch.tensor([[0.0, 0, 10, 7, 0],  # IoU 0.7 with anchor 0
                        [0.0, 0, 10, 6, 0]])  # IoU 0.6 with anchor 0, also its best anchor
    labels = torch.tensor([1, 2])
    no_lq = MaxIoUAssigner(0.5, 0.4, match_low_quality=False).assign(anchors, gts, labels)
    assert no_lq.gt_inds.tolist() == [1, 0]  # highest IoU wins
    # mmdetection semantics: the low-quality step runs GT by GT and overwrites, so GT 2 wins.
    lq = MaxIoUAssigner(0.5, 0.4).assign(anchors, gts, labels)
    assert lq.gt_inds.tolist() == [2, 0]
    assert lq.labels.tolist() == [2, -1]
    assert lq.num_pos_per_gt().tolist() == [0, 1]


def test_gt_max_assign_all_ties():
    # Anchor 3 duplicates anchor 1, so their IoUs with the GT are bit-identical (a true tie;
    # geometrically equal IoUs of different boxes may differ in the last float bit).
    anchors = torch.cat([ROW, ROW[1:2]])
    gt = torch.tensor([[12.0, 0, 10, 10, 0]])  # IoU 0, 2/3, 1/9, 2/3
    all_ties = MaxIoUAssigner(0.9, 0.3).assign(anchors, gt, torch.tensor([0]))
    assert all_ties.gt_inds.tolist() == [0, 1, 0, 1]
    one = MaxIoUAssigner(0.9, 0.3, gt_max_assign_all=False).assign(anchors, gt, torch.tensor([0]))
    assert one.num_pos == 1 and one.gt_inds[[0, 2]].tolist() == [0, 0]


def test_gt_overlapping_no_anchor_claims_nothing():
    # mmdetection with min_pos_iou=0 would give this far-away GT every zero-IoU anchor.
    gts = torch.tensor([[10.0, 0, 10, 10, 0], [500.0, 500, 10, 10, 0.3]])
    res = MaxIoUAssigner(0.1, 0.1, min_pos_iou=0.0).assign(ROW, gts, torch.tensor([0, 1]))
    assert res.gt_inds.tolist() == [0, 1, 0]


def test_ignore_band_and_neg_range():
    gt = torch.tensor([[13.0, 0, 10, 10, 0]])  # IoU 0 / 7/13 / 3/17 with the 3 anchors
    res = MaxIoUAssigner(0.6, 0.1, match_low_quality=False).assign(ROW, gt, torch.tensor([0]))
    assert res.gt_inds.tolist() == [0, -1, -1]
    assert res.ignore_mask.tolist() == [False, True, True]
    res = MaxIoUAssigner(0.6, (0.1, 0.3), match_low_quality=False).assign(
        ROW, gt, torch.tensor([0]))
    assert res.gt_inds.tolist() == [-1, -1, 0]  # IoU 0 is below the negative range


def test_zero_gts_and_zero_anchors():
    res = MaxIoUAssigner(0.5, 0.4).assign(ROW, torch.zeros(0, 5), torch.zeros(0, dtype=torch.long))
    assert res.gt_inds.tolist() == [0, 0, 0] and res.num_gts == 0
    assert res.labels.tolist() == [-1, -1, -1]
    res = MaxIoUAssigner(0.5, 0.4).assign(torch.zeros(0, 5), ROW[:1], torch.tensor([0]))
    assert res.gt_inds.shape == (0,) and res.num_gts == 1
    assert isinstance(res, AssignResult)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="neg_iou_thr"):
        MaxIoUAssigner(0.3, 0.5)
    with pytest.raises(ValueError, match="min_pos_iou"):
        MaxIoUAssigner(0.5, 0.4, min_pos_iou=-0.1)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_gpu_matches_cpu():
    gts = torch.tensor([[13.0, 0, 10, 10, 0], [10.0, 0, 10, 2, 0.2]])  # no exact IoU ties
    cpu = MaxIoUAssigner(0.5, 0.3).assign(ROW, gts, torch.tensor([0, 1]))
    gpu = MaxIoUAssigner(0.5, 0.3).assign(ROW.cuda(), gts.cuda(), torch.tensor([0, 1]).cuda())
    assert gpu.gt_inds.is_cuda and gpu.gt_inds.cpu().tolist() == cpu.gt_inds.tolist()


def _maxiou_loop_oracle(anchors, gts, pos_thr, neg_thr, min_pos_iou) -> list[int]:
    """mmdetection's MaxIoUAssigner as plain loops over shapely IoUs (gt_max_assign_all)."""
    ious = [[shapely_iou(g, a) for a in anchors] for g in gts]  # G x A
    gt_inds = []
    for a in range(len(anchors)):  # steps 1-3, anchor by anchor
        column = [ious[g][a] for g in range(len(gts))]
        best = max(column)
        gt_inds.append(column.index(best) + 1 if best >= pos_thr else 0 if best < neg_thr else -1)
    for g, row in enumerate(ious):  # step 4, GT by GT: a later GT overwrites
        best = max(row)
        if best >= min_pos_iou and best > 0:
            for a, iou in enumerate(row):
                if iou >= best - 1e-9:
                    gt_inds[a] = g + 1
    return gt_inds


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("thresholds", [(0.5, 0.4, 0.0), (0.1, 0.1, 0.0), (0.6, 0.3, 0.2)])
def test_random_scene_equals_a_per_gt_loop(seed, thresholds):
    anchors = grid_anchors(24, 8, 8)  # (64, 5) overlapping anchors
    g = torch.Generator().manual_seed(seed)
    n = 6
    gts = torch.cat([torch.rand(n, 2, generator=g) * 64, 4 + torch.rand(n, 2, generator=g) * 36,
                     (torch.rand(n, 1, generator=g) - 0.5) * 2 * math.pi], dim=1).double()
    labels = torch.arange(n) + 10
    res = MaxIoUAssigner(*thresholds).assign(anchors.double(), gts, labels)
    expected = _maxiou_loop_oracle(anchors, gts, *thresholds)
    assert res.gt_inds.tolist() == expected
    assert res.labels.tolist() == [9 + k if k > 0 else -1 for k in expected]
    kinds = set(expected)
    assert {-1, 0} <= kinds or thresholds[0] == thresholds[1]  # every branch is exercised
    assert len(kinds - {-1, 0}) >= 3
