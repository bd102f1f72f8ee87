"""Inference: thresholds, top-k, NMS, angle-aware score voting, rescaling."""
from __future__ import annotations

import math

import pytest
import torch

from paa_edu.config import ModelConfig
from paa_edu.model.postprocess import rescale_detections, score_voting


def test_score_voting_averages_angles_on_the_doubled_circle():
    # two near-identical boxes on either side of the le135 wrap (3pi/4 == -pi/4 mod pi)
    eps = 0.02
    cands = torch.tensor([[50.0, 50.0, 40.0, 10.0, 3 * math.pi / 4 - eps],
                          [50.0, 50.0, 40.0, 10.0, -math.pi / 4 + eps]])
    voted = score_voting(cands[:1], torch.tensor([0]), cands, torch.tensor([0.9, 0.9]),
                         torch.tensor([0, 0]), "le135")
    # a linear mean would give pi/4, a box rotated by 90 degrees
    wrapped = (voted[0, 4].item() - (-math.pi / 4)) % math.pi
    assert min(wrapped, math.pi - wrapped) < eps  # between the two inputs, across the wrap
    assert voted[0, :4].tolist() == pytest.approx([50.0, 50.0, 40.0, 10.0])


def test_score_voting_ignores_other_classes():
    det = torch.tensor([[10.0, 10.0, 8.0, 4.0, 0.0]])
    cands = torch.tensor([[10.0, 10.0, 8.0, 4.0, 0.0], [12.0, 10.0, 8.0, 4.0, 0.0]])
    voted = score_voting(det, torch.tensor([0]), cands, torch.tensor([0.9, 0.9]),
                         torch.tensor([0, 1]), "le135")
    assert torch.allclose(voted, det)


def test_rescale_divides_sizes_and_centres_only():
    det = {"boxes": torch.tensor([[20.0, 10.0, 8.0, 4.0, 0.5]]), "scores": torch.ones(1)}
    out = rescale_detections(det, 2.0)
    assert out["boxes"].tolist() == [[10.0, 5.0, 4.0, 2.0, 0.5]]
    with pytest.raises(ValueError, match="scale_factor"):
        rescale_detections(det, 0.0)


def test_postprocess_thresholds_topk_and_max_per_image():
    from paa_edu.model.anchors import AnchorGenerator
    from paa_edu.model.coder import DeltaXYWHACoder
    from paa_edu.model.postprocess import postprocess_image
    anchors = torch.cat(AnchorGenerator(strides=(8, 16)).grid_anchors([(8, 8), (4, 4)]))
    cls_logits = torch.full((80, 3), -10.0)
    cls_logits[5, 1] = 5.0  # one confident detection on level 0
    cls_logits[70, 2] = 3.0  # one on level 1
    cfg = ModelConfig(num_classes=3, strides=(8, 16))
    det = postprocess_image(cls_logits, torch.zeros(80, 5), None, anchors, [64, 16],
                            DeltaXYWHACoder(), cfg)
    assert det["labels"].tolist() == [1, 2]
    assert torch.allclose(det["boxes"], anchors[[5, 70]], atol=1e-5)
    cfg.max_per_img = 1
    iou = torch.full((80,), -20.0)  # predicted IoU ~ 0 kills sqrt(cls * iou) below 0.05
    assert len(postprocess_image(cls_logits, torch.zeros(80, 5), None, anchors, [64, 16],
                                 DeltaXYWHACoder(), cfg)["boxes"]) == 1
    assert len(postprocess_image(cls_logits, torch.zeros(80, 5), iou, anchors, [64, 16],
                                 DeltaXYWHACoder(), cfg)["boxes"]) == 0


def test_score_voting_in_the_pipeline_keeps_scores_and_count():
    from paa_edu.model.anchors import AnchorGenerator
    from paa_edu.model.coder import DeltaXYWHACoder
    from paa_edu.model.postprocess import postprocess_image
    anchors = torch.cat(AnchorGenerator(strides=(8,)).grid_anchors([(8, 8)]))  # (64, 5)
    generator = torch.Generator().manual_seed(0)
    cls_logits = torch.randn(64, 2, generator=generator)
    deltas = 0.1 * torch.randn(64, 5, generator=generator)
    cfg = ModelConfig(num_classes=2, strides=(8,))
    plain = postprocess_image(cls_logits, deltas, None, anchors, [64], DeltaXYWHACoder(), cfg)
    cfg.score_voting = True
    voted = postprocess_image(cls_logits, deltas, None, anchors, [64], DeltaXYWHACoder(), cfg)
    assert torch.equal(plain["scores"], voted["scores"])
    assert torch.equal(plain["labels"], voted["labels"])
    assert not torch.allclose(plain["boxes"], voted["boxes"])  # neighbours moved the boxes


