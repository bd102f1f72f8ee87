"""ATSSAssigner: hand-made scenes and a per-GT loop oracle (shapely IoU, plain Python)."""
from __future__ import annotations

import math

import pytest
import torch
from assign_helpers import grid_anchors, shapely_iou, two_level_anchors

from paa_edu.assigners import ATSSAssigner
from paa_edu.geometry import points_in_rboxes


def _inside(point, box, eps=0.01) -> bool:
    """Plain-Python point-in-rotated-box test with a margin."""
    cx, cy, w, h, t = [float(v) for v in box]
    dx, dy = float(point[0]) - cx, float(point[1]) - cy
    lx = dx * math.cos(t) + dy * math.sin(t)
    ly = -dx * math.sin(t) + dy * math.cos(t)
    return min(w / 2 - abs(lx), h / 2 - abs(ly)) > eps


def _atss_oracle(anchors, gts, num_level, topk=9):
    """Readable per-GT ATSS: returns the (A,) 1-based GT index of each anchor, 0 = negative."""
    best = [(-1.0, 0)] * len(anchors)  # (IoU, 1-based GT) of each anchor
    for g, gt in enumerate(gts):
        ious = [shapely_iou(gt, a) for a in anchors]
        dist = [math.dist(gt[:2].tolist(), a[:2].tolist()) for a in anchors]
        cands, start = [], 0
        for n in num_level:
            level = sorted(range(start, start + n), key=lambda i: dist[i])[:min(topk, n)]
            cands += level
            start += n
        vals = torch.tensor([ious[i] for i in cands])
        thr = vals.mean() + (vals.std() if len(vals) > 1 else 0)
        for i in cands:
            if ious[i] >= thr and _inside(anchors[i, :2], gt) and ious[i] > best[i][0]:
                best[i] = (ious[i], g + 1)
    return [g for _, g in best]


def _random_gts(n: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.cat([torch.rand(n, 2, generator=g) * 56 + 4,
                      torch.rand(n, 2, generator=g) * 40 + 6,
                      torch.rand(n, 1, generator=g) * math.pi], dim=1)  # off-grid centres


@pytest.mark.parametrize("n", [6, 40])  # 40 GTs on 80 anchors: anchors shared by several GTs
def test_matches_per_gt_oracle_on_random_scene(n):
    anchors, num_level = two_level_anchors()
    gts = _random_gts(n)
    res = ATSSAssigner(9).assign(anchors, gts, torch.arange(n), num_level)
    assert res.gt_inds.tolist() == _atss_oracle(anchors, gts, num_level)
    pos = res.pos_mask
    assert res.labels[pos].tolist() == (res.gt_inds[pos] - 1).tolist()
    assert (res.labels[~pos] == -1).all()


def test_max_overlaps_is_the_iou_with_the_assigned_gt():
    anchors, num_level = two_level_anchors()
    gts = _random_gts(6)
    res = ATSSAssigner(9).assign(anchors, gts, torch.arange(6), num_level)
    expected = [shapely_iou(gts[g - 1], a) if g else 0.0
                for g, a in zip(res.gt_inds.tolist(), anchors)]
    torch.testing.assert_close(res.max_overlaps, torch.tensor(expected), atol=1e-5, rtol=0)
    assert res.num_pos > 0


def test_gt_with_no_anchor_centre_inside_gets_nothing():
    anchors, num_level = two_level_anchors()  # centres at 4 + 8k and 8 + 16k
    gt = torch.tensor([[6.0, 6.0, 3.0, 3.0, 0.0]])  # spans [4.5, 7.5]: no centre inside
    res = ATSSAssigner(9).assign(anchors, gt, torch.tensor([0]), num_level)
    assert res.num_pos == 0 and res.neg_mask.all()


def test_inside_test_uses_the_rotated_box():
    # A thin box at 45 degrees: the point (3, 3) off its axis lies inside its axis-aligned
    # bounding box but outside the rotated box itself.
    box = torch.tensor([[0.0, 0.0, 20.0, 2.0, math.pi / 4]])
    pts = torch.tensor([[3.0, 3.0], [3.0, -3.0], [0.0, 0.0], [6.9, 6.9]])
    inside = points_in_rboxes(pts, box)  # (1, 4)
    assert inside.tolist() == [[True, False, True, True]]  # theta > 0 turns x towards +y
    assert points_in_rboxes(pts, box.expand(4, 5), aligned=True).tolist() == inside[0].tolist()
    # Thin rotated GT in an ATSS scene: positives only on its diagonal.
    anchors, num_level = two_level_anchors()
    gt = torch.tensor([[32.0, 32.0, 60.0, 6.0, math.pi / 4]])
    res = ATSSAssigner(9).assign(anchors, gt, torch.tensor([0]), num_level)
    assert res.num_pos >= 1
    for c in anchors[res.pos_mask, :2]:
        assert _inside(c, gt[0])


def test_two_gts_compete_highest_iou_wins():
    far = [[40.0 + 20 * i, 8.0, 16.0, 16.0, 0.0] for i in range(4)]  # IoU 0: lower the threshold
    anchors = torch.tensor([[8.0, 8.0, 16.0, 16.0, 0.0]] + far)
    gts = torch.tensor([[8.0, 8.0, 16.0, 12.0, 0.0],  # IoU 0.75 with anchor 0
                        [8.0, 8.0, 16.0, 14.0, 0.0]])  # IoU 0.875 with anchor 0
    res = ATSSAssigner(9).assign(anchors, gts, torch.tensor([4, 5]), [5])
    assert res.gt_inds.tolist() == [2, 0, 0, 0, 0]
    assert res.labels.tolist() == [5, -1, -1, -1, -1]


def test_topk_is_capped_by_small_levels():
    anchors = torch.cat([grid_anchors(32, 8, 8), grid_anchors(64, 32, 2)])  # 64 + 4 anchors
    gt = torch.tensor([[30.0, 30.0, 40.0, 30.0, 0.3]])
    res = ATSSAssigner(9).assign(anchors, gt, torch.tensor([0]), [64, 4])
    assert res.gt_inds.tolist() == _atss_oracle(anchors, gt, [64, 4])
    single = ATSSAssigner(9).assign(anchors[27:28], gt, torch.tensor([0]), [1])  # 1 candidate
    assert single.gt_inds.tolist() == [1]


def test_zero_gts_zero_anchors_and_errors():
    anchors, num_level = two_level_anchors()
    res = ATSSAssigner().assign(anchors, torch.zeros(0, 5), torch.zeros(0, dtype=torch.long),
                                num_level)
    assert res.neg_mask.all() and res.num_gts == 0
    res = ATSSAssigner().assign(torch.zeros(0, 5), anchors[:2], torch.tensor([0, 1]), [0, 0])
    assert res.gt_inds.shape == (0,)
    with pytest.raises(ValueError, match="num_level_anchors"):
        ATSSAssigner().assign(anchors, anchors[:1], torch.tensor([0]), None)
    with pytest.raises(ValueError, match="topk"):
        ATSSAssigner(0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_gpu_matches_cpu():
    anchors, num_level = two_level_anchors()
    gts = torch.tensor([[30.0, 30.0, 40.0, 30.0, 0.3], [10.0, 40.0, 20.0, 8.0, 1.0]])
    cpu = ATSSAssigner().assign(anchors, gts, torch.tensor([0, 1]), num_level)
    gpu = ATSSAssigner().assign(anchors.cuda(), gts.cuda(), torch.tensor([0, 1]).cuda(),
                                num_level)
    assert gpu.gt_inds.cpu().tolist() == cpu.gt_inds.tolist()
