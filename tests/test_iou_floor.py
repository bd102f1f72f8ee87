"""The entropy floor of the IoU branch's loss: hand-worked entropies, BCE >= H, and the
training loss of a real model reproduced."""
from __future__ import annotations

import math

import pytest
import torch

from paa_edu.assigners import assign
from paa_edu.config import ModelConfig
from paa_edu.evaluation.iou_floor import binary_entropy, iou_loss_floor, soft_bce
from paa_edu.model import RotatedPAADetector

# H(t) = -t ln t - (1 - t) ln(1 - t), by hand:
#   H(0.5)  = ln 2                                  = 0.693147
#   H(0.25) = 0.25 ln 4 + 0.75 ln(4/3)  = 0.346574 + 0.215762 = 0.562335
#   H(0.1)  = 0.1 ln 10 + 0.9 ln(10/9)  = 0.230259 + 0.094824 = 0.325083
#   H(0) = H(1) = 0 (0 ln 0 = 0)
HAND = {0.5: 0.693147, 0.25: 0.562335, 0.1: 0.325083, 0.0: 0.0, 1.0: 0.0}


def test_binary_entropy_by_hand():
    t = torch.tensor(list(HAND), dtype=torch.float64)
    assert binary_entropy(t).tolist() == pytest.approx(list(HAND.values()), abs=1e-6)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        binary_entropy(torch.tensor([1.5]))


def test_bce_at_p_equal_t_is_the_entropy():
    t = torch.tensor([0.1, 0.25, 0.5], dtype=torch.float64)
    logits = torch.log(t / (1 - t))  # p = sigmoid(logit) = t
    assert soft_bce(logits, t).tolist() == pytest.approx([HAND[0.1], HAND[0.25], HAND[0.5]],
                                                         abs=1e-6)


def test_bce_is_never_below_the_entropy():
    # t = 0.25 at p = 0.5 (logit 0): BCE = ln 2 = 0.693147 > H(0.25) = 0.562335
    assert float(soft_bce(torch.zeros(1, dtype=torch.float64),
                          torch.tensor([0.25], dtype=torch.float64))) == pytest.approx(math.log(2))
    generator = torch.Generator().manual_seed(0)
    t = torch.rand(1000, generator=generator, dtype=torch.float64)
    logits = 6 * torch.randn(1000, generator=generator, dtype=torch.float64)
    assert (soft_bce(logits, t) >= binary_entropy(t) - 1e-12).all()


def _model(iou_branch: bool = True) -> RotatedPAADetector:
    torch.manual_seed(0)
    cfg = ModelConfig(num_classes=3, depth=18, backbone_width=8, fpn_channels=16,
                      strides=(8, 16, 32), num_convs=1, use_gn=True, assigner="paa",
                      paa_init="atss", iou_branch=iou_branch)
    return RotatedPAADetector(cfg, load_backbone_weights=False).eval()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])  # float64: as the lessons
def test_iou_loss_floor_reproduces_the_training_loss(fixed_batch, dtype):
    images, targets = fixed_batch
    model = _model().to(dtype)
    images = images if images.dtype == torch.uint8 else images.to(dtype)
    result = iou_loss_floor(model, images, targets)
    with torch.no_grad():  # the training path: detection_losses on the same assignment
        prepared = model.prepare_targets(targets, images.device)
        dense = model.predict_dense(images)
        losses = model.compute_losses(dense, prepared, assign(model.assigner, dense, prepared))
    assert result["loss_iou"] == pytest.approx(float(losses["loss_iou"]), rel=1e-5)
    assert result["targets"].dtype == dtype
    assert result["num_pos"] == len(result["targets"]) > 0
    assert result["floor"] == pytest.approx(0.5 * float(binary_entropy(result["targets"]).mean()))
    assert result["excess"] >= 0 and (result["bce"] >= result["entropy"] - 1e-6).all()


def test_iou_loss_floor_needs_the_iou_branch(fixed_batch):
    with pytest.raises(ValueError, match="no IoU branch"):
        iou_loss_floor(_model(iou_branch=False), *fixed_batch)
