"""RetinaNet head with PAA's IoU-prediction branch, for rotated boxes.

Two towers of ``num_convs`` 3x3 convs (+ optional GroupNorm) + ReLU, shared across levels:

- classification tower -> ``C`` sigmoid logits per anchor (bias from prior 0.01),
- regression tower -> 5 box deltas (dx, dy, dw, dh, dtheta) per anchor, and PAA's extra
  3x3 conv -> 1 IoU logit per anchor (the predicted IoU of the decoded box with its GT).
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def permute_to_flat(x: Tensor, k: int) -> Tensor:
    """Reorder a head output (B, R*K, H, W) into (B, H*W*R, K): row ``(y * W + x) * R + r`` is
    anchor ``r`` of location (y, x), the order of the anchor generator."""
    b, rk, h, w = x.shape
    x = x.view(b, rk // k, k, h, w)  # (B, R, K, H, W)
    return x.permute(0, 3, 4, 1, 2).reshape(b, h * w * (rk // k), k)  # (B, H*W*R, K)


def _tower(channels: int, num_convs: int, use_gn: bool) -> nn.Sequential:
    layers = []
    for _ in range(num_convs):
        layers.append(nn.Conv2d(channels, channels, 3, padding=1, bias=not use_gn))
        if use_gn:
            layers.append(nn.GroupNorm(math.gcd(32, channels), channels))
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class RotatedRetinaHead(nn.Module):
    """The head of the module docstring, shared by every FPN level; GroupNorm with ``use_gn``
    (PAA uses it, the rotated seed heads do not), PAA's IoU conv with ``iou_branch``."""
    def __init__(self, channels: int, num_classes: int, num_convs: int = 4,
                 use_gn: bool = False, iou_branch: bool = True, prior_prob: float = 0.01):
        super().__init__()
        self.num_classes = num_classes
        self.cls_tower = _tower(channels, num_convs, use_gn)
        self.reg_tower = _tower(channels, num_convs, use_gn)
        self.cls_out = nn.Conv2d(channels, num_classes, 3, padding=1)
        self.reg_out = nn.Conv2d(channels, 5, 3, padding=1)
        self.iou_out = nn.Conv2d(channels, 1, 3, padding=1) if iou_branch else None
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, std=0.01)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        nn.init.constant_(self.cls_out.bias, -math.log((1 - prior_prob) / prior_prob))

    def forward(self, feats: list[Tensor]) -> tuple[Tensor, Tensor, Tensor | None]:
        """L maps (B, channels, H_l, W_l) -> cls_logits (B, A, C), deltas (B, A, 5) and
        iou_logits (B, A) or None, anchors concatenated level-major (A = sum_l H_l W_l)."""
        cls_all, reg_all, iou_all = [], [], []
        for x in feats:
            c, r = self.cls_tower(x), self.reg_tower(x)
            cls_all.append(permute_to_flat(self.cls_out(c), self.num_classes))  # (B, HW, C)
            reg_all.append(permute_to_flat(self.reg_out(r), 5))  # (B, HW, 5)
            if self.iou_out is not None:
                iou_all.append(permute_to_flat(self.iou_out(r), 1))  # (B, HW, 1)
        cls_logits = torch.cat(cls_all, dim=1)  # (B, A, C)
        deltas = torch.cat(reg_all, dim=1)  # (B, A, 5)
        iou_logits = torch.cat(iou_all, dim=1)[..., 0] if iou_all else None  # (B, A)
        return cls_logits, deltas, iou_logits
