"""Anchor assigners: which anchors learn from which ground truth (MaxIoU, ATSS, PAA).

All three return an :class:`AssignResult`; PAA adds a model-driven second pass whose heart is a
two-component Gaussian mixture per GT (:func:`gmm_split`), fitted for all GTs at once.
:func:`assign` assigns a batch from the detector's predictions with any of them.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from paa_edu.assigners.atss import ATSSAssigner
from paa_edu.assigners.counts import (
    assign_settings,
    format_counts,
    ignored_per_gt,
    object_names,
    positives_per_gt,
)
from paa_edu.assigners.gmm import GMMFit, fit_gmm_1d, gmm_split, paa_like_scores
from paa_edu.assigners.maxiou import MaxIoUAssigner
from paa_edu.assigners.paa import PAAAssigner, PAARecord, paa_scores
from paa_edu.assigners.result import AssignResult, DenseOutputs

if TYPE_CHECKING:  # a type only: config builds on the assigners, not the other way round
    from paa_edu.config import ModelConfig

__all__ = ["AssignResult", "DenseOutputs", "MaxIoUAssigner", "ATSSAssigner", "PAAAssigner",
           "PAARecord", "GMMFit", "fit_gmm_1d", "gmm_split", "paa_like_scores", "paa_scores",
           "assign", "assign_settings", "positives_per_gt", "ignored_per_gt", "object_names",
           "format_counts", "build_assigner"]

#: RetinaNet's MaxIoU thresholds (positive at IoU >= 0.5, negative below 0.4).
RETINANET_POS_IOU, RETINANET_NEG_IOU = 0.5, 0.4


def build_assigner(cfg: ModelConfig, record: bool = False):
    """The assigner named by ``cfg.assigner`` (``maxiou``, ``atss`` or ``paa``)."""
    if cfg.assigner == "maxiou":
        return MaxIoUAssigner(RETINANET_POS_IOU, RETINANET_NEG_IOU, min_pos_iou=0.0)
    if cfg.assigner == "atss":
        return ATSSAssigner(topk=cfg.topk)
    if cfg.assigner == "paa":
        return PAAAssigner(init=cfg.paa_init, topk=cfg.topk, reg_covar=cfg.reg_covar,
                           fallback=cfg.paa_fallback, record=record)
    raise ValueError(f"cfg.assigner must be 'maxiou', 'atss' or 'paa', got {cfg.assigner!r}")


def assign(assigner, dense: DenseOutputs, targets: list[dict]) -> list[AssignResult]:
    """B results for ``dense`` (:meth:`paa_edu.model.RotatedPAADetector.predict_dense`) and B
    ``targets`` with ``boxes`` (G_b, 5) and ``labels`` (G_b,). MaxIoU and ATSS look at the boxes
    only. PAA scores its initial assigner's candidates with the current predictions
    (:func:`paa_scores`) and splits those of all GTs of all images in one GMM fit."""
    anchors, counts = dense.anchors, dense.num_level_anchors
    gts = [(t["boxes"].to(anchors), t["labels"].to(anchors.device)) for t in targets]
    if not isinstance(assigner, PAAAssigner):
        return [assigner.assign(anchors, boxes, labels, counts) for boxes, labels in gts]
    initials = [assigner.initial_assign(anchors, boxes, labels, counts) for boxes, labels in gts]
    return assigner.reassign(initials, paa_scores(dense, targets, initials), counts)