def test_postprocess_returns_the_iou_branch_estimate_of_each_kept_box():
    from paa_edu.model.anchors import AnchorGenerator
    from paa_edu.model.coder import DeltaXYWHACoder
    from paa_edu.model.postprocess import postprocess_image
    anchors = torch.cat(AnchorGenerator(strides=(8, 16)).grid_anchors([(8, 8), (4, 4)]))
    cls_logits = torch.full((80, 3), -10.0)
    cls_logits[5, 1], cls_logits[70, 2] = 5.0, 3.0
    iou_logits = torch.zeros(80)
    iou_logits[5], iou_logits[70] = 2.0, 1.0  # level 0 anchor 5, level 1 anchor 70 (= 6 + 64)
    det = postprocess_image(cls_logits, torch.zeros(80, 5), iou_logits, anchors, [64, 16],
                            DeltaXYWHACoder(), ModelConfig(num_classes=3, strides=(8, 16)))
    assert det["labels"].tolist() == [1, 2]
    expected = torch.sigmoid(torch.tensor([2.0, 1.0]))
    assert det["pred_ious"].tolist() == pytest.approx(expected.tolist())


def test_nms_pre_keeps_the_best_pairs_of_each_level():
    from paa_edu.model.anchors import AnchorGenerator
    from paa_edu.model.coder import DeltaXYWHACoder
    from paa_edu.model.postprocess import postprocess_image
    anchors = torch.cat(AnchorGenerator(strides=(8, 16)).grid_anchors([(8, 8), (4, 4)]))
    cls_logits = torch.randn(80, 3, generator=torch.Generator().manual_seed(0))  # (80, 3)
    # nms_iou = 1 suppresses nothing: what comes out is exactly what the level filter kept.
    cfg = ModelConfig(num_classes=3, strides=(8, 16), score_thr=0.3, nms_pre=7, nms_iou=1.0)
    det = postprocess_image(cls_logits, torch.zeros(80, 5), None, anchors, [64, 16],
                            DeltaXYWHACoder(), cfg)
    expected = []  # the per-level loop: pairs above score_thr, the best nms_pre of them
    for lo, hi in ((0, 64), (64, 80)):
        pairs = [(torch.sigmoid(cls_logits[a, c]).item(), a, c) for a in range(lo, hi)
                 for c in range(3) if torch.sigmoid(cls_logits[a, c]) > cfg.score_thr]
        assert len(pairs) > cfg.nms_pre  # the cap really cuts on both levels
        expected += sorted(pairs, reverse=True)[:cfg.nms_pre]
    expected.sort(reverse=True)
    assert det["scores"].tolist() == pytest.approx([s for s, _, _ in expected])
    assert det["labels"].tolist() == [c for _, _, c in expected]
    assert torch.allclose(det["boxes"], anchors[[a for _, a, _ in expected]], atol=1e-4)


def test_score_voting_follows_its_formula():
    """PAA's voting written out with shapely IoUs: w_i = s_i exp(-(1 - IoU_i)^2 / 0.025)."""
    import numpy as np
    from shapely.geometry import Polygon

    def polygon(box):
        cx, cy, w, h, t = box.tolist()
        u = np.array([math.cos(t), math.sin(t)]) * w / 2
        v = np.array([-math.sin(t), math.cos(t)]) * h / 2
        c = np.array([cx, cy])
        return Polygon([c - u - v, c + u - v, c + u + v, c - u + v])

    g = torch.Generator().manual_seed(0)
    dets = torch.tensor([[50.0, 50.0, 40.0, 12.0, 0.3], [120.0, 60.0, 30.0, 20.0, 1.2]],
                        dtype=torch.float64)
    cands = torch.cat([dets, dets.repeat(6, 1) + torch.randn(12, 5, generator=g,
                                                               dtype=torch.float64)
                       * torch.tensor([3.0, 3.0, 3.0, 2.0, 0.1], dtype=torch.float64)])
    cands = torch.cat([cands, torch.tensor([[300.0, 300.0, 10.0, 10.0, 0.0]],
                                           dtype=torch.float64)])  # (15, 5), last far away
    scores = torch.rand(15, generator=g, dtype=torch.float64) * 0.9 + 0.1
    labels = torch.tensor([0, 1] + [0, 1] * 6 + [0])
    labels[6] = 1  # a box like detection 0 (IoU 0.79) labelled 1: it must not vote for it
    voted = score_voting(dets, torch.tensor([0, 1]), cands, scores, labels, "le135")
    for k, det in enumerate(dets):
        weights, rows = [], []
        for i, cand in enumerate(cands):
            a, b = polygon(det), polygon(cand)
            iou = a.intersection(b).area / a.union(b).area
            if labels[i] == k and iou > 0.01:
                weights.append(scores[i].item() * math.exp(-(1 - iou) ** 2 / 0.025))
                rows.append(cand.tolist())
        w, rows = np.array(weights) / sum(weights), np.array(rows)
        assert len(rows) >= 5
        angle = 0.5 * math.atan2(w @ np.sin(2 * rows[:, 4]), w @ np.cos(2 * rows[:, 4]))
        assert voted[k, :4].tolist() == pytest.approx((w @ rows[:, :4]).tolist(), abs=1e-6)
        assert voted[k, 4].item() == pytest.approx(angle, abs=1e-6)
