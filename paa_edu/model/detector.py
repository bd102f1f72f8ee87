"""The rotated PAA detector: backbone + FPN + head, joined with assignment and losses.

``model(images, targets)`` follows torchvision's detection convention:

- training mode: returns ``{"loss_cls", "loss_bbox", "loss_iou"}`` (scalars);
- eval mode: returns one dict per image with ``boxes`` (K, 5), ``scores`` (K,), ``labels`` (K,)
  in the pixels of the input tensor.

A training step reads top to bottom in :meth:`RotatedPAADetector.loss`:
1. head outputs per anchor, 2. per image: assign anchors to GTs (MaxIoU, ATSS or PAA, whose
re-assignment scores anchors with the current predictions), 3. the three losses over the batch.

All assigners share the same head, losses and inference (the MaxIoU/ATSS baselines also train
the IoU branch and rank by sqrt(cls * IoU)), so a comparison table isolates the assignment.
Set ``iou_branch=False`` for the rotated seed heads' setting (cls-only scores, no IoU loss).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from paa_edu.anchors import AnchorGenerator
from paa_edu.assigners import ATSSAssigner, MaxIoUAssigner, PAAAssigner
from paa_edu.coder import DeltaXYWHACoder
from paa_edu.config import ModelConfig
from paa_edu.losses import detection_losses, paa_anchor_scores
from paa_edu.model.backbone import ResNetFPN
from paa_edu.model.head import RotatedRetinaHead
from paa_edu.model.postprocess import postprocess_image

# RetinaNet's MaxIoU thresholds (the baseline row); PAA's own MaxIoU init uses 0.1/0.1.
RETINANET_POS_IOU, RETINANET_NEG_IOU = 0.5, 0.4


def build_assigner(cfg: ModelConfig, record: bool = False):
    """The assigner named by ``cfg.assigner`` (``maxiou``, ``atss`` or ``paa``)."""
    if cfg.assigner == "maxiou":
        return MaxIoUAssigner(RETINANET_POS_IOU, RETINANET_NEG_IOU, min_pos_iou=0.0)
    if cfg.assigner == "atss":
        return ATSSAssigner(topk=cfg.topk)
    if cfg.assigner == "paa":
        return PAAAssigner(init=cfg.paa_init, topk=cfg.topk, reg_covar=cfg.reg_covar,
                           record=record)
    raise ValueError(f"cfg.assigner must be 'maxiou', 'atss' or 'paa', got {cfg.assigner!r}")


class RotatedPAADetector(nn.Module):
    """Single-stage rotated detector (RetinaNet head + PAA IoU branch).

    Args:
        cfg: a :class:`paa_edu.config.ModelConfig`.
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.backbone = ResNetFPN(cfg.depth, cfg.backbone_width, cfg.backbone_weights,
                                  cfg.fpn_channels, len(cfg.strides))
        self.head = RotatedRetinaHead(cfg.fpn_channels, cfg.num_classes, cfg.num_convs,
                                      cfg.use_gn, cfg.iou_branch)
        self.anchor_generator = AnchorGenerator(strides=tuple(cfg.strides),
                                                octave_base_scale=cfg.octave_base_scale)
        self.coder = DeltaXYWHACoder(version=cfg.angle_version)
        self.assigner = build_assigner(cfg)

    # ---- 1. dense predictions ---------------------------------------------------------------
    def predict_dense(self, images: Tensor) -> dict:
        """Backbone + head + anchors.

        Args:
            images: (B, 3, H, W) normalised, H and W multiples of the largest stride.
        Returns:
            dict ``cls_logits`` (B, A, C), ``deltas`` (B, A, 5), ``iou_logits`` (B, A) or
            None, ``anchors`` (A, 5), ``num_level_anchors`` list of L ints.
        """
        if images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"images must be (B, 3, H, W), got {tuple(images.shape)}")
        feats = self.backbone(images)  # L x (B, F, H_l, W_l)
        cls_logits, deltas, iou_logits = self.head(feats)
        sizes = [tuple(f.shape[-2:]) for f in feats]
        anchors = self.anchor_generator.grid_anchors(sizes, device=images.device)
        return {"cls_logits": cls_logits, "deltas": deltas, "iou_logits": iou_logits,
                "anchors": torch.cat(anchors), "num_level_anchors": [len(a) for a in anchors]}

    # ---- 2. assignment ----------------------------------------------------------------------
    def paa_scores(self, anchors: Tensor, gt_boxes: Tensor, initial, cls_logits: Tensor,
                   deltas: Tensor) -> Tensor:
        """PAA's anchor scores (A,) of one image from the current, detached predictions."""
        with torch.no_grad():
            pred_boxes = self.coder.decode(anchors, deltas.detach().float())  # (A, 5)
            return paa_anchor_scores(cls_logits.detach(), pred_boxes, initial, gt_boxes)

    def assign_image(self, anchors: Tensor, num_level_anchors: list[int], gt_boxes: Tensor,
                     gt_labels: Tensor, cls_logits: Tensor, deltas: Tensor):
        """Assign the anchors of one image (no gradients).

        For PAA: initial candidates (MaxIoU 0.1 or ATSS), their scores from the current
        predictions (:func:`paa_edu.losses.paa_anchor_scores`), then the GMM split.

        Args:
            anchors: (A, 5); gt_boxes (G, 5); gt_labels (G,); cls_logits (A, C); deltas (A, 5).
        Returns:
            an :class:`paa_edu.assigners.AssignResult`.
        """
        return self.assign_batch(
            {"anchors": anchors, "num_level_anchors": num_level_anchors,
             "cls_logits": cls_logits[None], "deltas": deltas[None]},
            [{"boxes": gt_boxes, "labels": gt_labels}])[0]

    def assign_batch(self, dense: dict, targets: list[dict]) -> list:
        """Assign every image of the batch; returns B AssignResults.

        PAA splits the candidates of all GTs of all images in one batched GMM fit.
        """
        anchors, counts = dense["anchors"], dense["num_level_anchors"]
        if len(targets) != dense["cls_logits"].shape[0]:
            raise ValueError(f"got {len(targets)} targets for "
                             f"{dense['cls_logits'].shape[0]} images")
        gts = [(t["boxes"].to(anchors), t["labels"].to(anchors.device)) for t in targets]
        if self.cfg.assigner != "paa":
            return [self.assigner.assign(anchors, boxes, labels, counts) for boxes, labels in gts]
        initials = [self.assigner.initial_assign(anchors, boxes, labels, counts)
                    for boxes, labels in gts]
        scores = [self.paa_scores(anchors, boxes, initial, dense["cls_logits"][b],
                                  dense["deltas"][b])
                  for b, ((boxes, _), initial) in enumerate(zip(gts, initials))]  # B x (A,)
        return self.assigner.reassign_many(initials, scores, counts)

    # ---- 3. losses --------------------------------------------------------------------------
    def compute_losses(self, dense: dict, targets: list[dict], assigns: list) -> dict:
        """Focal + IoU-weighted rotated IoU loss + IoU-branch BCE over the batch.

        Ignored anchors (``gt_inds == -1``, MaxIoU's 0.4-0.5 band) are left out of every loss.
        """
        anchors = dense["anchors"]
        cls_rows, labels, pred_boxes, gt_boxes, iou_logits = [], [], [], [], []
        for b, (target, assign) in enumerate(zip(targets, assigns)):
            valid = assign.gt_inds >= 0  # (A,) not ignored
            cls_rows.append(dense["cls_logits"][b][valid])  # (A_v, C)
            labels.append(assign.labels[valid])  # (A_v,)
            pos = assign.pos_mask.nonzero()[:, 0]  # (P_b,)
            pred_boxes.append(self.coder.decode(anchors[pos], dense["deltas"][b][pos].float()))
            gt_boxes.append(target["boxes"].to(anchors)[assign.gt_inds[pos] - 1])  # (P_b, 5)
            if dense["iou_logits"] is not None:
                iou_logits.append(dense["iou_logits"][b][pos])  # (P_b,)
        return detection_losses(
            torch.cat(cls_rows), torch.cat(labels), torch.cat(pred_boxes), torch.cat(gt_boxes),
            torch.cat(iou_logits) if iou_logits else None, num_images=len(targets),
            reg_weight=self.cfg.reg_weight, iou_weight=self.cfg.iou_weight,
            graph_anchor=dense["deltas"])

    def loss(self, images: Tensor, targets: list[dict]) -> dict:
        """One training forward pass: dense predictions -> assignment -> losses."""
        dense = self.predict_dense(images)
        assigns = self.assign_batch(dense, targets)
        return self.compute_losses(dense, targets, assigns)

    # ---- inference --------------------------------------------------------------------------
    @torch.no_grad()
    def predict(self, images: Tensor) -> list[dict]:
        """Detections per image (boxes in the pixels of ``images``)."""
        dense = self.predict_dense(images)
        iou = dense["iou_logits"]
        return [postprocess_image(dense["cls_logits"][b], dense["deltas"][b],
                                  None if iou is None else iou[b], dense["anchors"],
                                  dense["num_level_anchors"], self.coder, self.cfg)
                for b in range(images.shape[0])]

    def forward(self, images: Tensor, targets: list[dict] | None = None):
        """Loss dict in training mode (``targets`` required), detections in eval mode."""
        if self.training:
            if targets is None:
                raise ValueError("targets are required in training mode (call model.eval() "
                                 "for inference)")
            return self.loss(images, targets)
        return self.predict(images)
