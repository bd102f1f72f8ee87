"""How low the IoU branch's loss can go: a BCE against a soft target never drops below H(t).

The IoU branch is trained with a binary cross-entropy against a *soft* target, the IoU ``t`` of
each positive's decoded box with its GT (:func:`paa_edu.model.losses.detection_losses`). For one
positive with predicted probability ``p``,

    BCE(t, p) = -t log p - (1 - t) log(1 - p) = H(t) + KL(t || p) >= H(t),

with ``H(t) = -t log t - (1 - t) log(1 - t)`` the binary entropy, reached only at ``p = t``. So
``loss_iou`` (0.5 x the mean BCE over the positives) cannot reach zero: its floor is 0.5 x the mean
H(t), and only the excess ``loss_iou - floor`` (a KL divergence) is what the branch can still
learn. The floor itself moves during training, since ``t`` follows the boxes."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from paa_edu.assigners import assign
from paa_edu.assigners.result import positive_pairs
from paa_edu.geometry import box_iou_rotated, full_precision
from paa_edu.model.detector import target_image_shapes


def binary_entropy(t: Tensor) -> Tensor:
    """H(t) = -t log t - (1 - t) log(1 - t) in nats, element-wise, with 0 log 0 = 0:
    (...) targets in [0, 1] -> (...) entropies in [0, log 2]."""
    t = torch.as_tensor(t)
    t = t if t.is_floating_point() else t.double()
    if ((t < 0) | (t > 1)).any():
        raise ValueError("binary_entropy needs targets in [0, 1]")
    return -(torch.xlogy(t, t) + torch.xlogy(1 - t, 1 - t))


def soft_bce(logits: Tensor, t: Tensor) -> Tensor:
    """BCE(t, sigmoid(logits)) element-wise, what the IoU branch pays per positive: (...)
    logits and (...) soft targets in [0, 1] -> (...) losses, each >= ``binary_entropy(t)``."""
    return F.binary_cross_entropy_with_logits(logits, t.to(logits.dtype), reduction="none")


@torch.no_grad()
def iou_loss_floor(model, images: Tensor, targets: list[dict]) -> dict:
    """``loss_iou`` of ``model`` on a batch, and the entropy floor it cannot go below, with the
    positives and targets of training (the model's own assigner on its current predictions,
    ``t = IoU(decoded box, GT)`` clamped at 1e-12): ``loss_iou``, ``floor`` (``iou_weight`` x
    mean H(t)), ``excess`` >= 0, ``num_pos``, and per positive ``targets``, ``bce``, ``entropy``.
    """
    if not getattr(model.cfg, "iou_branch", False):
        raise ValueError("this model has no IoU branch (cfg.iou_branch=False): no loss_iou")
    targets = model.prepare_targets(targets, images.device)
    dense = model.predict_dense(images, target_image_shapes(targets))
    assigns = assign(model.assigner, dense, targets)
    image, anchor, pred, gt = positive_pairs(dense, targets, assigns)  # (P,), (P, 5)
    t = box_iou_rotated(pred, gt.to(pred.dtype), aligned=True).clamp(min=1e-12)  # (P,)
    logit = full_precision(dense.iou_logits[image, anchor])  # (P,)
    bce, entropy = soft_bce(logit, t), binary_entropy(t)
    num_pos, weight = len(t), model.cfg.iou_weight
    loss = weight * float(bce.sum()) / max(num_pos, 1)
    floor = weight * float(entropy.sum()) / max(num_pos, 1)
    return {"loss_iou": loss, "floor": floor, "excess": loss - floor, "num_pos": num_pos,
            "targets": t, "bce": bce, "entropy": entropy}
