"""The rotated PAA detector: backbone + FPN + head, joined with assignment and losses.

``model(images, targets)`` follows torchvision's detection convention:

- training mode: returns ``{"loss_cls", "loss_bbox", "loss_iou"}`` (scalars);
- eval mode: returns one dict per image with ``boxes`` (K, 5), ``scores`` (K,), ``labels`` (K,)
  in the pixels of the input tensor.

A training step reads top to bottom in :meth:`RotatedPAADetector.loss`:
1. head outputs per anchor, 2. per image: assign anchors to GTs (MaxIoU, ATSS or PAA, whose
re-assignment scores anchors with the current predictions), 3. the three losses over the batch.

All assigners share the same head, losses and inference (with ``iou_branch`` the MaxIoU/ATSS
baselines also train the IoU branch and rank by sqrt(cls * IoU)), so a comparison table
isolates the assignment. ``iou_branch=False`` is the seed's rotated heads (``r50_dota_1x``:
cls-only scores, no IoU loss); ``True`` the paper's method (``r50_dota_1x_iou``).
"""
from __future__ import annotations

import warnings

import torch
from torch import Tensor, nn

from paa_edu.assigners import build_assigner
from paa_edu.config import ModelConfig
from paa_edu.geometry import check_boxes, full_precision
from paa_edu.geometry.value_checks import trusted_values
from paa_edu.model.anchors import AnchorGenerator
from paa_edu.model.backbone import IMAGENET_MEAN, IMAGENET_STD, ResNetFPN, normalize_pixels
from paa_edu.model.coder import DeltaXYWHACoder
from paa_edu.model.head import RotatedRetinaHead
from paa_edu.model.losses import candidate_scores, detection_losses, paa_anchor_scores
from paa_edu.model.postprocess import postprocess_image

# RetinaNet's MaxIoU thresholds (the baseline row); PAA's own MaxIoU init uses 0.1/0.1.
_ANCHOR_CACHE_SIZE = 8  # (feature sizes, device, dtype) entries kept; inference may vary sizes


