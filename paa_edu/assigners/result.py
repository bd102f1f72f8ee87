"""The one result type shared by every assigner: which GT (if any) each anchor learns from."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from paa_edu.geometry.angles import check_boxes


@dataclass
class AssignResult:
    """Per-anchor assignment of one image (mmdetection's encoding).

    Attributes:
        gt_inds: (A,) long. 0 = negative (background), -1 = ignored (no loss),
            k >= 1 = positive for the k-th ground truth (1-based: GT index ``k - 1``).
        labels: (A,) long. Class of the assigned GT for positives, -1 elsewhere.
        max_overlaps: (A,) float. MaxIoU: largest IoU of the anchor with any GT (0 without
            GTs); for its low-quality matches the assigned GT need not be that best GT.
            ATSS, and PAA, which keeps its initial result's: ATSS measures IoU only at its
            candidates, so this is the IoU with the assigned GT for positives, 0 elsewhere.
        num_gts: number of ground truths G of the image.
    """

    gt_inds: Tensor
    labels: Tensor
    max_overlaps: Tensor
    num_gts: int

    def __post_init__(self) -> None:
        A = self.gt_inds.shape[0] if self.gt_inds.dim() == 1 else -1
        for name in ("gt_inds", "labels", "max_overlaps"):
            t = getattr(self, name)
            if not isinstance(t, Tensor) or t.dim() != 1 or t.shape[0] != A:
                raise ValueError(f"AssignResult.{name} must be a 1-D tensor of length A "
                                 f"(= len(gt_inds)), got {getattr(t, 'shape', type(t))}")
        if self.gt_inds.dtype != torch.long or self.labels.dtype != torch.long:
            raise ValueError("AssignResult.gt_inds and .labels must be torch.long")
        if int(self.num_gts) < 0:
            raise ValueError(f"AssignResult.num_gts must be >= 0, got {self.num_gts}")

    @classmethod
    def all_negative(cls, num_anchors: int, num_gts: int, device=None,
                     dtype: torch.dtype = torch.float32) -> AssignResult:
        """Every anchor negative (used for images without GTs)."""
        zeros = torch.zeros(num_anchors, dtype=torch.long, device=device)
        return cls(zeros, zeros - 1, torch.zeros(num_anchors, dtype=dtype, device=device),
                   num_gts)

    @property
    def num_anchors(self) -> int:
        return self.gt_inds.shape[0]

    @property
    def pos_mask(self) -> Tensor:
        """(A,) bool, positive anchors."""
        return self.gt_inds > 0

    @property
    def neg_mask(self) -> Tensor:
        """(A,) bool, negative (background) anchors."""
        return self.gt_inds == 0

    @property
    def ignore_mask(self) -> Tensor:
        """(A,) bool, ignored anchors."""
        return self.gt_inds < 0

    @property
    def num_pos(self) -> int:
        return int(self.pos_mask.sum())

    def pos_inds(self) -> Tensor:
        """(P,) long anchor indices of the positives."""
        return self.pos_mask.nonzero().squeeze(1)

    def pos_gt_inds(self) -> Tensor:
        """(P,) long 0-based GT index of each positive, in the order of :meth:`pos_inds`."""
        return self.gt_inds[self.pos_mask] - 1

    def num_pos_per_gt(self) -> Tensor:
        """(G,) long number of positive anchors of each GT."""
        return torch.bincount(self.pos_gt_inds(), minlength=self.num_gts)[: self.num_gts]


def check_assign_inputs(anchors: Tensor, gt_boxes: Tensor, gt_labels: Tensor,
                        num_level_anchors: list[int] | None = None) -> None:
    """Validate the common ``assign`` arguments; raise ``ValueError``/``TypeError`` naming them."""

    check_boxes(anchors, "anchors")
    check_boxes(gt_boxes, "gt_boxes")
    if anchors.dim() != 2 or gt_boxes.dim() != 2:
        raise ValueError(f"anchors and gt_boxes must be 2-D (N, 5), got {tuple(anchors.shape)} "
                         f"and {tuple(gt_boxes.shape)}")
    if not isinstance(gt_labels, Tensor) or gt_labels.dim() != 1 \
            or gt_labels.shape[0] != gt_boxes.shape[0] or gt_labels.is_floating_point():
        raise ValueError(f"gt_labels must be an integer tensor of shape ({gt_boxes.shape[0]},), "
                         f"got {getattr(gt_labels, 'dtype', type(gt_labels))} "
                         f"{tuple(getattr(gt_labels, 'shape', ()))}")
    if num_level_anchors is not None:
        check_num_level_anchors(num_level_anchors, anchors.shape[0])


def check_num_level_anchors(num_level_anchors: list[int], num_anchors: int) -> None:
    """``num_level_anchors`` must be non-negative ints summing to the number of anchors."""
    if not all(isinstance(n, int) and n >= 0 for n in num_level_anchors):
        raise TypeError(f"num_level_anchors must be a list of ints >= 0, got {num_level_anchors}")
    if sum(num_level_anchors) != num_anchors:
        raise ValueError(f"num_level_anchors sums to {sum(num_level_anchors)} but there are "
                         f"{num_anchors} anchors")


def anchor_levels(num_level_anchors: list[int], device=None) -> Tensor:
    """(A,) long FPN level of every anchor (levels are concatenated level-major)."""
    levels = [torch.full((n,), level, dtype=torch.long, device=device)
              for level, n in enumerate(num_level_anchors)]  # no repeat_interleave: no sync
    return torch.cat(levels) if levels else torch.zeros(0, dtype=torch.long, device=device)
