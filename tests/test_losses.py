"""Focal loss, rotated IoU loss, PAA's anchor score and the batch losses."""
from __future__ import annotations

import math

import pytest
import torch
from torchvision.ops import sigmoid_focal_loss as tv_focal

from paa_edu.assigners import AssignResult, DenseOutputs, paa_scores
from paa_edu.model.coder import DeltaXYWHACoder
from paa_edu.model.losses import (
    detection_losses,
    one_hot_targets,
    rotated_iou_loss,
    sigmoid_focal_loss,
)


def test_focal_loss_matches_torchvision():
    logits = torch.randn(50, 4)
    targets = one_hot_targets(torch.randint(-1, 4, (50,)), 4)
    assert torch.allclose(sigmoid_focal_loss(logits, targets),
                          tv_focal(logits, targets, 0.25, 2.0, reduction="none"), atol=1e-6)


def test_one_hot_treats_negative_labels_as_background():
    assert one_hot_targets(torch.tensor([1, -1, 0]), 2).tolist() == [[0, 1], [0, 0], [1, 0]]


def test_iou_loss_is_zero_for_perfect_boxes_and_large_for_misses():
    gt = torch.tensor([[10.0, 10.0, 8.0, 4.0, 0.3], [50.0, 50.0, 6.0, 6.0, 0.0]])
    pred = torch.tensor([[10.0, 10.0, 8.0, 4.0, 0.3], [90.0, 90.0, 6.0, 6.0, 0.0]])
    loss, ious = rotated_iou_loss(pred, gt)
    assert loss[0].item() == pytest.approx(0.0, abs=1e-4)
    assert loss[1].item() == pytest.approx(-math.log(1e-6), rel=1e-4) and ious[1] == 0


def test_paa_scores_only_at_initial_positives():
    cls_logits = torch.randn(4, 3)
    gt = torch.tensor([[10.0, 10.0, 8.0, 4.0, 0.0]])
    pred = torch.tensor([[10.0, 10.0, 8.0, 4.0, 0.0], [11.0, 10.0, 8.0, 4.0, 0.0],
                         [0.0, 0.0, 1.0, 1.0, 0.0], [0.0, 0.0, 1.0, 1.0, 0.0]])
    assign = AssignResult(torch.tensor([1, 1, 0, -1]), torch.tensor([2, 2, -1, -1]),
                          torch.zeros(4), 1)
    dense = DenseOutputs(cls_logits[None], torch.zeros(1, 4, 5), None, pred, [4],
                         DeltaXYWHACoder())  # zero deltas: the anchors are the predictions
    scores = paa_scores(dense, [{"boxes": gt}], [assign])[0]
    assert torch.isinf(scores[2:]).all()
    focal = sigmoid_focal_loss(cls_logits[:2], one_hot_targets(torch.tensor([2, 2]), 3)).sum(1)
    iou_second = 7.0 / 9.0  # boxes shifted by 1 px along their 8 px side: 28 / 36
    expected = focal + torch.tensor([0.0, -math.log(iou_second)])
    assert torch.allclose(scores[:2], expected, atol=1e-4)


def test_losses_are_normalised_and_weighted_by_the_iou_target():
    cls_logits = torch.zeros(10, 2, requires_grad=True)
    labels = torch.tensor([0, 1] + [-1] * 8)
    gt = torch.tensor([[10.0, 10.0, 8.0, 4.0, 0.0], [30.0, 30.0, 8.0, 8.0, 0.0]])
    pred = torch.tensor([[10.0, 10.0, 8.0, 4.0, 0.0], [31.0, 30.0, 8.0, 8.0, 0.0]],
                        requires_grad=True)
    iou_logits = torch.zeros(2, requires_grad=True)
    losses = detection_losses(cls_logits, labels, pred, gt, iou_logits, num_images=1)
    loss_each, ious = rotated_iou_loss(pred.detach(), gt)
    assert losses["loss_bbox"].item() == pytest.approx(
        float((ious * loss_each).sum() / ious.sum()), rel=1e-5)
    focal = sigmoid_focal_loss(cls_logits.detach(), one_hot_targets(labels, 2)).sum() / 2
    assert losses["loss_cls"].item() == pytest.approx(focal.item(), rel=1e-5)
    bce = torch.nn.functional.binary_cross_entropy_with_logits(torch.zeros(2), ious)
    assert losses["loss_iou"].item() == pytest.approx(0.5 * bce.item(), rel=1e-5)
    sum(losses.values()).backward()
    assert pred.grad is not None and iou_logits.grad is not None


def test_no_positive_keeps_the_graph_alive():
    cls_logits = torch.zeros(6, 2, requires_grad=True)
    deltas = torch.zeros(6, 5, requires_grad=True)
    iou_logits = torch.zeros(0, requires_grad=True)
    losses = detection_losses(cls_logits, torch.full((6,), -1), torch.zeros(0, 5),
                              torch.zeros(0, 5), iou_logits, num_images=2, graph_anchor=deltas)
    assert losses["loss_bbox"].item() == 0 and losses["loss_iou"].item() == 0
    sum(losses.values()).backward()
    assert torch.equal(deltas.grad, torch.zeros_like(deltas))
    assert losses["loss_cls"].item() == pytest.approx(
        sigmoid_focal_loss(torch.zeros(6, 2), torch.zeros(6, 2)).sum().item() / 2)


@pytest.mark.parametrize("version", ["le135", "le90", "oc"])
def test_gradcheck_from_deltas_through_decode_to_the_iou_loss(version):
    """The regression loss's gradient w.r.t. the head's deltas, across regularize_boxes."""
    g = torch.Generator().manual_seed(0)
    f64 = dict(dtype=torch.float64)
    anchors = torch.tensor([[32.0, 32.0, 32.0, 32.0, 0.0]] * 8, **f64)  # square, as the grid's
    anchors[:, :2] += torch.rand(8, 2, generator=g, **f64) * 8
    deltas = 0.3 * torch.randn(8, 5, generator=g, **f64)
    deltas[:4, 3] = deltas[:4, 2] + 0.4  # decoded h > w: le* versions swap w and h here
    deltas[::2, 4] += 0.45 if version == "le135" else -0.45  # some angles past their range
    coder = DeltaXYWHACoder(version)
    raw_w = anchors[:, 2] * deltas[:, 2].exp()
    decoded = coder.decode(anchors, deltas)
    swapped = ~torch.isclose(decoded[:, 2], raw_w)
    assert 0 < int(swapped.sum()) < 8  # both branches of the w/h swap are taken
    targets = decoded.detach() + torch.randn(8, 5, generator=g, **f64) * torch.tensor(
        [3.0, 3.0, 2.0, 2.0, 0.2], **f64)  # near their predictions, general position
    targets[:, 2:4] = targets[:, 2:4].abs()
    loss, ious = rotated_iou_loss(decoded, targets)
    assert loss.dtype == torch.float64 and bool((ious > 0.2).all())  # not at the IoU clamp

    def iou_loss(d):
        return rotated_iou_loss(coder.decode(anchors, d), targets)[0]

    assert torch.autograd.gradcheck(iou_loss, (deltas.clone().requires_grad_(),))