class RotatedPAADetector(nn.Module):
    """Single-stage rotated detector (RetinaNet head + PAA IoU branch).

    Args:
        cfg: a :class:`paa_edu.config.ModelConfig`.
        load_backbone_weights: read ``cfg.backbone_weights`` (ImageNet). ``False`` builds the
            same network with random weights, for loading a checkpoint that holds them all.
    """

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
        # Loss normalisers averaged over processes (original PAA); train() sets it from
        # train.reduce_num_pos. False = each process's own counts (the seed, mmdet).
        self.reduce_num_pos = False
        # uint8 inputs are normalised here, on the device (as paa_edu.data.transforms.normalize
        # does on the host for float inputs). Not persistent: the state dict keeps its keys.
        self.register_buffer("pixel_mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1),
                             persistent=False)
        self.register_buffer("pixel_std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1),
                             persistent=False)
        self._anchor_cache: dict = {}

    # ---- 0. inputs --------------------------------------------------------------------------
    def normalize_images(self, images: Tensor, image_shapes: list | None = None) -> Tensor:
        """Float images pass through; uint8 RGB images are normalised on their device.

        ``(x - mean) / std`` by :func:`paa_edu.model.backbone.normalize_pixels`, the formula
        the host-side ``normalize`` uses (so the two agree bit for bit; float64 for a float64
        model), then the padding outside each image's ``image_shapes[b] = (h, w)`` is set to 0,
        as host-side padding after normalisation is. Without ``image_shapes`` the whole tensor
        is image.

        Args:
            images: (B, 3, H, W) float (already normalised) or uint8 (0-255 RGB).
            image_shapes: B pairs (h, w) of unpadded image sizes, or None.
        Returns:
            (B, 3, H, W) float32 normalised images.
        """
        if images.dtype != torch.uint8:
            return images
        out = normalize_pixels(images, self.pixel_mean, self.pixel_std)  # (B, 3, H, W)
        for b, (h, w) in enumerate(image_shapes or []):  # Python ints: no sync
            out[b, :, int(h):, :] = 0.0
            out[b, :, :, int(w):] = 0.0
        return out

    def prepare_targets(self, targets: list[dict], device: torch.device) -> list[dict]:
        """Check every target of the batch once, where it is (the host, from a DataLoader),
        then move ``boxes`` and ``labels`` to ``device``.

        One value check for the whole batch instead of one per use, so the training step runs
        its assignment and losses without further checks (:func:`trusted_values`).
        """
        for b, target in enumerate(targets):  # layouts: free checks, one target at a time
            boxes, labels = target["boxes"], target["labels"]
            with trusted_values():
                check_boxes(boxes, f"targets[{b}]['boxes']")
            if boxes.dim() != 2 or not isinstance(labels, Tensor) or labels.dim() != 1 \
                    or labels.is_floating_point() or len(labels) != len(boxes):
                raise ValueError(f"targets[{b}] must hold boxes (G, 5) and integer labels "
                                 f"(G,), got boxes {tuple(boxes.shape)} and labels "
                                 f"{getattr(labels, 'dtype', type(labels))} "
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
        """All anchors (A, 5) of these feature sizes and the count per level, built once per
        (sizes, device, dtype) and cached (no host-to-device copy per step)."""
        key = (tuple(sizes), str(device), dtype)
        if key not in self._anchor_cache:
            if len(self._anchor_cache) >= _ANCHOR_CACHE_SIZE:
                self._anchor_cache.clear()
            levels = self.anchor_generator.grid_anchors(sizes, device=device, dtype=dtype)
            self._anchor_cache[key] = (torch.cat(levels), [len(a) for a in levels])
        return self._anchor_cache[key]

    # ---- 1. dense predictions ---------------------------------------------------------------
    def predict_dense(self, images: Tensor, image_shapes: list | None = None) -> dict:
        """Backbone + head + anchors.

        Args:
            images: (B, 3, H, W) normalised float, or uint8 RGB (see :meth:`normalize_images`);
                H and W multiples of the largest stride.
            image_shapes: B unpadded (h, w) sizes for uint8 inputs (None = no padding).
        Returns:
            dict ``cls_logits`` (B, A, C), ``deltas`` (B, A, 5), ``iou_logits`` (B, A) or
            None, ``anchors`` (A, 5), ``num_level_anchors`` list of L ints.
        """
        if images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"images must be (B, 3, H, W), got {tuple(images.shape)}")
        feats = self.backbone(self.normalize_images(images, image_shapes))  # L x (B, F, H_l, W_l)
        cls_logits, deltas, iou_logits = self.head(feats)
        anchors, counts = self.anchors_for([tuple(f.shape[-2:]) for f in feats], images.device,
                                           full_precision(feats[0]).dtype)
        return {"cls_logits": cls_logits, "deltas": deltas, "iou_logits": iou_logits,
                "anchors": anchors, "num_level_anchors": counts}

    # ---- 2. assignment ----------------------------------------------------------------------
    def paa_scores(self, anchors: Tensor, gt_boxes: Tensor, initial, cls_logits: Tensor,
                   deltas: Tensor) -> Tensor:
        """PAA's anchor scores (A,) of one image from the current, detached predictions."""
        with torch.no_grad():
            pred_boxes = self.coder.decode(anchors, deltas.detach())  # (A, 5)
            return paa_anchor_scores(cls_logits.detach(), pred_boxes, initial, gt_boxes)

    def paa_scores_batch(self, dense: dict, targets: list[dict], initials: list) -> list[Tensor]:
        """:meth:`paa_scores` of every image, B x (A,), decoding only the candidates.

        All images at once: one ``nonzero`` finds every (image, anchor) candidate.
        """
        anchors, cls_logits = dense["anchors"], dense["cls_logits"].detach()  # (A, 5), (B, A, C)
        gt_inds = torch.stack([r.gt_inds for r in initials])  # (B, A)
        image, anchor = (gt_inds > 0).nonzero(as_tuple=True)  # (P,) each
        gt_boxes, offsets = _batch_gts(targets, anchors)
        labels = torch.stack([r.labels for r in initials])[image, anchor]  # (P,)
        with torch.no_grad():
            pred = self.coder.decode(anchors[anchor],
                                     dense["deltas"][image, anchor].detach())  # (P, 5)
            values = candidate_scores(cls_logits[image, anchor], labels, pred,
                                      gt_boxes[gt_inds[image, anchor] - 1 + offsets[image]])
        scores = torch.full(gt_inds.shape, float("inf"), device=anchors.device,
                            dtype=values.dtype)  # (B, A)
        scores[image, anchor] = values
        return list(scores)

    def assign_image(self, anchors: Tensor, num_level_anchors: list[int], gt_boxes: Tensor,
                     gt_labels: Tensor, cls_logits: Tensor, deltas: Tensor):
        """Assign the anchors of one image (no gradients).

        For PAA: initial candidates (MaxIoU 0.1 or ATSS), their scores from the current
        predictions (:func:`paa_edu.model.losses.paa_anchor_scores`), then the GMM split.

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
        scores = self.paa_scores_batch(dense, targets, initials)  # B x (A,)
        return self.assigner.reassign_many(initials, scores, counts)

    # ---- 3. losses --------------------------------------------------------------------------
    def positive_pairs(self, dense: dict, targets: list[dict], assigns: list
                       ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """The positives of a batch with their decoded boxes and the GT boxes they learn.

        Returns:
            ``image`` (P,), ``anchor`` (P,) (image-major, as ``nonzero`` gives them), the
            decoded predictions (P, 5) and their GT boxes (P, 5).
        """
        anchors = dense["anchors"]
        gt_inds = torch.stack([a.gt_inds for a in assigns])  # (B, A)
        image, anchor = (gt_inds > 0).nonzero(as_tuple=True)  # (P,) each, image-major
        gt_boxes, offsets = _batch_gts(targets, anchors)
        pred_boxes = self.coder.decode(anchors[anchor], dense["deltas"][image, anchor])
        return image, anchor, pred_boxes, gt_boxes[gt_inds[image, anchor] - 1 + offsets[image]]

    def compute_losses(self, dense: dict, targets: list[dict], assigns: list) -> dict:
        """Focal + IoU-weighted rotated IoU loss + IoU-branch BCE over the batch.

        Ignored anchors (``gt_inds == -1``, MaxIoU's 0.4-0.5 band) are left out of every loss.
        The whole batch at once: two ``nonzero`` (kept anchors, positives), no per-image ones.
        """
        gt_inds = torch.stack([a.gt_inds for a in assigns])  # (B, A)
        labels = torch.stack([a.labels for a in assigns])  # (B, A)
        kept = (gt_inds >= 0).reshape(-1).nonzero().squeeze(1)  # (N,) not ignored, flat
        image, anchor, pred_boxes, pos_gt_boxes = self.positive_pairs(dense, targets, assigns)
        iou_logits = dense["iou_logits"]
        return detection_losses(
            dense["cls_logits"].flatten(0, 1)[kept], labels.reshape(-1)[kept], pred_boxes,
            pos_gt_boxes,
            None if iou_logits is None else iou_logits[image, anchor], num_images=len(targets),
            reg_weight=self.cfg.reg_weight, iou_weight=self.cfg.iou_weight,
            graph_anchor=dense["deltas"], average_over_ranks=self.reduce_num_pos)

    def loss(self, images: Tensor, targets: list[dict]) -> dict:
        """One training forward pass: dense predictions -> assignment -> losses.

        The targets are checked once for the batch (:meth:`prepare_targets`, best while they
        are still on the host); assignment and losses then skip their per-call value checks.
        """
        targets = self.prepare_targets(targets, images.device)
        dense = self.predict_dense(images, target_image_shapes(targets))
        with trusted_values():
            assigns = self.assign_batch(dense, targets)
            # Logged by the training loop, not part of the loss (a tensor: no sync here).
            self.last_stats = {"num_pos": sum(a.pos_mask.sum() for a in assigns),
                               "num_gts": sum(a.num_gts for a in assigns)}
            return self.compute_losses(dense, targets, assigns)

    # ---- inference --------------------------------------------------------------------------
    @torch.no_grad()
    def predict(self, images: Tensor, image_shapes: list | None = None) -> list[dict]:
        """Detections per image (boxes in the pixels of ``images``)."""
        dense = self.predict_dense(images, image_shapes)
        iou = dense["iou_logits"]
        return [postprocess_image(dense["cls_logits"][b], dense["deltas"][b],
                                  None if iou is None else iou[b], dense["anchors"],
                                  dense["num_level_anchors"], self.coder, self.cfg)
                for b in range(images.shape[0])]

    def forward(self, images: Tensor, targets: list[dict] | None = None):
        """Loss dict in training mode (``targets`` required), detections in eval mode.

        In eval mode ``targets`` is optional; their ``img_shape`` (if any) marks the padding of
        uint8 inputs.
        """
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


def _batch_gts(targets: list[dict], like: Tensor) -> tuple[Tensor, Tensor]:
    """All GT boxes of the batch (sum G_b, 5) and each image's first row (B,) long."""
    boxes = torch.cat([t["boxes"].to(like).reshape(-1, 5) for t in targets])
    sizes = [0] + [len(t["boxes"]) for t in targets[:-1]]
    offsets = torch.tensor(sizes, dtype=torch.long).cumsum(0).to(like.device)
    return boxes, offsets
