"""The dense head: permutation order, output shapes, initialisation."""
from __future__ import annotations

import pytest
import torch

from paa_edu.model.head import RotatedRetinaHead, permute_to_flat


def test_permute_lists_anchors_of_a_location_together():
    x = torch.arange(2 * 6 * 2 * 3.0).view(2, 6, 2, 3)  # (B, R*K, H, W) with R=2, K=3
    flat = permute_to_flat(x, 3)  # (B, H*W*R, K)
    assert flat.shape == (2, 12, 3)
    # row (y * W + x) * R + r holds channels r*K .. r*K + K - 1 of location (y, x)
    y, xx, r = 1, 2, 1
    assert flat[1, (y * 3 + xx) * 2 + r].tolist() == x[1, r * 3:(r + 1) * 3, y, xx].tolist()


@pytest.mark.parametrize("iou_branch, use_gn", [(True, True), (False, False)])
def test_head_shapes_and_prior(iou_branch, use_gn):
    head = RotatedRetinaHead(16, num_classes=3, num_convs=2, use_gn=use_gn,
                             iou_branch=iou_branch)
    feats = [torch.randn(2, 16, 8, 8), torch.randn(2, 16, 4, 4)]
    cls_logits, deltas, iou_logits = head(feats)
    assert cls_logits.shape == (2, 80, 3) and deltas.shape == (2, 80, 5)
    assert (iou_logits.shape == (2, 80)) if iou_branch else iou_logits is None
    # prior 0.01: the initial foreground probability is about 0.01 everywhere
    assert torch.sigmoid(cls_logits).mean().item() == pytest.approx(0.01, rel=0.2)
