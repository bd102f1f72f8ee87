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
    from paa_edu.anchors import AnchorGenerator
    from paa_edu.coder import DeltaXYWHACoder
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
    from paa_edu.anchors import AnchorGenerator
    from paa_edu.coder import DeltaXYWHACoder
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
    from paa_edu.anchors import AnchorGenerator
    from paa_edu.coder import DeltaXYWHACoder
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
