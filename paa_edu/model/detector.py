"""The rotated PAA detector: backbone + FPN + head, joined with assignment and losses.

``model(images, targets)`` follows torchvision's detection convention: in training mode it
returns ``{"loss_cls", "loss_bbox", "loss_iou"}`` (scalars); in eval mode one dict per image
with ``boxes`` (K, 5), ``scores`` (K,), ``labels`` (K,) in the pixels of the input tensor.

A training step reads top to bottom in :meth:`RotatedPAADetector.loss`: 1. the predictions
at every anchor, 2. assignment (MaxIoU, ATSS or PAA, which scores anchors with the current
predictions), 3. the three losses over the batch. All assigners share the same head, losses
and inference, so a comparison table isolates the assignment.
"""
from __future__ import annotations

import warnings

import torch
from torch import Tensor, nn

from paa_edu.assigners import DenseOutputs, assign, build_assigner
from paa_edu.assigners.result import positive_pairs
from paa_edu.config import ModelConfig
from paa_edu.geometry import check_boxes, full_precision
from paa_edu.model.anchors import AnchorGenerator
from paa_edu.model.backbone import IMAGENET_MEAN, IMAGENET_STD, ResNetFPN, normalize_pixels
from paa_edu.model.coder import DeltaXYWHACoder
from paa_edu.model.head import RotatedRetinaHead
from paa_edu.model.losses import detection_losses
from paa_edu.model.postprocess import postprocess_image

_ANCHOR_CACHE_SIZE = 8  # (feature sizes, device, dtype) entries kept; inference may vary sizes


