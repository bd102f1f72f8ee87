"""What the assigners read (dense predictions) and write (per anchor, the GT it learns from)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor


@dataclass
class AssignResult:
    """Per-anchor assignment of one image (mmdetection's encoding). ``max_overlaps``: with MaxIoU
    the largest IoU of the anchor with any GT (0 without GTs; for its low-quality matches the
    assigned GT need not be that best GT). ATSS measures IoU only at its candidates, so with ATSS,
    and PAA, which keeps its initial result's, it is the IoU with the assigned GT for positives,
    0 elsewhere."""
    gt_inds: Tensor  # (A,) long: 0 negative, -1 ignored (no loss), k >= 1 positive for GT k - 1
    labels: Tensor  # (A,) long: class of the assigned GT for positives, -1 elsewhere
    max_overlaps: Tensor  # (A,) float
    num_gts: int  # G, the ground truths of the image

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


def anchor_levels(num_level_anchors: list[int], device=None) -> Tensor:
    """(A,) long FPN level of every anchor (levels are concatenated level-major)."""
    levels = [torch.full((n,), level, dtype=torch.long, device=device)
              for level, n in enumerate(num_level_anchors)]  # no repeat_interleave: no sync
    return torch.cat(levels) if levels else torch.zeros(0, dtype=torch.long, device=device)


def batch_positives(assigns: list[AssignResult]) -> tuple[Tensor, Tensor, Tensor]:
    """The positives of a batch: image (P,), anchor (P,), image-major, and the row (P,) of their
    GT among the batch's GTs: GT ``k`` (1-based ``gt_inds``) of image ``b`` is row
    ``k - 1 + (number of GTs of the images before b)``."""
    gt_inds = torch.stack([a.gt_inds for a in assigns])  # (B, A)
    image, anchor = (gt_inds > 0).nonzero(as_tuple=True)  # (P,) each
    offsets = torch.tensor([0] + [a.num_gts for a in assigns[:-1]]).cumsum(0)  # (B,)
    return image, anchor, gt_inds[image, anchor] - 1 + offsets.to(gt_inds.device)[image]


def positive_pairs(dense: DenseOutputs, targets: list[dict], assigns: list[AssignResult]
                   ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The positives of a batch, ``image`` (P,) and ``anchor`` (P,) image-major, with their
    decoded predictions (P, 5) and the GT boxes (P, 5) they are assigned to."""
    image, anchor, gt_row = batch_positives(assigns)  # (P,) each
    gt_boxes = torch.cat([t["boxes"].to(dense.anchors).reshape(-1, 5) for t in targets])
    return image, anchor, dense.decode(image, anchor), gt_boxes[gt_row]


@dataclass
class DenseOutputs:
    """The detector's predictions at every anchor of a batch: what assignment and losses read."""
    cls_logits: Tensor  # (B, A, C)
    deltas: Tensor  # (B, A, 5)
    iou_logits: Tensor | None  # (B, A), None without the IoU branch
    anchors: Tensor  # (A, 5), levels concatenated
    num_level_anchors: list[int]  # A_l of each level
    coder: Any  # its decode(anchors, deltas) gives the predicted boxes

    def decode(self, image: Tensor, anchor: Tensor) -> Tensor:
        """(P, 5) predicted boxes at the (image, anchor) pairs (P,) each."""
        return self.coder.decode(self.anchors[anchor], self.deltas[image, anchor])
