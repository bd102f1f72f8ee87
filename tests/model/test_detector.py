"""The detector end to end: training steps per assigner, empty images, eval outputs."""
from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from paa_edu.assigners import assign
from paa_edu.config import ModelConfig
from paa_edu.model import RotatedPAADetector


def tiny_model(assigner: str = "paa", paa_init: str = "atss", **kw) -> RotatedPAADetector:
    torch.manual_seed(0)
    cfg = ModelConfig(num_classes=3, depth=18, backbone_width=8, fpn_channels=16,
                      strides=(8, 16, 32), num_convs=1, use_gn=True, assigner=assigner,
                      paa_init=paa_init, **kw)
    return RotatedPAADetector(cfg)


def total_loss(model, images, targets) -> torch.Tensor:
    losses = model(images, targets)
    assert set(losses) == {"loss_cls", "loss_bbox", "loss_iou"}
    return sum(losses.values())


@pytest.mark.parametrize("assigner, paa_init", [("maxiou", "maxiou"), ("atss", "atss"),
                                                ("paa", "maxiou"), ("paa", "atss")])
def test_a_few_sgd_steps_reduce_the_loss_on_a_fixed_batch(fixed_batch, assigner, paa_init):
    images, targets = fixed_batch
    model = tiny_model(assigner, paa_init).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.001, momentum=0.9)
    first = None
    for _ in range(8):
        loss = total_loss(model, images, targets)
        first = loss.item() if first is None else first
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert total_loss(model, images, targets).item() < 0.9 * first


def test_an_image_without_gt_trains(fixed_batch):
    images, targets = fixed_batch
    targets = [targets[0], {"boxes": torch.zeros(0, 5), "labels": torch.zeros(0, dtype=int)}]
    model = tiny_model().train()
    losses = model(images, targets)
    sum(losses.values()).backward()
    assert all(torch.isfinite(v) for v in losses.values())
    empty = [{"boxes": torch.zeros(0, 5), "labels": torch.zeros(0, dtype=int)}] * 2
    losses = model(images, empty)
    assert losses["loss_bbox"].item() == 0.0
    sum(losses.values()).backward()  # the graph is alive even without positives


def test_eval_mode_returns_one_dict_per_image(fixed_batch):
    images, _ = fixed_batch
    model = tiny_model(score_thr=0.0, max_per_img=7).eval()
    detections = model(images)
    assert len(detections) == 2
    for det in detections:
        k = len(det["scores"])
        assert 0 < k <= 7
        assert det["boxes"].shape == (k, 5) and det["labels"].shape == (k,)
        assert det["labels"].dtype == torch.long
        assert bool((det["scores"][:-1] >= det["scores"][1:]).all())


def test_bad_calls_raise(fixed_batch):
    images, targets = fixed_batch
    model = tiny_model().train()
    with pytest.raises(ValueError, match="targets are required"):
        model(images)
    with pytest.raises(ValueError, match="targets"):
        model(images, targets[:1])
    with pytest.raises(ValueError, match="images must be"):
        model(images[0], targets)


@pytest.mark.parametrize("assigner, paa_init", [("maxiou", "maxiou"), ("atss", "atss"),
                                                ("paa", "maxiou"), ("paa", "atss")])
def test_batched_assignment_equals_per_image_assignment(fixed_batch, assigner, paa_init):
    images, targets = fixed_batch
    empty = {"boxes": torch.zeros(0, 5), "labels": torch.zeros(0, dtype=torch.long)}
    images = torch.cat([images, images.flip(-1)])  # (4, 3, H, W)
    targets = [targets[0], empty, targets[1], targets[0]]
    model = tiny_model(assigner, paa_init).train()
    with torch.no_grad():
        dense = model.predict_dense(images)
        g = torch.Generator().manual_seed(0)  # predictions that differ clearly per image
        dense.cls_logits = 3 * torch.randn(dense.cls_logits.shape, generator=g)
        dense.deltas = 0.3 * torch.randn(dense.deltas.shape, generator=g)
        batched = assign(model.assigner, dense, targets)
        single = [assign(model.assigner, replace(dense, cls_logits=dense.cls_logits[b:b + 1],
                                                 deltas=dense.deltas[b:b + 1]), [t])[0]
                  for b, t in enumerate(targets)]
    assert sum(int(s.pos_mask.sum()) for s in single) >= 8
    for b, s in zip(batched, single):
        assert b.gt_inds.tolist() == s.gt_inds.tolist()
        assert b.labels.tolist() == s.labels.tolist()
        assert b.num_gts == s.num_gts
    assert batched[1].neg_mask.all()  # the image without objects: all background