class RotatedPAADetector(nn.Module):
    """Single-stage rotated detector (RetinaNet head + PAA IoU branch) from a ``ModelConfig``;
    ``load_backbone_weights=False``: random weights, for loading a checkpoint that holds all."""
    def __init__(self, cfg: ModelConfig, load_backbone_weights: bool = True):
        super().__init__()
        self.cfg = cfg
        if load_backbone_weights and cfg.depth == 50 and cfg.backbone_weights is None:
            warnings.warn("model.backbone_weights=None: ResNet-50 starts from random weights, "
                          "which cannot reproduce the seed (it fine-tunes ImageNet weights, "
                          "model.backbone_weights='IMAGENET1K_V1')", stacklevel=2)
        weights = cfg.backbone_weights if load_backbone_weights else None
        self.backbone = ResNetFPN(cfg.depth, cfg.backbone_width, weights, cfg.fpn_channels,
                                  len(cfg.strides), cfg.frozen_stages, cfg.norm_eval,
                                  cfg.relu_before_extra_convs)
        self.head = RotatedRetinaHead(cfg.fpn_channels, cfg.num_classes, cfg.num_convs,
                                      cfg.use_gn, cfg.iou_branch)
        self.anchor_generator = AnchorGenerator(strides=tuple(cfg.strides),
                                                octave_base_scale=cfg.octave_base_scale)
        self.coder = DeltaXYWHACoder(version=cfg.angle_version)
        self.assigner = build_assigner(cfg)
        # Loss normalisers averaged over processes (train.reduce_num_pos, set by train()).
        self.reduce_num_pos = False
        # For uint8 inputs (normalize_images). Not persistent: the state dict keeps its keys.
        self.register_buffer("pixel_mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1),
                             persistent=False)
        self.register_buffer("pixel_std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1),
                             persistent=False)
        self._anchor_cache: dict = {}

    # ---- 0. inputs --------------------------------------------------------------------------
    def normalize_images(self, images: Tensor, image_shapes: list | None = None) -> Tensor:
        """Float images (B, 3, H, W) pass through; uint8 RGB images are normalised on their
        device, then the padding outside each ``image_shapes[b] = (h, w)`` is set to 0."""
        if images.dtype != torch.uint8:
            return images
        out = normalize_pixels(images, self.pixel_mean, self.pixel_std)  # (B, 3, H, W)
        for b, (h, w) in enumerate(image_shapes or []):  # Python ints: no sync
            out[b, :, int(h):, :] = 0.0
            out[b, :, :, int(w):] = 0.0
        return out

    def prepare_targets(self, targets: list[dict], device: torch.device) -> list[dict]:
        """Check every target of the batch once, where it is (the host, from a DataLoader),
        then move ``boxes`` and ``labels`` to ``device``: assignment and losses trust them."""
        for b, target in enumerate(targets):  # layouts: free checks, one target at a time
            boxes, labels = target["boxes"], target["labels"]
            if not isinstance(boxes, Tensor) or not boxes.is_floating_point() \
                    or boxes.dim() != 2 or boxes.shape[1] != 5 \
                    or not isinstance(labels, Tensor) or labels.dim() != 1 \
                    or labels.is_floating_point() or len(labels) != len(boxes):
                raise ValueError(f"targets[{b}] must hold boxes (G, 5) and integer labels "
                                 f"(G,), got boxes {tuple(getattr(boxes, 'shape', ()))} and "
                                 f"labels {getattr(labels, 'dtype', type(labels))} "
                                 f"{tuple(getattr(labels, 'shape', ()))}")
        try:  # values: one check for the whole batch
            check_boxes(torch.cat([t["boxes"] for t in targets]), "targets' boxes")
        except ValueError:  # name the image
            for b, target in enumerate(targets):
                check_boxes(target["boxes"], f"targets[{b}]['boxes']")
            raise
        return [{**t, "boxes": t["boxes"].to(device, non_blocking=True),
                 "labels": t["labels"].to(device, non_blocking=True)} for t in targets]

    def anchors_for(self, sizes: list[tuple[int, int]], device: torch.device,
                    dtype: torch.dtype = torch.float32) -> tuple[Tensor, list[int]]:
        """All anchors (A, 5) of these feature sizes and the count per level, cached."""
        key = (tuple(sizes), str(device), dtype)
        if key not in self._anchor_cache:
            if len(self._anchor_cache) >= _ANCHOR_CACHE_SIZE:
                self._anchor_cache.clear()
            levels = self.anchor_generator.grid_anchors(sizes, device=device, dtype=dtype)
            self._anchor_cache[key] = (torch.cat(levels), [len(a) for a in levels])
        return self._anchor_cache[key]

    # ---- 1. dense predictions ---------------------------------------------------------------
    def predict_dense(self, images: Tensor, image_shapes: list | None = None) -> DenseOutputs:
        """Backbone + head + anchors: the predictions at every anchor of ``images`` (B, 3, H, W),
        H and W multiples of the largest stride (``image_shapes``: :meth:`normalize_images`)."""
        if images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"images must be (B, 3, H, W), got {tuple(images.shape)}")
        feats = self.backbone(self.normalize_images(images, image_shapes))  # L x (B, F, H_l, W_l)
        cls_logits, deltas, iou_logits = self.head(feats)
        anchors, counts = self.anchors_for([tuple(f.shape[-2:]) for f in feats], images.device,
                                           full_precision(feats[0]).dtype)
        return DenseOutputs(cls_logits, deltas, iou_logits, anchors, counts, self.coder)

    # ---- 3. losses --------------------------------------------------------------------------
    def compute_losses(self, dense: DenseOutputs, targets: list[dict], assigns: list) -> dict:
        """Focal + IoU-weighted rotated IoU loss + IoU-branch BCE over the whole batch at once;
        ignored anchors (``gt_inds == -1``, MaxIoU's 0.4-0.5 band) are left out of every loss."""
        gt_inds = torch.stack([a.gt_inds for a in assigns])  # (B, A)
        labels = torch.stack([a.labels for a in assigns])  # (B, A)
        kept = (gt_inds >= 0).reshape(-1).nonzero().squeeze(1)  # (N,) not ignored, flat
        image, anchor, pred_boxes, gt_boxes = positive_pairs(dense, targets, assigns)
        iou_logits = dense.iou_logits
        return detection_losses(
            dense.cls_logits.flatten(0, 1)[kept], labels.reshape(-1)[kept], pred_boxes, gt_boxes,
            None if iou_logits is None else iou_logits[image, anchor], num_images=len(targets),
            reg_weight=self.cfg.reg_weight, iou_weight=self.cfg.iou_weight,
            graph_anchor=dense.deltas, average_over_ranks=self.reduce_num_pos)

    def loss(self, images: Tensor, targets: list[dict]) -> dict:
        """One training forward pass: dense predictions -> assignment -> losses."""
        targets = self.prepare_targets(targets, images.device)
        dense = self.predict_dense(images, target_image_shapes(targets))
        if len(targets) != len(images):
            raise ValueError(f"got {len(targets)} targets for {len(images)} images")
        assigns = assign(self.assigner, dense, targets)
        # Logged by the training loop, not part of the loss (a tensor: no sync here).
        self.last_stats = {"num_pos": sum(a.pos_mask.sum() for a in assigns),
                           "num_gts": sum(a.num_gts for a in assigns)}
        return self.compute_losses(dense, targets, assigns)

    # ---- inference --------------------------------------------------------------------------
    @torch.no_grad()
    def predict(self, images: Tensor, image_shapes: list | None = None) -> list[dict]:
        """Detections per image (boxes in the pixels of ``images``)."""
        dense = self.predict_dense(images, image_shapes)
        iou = dense.iou_logits
        return [postprocess_image(dense.cls_logits[b], dense.deltas[b],
                                  None if iou is None else iou[b], dense.anchors,
                                  dense.num_level_anchors, self.coder, self.cfg)
                for b in range(images.shape[0])]

    def forward(self, images: Tensor, targets: list[dict] | None = None):
        """Loss dict in training mode (``targets`` required), detections in eval mode (where
        the ``img_shape`` of optional ``targets`` marks the padding of uint8 inputs)."""
        if self.training:
            if targets is None:
                raise ValueError("targets are required in training mode (call model.eval() "
                                 "for inference)")
            return self.loss(images, targets)
        return self.predict(images, None if targets is None else target_image_shapes(targets))


def target_image_shapes(targets: list[dict]) -> list | None:
    """The unpadded (h, w) of every image when every target has ``img_shape``, else None."""
    if all("img_shape" in t for t in targets):
        return [t["img_shape"] for t in targets]
    return None

